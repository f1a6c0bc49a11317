"""Shift calendars in local time, right across midnight and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from planning.lib.calendar import (
    BreakSpec,
    ShiftSpec,
    break_outside_shift,
    local_day_bounds,
    overlapping_shifts,
    shift_at,
    shift_windows,
)

BERLIN = ZoneInfo("Europe/Berlin")


def night(weekday: int) -> ShiftSpec:
    return ShiftSpec("Night", weekday, time(22), time(6), (BreakSpec("Break", time(2), time(2, 30)),))


def test_a_night_shift_crosses_midnight_with_its_break_on_the_next_day():
    # 2026-01-12 is a Monday, Berlin is UTC+1 in winter.
    start = datetime(2026, 1, 12, tzinfo=UTC)
    [window] = shift_windows([night(0)], BERLIN, start, start + timedelta(days=1))
    assert window.start == datetime(2026, 1, 12, 21, tzinfo=UTC)
    assert window.end == datetime(2026, 1, 13, 5, tzinfo=UTC)
    assert window.breaks == ((datetime(2026, 1, 13, 1, tzinfo=UTC), datetime(2026, 1, 13, 1, 30, tzinfo=UTC)),)


def test_the_night_shift_on_spring_forward_is_seven_hours():
    # Clocks go from 02:00 to 03:00 on Sunday 2026-03-29 in Berlin.
    start = datetime(2026, 3, 28, tzinfo=UTC)
    [window] = shift_windows([night(5)], BERLIN, start, start + timedelta(days=2))
    assert window.end - window.start == timedelta(hours=7)


def test_the_night_shift_on_fall_back_is_nine_hours():
    # Clocks go from 03:00 back to 02:00 on Sunday 2026-10-25 in Berlin.
    start = datetime(2026, 10, 24, tzinfo=UTC)
    [window] = shift_windows([night(5)], BERLIN, start, start + timedelta(days=2))
    assert window.end - window.start == timedelta(hours=9)


def test_local_days_are_23_and_25_hours_on_dst_days():
    spring = local_day_bounds(date(2026, 3, 29), BERLIN)
    autumn = local_day_bounds(date(2026, 10, 25), BERLIN)
    assert spring[1] - spring[0] == timedelta(hours=23)
    assert autumn[1] - autumn[0] == timedelta(hours=25)


def test_an_early_shift_keeps_its_local_start_across_the_change():
    early = [ShiftSpec("Early", d, time(6), time(14)) for d in range(7)]
    windows = shift_windows(early, BERLIN, datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    assert [w.start.astimezone(BERLIN).hour for w in windows] == [6, 6, 6]
    assert [w.start.hour for w in windows] == [5, 4, 4]


def test_overlapping_shifts_are_found_including_sunday_night_into_monday():
    early = ShiftSpec("Early", 0, time(6), time(14))
    late = ShiftSpec("Late", 0, time(13), time(21))
    assert overlapping_shifts([early, late]) == (early, late)
    sunday_night = ShiftSpec("Night", 6, time(22), time(7))
    assert overlapping_shifts([early, sunday_night]) is not None
    assert overlapping_shifts([early, ShiftSpec("Late", 0, time(14), time(22)), night(0)]) is None


def test_a_break_must_lie_inside_its_shift():
    shift = night(0)
    assert not break_outside_shift(shift, BreakSpec("ok", time(2), time(2, 30)))
    assert break_outside_shift(shift, BreakSpec("late", time(5, 45), time(6, 15)))
    assert break_outside_shift(shift, BreakSpec("day", time(12), time(12, 30)))


def test_shift_at_finds_the_running_occurrence():
    shifts = [night(0)]
    inside = datetime(2026, 1, 13, 3, tzinfo=UTC)  # Tuesday 04:00 Berlin, Monday's night shift
    window = shift_at(shifts, BERLIN, inside)
    assert window is not None and window.local_date == date(2026, 1, 12)
    assert shift_at(shifts, BERLIN, datetime(2026, 1, 13, 12, tzinfo=UTC)) is None
