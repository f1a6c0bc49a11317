"""Downtime told to the IT systems (monitoring/stops.py): each stop once, in commit order, with a cursor."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitoring.collectors.host import HealthRow
from monitoring.collectors.wiring import health_sink
from monitoring.pipeline import ObservationIn, record_observations
from monitoring.stops import announce
from planning.models import OutboxEvent
from tests.api import bearer
from tests.histories import NOON

pytestmark = pytest.mark.django_db


def minutes(m: float):
    return NOON + timedelta(minutes=m)


def stop_and_run(machine: str, stop_at: float, run_at: float | None) -> None:
    rows = [ObservationIn(machine, minutes(stop_at - 1), "running", True),
            ObservationIn(machine, minutes(stop_at), "running", False)]
    if run_at is not None:
        rows.append(ObservationIn(machine, minutes(run_at), "running", True))
    record_observations(rows, all_or_nothing=True)


def events() -> list[tuple[str, str]]:
    """The stop events told so far, in order."""
    return [(e.type, e.payload["start"]) for e in OutboxEvent.objects.filter(type__startswith="stop.").order_by("pk")]


def test_a_stop_is_downtime_once_it_lasts_the_micro_stop_threshold(plant):
    stop_and_run("B1", 10, 11)  # one minute: a small stop, no news
    assert events() == []
    stop_and_run("B1", 20, 23)  # three minutes (a gap would be more): it started, and it ended
    assert [kind for kind, _ in events()] == ["stop.started", "stop.ended"]
    ended = OutboxEvent.objects.get(type="stop.ended").payload
    assert (ended["machine"], ended["line"], ended["duration_s"]) == ("B1", "B", 180.0)


def test_a_replay_or_a_late_reason_never_tells_a_stop_twice(plant):
    stop_and_run("B1", 20, 23)
    record_observations([ObservationIn("B1", minutes(21), "reason", "jam"),   # splits the stop's reasons
                         ObservationIn("B1", minutes(10), "running", True)])  # a late reading: a replay
    assert [kind for kind, _ in events()] == ["stop.started", "stop.ended"]


def test_a_stop_going_on_without_observations_is_announced_as_it_grows(plant):
    plant.b1.long_stop_after = 600
    plant.b1.expected_interval = 3600  # its device stays quiet without losing it
    plant.b1.save()
    stop_and_run("B1", 0, None)
    record_observations([ObservationIn("B1", minutes(1), "connected", True)])
    assert events() == []  # one minute so far
    announce(minutes(5))
    assert [kind for kind, _ in events()] == ["stop.started"]
    announce(minutes(12))
    announce(minutes(13))
    assert [kind for kind, _ in events()] == ["stop.started", "stop.long"]


def test_the_stops_api_pulls_every_event_once_in_order_and_only_of_the_keys_lines(client, plant, api_key):
    everywhere, line_a = api_key("results:read"), api_key("results:read", lines=[plant.line_a])
    stop_and_run("B1", 20, 23)
    stop_and_run("A1", 40, 42.5)  # 150 s: downtime, and no gap in the data (180 s)
    first = client.get("/api/v1/stops/?limit=3", headers=bearer(everywhere)).json()
    assert [(e["type"], e["machine"]) for e in first["events"]] == [
        ("stop.started", "B1"), ("stop.ended", "B1"), ("stop.started", "A1")]
    stop_and_run("B1", 50, 53)
    second = client.get(f"/api/v1/stops/?since={first['next']}", headers=bearer(everywhere)).json()
    assert [(e["type"], e["machine"]) for e in second["events"]] == [
        ("stop.ended", "A1"), ("stop.started", "B1"), ("stop.ended", "B1")]
    third = client.get(f"/api/v1/stops/?since={second['next']}", headers=bearer(everywhere)).json()
    assert third == {"events": [], "next": second["next"]}
    mine = client.get("/api/v1/stops/", headers=bearer(line_a)).json()
    assert {e["machine"] for e in mine["events"]} == {"A1"}
    assert client.get("/api/v1/stops/?since=yesterday", headers=bearer(everywhere)).status_code == 400


def test_a_device_that_stops_answering_and_comes_back_is_two_events(plant):
    def row(connected: bool, error: str = "") -> HealthRow:
        return HealthRow("modbus", "plc-b", connected, None, 0 if connected else 3, error, "worker-1", ("B1",))

    health_sink([row(True)])  # first seen up: no news
    health_sink([row(True)])
    health_sink([row(False, "timed out")])
    health_sink([row(False, "timed out")])
    health_sink([row(True)])
    kinds = [(e.type, e.payload["device"], e.payload["error"]) for e in OutboxEvent.objects.order_by("pk")]
    assert kinds == [("device.down", "plc-b", "timed out"), ("device.up", "plc-b", None)]


def test_a_device_just_taken_by_its_collector_and_then_read_is_no_news(plant):
    def row(connected: bool, error: str = "") -> HealthRow:
        return HealthRow("modbus", "plc-b", connected, None, 0 if connected else 1, error, "worker-1", ("B1",))

    health_sink([row(False)])  # taken, not yet connected: neither up nor down
    health_sink([row(True)])
    assert not OutboxEvent.objects.exists()
    health_sink([row(False, "connection refused")])
    assert list(OutboxEvent.objects.values_list("type", flat=True)) == ["device.down"]
