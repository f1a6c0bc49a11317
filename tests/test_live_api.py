"""The JSON the line screens read: a machine's stops, timeline and events, and the reason tree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.pipeline import ObservationIn, record_observations
from tests.api import bearer

# Monday 2026-01-12; Berlin is UTC+1, so line A's early shift runs 05:00–13:00 UTC.
T0 = datetime(2026, 1, 12, 5, 0, tzinfo=UTC)
PERIOD = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=3)).isoformat()}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def three_hours_of_a1() -> None:
    """05:00–08:00 on A1: a 30-min unexplained stop, a 30-s small stop, a fault-7 stop (jam), a 11-min silence.

    The counter is read every minute at :30 (60 parts a running minute); no reading 07:30–07:39.
    """
    items = [ObservationIn("A1", at(0), "running", True),
             ObservationIn("A1", at(60), "running", False), ObservationIn("A1", at(90), "running", True),
             ObservationIn("A1", at(105), "running", False), ObservationIn("A1", at(105.5), "running", True),
             ObservationIn("A1", at(120), "fault", 7), ObservationIn("A1", at(130), "fault", 0)]
    total = 0
    for minute in range(180):
        if 150 <= minute < 160:
            continue
        if not (60 <= minute < 90 or 120 <= minute < 130):
            total += 60
        items.append(ObservationIn("A1", at(minute + 0.5), "total_count", total))
    result = record_observations(items, all_or_nothing=True)
    assert result.applied == len(items)


@pytest.fixture
def history(plant):
    three_hours_of_a1()
    return plant


def test_stops_lists_every_stop_with_its_reason_and_whether_it_needs_one(client, history):
    client.force_login(history.operator)
    response = client.get("/api/v1/machines/A1/stops/", PERIOD)
    assert response.status_code == 200
    stops = response.json()["stops"]
    assert [(s["start"], s["end"], s["state"], s["reason"], s["fault_code"], s["unplanned"], s["unexplained"])
            for s in stops] == [
        (iso(at(60)), iso(at(90)), "stopped", None, None, True, True),
        (iso(at(105)), iso(at(105.5)), "stopped", None, None, False, False),  # a small stop: no reason asked
        (iso(at(120)), iso(at(130)), "stopped", "jam", 7, True, False),
        (iso(at(152.5)), iso(at(160.5)), "no-data", "no-data", None, True, False),  # 3 × 60 s after 07:29:30
    ]
    assert [s["duration_s"] for s in stops] == [1800, 30, 600, 480]
    assert stops[2]["reason_name"] == "Jam"


def test_an_open_stop_has_no_end_and_lasts_until_now(client, plant):
    now = datetime.now(UTC)
    record_observations([ObservationIn("B1", now - timedelta(seconds=130), "running", True),
                         ObservationIn("B1", now - timedelta(seconds=100), "running", False)])
    client.force_login(plant.manager)
    body = client.get("/api/v1/machines/B1/stops/").json()
    before, stop = body["stops"]
    # Line B runs around the clock: from midnight until the first reading there was no data.
    assert (before["start"], before["end"], before["state"]) == (body["start"], iso(now - timedelta(seconds=130)),
                                                                 "no-data")
    assert (stop["start"], stop["end"], stop["state"]) == (iso(now - timedelta(seconds=100)), None, "stopped")
    assert stop["duration_s"] >= 100
    # Not yet as long as the 120-s micro-stop threshold: no reason is asked for it yet.
    assert stop["unexplained"] is False


def test_timeline_covers_the_period_without_gaps_and_shows_silence_as_no_data(client, history):
    client.force_login(history.manager)
    period = {"start": at(30).isoformat(), "end": at(240).isoformat()}
    intervals = client.get("/api/v1/machines/A1/timeline/", period).json()["intervals"]
    assert [(i["start"], i["end"], i["state"], i["reason"]) for i in intervals] == [
        (iso(at(30)), iso(at(60)), "running", None),  # clipped at the period's start
        (iso(at(60)), iso(at(90)), "stopped", None),
        (iso(at(90)), iso(at(105)), "running", None),
        (iso(at(105)), iso(at(105.5)), "stopped", None),
        (iso(at(105.5)), iso(at(120)), "running", None),
        (iso(at(120)), iso(at(130)), "stopped", "jam"),
        (iso(at(130)), iso(at(152.5)), "running", None),  # last reading 07:29:30 + 3 × 60 s, as at the end
        (iso(at(152.5)), iso(at(160.5)), "no-data", "no-data"),
        (iso(at(160.5)), iso(at(182.5)), "running", None),  # last reading 07:59:30 + 3 × 60 s
        (iso(at(182.5)), iso(at(240)), "no-data", "no-data"),
    ]


def test_timeline_defaults_to_the_current_shift(client, plant):
    now = datetime.now(UTC)
    record_observations([ObservationIn("B1", now - timedelta(seconds=10), "running", True)])
    client.force_login(plant.manager)
    body = client.get("/api/v1/machines/B1/timeline/").json()
    assert body["start"] <= iso(now - timedelta(seconds=10)) < body["end"]
    assert body["intervals"][-1]["state"] == "running"


def test_events_come_newest_first_with_who_and_a_limit(client, history):
    client.force_login(history.operator)
    response = client.post("/api/v1/machines/A1/reasons/", {"stop_start": iso(at(60)), "reason": "changeover"},
                           content_type="application/json")
    assert response.status_code == 201
    events = client.get("/api/v1/machines/A1/events/", {"limit": 3}).json()["events"]
    assert len(events) == 3
    assert [e["ts"] for e in events] == sorted((e["ts"] for e in events), reverse=True)
    given = events[0]
    assert (given["kind"], given["user"], given["detail"]["reason"]) == ("reason_given", "op-a", "changeover")
    # The newest the pipeline wrote: the end of the silence, and the machine running again.
    assert {(e["kind"], e["ts"], e["user"]) for e in events[1:]} == {
        ("no_data", iso(at(160.5)), None), ("state_change", iso(at(160.5)), None),
    }


@pytest.mark.parametrize("limit", ["0", "abc", "5000"])
def test_a_bad_event_limit_is_a_400_naming_it(client, plant, limit):
    client.force_login(plant.manager)
    response = client.get("/api/v1/machines/A1/events/", {"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()


def test_reasons_are_groups_with_their_leaves(client, plant):
    client.force_login(plant.operator)
    tree = client.get("/api/v1/reasons/").json()
    assert [(g["code"], [c["code"] for c in g["children"]]) for g in tree] == [
        ("mech", ["jam"]), ("plan", ["meeting"]), ("setup", ["changeover"]),
    ]
    meeting = tree[1]["children"][0]
    assert meeting == {"code": "meeting", "name": "Meeting", "loss_category": "planned", "planned": True,
                       "children": []}


@pytest.mark.parametrize("path", ["stops", "timeline", "events"])
def test_a_machine_of_a_line_not_yours_is_not_found(client, plant, path):
    client.force_login(plant.operator)
    assert client.get(f"/api/v1/machines/B1/{path}/").status_code == 404
    assert client.get(f"/api/v1/machines/A1/{path}/").status_code == 200
    client.force_login(plant.outsider)
    response = client.get(f"/api/v1/machines/A1/{path}/")
    assert response.status_code == 404
    assert "A1" in response.json()["detail"]


def test_reading_needs_a_log_in_or_a_key(client, plant, api_key):
    assert client.get("/api/v1/machines/A1/stops/").status_code in (401, 403)
    assert client.get("/api/v1/reasons/").status_code in (401, 403)
    response = client.get("/api/v1/machines/A1/stops/", headers=bearer(api_key("results:read")))
    assert response.status_code == 200


@pytest.mark.parametrize("params, field", [
    ({"start": "yesterday"}, "start"),
    ({"start": "2026-01-12T05:00:00"}, "start"),  # no UTC offset
    ({"start": "2026-01-12T08:00:00Z", "end": "2026-01-12T05:00:00Z"}, "end"),
    ({"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "end"),
])
def test_a_bad_period_is_a_400_naming_the_parameter(client, plant, params, field):
    client.force_login(plant.manager)
    response = client.get("/api/v1/machines/A1/timeline/", params)
    assert response.status_code == 400
    assert field in response.json()
