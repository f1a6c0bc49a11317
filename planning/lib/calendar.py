"""Shift calendars: weekly templates in a site's local time turned into UTC windows.

Pure: no Django. Local wall-clock times are resolved through `zoneinfo`, so a night shift on
the night clocks change is an hour shorter or longer, as the people on it experience it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


@dataclass(frozen=True)
class BreakSpec:
    name: str
    start: time
    end: time


@dataclass(frozen=True)
class ShiftSpec:
    """A shift of a weekly template: starts on `weekday` (0 = Monday) at local `start`."""

    name: str
    weekday: int
    start: time
    end: time
    breaks: tuple[BreakSpec, ...] = ()

    @property
    def label(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.name} {self.start:%H:%M}–{self.end:%H:%M}"

    @property
    def length_minutes(self) -> int:
        """Nominal length in minutes; an end at or before the start means the next day."""
        length = (_minutes(self.end) - _minutes(self.start)) % MINUTES_PER_DAY
        return length or MINUTES_PER_DAY


@dataclass(frozen=True)
class ShiftWindow:
    """One occurrence of a shift, in UTC, with its breaks (also UTC)."""

    name: str
    local_date: date
    start: datetime
    end: datetime
    breaks: tuple[tuple[datetime, datetime], ...] = field(default=())
    extra: bool = False
    """A one-off extra shift of the calendar's exceptions, not of the weekly template."""

    @property
    def key(self) -> str:
        """A stable identifier of the occurrence, e.g. `2026-03-29 Night`."""
        return f"{self.local_date.isoformat()} {self.name}"


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _weekly_span(shift: ShiftSpec) -> tuple[int, int]:
    start = shift.weekday * MINUTES_PER_DAY + _minutes(shift.start)
    return start, start + shift.length_minutes


def overlapping_shifts(shifts: list[ShiftSpec]) -> tuple[ShiftSpec, ShiftSpec] | None:
    """The first pair of shifts whose weekly spans overlap (Sunday night wraps to Monday), or None."""
    spans = [(_weekly_span(s), s) for s in shifts]
    for i, ((start_a, end_a), a) in enumerate(spans):
        for (start_b, end_b), b in spans[i + 1:]:
            for wrap in (-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK):
                if start_a < end_b + wrap and start_b + wrap < end_a:
                    return a, b
    return None


def break_outside_shift(shift: ShiftSpec, brk: BreakSpec) -> bool:
    """True when the break does not lie wholly inside the shift."""
    offset = (_minutes(brk.start) - _minutes(shift.start)) % MINUTES_PER_DAY
    length = (_minutes(brk.end) - _minutes(brk.start)) % MINUTES_PER_DAY
    return length == 0 or offset + length > shift.length_minutes


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def shift_windows(shifts: list[ShiftSpec], zone: ZoneInfo, start: datetime, end: datetime) -> list[ShiftWindow]:
    """Every occurrence of the template's shifts that overlaps [start, end), in time order."""
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date()
    windows: list[ShiftWindow] = []
    day = first_day
    while day <= last_day:
        for shift in shifts:
            if shift.weekday != day.weekday():
                continue
            window = _occurrence(shift, day, zone)
            if window.start < end and window.end > start:
                windows.append(window)
        day += timedelta(days=1)
    windows.sort(key=lambda w: w.start)
    return windows


def _occurrence(shift: ShiftSpec, day: date, zone: ZoneInfo) -> ShiftWindow:
    crosses_midnight = _minutes(shift.end) <= _minutes(shift.start)
    start = _local(day, shift.start, zone)
    end = _local(day + timedelta(days=1) if crosses_midnight else day, shift.end, zone)
    breaks = []
    for brk in shift.breaks:
        brk_day = day + timedelta(days=1) if crosses_midnight and _minutes(brk.start) < _minutes(shift.start) else day
        brk_end_day = brk_day + timedelta(days=1) if _minutes(brk.end) <= _minutes(brk.start) else brk_day
        breaks.append((_local(brk_day, brk.start, zone), _local(brk_end_day, brk.end, zone)))
    return ShiftWindow(name=shift.name, local_date=day, start=start, end=end, breaks=tuple(sorted(breaks)))


def shift_at(shifts: list[ShiftSpec], zone: ZoneInfo, at: datetime) -> ShiftWindow | None:
    """The shift occurrence running at `at`, or None outside every shift."""
    for window in shift_windows(shifts, zone, at, at + timedelta(microseconds=1)):
        if window.start <= at < window.end:
            return window
    return None


def local_day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which a local calendar day starts and ends (23 or 25 h on DST days)."""
    return _local(day, time(0), zone), _local(day + timedelta(days=1), time(0), zone)
