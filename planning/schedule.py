"""A line's calendar over a period, read once: shift occurrences, scheduled time and planned-stop windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from planning.lib.calendar import ShiftWindow, local_day_bounds, shift_windows
from planning.models import CalendarException, ExceptionKind, Line, ShiftPattern

Span = tuple[float, float]

ALL_DAY = "All day"
# A shift lasts at most a day, 25 hours across a change of clocks: reading this far back finds
# the shift in progress at any instant.
LONGEST_SHIFT = timedelta(hours=26)
# Scheduled time is read from this much before a period, so a period that starts at a shift
# change knows the line was already scheduled (a shift change is not a start-up).
LOOK_BACK = timedelta(seconds=1)


@dataclass(frozen=True)
class LineCalendar:
    windows: list[ShiftWindow]
    """Shift occurrences overlapping the period (extra shifts included), in time order. A line
    without a shift pattern has one "All day" occurrence per local day."""
    scheduled: list[Span]
    planned: list[Span]
    """Breaks and holidays: scheduled time excluded on purpose."""
    around_the_clock: bool = False
    """No shift pattern: every moment is scheduled, so there is no shift start."""

    def shift_at(self, at: datetime) -> ShiftWindow | None:
        """The occurrence running at `at` (an extra shift before the pattern's), or None."""
        holding = [w for w in self.windows if w.start <= at < w.end]
        extra = [w for w in holding if w.extra]
        return (extra or holding or [None])[0]


def _pattern(line: Line) -> list | None:
    try:
        pattern = line.shift_pattern
    except ShiftPattern.DoesNotExist:
        return None
    return pattern.specs()


def _local_days(start: datetime, end: datetime, zone) -> list[ShiftWindow]:
    day: date = start.astimezone(zone).date()
    windows = []
    while True:
        day_start, day_end = local_day_bounds(day, zone)
        if day_start >= end:
            return windows
        windows.append(ShiftWindow(name=ALL_DAY, local_date=day, start=day_start, end=day_end))
        day += timedelta(days=1)


def line_calendar(line: Line, start: datetime, end: datetime) -> LineCalendar:
    """The line's calendar over [start, end). A line with no shift pattern is scheduled around the clock."""
    specs = _pattern(line)
    zone = line.area.site.zone
    read_from = start - LOOK_BACK
    if specs is None:
        windows = _local_days(read_from, end, zone)
    else:
        windows = shift_windows(specs, zone, read_from, end)
    scheduled = [(w.start.timestamp(), w.end.timestamp()) for w in windows]
    planned = [(b[0].timestamp(), b[1].timestamp()) for w in windows for b in w.breaks]
    for exception in CalendarException.objects.filter(line=line, start__lt=end, end__gt=read_from):
        span = (exception.start.timestamp(), exception.end.timestamp())
        if exception.kind == ExceptionKind.EXTRA_SHIFT:
            scheduled.append(span)
            windows.append(ShiftWindow(
                name=f"Extra: {exception.name}", local_date=exception.start.astimezone(zone).date(),
                start=exception.start, end=exception.end, extra=True,
            ))
        else:
            planned.append(span)
    windows = sorted((w for w in windows if w.end > start), key=lambda w: w.start)
    return LineCalendar(windows=windows, scheduled=scheduled, planned=planned, around_the_clock=specs is None)


def calendar_around(line: Line, at: datetime) -> LineCalendar:
    """The line's calendar from the start of the shift running at `at` (or earlier) up to `at`."""
    return line_calendar(line, at - LONGEST_SHIFT, at + timedelta(microseconds=1))


def current_shift(line: Line, at: datetime) -> ShiftWindow | None:
    """The shift occurrence running on the line at `at` (an extra shift counts), or None."""
    return line_calendar(line, at, at + timedelta(microseconds=1)).shift_at(at)
