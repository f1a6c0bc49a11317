"""GET /api/v1/oee/: a day imported from CSV gives the OEE a person computes by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from monitoring.pipeline import ObservationIn, record_observations
from tests.api import bearer
from tests.histories import SHIFT_END, SHIFT_START, day_csv


@pytest.fixture
def imported_day(plant, tmp_path):
    path = tmp_path / "day.csv"
    path.write_text(day_csv())
    call_command("import_observations", str(path), stdout=open(tmp_path / "out.txt", "w"))
    return plant


def get_oee(client, headers=None, **params):
    query = {"start": SHIFT_START.isoformat(), "end": SHIFT_END.isoformat(), **params}
    return client.get("/api/v1/oee/", query, headers=headers)


def test_a_day_of_observations_gives_the_hand_computed_oee(client, imported_day):
    client.force_login(imported_day.manager)
    data = get_oee(client, machine="A1").json()
    # By hand: 8 h scheduled, 30 min break → PPT 27,000 s; 30 min stopped → run 25,200 s
    # (the 60-s micro-stop stays in run time); 419 running minutes × 48 = 20,112 parts, 50 rejected.
    assert data["all_time_s"] == data["scheduled_s"] == 28800
    assert data["planned_stop_s"] == 1800
    assert data["planned_production_s"] == 27000
    assert data["unplanned_stop_s"] == 1800
    assert data["run_s"] == 25200
    assert (data["total_count"], data["good_count"], data["reject_count"]) == (20112, 20062, 50)
    assert data["availability"] == pytest.approx(25200 / 27000)
    assert data["performance"] == pytest.approx(20112 * 1.0 / 25200)
    assert data["quality"] == pytest.approx(20062 / 20112)
    assert data["oee"] == pytest.approx(20062 * 1.0 / 27000)
    assert data["teep"] == pytest.approx(20062 / 28800)
    assert data["losses"] == pytest.approx({
        "equipment_failure": 1800, "setup_adjustments": 0, "small_stops": 60,
        "reduced_speed": 25200 - 60 - 20112, "production_rejects": 50, "startup_rejects": 0,
    })


def test_a_line_reports_its_constraint_machine(client, imported_day):
    client.force_login(imported_day.manager)
    line = get_oee(client, line="A").json()
    machine = get_oee(client, machine="A1").json()
    assert line["machine"] == "A1"
    assert line["oee"] == machine["oee"]


def test_an_erp_reads_with_a_key_of_its_own(client, imported_day, api_key):
    response = get_oee(client, machine="A1", headers=bearer(api_key("results:read")))
    assert response.status_code == 200
    assert response.json()["total_count"] == 20112


def test_anonymous_requests_are_refused(client, plant):
    assert get_oee(client, machine="A1").status_code in (401, 403)


def test_an_operator_cannot_read_another_line(client, plant):
    client.force_login(plant.operator)
    response = get_oee(client, machine="B1")
    assert response.status_code == 400
    assert "B1" in response.json()["machine"]


@pytest.mark.parametrize(("params", "field", "words"), [
    ({"start": None}, "start", "required"),
    ({"start": "yesterday"}, "start", "not an ISO 8601"),
    ({"end": "2026-01-12T13:00:00"}, "end", "no UTC offset"),
    ({"end": "2026-01-12T04:00:00+00:00"}, "end", "after start"),
    ({"machine": None}, "machine", "exactly one"),
    ({"line": "A"}, "machine", "exactly one"),
    ({"machine": "ZZ"}, "machine", "No machine 'ZZ'"),
])
def test_a_bad_parameter_gets_400_naming_it(client, plant, params, field, words):
    client.force_login(plant.manager)
    query = {"machine": "A1", "start": SHIFT_START.isoformat(), "end": SHIFT_END.isoformat(), **params}
    response = client.get("/api/v1/oee/", {k: v for k, v in query.items() if v is not None})
    assert response.status_code == 400
    assert words in response.json()[field]


def test_a_period_with_no_planned_time_gives_null_ratios(client, plant):
    client.force_login(plant.manager)
    saturday = datetime(2026, 1, 17, tzinfo=UTC)
    data = client.get("/api/v1/oee/", {
        "machine": "A1", "start": saturday.isoformat(), "end": (saturday + timedelta(days=1)).isoformat(),
    }).json()
    assert data["planned_production_s"] == 0
    assert (data["availability"], data["performance"], data["quality"], data["oee"]) == (None, None, None, None)


def test_rejects_early_in_a_shift_and_after_a_changeover_are_startup_rejects(client, plant):
    start = SHIFT_START
    stream = [ObservationIn("A1", start, "running", True), ObservationIn("A1", start, "reject_count", 0),
              ObservationIn("A1", start, "total_count", 0)]
    # 3 rejects in minute 2 (inside the 600-s startup window), 2 in minute 30, then a
    # 5-minute changeover at 01:00 and 4 rejects in the minute after it.
    for minute, total, rejects in ((2, 100, 3), (30, 1500, 5), (59, 3000, 5), (66, 3050, 9), (90, 4000, 9)):
        ts = start + timedelta(minutes=minute, seconds=30)
        stream += [ObservationIn("A1", ts, "total_count", total), ObservationIn("A1", ts, "reject_count", rejects)]
    change = start + timedelta(hours=1)
    stream += [ObservationIn("A1", change, "running", False), ObservationIn("A1", change, "reason", "changeover"),
               ObservationIn("A1", change + timedelta(minutes=5), "running", True)]
    stream += [ObservationIn("A1", change + timedelta(minutes=m), "running", False) for m in range(1, 5)]
    stream += [ObservationIn("A1", start + timedelta(minutes=m), "running", True) for m in range(1, 60, 2)]
    stream += [ObservationIn("A1", start + timedelta(minutes=m), "running", True) for m in range(66, 100, 2)]
    record_observations(stream)
    client.force_login(plant.manager)
    data = client.get("/api/v1/oee/", {"machine": "A1", "start": start.isoformat(),
                                       "end": (start + timedelta(minutes=100)).isoformat()}).json()
    assert data["reject_parts"] == {"startup_rejects": 3 + 4, "production_rejects": 2}
    assert data["losses"]["setup_adjustments"] == 300


# --- Time before a machine went into service, and a silence, open or over ---

def running_every_minute(machine: str, start: datetime, end: datetime) -> None:
    minutes = int((end - start).total_seconds() // 60)
    record_observations([ObservationIn(machine, start + timedelta(minutes=m), "running", True) for m in range(minutes + 1)])


def test_time_before_the_first_observation_is_not_scheduled(client, plant):
    # A demo started at 07:22 into a shift that began at 05:00 UTC: the hours before are no one's downtime.
    running_every_minute("A1", SHIFT_START + timedelta(hours=2, minutes=22), SHIFT_END)
    client.force_login(plant.manager)
    data = get_oee(client, machine="A1").json()
    assert data["all_time_s"] == 28800
    assert data["scheduled_s"] == 28800 - (2 * 3600 + 22 * 60)
    assert data["no_data_s"] == 0
    assert data["availability"] == pytest.approx(1.0)


def test_an_in_service_time_set_by_hand_counts_from_there(client, plant):
    plant.a1.in_service = SHIFT_START + timedelta(hours=1)
    plant.a1.save()
    running_every_minute("A1", SHIFT_START + timedelta(hours=2), SHIFT_END)
    client.force_login(plant.manager)
    data = get_oee(client, machine="A1").json()
    assert data["scheduled_s"] == 28800 - 3600
    assert data["no_data_s"] == 3600  # in service, but silent for its first hour


def test_a_machine_that_never_sent_anything_is_not_in_service_yet(client, plant):
    client.force_login(plant.manager)
    data = get_oee(client, machine="A2").json()
    assert (data["scheduled_s"], data["no_data_s"], data["oee"]) == (0, 0, None)


def test_an_earlier_observation_moves_the_first_observation_back(plant):
    record_observations([ObservationIn("A1", SHIFT_START + timedelta(hours=3), "running", True)])
    record_observations([ObservationIn("A1", SHIFT_START + timedelta(hours=1), "running", True),
                         ObservationIn("A1", SHIFT_START + timedelta(minutes=1), "scrap", 0)])
    plant.a1.refresh_from_db()
    assert plant.a1.first_observation == SHIFT_START + timedelta(hours=1)  # what people enter does not count


def test_a_silence_counts_the_same_while_open_and_once_data_comes_back(client, plant):
    # Line B runs around the clock. B1 runs and goes silent at `last`; its figures over a period read
    # during the silence must not change when the data comes back.
    last = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    record_observations([ObservationIn("B1", last - timedelta(minutes=m), "running", True) for m in range(10, -1, -1)])
    period = {"start": (last - timedelta(minutes=10)).isoformat(), "end": (last + timedelta(minutes=20)).isoformat()}
    client.force_login(plant.manager)
    during = client.get("/api/v1/oee/", {"machine": "B1", **period}).json()
    assert (during["run_s"], during["no_data_s"]) == (13 * 60, 17 * 60)  # running for 3 × 60 s after the last reading
    record_observations([ObservationIn("B1", last + timedelta(minutes=25), "running", True)])
    after = client.get("/api/v1/oee/", {"machine": "B1", **period}).json()
    assert (after["run_s"], after["no_data_s"]) == (during["run_s"], during["no_data_s"])
