"""Results out (monitoring/api/results.py): OEE by area and site, and closed shifts per machine."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from monitoring import kpi
from planning.models import Machine
from tests.api import bearer
from tests.histories import EARLY, LATE, at, monday_of_a1

pytestmark = pytest.mark.django_db
DAY = {"start": EARLY[0].isoformat(), "end": (EARLY[0] + timedelta(hours=16)).isoformat()}


def test_an_area_and_a_site_sum_the_figures_of_their_lines(client, plant, api_key):
    monday_of_a1()
    monday_of_a1("B1", parts_per_minute=100)
    key = bearer(api_key("results:read"))
    line_a = client.get("/api/v1/oee/", {"line": "A", **DAY}, headers=key).json()
    line_b = client.get("/api/v1/oee/", {"line": "B", **DAY}, headers=key).json()
    area = client.get("/api/v1/oee/", {"area": "pack", **DAY}, headers=key).json()
    site = client.get("/api/v1/oee/", {"site": "berlin", **DAY}, headers=key).json()
    for name in ("total_count", "good_count", "planned_production_s", "run_s"):
        assert area[name] == pytest.approx(line_a[name] + line_b[name]), name
        assert site[name] == pytest.approx(area[name]), name
    period = [parse_datetime(text) for text in DAY.values()]
    summed = kpi.line_result(plant.line_a, *period) + kpi.line_result(plant.line_b, *period)
    assert area["oee"] == pytest.approx(summed.figures.oee)  # from the sums, not an average of two ratios
    assert area["area"] == "pack" and site["site"] == "berlin"


def test_a_key_limited_to_a_line_sums_only_its_line_in_the_area(client, plant, api_key):
    monday_of_a1()
    monday_of_a1("B1", parts_per_minute=100)
    only_a = bearer(api_key("results:read", lines=[plant.line_a]))
    area = client.get("/api/v1/oee/", {"area": "pack", **DAY}, headers=only_a).json()
    line_a = client.get("/api/v1/oee/", {"line": "A", **DAY}, headers=only_a).json()
    assert area["total_count"] == line_a["total_count"]


@pytest.mark.parametrize("params", [{"line": "A", "area": "pack"}, {}, {"area": "nowhere"}])
def test_the_subject_must_be_exactly_one_known_place(client, plant, api_key, params):
    response = client.get("/api/v1/oee/", {**params, **DAY}, headers=bearer(api_key("results:read")))
    assert response.status_code == 400


def test_closed_shifts_have_the_figures_of_the_shift_report(client, plant, api_key):
    monday_of_a1()
    Machine.objects.filter(code="A2").update(enabled=False)
    response = client.get("/api/v1/shifts/", {"line": "A", "start": EARLY[0].isoformat(),
                                              "end": LATE[1].isoformat()}, headers=bearer(api_key("results:read")))
    shifts = response.json()
    assert [(s["shift"], s["start"]) for s in shifts] == [("Early", "2026-01-12T05:00:00.000000+00:00"),
                                                         ("Late", "2026-01-12T13:00:00.000000+00:00")]
    early = shifts[0]
    direct = kpi.machine_result(plant.a1, *EARLY)
    (a1,) = early["machines"]
    assert (a1["machine"], a1["total_count"], a1["oee"]) == ("A1", direct.production.total, direct.figures.oee)
    assert early["line_results"]["oee"] == direct.figures.oee  # A1 is line A's constraint machine


def test_a_shift_that_has_not_ended_is_not_closed(client, plant, api_key):
    today_start = timezone.localtime(timezone.now(), plant.site.zone).replace(hour=0, minute=0, second=0,
                                                                             microsecond=0)
    response = client.get("/api/v1/shifts/", {"line": "B", "start": today_start.isoformat(),
                                              "end": (today_start + timedelta(days=1)).isoformat()},
                          headers=bearer(api_key("results:read")))
    assert response.status_code == 200 and response.json() == []  # line B's day runs until midnight


def test_a_period_of_more_than_a_month_is_refused(client, plant, api_key):
    response = client.get("/api/v1/shifts/", {"line": "A", "start": at(5).isoformat(),
                                              "end": (at(5) + timedelta(days=40)).isoformat()},
                          headers=bearer(api_key("results:read")))
    assert response.status_code == 400 and "end" in response.json()
