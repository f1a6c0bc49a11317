"""How a work order is getting on: its pace now against the ideal, when it will be done, how late.

Pure: no Django. The pace is that of the last minutes of the order's run windows, stops
included: a machine that stood for ten of the last fifteen minutes is on course for a late end,
and the forecast follows what the line does now rather than what it did this morning.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

MIN_PACE_SECONDS = 60.0
"""Less run time than this in the window says nothing yet about the pace (an order just started)."""
ON_TIME_SECONDS = 60.0
"""An end within a minute of the planned end is on time."""


@dataclass(frozen=True)
class Pace:
    """Parts an order made in the last minutes of its run windows, and how long it ran in them."""

    parts: int
    good: int
    seconds: float
    """Seconds of the order's run windows in those minutes, stops included (pauses are not its time)."""

    @property
    def known(self) -> bool:
        return self.seconds >= MIN_PACE_SECONDS

    @property
    def parts_per_minute(self) -> float | None:
        """All parts (good and scrap) a minute; None while the pace is not known."""
        return self.parts * 60.0 / self.seconds if self.known else None


def ideal_parts_per_minute(ideal_cycle_times: Iterable[float]) -> float:
    """Parts a minute that machines make together at their ideal cycle times (seconds per part)."""
    return sum(60.0 / seconds for seconds in ideal_cycle_times)


def eta_seconds(remaining: int, pace: Pace) -> float | None:
    """Seconds until `remaining` good parts are made at the pace's rate of good parts.

    0 when nothing remains; None while the pace is unknown or made no good part (a long stop).
    """
    if remaining <= 0:
        return 0.0
    if not pace.known or pace.good <= 0:
        return None
    return remaining * pace.seconds / pace.good


def late_seconds(planned_end: datetime, finish: datetime | None, now: datetime) -> float | None:
    """Seconds an order ends after (positive) or before (negative) its planned end.

    `finish` is its actual end, or the forecast one. Without either, an order already past its
    planned end is late by at least the time since; before it, nothing can be said (None).
    """
    if finish is not None:
        return (finish - planned_end).total_seconds()
    if now > planned_end:
        return (now - planned_end).total_seconds()
    return None


def lateness_text(seconds: float | None) -> str:
    """-300 → '5 min early', 4500 → '1 h 15 min late', 20 → 'on time'; '' when unknown."""
    if seconds is None:
        return ""
    if abs(seconds) < ON_TIME_SECONDS:
        return "on time"
    minutes = round(abs(seconds) / 60)
    hours, minutes = divmod(minutes, 60)
    length = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
    return f"{length} {'late' if seconds > 0 else 'early'}"


def rate_text(parts_per_minute: float | None, ideal_parts_per_minute: float) -> tuple[str, str]:
    """(pace, ideal) as a person reads them: per minute, or per hour for a machine that makes fewer
    than one part a minute at ideal speed; the pace is '—' while unknown."""
    unit, factor = ("h", 60.0) if ideal_parts_per_minute < 1 else ("min", 1.0)

    def shown(value: float) -> str:
        value *= factor
        return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"

    pace = "—" if parts_per_minute is None else shown(parts_per_minute)
    return f"{pace}/{unit}", f"{shown(ideal_parts_per_minute)}/{unit}"
