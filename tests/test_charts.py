"""The folds over a machine's period (monitoring/charts.py) add up to the figures of its OEE."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitoring import charts, kpi
from monitoring.models import CountBucket
from tests.histories import EARLY, at, monday_of_a1

pytestmark = pytest.mark.django_db


@pytest.fixture
def early(plant) -> kpi.MachinePeriod:
    monday_of_a1()
    return kpi.MachinePeriod(plant.a1, *EARLY, now=at(16))


def test_the_timeline_covers_the_period_without_gap_or_overlap(early):
    rows = charts.timeline(early)
    assert (rows[0].start, rows[-1].end) == EARLY
    assert all(a.end == b.start for a, b in zip(rows, rows[1:]))
    assert [(r.start, r.end, r.reason) for r in rows if r.state == "stopped"] == [
        (at(6), at(6, 30), "jam"), (at(7), at(7, 10), None), (at(8), at(8, 1), None),
    ]


def test_only_the_unexplained_unplanned_stop_needs_a_reason(early):
    stops = charts.stops(early)
    assert [(s.start, s.unplanned, s.needs_reason) for s in stops if s.state == "stopped"] == [
        (at(6), True, False),        # the jam has its reason
        (at(7), True, True),         # ten minutes, nobody said why
        (at(8), False, False),       # one minute: a small stop, not asked about
    ]


def test_the_downtime_by_reason_adds_up_to_the_unplanned_stop_time(early):
    result = early.result()
    downtime = charts.downtime_by_reason([early.machine], *EARLY, now=at(16))
    assert downtime == early.downtime()  # one machine: the period's own fold
    assert downtime["Jam"] == 30 * 60 and downtime["Unexplained"] == 10 * 60
    assert downtime.pop("Small stops") == pytest.approx(result.times.small_stop)
    assert sum(downtime.values()) == pytest.approx(result.times.unplanned_stop)


def test_the_parts_per_hour_add_up_to_the_parts_of_the_period(early):
    hours = charts.parts_per_hour(early.machine, *EARLY)
    result = early.result()
    assert sum(h["good"] + h["reject"] for h in hours) == result.production.total
    assert sum(h["reject"] for h in hours) == result.production.reject
    assert hours[0]["label"] == "06:00"  # Berlin's clock


def test_the_two_hours_called_two_oclock_of_the_night_the_clocks_go_back_stay_two(plant):
    # 25 Oct 2026 in Berlin: 02:00-03:00 CEST (00:00 UTC), then 02:00-03:00 CET again (01:00 UTC).
    for hour, parts in ((0, 7), (1, 5)):
        CountBucket.objects.create(machine=plant.a1, minute=datetime(2026, 10, 25, hour, 30, tzinfo=UTC),
                                   total_count=parts, good_count=parts)
    hours = charts.parts_per_hour(plant.a1, datetime(2026, 10, 24, 22, tzinfo=UTC),
                                  datetime(2026, 10, 25, 4, tzinfo=UTC))
    assert [(h["label"], h["good"]) for h in hours] == [("02:00", 7), ("02:00", 5)]
    assert [h["hour"] for h in hours] == ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"]
