"""OEE of machines and lines over a period, from the stored projection (DESIGN.md §4).

The door pages, reports, the API and the live stream go through, so they agree. One machine
over one period is a `MachinePeriod` (monitoring.period): its times, downtime, stops and
timeline. A long period is read as the hourly rollups of its whole hours plus its edges
(monitoring.rollups), with the same figures.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from monitoring import rollups
from monitoring.period import (  # noqa: F401 - the names others read the figures by
    EMPTY,
    MachinePeriod,
    Result,
    Tally,
    data_ends_at,
    production,
)
from planning.models import Line, Machine
from planning.schedule import LineCalendar


def machine_result(
    machine: Machine, start: datetime, end: datetime, now: datetime | None = None,
    calendar: LineCalendar | None = None,
) -> Result:
    """Times and production of one machine over [start, end) (clipped at now).

    A `calendar` given must cover the period (the line's calendar read over it or more).
    """
    period = MachinePeriod(machine, start, end, now, calendar)
    return EMPTY if period.empty else rollups.tally(period).result(machine)


def machines_result(machines: list[Machine], start: datetime, end: datetime, now: datetime | None = None) -> Result:
    """Summed times and counts of several machines (never an average of ratios)."""
    now = now or timezone.now()
    # A line's calendar over a short period is read once for its machines; a long one reads only its edges'.
    calendars: dict[int, LineCalendar] = {}
    total = EMPTY
    for machine in machines:
        period = MachinePeriod(machine, start, end, now, calendars.get(machine.line_id))
        if period.empty:
            continue
        total += rollups.tally(period).result(machine)
        if not rollups.is_long(period):
            calendars[machine.line_id] = period.calendar
    return total


def line_result(line: Line, start: datetime, end: datetime, now: datetime | None = None) -> Result:
    """A line's OEE: the sum of its subject machines (its constraint machine, else all of them)."""
    return machines_result(line.subject_machines(), start, end, now)
