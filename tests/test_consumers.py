"""The live stream over websockets: who may listen, snapshot first, updates after commit, coalesced."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from monitoring import live
from monitoring.live import encode
from monitoring.pipeline import ObservationIn, record_observations
from oee_site.asgi import application

# Consumers read the database from other threads: the data must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = b"http://localhost"
WAIT = 5  # seconds to wait for a message that must come; quiet periods are much shorter


@pytest.fixture
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    settings.LIVE_MIN_INTERVAL = 0.2


def _cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_socket(path: str, user=None, origin: bytes = ORIGIN) -> tuple[WebsocketCommunicator, bool]:
    headers = [(b"origin", origin)]
    if user is not None:
        headers.append((b"cookie", await database_sync_to_async(_cookie)(user)))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=WAIT)
    return communicator, connected


async def close_code(communicator: WebsocketCommunicator) -> int:
    output = await communicator.receive_output(timeout=WAIT)
    assert output["type"] == "websocket.close"
    return output["code"]


async def snapshot_of(communicator: WebsocketCommunicator) -> list[str]:
    message = await communicator.receive_json_from(timeout=WAIT)
    assert message["type"] == "snapshot"
    return [m["machine"] for m in message["machines"]]


async def drain(communicator: WebsocketCommunicator, quiet: float = 0.6) -> list[dict]:
    """Every message until none comes for `quiet` seconds."""
    messages = []
    while not await communicator.receive_nothing(timeout=quiet):
        messages.append(await communicator.receive_json_from())
    return messages


def now_observation(machine: str, signal: str, value, seconds_ago: float = 1.0) -> ObservationIn:
    return ObservationIn(machine, datetime.now(UTC) - timedelta(seconds=seconds_ago), signal, value)


def plant_event(message: dict) -> dict:
    """The event the publisher sends the plant group for `message`."""
    [(group, event)] = encode.update_events(message, encode.texts(message), {live.PLANT_GROUP: ("plant",)})
    return event


async def test_without_a_log_in_the_socket_is_closed_with_4401(plant, in_memory_layer):
    communicator, connected = await open_socket("/ws/plant/")
    assert connected
    assert await close_code(communicator) == 4401


async def test_a_foreign_origin_is_refused_even_with_a_session(plant, in_memory_layer):
    communicator, connected = await open_socket("/ws/plant/", plant.manager, origin=b"http://evil.example")
    assert not connected


@pytest.mark.parametrize("path", ["/ws/lines/B/", "/ws/machines/B1/"])
async def test_an_operator_of_another_line_is_closed_with_4403(plant, in_memory_layer, path):
    communicator, connected = await open_socket(path, plant.operator)
    assert connected
    assert await close_code(communicator) == 4403


async def test_a_user_with_no_role_may_not_watch_the_plant(plant, in_memory_layer):
    communicator, _ = await open_socket("/ws/plant/", plant.outsider)
    assert await close_code(communicator) == 4403


@pytest.mark.parametrize("path", ["/ws/lines/Z/", "/ws/machines/Z9/"])
async def test_an_unknown_line_or_machine_is_closed_with_4404(plant, in_memory_layer, path):
    communicator, _ = await open_socket(path, plant.manager)
    assert await close_code(communicator) == 4404


async def test_the_snapshot_comes_first_with_every_machine_in_scope(plant, in_memory_layer):
    for path, user, machines in [
        ("/ws/plant/", plant.manager, ["A1", "A2", "B1"]),
        ("/ws/plant/", plant.operator, ["A1", "A2"]),  # an operator's plant is their lines
        ("/ws/lines/A/", plant.operator, ["A1", "A2"]),
        ("/ws/machines/A2/", plant.manager, ["A2"]),
    ]:
        communicator, _ = await open_socket(path, user)
        message = await communicator.receive_json_from(timeout=WAIT)
        assert message["type"] == "snapshot"
        assert [m["machine"] for m in message["machines"]] == machines
        assert {m["type"] for m in message["machines"]} == {"machine"}
        await communicator.disconnect()


def test_a_snapshot_of_fresh_lines_is_their_cached_texts_for_one_query(plant, django_assert_max_num_queries):
    from monitoring.live.consumers import snapshot, watch_for

    watch = watch_for(plant.manager, "plant", None)
    text, times = snapshot(watch)  # builds the lines' messages and keeps them with their texts
    with django_assert_max_num_queries(1):  # the lines; their messages come encoded from the cache
        assert snapshot(watch) == (text, times)
    machines = json.loads(text)
    assert machines["type"] == "snapshot"
    assert [m["machine"] for m in machines["machines"]] == ["A1", "A2", "B1"]
    assert times == {m["machine"]: m["ts"] for m in machines["machines"]}
    assert {frozenset(m["html"]) for m in machines["machines"]} == {frozenset({"tile", "line"})}


async def test_an_update_arrives_once_the_observation_is_committed(plant, in_memory_layer):
    communicator, _ = await open_socket("/ws/lines/B/", plant.manager)
    [before] = (await communicator.receive_json_from(timeout=WAIT))["machines"]
    assert before["state"] == "no-data"
    await database_sync_to_async(record_observations)([now_observation("B1", "running", True)])
    update = await communicator.receive_json_from(timeout=WAIT)
    assert (update["type"], update["machine"], update["line"], update["state"]) == ("machine", "B1", "B", "running")
    for key in ("ts", "reason", "total_count", "good_count", "availability", "performance", "quality", "oee"):
        assert key in update
    await communicator.disconnect()

    # A screen that reconnects starts again from a fresh snapshot.
    communicator, _ = await open_socket("/ws/lines/B/", plant.manager)
    [after] = (await communicator.receive_json_from(timeout=WAIT))["machines"]
    assert (after["state"], after["state_since"]) == ("running", update["state_since"])
    await communicator.disconnect()


async def test_an_operator_watching_the_plant_hears_only_their_lines(plant, in_memory_layer):
    communicator, _ = await open_socket("/ws/plant/", plant.operator)
    await snapshot_of(communicator)
    await database_sync_to_async(record_observations)(
        [now_observation("B1", "running", True), now_observation("A1", "running", True)])
    assert [m["machine"] for m in await drain(communicator)] == ["A1"]
    await communicator.disconnect()


async def test_a_fast_machine_is_coalesced_and_its_latest_state_always_arrives(plant, in_memory_layer):
    communicator, _ = await open_socket("/ws/plant/", plant.manager)
    await snapshot_of(communicator)
    base = await database_sync_to_async(live.machine_message)(plant.b1)
    other = await database_sync_to_async(live.machine_message)(plant.a1)
    start = datetime.fromisoformat(base["ts"])
    layer = get_channel_layer()
    for count in range(20):
        ts = live.iso(start + timedelta(milliseconds=count))
        await layer.group_send(live.PLANT_GROUP, plant_event({**base, "ts": ts, "total_count": count}))
        if count == 10:
            await layer.group_send(live.PLANT_GROUP, plant_event(other))
    received = await drain(communicator)
    b1 = [m["total_count"] for m in received if m["machine"] == "B1"]
    assert 1 <= len(b1) <= 5, b1  # far fewer than 20: the first at once, then the latest when due
    assert b1[-1] == 19
    assert [m["machine"] for m in received].count("A1") == 1  # one machine never holds back another

    # An update computed before the one already sent is older news, and is not shown.
    late = live.iso(start - timedelta(seconds=1))
    await layer.group_send(live.PLANT_GROUP, plant_event({**base, "ts": late, "total_count": 3}))
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_each_page_gets_only_the_tiles_it_draws_in_its_snapshot_and_updates(plant, in_memory_layer):
    screens = {
        "plant, manager": ("/ws/plant/", plant.manager, {"tile", "line"}),
        "plant, operator": ("/ws/plant/", plant.operator, {"tile", "line"}),  # hears through the line's group
        "line, operator": ("/ws/lines/A/", plant.operator, {"panel"}),
        "line, manager": ("/ws/lines/A/", plant.manager, {"panel"}),
        "machine": ("/ws/machines/A1/", plant.manager, {"card"}),
    }
    sockets = {}
    for name, (path, user, tiles) in screens.items():
        sockets[name], _ = await open_socket(path, user)
        snapshot = await sockets[name].receive_json_from(timeout=WAIT)
        assert {frozenset(m["html"]) for m in snapshot["machines"]} == {frozenset(tiles)}, name
    await database_sync_to_async(record_observations)([now_observation("A1", "running", True)])
    updates = {}
    for name, (_, _, tiles) in screens.items():
        updates[name] = [m for m in await drain(sockets[name]) if m["machine"] == "A1"]
        assert [set(m["html"]) for m in updates[name]] == [tiles], name
        await sockets[name].disconnect()
    # The line's operators get the panel that offers scrap and reasons; a manager only watches.
    assert 'data-action="scrap"' in updates["line, operator"][0]["html"]["panel"]
    assert 'data-action="scrap"' not in updates["line, manager"][0]["html"]["panel"]


async def test_an_update_costs_no_trip_to_the_database_thread(plant, in_memory_layer, monkeypatch):
    import channels.consumer

    hops = []

    async def counted() -> None:
        hops.append(1)

    # What channels' stock dispatch awaits before every handler: a hop to the synchronous thread.
    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    communicator, _ = await open_socket("/ws/plant/", plant.manager)
    await snapshot_of(communicator)
    base = await database_sync_to_async(live.machine_message)(plant.b1)
    layer = get_channel_layer()
    for second in range(3):
        ts = live.iso(datetime.fromisoformat(base["ts"]) + timedelta(seconds=second))
        await layer.group_send(live.PLANT_GROUP, plant_event({**base, "ts": ts}))
    assert len(await drain(communicator)) >= 1
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=WAIT) == {"type": "pong"}
    assert hops == []
    await communicator.disconnect()


async def test_the_screens_of_a_process_share_one_channel_and_each_gets_its_groups_events(plant, in_memory_layer):
    screens = [await open_socket(path, user) for path, user in [
        ("/ws/plant/", plant.manager), ("/ws/lines/A/", plant.operator), ("/ws/lines/A/", plant.manager),
        ("/ws/machines/B1/", plant.manager)]]
    for communicator, _ in screens:
        await snapshot_of(communicator)
    layer = get_channel_layer()
    members = {group: set(channels) for group, channels in layer.groups.items()}
    # One channel in each group, the same one: an event leaves the layer once for all the screens.
    assert members.keys() == {live.PLANT_GROUP, live.line_group("A"), live.machine_group("B1")}
    assert len(set().union(*members.values())) == 1
    await database_sync_to_async(record_observations)([now_observation("A1", "running", True)])
    heard = [[m["machine"] for m in await drain(communicator)] for communicator, _ in screens]
    assert heard == [["A1"], ["A1"], ["A1"], []]
    for communicator, _ in screens:
        await communicator.disconnect()


async def test_a_screen_whose_redis_goes_away_is_closed_with_4503(plant, settings):
    from oee_site import redis_server

    process, url = redis_server.start()
    try:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                               "CONFIG": {"hosts": [url]}}}
        settings.ALLOWED_HOSTS = ["localhost", "testserver"]
        communicator, _ = await open_socket("/ws/machines/B1/", plant.manager)
        assert await snapshot_of(communicator) == ["B1"]
        process.kill()
        output = await communicator.receive_output(timeout=60)  # after redis-py's retries
        assert (output["type"], output["code"]) == ("websocket.close", 4503)
        # Until it is back, a screen that connects is closed the same way, not left hanging.
        communicator, _ = await open_socket("/ws/machines/B1/", plant.manager)
        assert await close_code(communicator) == 4503
    finally:
        process.kill()
        process.wait()


async def test_a_bad_client_message_gets_an_error_and_the_socket_stays_open(plant, in_memory_layer):
    communicator, _ = await open_socket("/ws/machines/A1/", plant.operator)
    await snapshot_of(communicator)
    await communicator.send_to(text_data="{not json")
    error = await communicator.receive_json_from(timeout=WAIT)
    assert error["type"] == "error" and "not valid JSON" in error["message"]
    await communicator.send_json_to({"type": "subscribe", "machine": "B1"})
    error = await communicator.receive_json_from(timeout=WAIT)
    assert error["type"] == "error" and "'subscribe'" in error["message"]
    await communicator.send_json_to(["ping"])
    assert "JSON object" in (await communicator.receive_json_from(timeout=WAIT))["message"]
    await communicator.send_to(bytes_data=b"\x00")
    assert "binary" in (await communicator.receive_json_from(timeout=WAIT))["message"]
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=WAIT) == {"type": "pong"}
    await communicator.disconnect()


async def test_end_to_end_over_the_real_redis_channel_layer(plant, settings, redis_url):
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # A prefix of its own: other test runs may share this Redis.
        "CONFIG": {"hosts": [redis_url], "prefix": f"test-{uuid.uuid4().hex[:12]}"},
    }}
    settings.LIVE_MIN_INTERVAL = 0.2
    layer = get_channel_layer()
    try:
        communicator, _ = await open_socket("/ws/machines/B1/", plant.manager)
        assert await snapshot_of(communicator) == ["B1"]
        await database_sync_to_async(record_observations)(
            [now_observation("B1", "running", True, 3), now_observation("B1", "running", False, 2)])
        update = await communicator.receive_json_from(timeout=WAIT)
        assert (update["machine"], update["state"], update["reason"]) == ("B1", "stopped", None)
        await communicator.disconnect()
    finally:
        await layer.flush()


async def test_an_order_of_another_product_started_reaches_the_line_as_a_changeover_with_its_card(
    plant, in_memory_layer,
):
    from planning.models import Product, WorkOrder
    from planning.workflow import move_order

    def prepare() -> WorkOrder:
        """A1 made lids on WO-1 until five minutes ago and stands since; WO-2 (cans) is released for it."""
        now = datetime.now(UTC)
        lid, can = Product.objects.create(code="P1", name="Lid"), Product.objects.create(code="P2", name="Can")
        orders = [WorkOrder.objects.create(number=number, product=product, quantity=100, line=plant.line_a,
                                           machine=plant.a1, planned_start=now - timedelta(hours=1),
                                           planned_end=now + timedelta(hours=1), status="released")
                  for number, product in (("WO-1", lid), ("WO-2", can))]
        move_order(orders[0], "start", by="user:op-a", at=now - timedelta(minutes=30))
        record_observations([now_observation("A1", "running", True, 1800), now_observation("A1", "total_count", 0, 1800),
                             now_observation("A1", "total_count", 80, 300), now_observation("A1", "running", False, 300),
                             now_observation("A1", "total_count", 80, 1)])
        move_order(orders[0], "complete", by="user:op-a", at=now - timedelta(minutes=5))
        return orders[1]

    cans = await database_sync_to_async(prepare)()
    communicator, _ = await open_socket("/ws/lines/A/", plant.operator)
    await communicator.receive_json_from(timeout=WAIT)
    await database_sync_to_async(move_order)(cans, "start", by="user:op-a")
    update = {}
    while (update.get("machine"), (update.get("work_order") or {}).get("number")) != ("A1", "WO-2"):
        update = await communicator.receive_json_from(timeout=WAIT)  # the move and its changeover: one commit
    await communicator.disconnect()
    assert (update["state"], update["reason"]) == ("stopped", "changeover")
    card = update["work_order"]
    assert (card["number"], card["status"], card["made"], card["quantity"]) == ("WO-2", "running", 0, 100)
    assert card["moves"] == ["pause", "complete"]
    assert 'data-field="wo-made"' in update["html"]["panel"] and 'data-move="pause"' in update["html"]["panel"]
