"""POST /api/v1/observations/ (monitoring/api/ingest.py): JSON or CSV, per-item rejections, no repeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from monitoring import kpi
from monitoring.models import Observation
from planning.models import Machine
from tests.api import bearer

pytestmark = pytest.mark.django_db

ITEMS = [
    {"ts": "2026-01-12T09:00:00Z", "machine": "B1", "signal": "running", "value": True},
    {"ts": "2026-01-12T09:00:30Z", "machine": "B1", "signal": "total_count", "value": 10},
    {"ts": "2026-01-12T09:01:30Z", "machine": "B1", "signal": "total_count", "value": 40},
]


@pytest.fixture
def sender(client, plant, api_key):
    headers = bearer(api_key("observations:write", lines=[plant.line_b]))

    def send(body, content_type: str = "application/json"):
        return client.post("/api/v1/observations/", body, content_type=content_type, headers=headers)

    return send


def test_observations_go_through_the_pipeline_and_the_same_body_twice_applies_nothing(sender):
    first = sender(ITEMS).json()
    assert first == {"received": 3, "applied": 3, "duplicates": 0, "rejected": []}
    assert sender(ITEMS).json() == {"received": 3, "applied": 0, "duplicates": 3, "rejected": []}
    assert Observation.objects.count() == 3


def test_each_bad_item_is_rejected_with_its_index_and_the_good_ones_applied(sender):
    body = ITEMS + [
        {"ts": "2026-01-12T09:02:00", "machine": "B1", "signal": "running", "value": True},   # no offset
        {"ts": "2026-01-12T09:02:00Z", "machine": "Z9", "signal": "running", "value": True},  # unknown machine
        {"ts": "2026-01-12T09:02:00Z", "machine": "B1", "signal": "speed", "value": 3},       # unknown signal
        {"ts": "2026-01-12T09:02:00Z", "machine": "A1", "signal": "running", "value": True},  # not this key's
        {"machine": "B1", "signal": "running", "value": True},                                # no ts
        "running",
    ]
    answer = sender(body).json()
    assert (answer["received"], answer["applied"]) == (9, 3)
    messages = {r["index"]: r["message"] for r in answer["rejected"]}
    assert sorted(messages) == [3, 4, 5, 6, 7, 8]
    assert "no UTC offset" in messages[3] and "unknown machine 'Z9'" in messages[4]
    assert "unknown signal 'speed'" in messages[5] and "may not write" in messages[6]
    assert "missing ts" in messages[7] and "object" in messages[8]
    assert not Observation.objects.filter(machine__code="A1").exists()


def test_the_csv_of_import_observations_works_too(sender):
    csv_body = "ts,machine,signal,value\n" + "".join(
        f"{item['ts']},{item['machine']},{item['signal']},{str(item['value']).lower()}\n" for item in ITEMS
    ) + "2026-01-12T09:03:00Z,B1,running\n"
    answer = sender(csv_body, "text/csv").json()
    assert (answer["received"], answer["applied"]) == (4, 3)
    assert answer["rejected"] == [{"index": 5, "message": "expected 4 fields (ts,machine,signal,value), got 3"}]


@pytest.mark.parametrize(("body", "content_type"), [
    ({"ts": "x"}, "application/json"),
    ("not json", "application/json"),
    ("a,b,c\n1,2,3\n", "text/csv"),
])
def test_a_body_that_is_not_observations_is_a_400(sender, body, content_type):
    response = sender(body, content_type)
    assert response.status_code == 400
    assert not Observation.objects.exists()


def test_a_key_without_the_scope_may_not_send(client, plant, api_key):
    response = client.post("/api/v1/observations/", ITEMS, content_type="application/json",
                           headers=bearer(api_key("results:read", "orders:write")))
    assert response.status_code == 403 and "observations:write" in response.json()["detail"]


def test_an_observation_from_the_future_or_from_no_plants_time_is_rejected(sender):
    ahead = (timezone.now() + timedelta(hours=1)).isoformat()
    body = ITEMS + [
        {"ts": ahead, "machine": "B1", "signal": "running", "value": False},
        {"ts": "0001-01-01T00:00:00+05:00", "machine": "B1", "signal": "running", "value": False},
    ]
    answer = sender(body).json()
    assert answer["applied"] == 3
    messages = {r["index"]: r["message"] for r in answer["rejected"]}
    assert "in the future" in messages[3] and "not between" in messages[4]


def test_the_bounds_on_observation_time_are_settings(sender, settings):
    # A PLC whose clock was never set sends 1970 or 2000; one running ahead makes the past a gap.
    settings.OBSERVATIONS_NOT_BEFORE, settings.OBSERVATIONS_MAX_AHEAD_S = "2020-01-01", 30
    body = [
        {"ts": "2019-12-31T23:59:59Z", "machine": "B1", "signal": "running", "value": True},
        {"ts": (timezone.now() + timedelta(seconds=90)).isoformat(), "machine": "B1", "signal": "running",
         "value": True},
        {"ts": "2020-01-01T00:00:00Z", "machine": "B1", "signal": "running", "value": True},
    ]
    answer = sender(body).json()
    assert answer["applied"] == 1
    messages = {r["index"]: r["message"] for r in answer["rejected"]}
    assert "before 2020-01-01 (OBSERVATIONS_NOT_BEFORE)" in messages[0]
    assert "more than 30 s ahead" in messages[1]


def test_an_item_with_a_nul_or_a_control_character_is_rejected_and_the_others_applied(sender):
    body = [{**ITEMS[0], "signal": "run\u0000ning"}, {**ITEMS[1], "machine": "B\u00011"}, ITEMS[2],
            {**ITEMS[0], "value": "\ud800"}]
    answer = sender(body).json()
    assert answer["applied"] == 1
    assert [r["index"] for r in answer["rejected"]] == [0, 1, 3]
    assert "signal holds a NUL character" in answer["rejected"][0]["message"]
    assert "machine holds the control character \\u0001" in answer["rejected"][1]["message"]
    assert "lone surrogate" in answer["rejected"][2]["message"]
    csv = "ts,machine,signal,value\n2026-01-12T09:00:00Z,B1,run\x00ning,true\n2026-01-12T09:00:30Z,B1,total_count,10\n"
    answer = sender(csv, "text/csv").json()
    assert answer["rejected"] == [{"index": 2, "message": "signal holds a NUL character (\\u0000)"}]
    assert Observation.objects.count() == 2


def test_a_nul_character_in_a_url_is_a_400(client):
    assert client.get("/api/v1/oee/", {"line": "B\x00"}).status_code == 400


def good_and_scrap_of_b1() -> tuple[int, int]:
    result = kpi.machine_result(Machine.objects.get(code="B1"), datetime(2026, 1, 12, 8, tzinfo=UTC),
                                datetime(2026, 1, 12, 10, tzinfo=UTC), now=datetime(2026, 1, 12, 10, tzinfo=UTC))
    return result.production.good, result.production.reject


def test_scrap_beyond_the_good_parts_of_the_shift_is_rejected_and_the_rest_applied(sender):
    # An ERP's scrap is the operator's: 5 scrap on a machine that made 0 parts showed "Good parts -5 of 0".
    # Line B runs around the clock: its shift is the local day. The body's own counters make 30 parts at 09:01.
    scrap = [
        {"ts": "2026-01-12T08:58:00Z", "machine": "B1", "signal": "scrap", "value": 1},   # no part made yet
        {"ts": "2026-01-12T09:02:00Z", "machine": "B1", "signal": "scrap", "value": 5},
        {"ts": "2026-01-12T09:03:00Z", "machine": "B1", "signal": "scrap", "value": 26},  # 25 left
        {"ts": "2026-01-12T09:04:00Z", "machine": "B1", "signal": "scrap", "value": 25},
    ]
    answer = sender(scrap + ITEMS).json()
    assert (answer["applied"], [r["index"] for r in answer["rejected"]]) == (5, [0, 2])
    assert "B1 has 0 good parts since the shift began (2026-01-12 00:00)" in answer["rejected"][0]["message"]
    assert "B1 has 25 good parts" in answer["rejected"][1]["message"]
    assert good_and_scrap_of_b1() == (0, 30)
    # The same body again: the scrap stored is a duplicate, not more scrap; the rest is refused as before.
    again = sender(scrap + ITEMS).json()
    assert (again["applied"], again["duplicates"], [r["index"] for r in again["rejected"]]) == (0, 5, [0, 2])
    csv_body = "ts,machine,signal,value\n2026-01-12T09:05:00Z,B1,scrap,1\n"
    assert "B1 has 0 good parts" in sender(csv_body, "text/csv").json()["rejected"][0]["message"]
    assert good_and_scrap_of_b1() == (0, 30)
