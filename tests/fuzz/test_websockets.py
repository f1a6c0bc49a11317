"""The live stream under bad input: unknown paths, odd codes and whatever a client may send.

A path no consumer serves is accepted and closed with 4404 (not a 500 in daphne's handshake); a
message the consumer does not understand gets an error message and the socket stays open.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oee_site.asgi import application
from oee_site.redis_server import free_port
from planning.models import LineDisplay
from tests.fuzz.inputs import BAD_TEXT, RAW_BODIES, json_values, nasty_text, quoted
from tests.processes import ROOT, kill

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = b"http://localhost"
WAIT = 5
NOT_FOUND = 4404

FUZZ = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture
def live(fuzz_plant, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    client = Client()
    client.force_login(fuzz_plant.manager)
    return [(b"origin", ORIGIN), (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


async def first_output(path: str, headers) -> dict:
    """What the server sends first on a socket to `path`: a close (with its code) or the snapshot."""
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=WAIT)
    output = await communicator.receive_output(timeout=WAIT)
    if output["type"] != "websocket.close":
        await communicator.disconnect()
    return {"connected": connected, **output}


@pytest.mark.parametrize("path", ["/ws/unknown/", "/ws/", "/", "/ws/lines/", "/ws/lines/A/more/", "/ws/plant",
                                  "/ws/machines/A1/x/", "/static/oee/line.js"])
def test_a_path_no_consumer_serves_is_accepted_and_closed_with_4404(live, path):
    output = async_to_sync(first_output)(path, live)
    assert output["type"] == "websocket.close" and output["code"] == NOT_FOUND


@pytest.mark.parametrize("code", ["%00", "A%001", "%ED%A0%80", "x" * 300, "A1%0A", "%1B"])
def test_a_line_or_machine_code_that_cannot_exist_is_closed_with_4404(live, code):
    for kind in ("lines", "machines"):
        output = async_to_sync(first_output)(f"/ws/{kind}/{code}/", live)
        assert output["type"] == "websocket.close" and output["code"] == NOT_FOUND


@FUZZ
@given(path=st.one_of(st.text(max_size=40).map(lambda text: "/" + quoted(text)),
                      st.tuples(st.sampled_from(["lines", "machines", "plant", "ws", "displays"]), nasty_text)
                      .map(lambda pair: f"/ws/{pair[0]}/{quoted(pair[1])}/")))
def test_no_path_breaks_the_handshake(live, path):
    output = async_to_sync(first_output)(path, live)
    if output["type"] == "websocket.close":
        assert 4400 <= output["code"] < 4500
    else:
        assert json.loads(output["text"])["type"] == "snapshot"


messages = st.one_of(
    json_values.map(lambda value: {"text": json.dumps(value)}),
    st.fixed_dictionaries({"type": json_values}).map(lambda value: {"text": json.dumps(value)}),
    st.sampled_from(RAW_BODIES + [text.encode("utf-8", "surrogatepass") for text in BAD_TEXT])
    .map(lambda raw: {"text": raw.decode("utf-8", "replace")}),
    st.just({"text": json.dumps({"type": "x" * 100_000})}),
    st.just({"text": "[" * 5000}),
    st.binary(max_size=50).map(lambda raw: {"bytes": raw}),
)


async def talk(headers, sent: list[dict], path: str = "/ws/machines/A1/") -> list[dict]:
    """Send each message on one socket; what came back to each, then to a ping."""
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected
    assert (await communicator.receive_json_from(timeout=WAIT))["type"] == "snapshot"
    answers = []
    for message in sent:
        await communicator.send_input({"type": "websocket.receive", **message})  # empty frames too
        answers.append(await communicator.receive_json_from(timeout=WAIT))
    await communicator.send_json_to({"type": "ping"})
    answers.append(await communicator.receive_json_from(timeout=WAIT))
    await communicator.disconnect()
    return answers


@FUZZ
@given(sent=st.lists(messages, min_size=1, max_size=6))
def test_whatever_a_client_sends_gets_an_answer_and_the_socket_stays_open(live, sent):
    answers = async_to_sync(talk)(live, sent)
    assert answers[-1] == {"type": "pong"}
    for answer in answers[:-1]:
        assert answer["type"] in ("error", "pong")
        assert len(answer.get("message", "")) < 1000  # a huge message is not echoed back


@pytest.fixture
def display_token(fuzz_plant) -> str:
    """The token of a line display's link (line A): its socket needs no session."""
    display = LineDisplay(line=fuzz_plant.line_a, name="TV at the end of A")
    token = display.issue_token()
    display.save()
    return token


@pytest.mark.parametrize("kind", ["line", "plant", "display"])
@FUZZ
@given(sent=st.lists(messages, min_size=1, max_size=4))
def test_every_kind_of_socket_answers_whatever_a_client_sends_and_stays_open(live, display_token, kind, sent):
    path = {"line": "/ws/lines/A/", "plant": "/ws/plant/", "display": f"/ws/displays/{display_token}/"}[kind]
    headers = [(b"origin", ORIGIN)] if kind == "display" else live
    answers = async_to_sync(talk)(headers, sent, path)
    assert answers[-1] == {"type": "pong"}
    assert all(answer["type"] in ("error", "pong") for answer in answers[:-1])


@pytest.mark.parametrize("token", ["%00", "x", "%ED%A0%80", "a" * 300, "{token}%00", "{token}x", "{token}/x"])
def test_a_display_socket_with_a_token_that_opens_nothing_is_closed_with_4404(live, display_token, token):
    output = async_to_sync(first_output)(f"/ws/displays/{token.format(token=display_token)}/", [(b"origin", ORIGIN)])
    assert output["type"] == "websocket.close" and output["code"] == NOT_FOUND


def _handshake(port: int, path: str) -> bytes:
    """A raw websocket handshake to `path`; everything the server sends until it closes the connection."""
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               f"Origin: http://127.0.0.1:{port}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as connection:
        connection.sendall(request.encode())
        received = b""
        while chunk := connection.recv(4096):
            received += chunk
            if b"\r\n\r\n" in received and len(received.split(b"\r\n\r\n", 1)[1]) >= 4:
                break
    return received


def test_daphne_closes_a_socket_to_an_unknown_path_with_4404(tmp_path, redis_url):
    """The real server: the handshake succeeds and the close frame carries 4404; no traceback in its log."""
    port = free_port()
    env = {**os.environ, "DEBUG": "1", "OEE_VAR_DIR": str(tmp_path), "REDIS_URL": redis_url,
           "ALLOWED_HOSTS": "127.0.0.1"}
    log = (tmp_path / "daphne.log").open("wb")
    web = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                            "oee_site.asgi:application"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and web.poll() is None, "daphne did not start"
                time.sleep(0.2)
        received = _handshake(port, "/ws/unknown/")
        head, frame = received.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101")
        assert frame[0] == 0x88 and int.from_bytes(frame[2:4], "big") == NOT_FOUND  # a close frame, code 4404
    finally:
        kill(web)
        log.close()
    assert b"Traceback" not in (tmp_path / "daphne.log").read_bytes()

