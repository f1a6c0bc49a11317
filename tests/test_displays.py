"""Line displays: a TV's read-only link to a line screen, by a revocable token, with no user session."""

from __future__ import annotations

import re

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse

from planning.models import LineDisplay
from planning.models.displays import token_hash
from tests.test_consumers import (  # noqa: F401 - a fixture
    ORIGIN,
    WAIT,
    _cookie,
    close_code,
    in_memory_layer,
    open_socket,
)

LINK = re.compile(r'value="(https?://[^"]+/display/([A-Za-z0-9_-]+)/)"')


def make_display(line, **fields) -> tuple[LineDisplay, str]:
    display = LineDisplay(line=line, name="TV at the end of the line", **fields)
    token = display.issue_token()
    display.save()
    return display, token


@pytest.mark.django_db
def test_the_admin_makes_a_display_and_shows_its_link_once(admin_client: Client, plant) -> None:
    response = admin_client.post(reverse("admin:planning_linedisplay_add"),
                                 {"line": plant.line_a.pk, "name": "TV by the filler", "language": "de"}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    url, token = LINK.search(page).groups()
    display = LineDisplay.objects.get()
    # Only the hash is kept: the database does not hold a working link.
    assert display.token_hash == token_hash(token) and token not in display.token_hash
    assert len(token) >= 40
    assert (display.line, display.language) == (plant.line_a, "de")
    change = admin_client.get(reverse("admin:planning_linedisplay_change", args=[display.pk])).content.decode()
    assert token not in change


@pytest.mark.django_db
def test_the_link_shows_the_line_screen_read_only_without_a_log_in(client: Client, plant) -> None:
    _, token = make_display(plant.line_a)
    response = client.get(f"/display/{token}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-line="A"' in page and 'data-tile="panel"' in page
    assert f'data-socket="/ws/displays/{token}/"' in page
    assert 'data-can-operate="false"' in page
    # No operator's action, no session: a display only watches.
    assert 'data-action="' not in page and "Log out" not in page
    assert response["Referrer-Policy"] == "no-referrer"


@pytest.mark.django_db
def test_a_revoked_or_unknown_link_is_a_friendly_404_not_the_log_in_page(client: Client, plant) -> None:
    display, token = make_display(plant.line_a)
    display.revoke()
    for path in (f"/display/{token}/", "/display/not-a-token/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "This display is not connected" in response.content.decode()


@pytest.mark.django_db
def test_a_new_link_stops_the_old_one(admin_client: Client, plant) -> None:
    display, old = make_display(plant.line_a)
    response = admin_client.post(reverse("admin:planning_linedisplay_changelist"),
                                 {"action": "give_new_link", "_selected_action": [display.pk]}, follow=True)
    _, new = LINK.search(response.content.decode()).groups()
    assert new != old
    assert Client().get(f"/display/{old}/").status_code == 404
    assert Client().get(f"/display/{new}/").status_code == 200


@pytest.mark.django_db(transaction=True)
async def test_the_displays_socket_works_with_its_token_and_no_session(plant, in_memory_layer):  # noqa: F811
    display, token = await database_sync_to_async(make_display)(plant.line_b)
    communicator, connected = await open_socket(f"/ws/displays/{token}/")
    assert connected
    message = await communicator.receive_json_from(timeout=WAIT)
    assert message["type"] == "snapshot"
    [machine] = message["machines"]
    assert machine["machine"] == "B1"
    # The read-only panel: no reason or scrap buttons.
    assert 'data-action="' not in machine["html"]["panel"]
    await communicator.disconnect()

    await database_sync_to_async(display.revoke)()
    communicator, _ = await open_socket(f"/ws/displays/{token}/")
    assert await close_code(communicator) == 4404
    communicator, _ = await open_socket("/ws/displays/guessed-token/")
    assert await close_code(communicator) == 4404


@pytest.mark.django_db(transaction=True)
async def test_an_open_displays_socket_is_closed_once_its_link_is_revoked(plant, in_memory_layer, monkeypatch):  # noqa: F811
    from monitoring.live import consumers

    monkeypatch.setattr(consumers, "DISPLAY_RECHECK_S", 0.2)
    display, token = await database_sync_to_async(make_display)(plant.line_b)
    communicator, _ = await open_socket(f"/ws/displays/{token}/")
    assert (await communicator.receive_json_from(timeout=WAIT))["type"] == "snapshot"
    assert await communicator.receive_nothing(timeout=0.6)  # still open while the link works

    await database_sync_to_async(display.revoke)()
    assert await close_code(communicator) == 4404


@pytest.mark.django_db(transaction=True)
async def test_an_open_display_notes_that_it_is_on_and_is_closed_when_moved_to_another_line(
        plant, in_memory_layer, monkeypatch):  # noqa: F811
    from monitoring.live import consumers

    monkeypatch.setattr(consumers, "DISPLAY_RECHECK_S", 0.2)
    display, token = await database_sync_to_async(make_display)(plant.line_b)
    communicator, _ = await open_socket(f"/ws/displays/{token}/")
    assert (await communicator.receive_json_from(timeout=WAIT))["type"] == "snapshot"
    await communicator.receive_nothing(timeout=0.6)
    seen = await database_sync_to_async(lambda: LineDisplay.objects.get(pk=display.pk).last_seen)()
    assert seen is not None  # the socket's checks say the TV is on, not only the page's load

    display.line = plant.line_a
    await database_sync_to_async(display.save)()
    assert await close_code(communicator) == 4404  # the page reloads into its new line


@pytest.mark.django_db
def test_a_user_who_may_only_view_displays_makes_and_revokes_no_link(client: Client, plant) -> None:
    from django.contrib.auth.models import Permission, User

    display, token = make_display(plant.line_a)
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_linedisplay"))
    client.force_login(viewer)
    changelist = reverse("admin:planning_linedisplay_changelist")
    assert client.get(changelist).status_code == 200
    for action in ("give_new_link", "revoke"):
        client.post(changelist, {"action": action, "_selected_action": [display.pk]})
    display.refresh_from_db()
    assert display.token_hash == token_hash(token) and not display.revoked


class DatabaseRefusing:
    """PostgreSQL refusing every new connection to the test database (as when it restarts), until `restore()`.

    Connections already open stay; the consumers open one per database call (CONN_MAX_AGE 0), so they meet
    the refusal. SQLite has no server to refuse: skipped there.
    """

    def __init__(self) -> None:
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip("a database server that refuses connections (SQLite has none)")
        import psycopg
        from psycopg import sql

        self.name = connection.settings_dict["NAME"]
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params["dbname"] = "postgres"
        self.admin = psycopg.connect(**params, autocommit=True)
        self.sql = sql
        self.refusing = False

    def _allow(self, allowed: bool) -> None:
        self.admin.execute(self.sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
            self.sql.Identifier(self.name), self.sql.SQL("true" if allowed else "false")))
        self.refusing = not allowed

    def refuse(self) -> None:
        self._allow(False)

    def restore(self) -> None:
        if self.refusing:
            self._allow(True)

    def close(self) -> None:
        self.restore()
        self.admin.close()


@pytest.mark.django_db(transaction=True)
async def test_a_display_that_connects_while_the_database_refuses_is_told_to_try_again(
        plant, in_memory_layer):  # noqa: F811
    display, token = await database_sync_to_async(make_display)(plant.line_b)
    database = await database_sync_to_async(DatabaseRefusing)()
    try:
        database.refuse()
        communicator, _ = await open_socket(f"/ws/displays/{token}/")
        assert await close_code(communicator) == 4503  # the page tries again, as when Redis is away
        database.restore()
        communicator, _ = await open_socket(f"/ws/displays/{token}/")
        assert (await communicator.receive_json_from(timeout=WAIT))["type"] == "snapshot"
        await communicator.disconnect()
    finally:
        database.close()


@pytest.mark.django_db(transaction=True)
async def test_a_signed_in_screen_that_connects_while_the_database_refuses_is_told_to_try_again(
        plant, in_memory_layer):  # noqa: F811
    # Its session and user are read before any consumer runs: the handshake failed with a 500 and a
    # traceback per screen and retry.
    from channels.testing import WebsocketCommunicator

    from oee_site.asgi import application

    cookie = await database_sync_to_async(_cookie)(plant.manager)
    database = await database_sync_to_async(DatabaseRefusing)()
    try:
        database.refuse()
        communicator = WebsocketCommunicator(application, "/ws/lines/A/", headers=[(b"origin", ORIGIN),
                                                                                 (b"cookie", cookie)])
        connected, _ = await communicator.connect(timeout=WAIT)
        assert connected
        assert await close_code(communicator) == 4503
        database.restore()
        communicator = WebsocketCommunicator(application, "/ws/lines/A/", headers=[(b"origin", ORIGIN),
                                                                                 (b"cookie", cookie)])
        assert (await communicator.connect(timeout=WAIT))[0]
        assert (await communicator.receive_json_from(timeout=WAIT))["type"] == "snapshot"
        await communicator.disconnect()
    finally:
        database.close()


@pytest.mark.django_db(transaction=True)
async def test_an_open_display_rides_out_the_database_refusing_and_is_still_revoked_after(
        plant, in_memory_layer, monkeypatch):  # noqa: F811
    from monitoring.live import consumers

    monkeypatch.setattr(consumers, "DISPLAY_RECHECK_S", 0.2)
    display, token = await database_sync_to_async(make_display)(plant.line_b)
    database = await database_sync_to_async(DatabaseRefusing)()
    try:
        communicator, _ = await open_socket(f"/ws/displays/{token}/")
        assert (await communicator.receive_json_from(timeout=WAIT))["type"] == "snapshot"
        database.refuse()
        assert await communicator.receive_nothing(timeout=1.5)  # several failed checks: the TV stays on
        database.restore()
        await database_sync_to_async(display.revoke)()
        assert await close_code(communicator) == 4404  # and revoking still takes it off the air
    finally:
        database.close()
