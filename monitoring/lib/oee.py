"""OEE arithmetic (DESIGN.md §4): time categories, A/P/Q/OEE/TEEP and the six big losses.

Pure: no Django. Times are seconds since the epoch (floats); a span is [start, end).
Aggregates are built by adding `TimeBreakdown`s and `Production`s, never by averaging ratios.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from monitoring.lib.states import NO_DATA, RUNNING, STOPPED  # noqa: F401  (the values of StateSpan.state)

EQUIPMENT_FAILURE = "equipment_failure"
SETUP_ADJUSTMENTS = "setup_adjustments"
SMALL_STOPS = "small_stops"
REDUCED_SPEED = "reduced_speed"
PRODUCTION_REJECTS = "production_rejects"
STARTUP_REJECTS = "startup_rejects"
SIX_BIG_LOSSES = (
    EQUIPMENT_FAILURE, SETUP_ADJUSTMENTS, SMALL_STOPS, REDUCED_SPEED, PRODUCTION_REJECTS, STARTUP_REJECTS,
)

Span = tuple[float, float]


@dataclass(frozen=True)
class StateSpan:
    start: float
    end: float
    state: str
    planned: bool = False
    loss_category: str | None = None
    """Loss category of the stop's reason; None while unexplained."""


class _Summable:
    def __add__(self, other):
        return type(self)(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


@dataclass(frozen=True)
class TimeBreakdown(_Summable):
    """Seconds of one machine (or a sum of machines) in each time category over a period."""

    all_time: float = 0.0
    scheduled: float = 0.0
    planned_stop: float = 0.0
    planned_production: float = 0.0
    unplanned_stop: float = 0.0
    run: float = 0.0
    small_stop: float = 0.0
    equipment_failure: float = 0.0
    setup_adjustments: float = 0.0
    unexplained: float = 0.0
    no_data: float = 0.0


@dataclass(frozen=True)
class Production(_Summable):
    """Parts made over a period, and their worth in seconds at ideal cycle time."""

    total: int = 0
    good: int = 0
    reject: int = 0
    startup_reject: int = 0
    ideal_seconds: float = 0.0
    """Σ ideal cycle time × total count."""
    ideal_good_seconds: float = 0.0
    reject_seconds: float = 0.0
    startup_reject_seconds: float = 0.0


@dataclass(frozen=True)
class Figures:
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    teep: float | None
    losses: dict[str, float]
    """The six big losses in seconds."""
    reject_parts: dict[str, int]


def union(spans: Iterable[Span]) -> list[Span]:
    """Sorted, disjoint, merged spans; empty ones dropped."""
    merged: list[list[float]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def intersect(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    """Intersection of two sorted disjoint span lists."""
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    """`a` minus `b`, both sorted and disjoint."""
    out: list[Span] = []
    j = 0
    for start, end in a:
        cursor = start
        while j < len(b) and b[j][1] <= cursor:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cursor:
                out.append((cursor, b[k][0]))
            cursor = max(cursor, b[k][1])
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return out


def total(spans: Iterable[Span]) -> float:
    return sum(end - start for start, end in spans)


class SpanIndex:
    """Questions about a sorted, disjoint span list, answered by bisection."""

    def __init__(self, spans: Sequence[Span]) -> None:
        self.spans = spans
        self.starts = [s for s, _ in spans]

    def overlap(self, start: float, end: float) -> float:
        i = max(bisect_right(self.starts, start) - 1, 0)
        covered = 0.0
        while i < len(self.spans) and self.spans[i][0] < end:
            a, b = max(self.spans[i][0], start), min(self.spans[i][1], end)
            if a < b:
                covered += b - a
            i += 1
        return covered

    def contains(self, ts: float) -> bool:
        i = bisect_right(self.starts, ts) - 1
        return i >= 0 and ts < self.spans[i][1]


def stop_episode_lengths(states: Sequence[StateSpan]) -> list[float]:
    """For each span, the length of the whole stop it belongs to (consecutive non-running spans)."""
    lengths = [0.0] * len(states)
    i = 0
    while i < len(states):
        if states[i].state == RUNNING:
            i += 1
            continue
        j = i
        while j + 1 < len(states) and states[j + 1].state != RUNNING and states[j + 1].start <= states[j].end:
            j += 1
        length = states[j].end - states[i].start
        for k in range(i, j + 1):
            lengths[k] = length
        i = j + 1
    return lengths


def classify_time(
    period: Span,
    scheduled: Iterable[Span],
    planned_windows: Iterable[Span],
    states: Sequence[StateSpan],
    micro_stop_threshold: float,
) -> TimeBreakdown:
    """Split `period` into the time categories of DESIGN.md §4.

    `states` are sorted, non-overlapping; time they do not cover counts as no-data. A stop
    is unplanned when its whole episode (which may reach outside the period) lasts at least
    `micro_stop_threshold`; a shorter one stays in run time as a small stop. No-data is
    always unplanned: lost data never inflates OEE.
    """
    start, end = period
    all_time = max(end - start, 0.0)
    scheduled_spans = intersect(union(scheduled), [(start, end)])
    planned_calendar = intersect(union(planned_windows), scheduled_spans)
    production_spans = subtract(scheduled_spans, planned_calendar)
    cover = SpanIndex(production_spans)
    episode = stop_episode_lengths(states)

    planned_reason = run = small = failure = setup = unexplained = no_data = 0.0
    covered = 0.0
    for span, length in zip(states, episode):
        seconds = cover.overlap(span.start, span.end)
        if seconds <= 0:
            continue
        covered += seconds
        if span.state == RUNNING:
            run += seconds
        elif span.state == STOPPED and span.planned:
            planned_reason += seconds
        elif span.state == STOPPED and length < micro_stop_threshold:
            run += seconds
            small += seconds
        elif span.state == STOPPED:
            if span.loss_category == SETUP_ADJUSTMENTS:
                setup += seconds
            else:
                failure += seconds
            if span.loss_category is None:
                unexplained += seconds
        else:
            failure += seconds
            no_data += seconds
    uncovered = total(production_spans) - covered
    failure += uncovered
    no_data += uncovered

    planned_stop = total(planned_calendar) + planned_reason
    scheduled_total = total(scheduled_spans)
    planned_production = scheduled_total - planned_stop
    return TimeBreakdown(
        all_time=all_time, scheduled=scheduled_total, planned_stop=planned_stop,
        planned_production=planned_production, unplanned_stop=failure + setup, run=run, small_stop=small,
        equipment_failure=failure, setup_adjustments=setup, unexplained=unexplained, no_data=no_data,
    )


def resolve_quality(total_count: int, good: int, reject: int, scrap: int, quality_counter: str) -> tuple[int, int]:
    """(good, reject) from counter deltas and hand-entered scrap, by which counter the machine has."""
    if quality_counter == "good_count":
        good_parts = max(good - scrap, 0)
        return good_parts, total_count - good_parts
    rejects = (reject if quality_counter == "reject_count" else 0) + scrap
    return total_count - rejects, rejects


def figures(times: TimeBreakdown, production: Production) -> Figures:
    """A, P, Q, OEE, TEEP and the six big losses; a ratio with a zero denominator is None."""
    ppt, run = times.planned_production, times.run
    availability = run / ppt if ppt > 0 else None
    performance = production.ideal_seconds / run if run > 0 else None
    quality = production.good / production.total if production.total > 0 else None
    oee = production.ideal_good_seconds / ppt if ppt > 0 else None
    teep = production.ideal_good_seconds / times.all_time if times.all_time > 0 else None
    reduced_speed = max(run - times.small_stop - production.ideal_seconds, 0.0)
    losses = {
        EQUIPMENT_FAILURE: times.equipment_failure,
        SETUP_ADJUSTMENTS: times.setup_adjustments,
        SMALL_STOPS: times.small_stop,
        REDUCED_SPEED: reduced_speed,
        PRODUCTION_REJECTS: production.reject_seconds - production.startup_reject_seconds,
        STARTUP_REJECTS: production.startup_reject_seconds,
    }
    reject_parts = {
        PRODUCTION_REJECTS: production.reject - production.startup_reject,
        STARTUP_REJECTS: production.startup_reject,
    }
    return Figures(availability, performance, quality, oee, teep, losses, reject_parts)
