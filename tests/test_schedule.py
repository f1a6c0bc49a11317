"""A line's calendar read from the database (planning/schedule.py): shifts, extra shifts, holidays, days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.lib.spans import union
from planning.models import CalendarException
from planning.schedule import calendar_around, current_shift, line_calendar

pytestmark = pytest.mark.django_db

# Monday 2026-01-12; Berlin is UTC+1: line A's Early shift is 05:00–13:00 UTC, Late 13:00–21:00.
MONDAY = datetime(2026, 1, 12, tzinfo=UTC)


def at(hour: float) -> datetime:
    return MONDAY + timedelta(hours=hour)


def test_the_shift_running_now_is_found_with_its_local_times(plant):
    shift = current_shift(plant.line_a, at(9))
    assert (shift.name, shift.start, shift.end) == ("Early", at(5), at(13))
    assert current_shift(plant.line_a, at(22)) is None  # after the late shift, before the next early one


def test_a_line_without_a_pattern_runs_all_day_by_local_day(plant):
    calendar = line_calendar(plant.line_b, at(20), at(26))
    # Berlin's Monday ends at 23:00 UTC: two local days, each "All day".
    assert [(w.name, w.local_date.isoformat(), w.start, w.end) for w in calendar.windows] == [
        ("All day", "2026-01-12", at(-1), at(23)), ("All day", "2026-01-13", at(23), at(47)),
    ]
    assert calendar.around_the_clock
    assert current_shift(plant.line_b, at(23.5)).local_date.isoformat() == "2026-01-13"


def test_an_extra_shift_is_the_shift_while_it_runs_and_a_holiday_is_planned_time(plant):
    CalendarException.objects.create(line=plant.line_a, kind="extra_shift", name="Inventory",
                                     start=at(21), end=at(25))
    CalendarException.objects.create(line=plant.line_a, kind="holiday", name="Plant party",
                                     start=at(10), end=at(12))
    calendar = line_calendar(plant.line_a, at(0), at(24))
    assert calendar.shift_at(at(22)).name == "Extra: Inventory"
    assert (at(10).timestamp(), at(12).timestamp()) in calendar.planned
    assert current_shift(plant.line_a, at(22)).extra


def test_a_period_that_starts_at_a_shift_change_knows_the_line_was_already_scheduled(plant):
    calendar = line_calendar(plant.line_a, at(13), at(21))
    assert [w.name for w in calendar.windows] == ["Late"]  # the early shift is not one of the period's
    # ... but its scheduled time is read, so 13:00 is no start of scheduled time (no start-up there).
    assert union(calendar.scheduled)[0] == (at(5).timestamp(), at(21).timestamp())


def test_the_calendar_around_an_instant_holds_the_shift_running_then(plant):
    calendar = calendar_around(plant.line_a, at(12))
    assert calendar.shift_at(at(12)).start == at(5)


def test_a_lines_shifts_are_read_once_then_kept_until_one_changes(plant, django_assert_num_queries):
    from datetime import time

    from planning.models import Break, Line, Shift

    line = Line.objects.select_related("area__site").get(pk=plant.line_a.pk)
    assert current_shift(line, at(9)).name == "Early"
    with django_assert_num_queries(1):  # its calendar exceptions; the shifts come from the cache
        assert current_shift(line, at(9)).name == "Early"
    # An edit shows at once, in any process: every kept pattern is stale from the change on.
    early = Shift.objects.get(pattern__line=line, weekday=0, name="Early")
    early.start = time(7)
    early.save()
    assert current_shift(line, at(5.5)) is None and current_shift(line, at(6.5)).name == "Early"
    Break.objects.filter(shift=early).delete()
    assert line_calendar(line, at(0), at(24)).planned == []
    line.shift_pattern.delete()
    assert current_shift(Line.objects.select_related("area__site").get(pk=line.pk), at(22)).name == "All day"
