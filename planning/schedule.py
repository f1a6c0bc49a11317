"""A line's calendar over a period: shift occurrences, scheduled time and planned-stop windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitoring.models import Line
from planning.lib.calendar import ShiftWindow, local_day_bounds, shift_at, shift_windows
from planning.models import CalendarException, ExceptionKind, ShiftPattern

Span = tuple[float, float]


@dataclass(frozen=True)
class LineCalendar:
    windows: list[ShiftWindow]
    """Shift occurrences overlapping the period (extra shifts included), in time order."""
    scheduled: list[Span]
    planned: list[Span]
    """Breaks and holidays: scheduled time excluded on purpose."""
    around_the_clock: bool = False
    """No shift pattern: every moment is scheduled, so there is no shift start."""


def _pattern(line: Line) -> list | None:
    try:
        pattern = line.shift_pattern
    except ShiftPattern.DoesNotExist:
        return None
    return pattern.specs()


def line_calendar(line: Line, start: datetime, end: datetime) -> LineCalendar:
    """The line's calendar over [start, end). A line with no shift pattern is scheduled around the clock."""
    specs = _pattern(line)
    zone = line.area.site.zone
    if specs is None:
        windows = [ShiftWindow(name="All day", local_date=start.astimezone(zone).date(), start=start, end=end)]
    else:
        windows = shift_windows(specs, zone, start, end)
    scheduled = [(w.start.timestamp(), w.end.timestamp()) for w in windows]
    planned = [(b[0].timestamp(), b[1].timestamp()) for w in windows for b in w.breaks]
    for exception in CalendarException.objects.filter(line=line, start__lt=end, end__gt=start):
        span = (exception.start.timestamp(), exception.end.timestamp())
        if exception.kind == ExceptionKind.EXTRA_SHIFT:
            scheduled.append(span)
            windows.append(ShiftWindow(
                name=f"Extra: {exception.name}", local_date=exception.start.astimezone(zone).date(),
                start=exception.start, end=exception.end,
            ))
        else:
            planned.append(span)
    windows.sort(key=lambda w: w.start)
    return LineCalendar(windows=windows, scheduled=scheduled, planned=planned, around_the_clock=specs is None)


def current_shift(line: Line, at: datetime) -> ShiftWindow | None:
    """The shift occurrence running on the line at `at` (an extra shift counts), or None."""
    specs = _pattern(line)
    zone = line.area.site.zone
    extra = CalendarException.objects.filter(
        line=line, kind=ExceptionKind.EXTRA_SHIFT, start__lte=at, end__gt=at,
    ).first()
    if extra is not None:
        return ShiftWindow(
            name=f"Extra: {extra.name}", local_date=extra.start.astimezone(zone).date(),
            start=extra.start, end=extra.end,
        )
    if specs is None:
        day = at.astimezone(zone).date()
        day_start, day_end = local_day_bounds(day, zone)
        return ShiftWindow(name="All day", local_date=day, start=day_start, end=day_end)
    return shift_at(specs, zone, at)
