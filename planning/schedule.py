"""A line's calendar over a period, read once: shift occurrences, scheduled time and planned-stop windows.

A line's weekly shifts are read for every live message and OEE figure of it, and change only
when someone edits them: they are kept in the cache (`pattern_specs`) until any shift pattern,
shift or break changes.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from planning.lib.calendar import ShiftSpec, ShiftWindow, local_day_bounds, shift_windows
from planning.models import Break, CalendarException, ExceptionKind, Line, Shift, ShiftPattern

logger = logging.getLogger(__name__)

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


# --- the weekly shifts of each line, kept in the cache ---------------------------------------------

PATTERN_CACHE_S = 600
_GENERATION_KEY = "calendar:patterns:generation"
"""Changes whenever a shift pattern, shift or break does: entries kept under another one are stale."""


def _pattern_key(line_id: int) -> str:
    return f"calendar:pattern:{line_id}"


def _read_pattern(line: Line) -> list[ShiftSpec] | None:
    try:
        pattern = line.shift_pattern
    except ShiftPattern.DoesNotExist:
        return None
    return pattern.specs()


def pattern_specs(line: Line) -> list[ShiftSpec] | None:
    """The line's weekly shifts with their breaks (None: no shift pattern), from the cache while unchanged."""
    key = _pattern_key(line.pk)
    try:
        found = cache.get_many([_GENERATION_KEY, key])
        generation = found.get(_GENERATION_KEY)
        if generation is None:
            # A new one, never the absent one: entries kept before the cache lost it may be stale.
            cache.add(_GENERATION_KEY, uuid.uuid4().hex, timeout=None)
            return _read_pattern(line)
        if key in found and found[key][0] == generation:
            return found[key][1]
        specs = _read_pattern(line)
        cache.set(key, (generation, specs), timeout=PATTERN_CACHE_S)
        return specs
    except Exception:  # noqa: BLE001 - without the cache, the database answers
        logger.warning("cache unreachable; reading the shift pattern of %s", line.code)
        return _read_pattern(line)


_told_unwritable = False


def _forget_patterns(**kwargs: object) -> None:
    """A shift pattern, shift or break changed: every kept pattern is stale, now and once it is committed.

    Once more at the commit: a reader that read the database before it may have kept what it read.
    """
    def forget() -> None:
        try:
            cache.set(_GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        except Exception:  # noqa: BLE001 - entries expire by themselves within PATTERN_CACHE_S
            # Once per process: an import of a plant's calendar before Redis is up (make run) changes
            # a hundred shifts and breaks, and a hundred equal warnings would drown the log.
            global _told_unwritable
            if not _told_unwritable:
                _told_unwritable = True
                logger.warning("cache unwritable; kept shift patterns stay up to %d s (said once)", PATTERN_CACHE_S)

    forget()
    transaction.on_commit(forget)


def forget_patterns_on_change() -> None:
    """Connect the signals that make kept shift patterns stale (at start-up: `PlanningConfig.ready`)."""
    for model in (ShiftPattern, Shift, Break):
        post_save.connect(_forget_patterns, sender=model, dispatch_uid=f"forget-patterns-save-{model.__name__}")
        post_delete.connect(_forget_patterns, sender=model, dispatch_uid=f"forget-patterns-delete-{model.__name__}")


# --- calendars ------------------------------------------------------------------------------------


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
    specs = pattern_specs(line)
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
