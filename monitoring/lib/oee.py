"""OEE arithmetic (DESIGN.md §4): the classification of time, A/P/Q/OEE/TEEP and the six big losses.

Pure: no Django. Times are seconds since the epoch (floats); a span is [start, end).
`classify` is the one rule that says what each second of a machine's time was; the OEE times
(`time_breakdown`), the downtime Pareto (`downtime_by_reason`) and the stop list and timeline
(`stretches`) are folds over it. Aggregates are built by adding `TimeBreakdown`s and
`Production`s, never by averaging ratios.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from monitoring.lib.spans import Span, SpanIndex, intersect, subtract, total, union
from monitoring.lib.states import NO_DATA, RUNNING, STOPPED
from planning.lib.reasons import NO_DATA_REASON

EQUIPMENT_FAILURE = "equipment_failure"
SETUP_ADJUSTMENTS = "setup_adjustments"
SMALL_STOPS = "small_stops"
REDUCED_SPEED = "reduced_speed"
PRODUCTION_REJECTS = "production_rejects"
STARTUP_REJECTS = "startup_rejects"
SIX_BIG_LOSSES = (
    EQUIPMENT_FAILURE, SETUP_ADJUSTMENTS, SMALL_STOPS, REDUCED_SPEED, PRODUCTION_REJECTS, STARTUP_REJECTS,
)

# What a second of planned production time was.
RUN = "run"
SMALL_STOP = "small_stop"
"""A stop shorter than the micro-stop threshold: run time, lost to performance."""
PLANNED_STOP = "planned_stop"
UNPLANNED_STOP = "unplanned_stop"
NO_DATA_TIME = "no_data"
UNPLANNED = (UNPLANNED_STOP, NO_DATA_TIME)
# A stop or silence wholly outside planned production time (a break, no shift): it costs nothing.
OUTSIDE_PRODUCTION = "outside_production"

# How time without data, unexplained stops and small stops are named where stops are listed.
NO_DATA_LABEL = "No data"
UNEXPLAINED_LABEL = "Unexplained"
SMALL_STOPS_LABEL = "Small stops"


@dataclass(frozen=True)
class StateSpan:
    """A stretch of one state of one machine, with the stop's reason where one was given."""

    start: float
    end: float
    state: str
    planned: bool = False
    loss_category: str | None = None
    """Loss category of the stop's reason; None while unexplained."""
    reason: str | None = None
    reason_name: str | None = None
    fault_code: int | None = None
    still_going: bool = False
    """It has not ended: it reaches the present."""


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


def kind_of(span: StateSpan, episode: float, micro_stop_threshold: float) -> str:
    """What a state span is worth inside planned production time.

    A stop whose reason is planned is a planned stop. Otherwise a stop is unplanned when its
    whole episode (which may reach outside any period) lasts at least `micro_stop_threshold`;
    a shorter one stays in run time as a small stop. No-data is always unplanned: lost data
    never inflates OEE.
    """
    if span.state == RUNNING:
        return RUN
    if span.state == STOPPED and span.planned:
        return PLANNED_STOP
    if span.state == STOPPED:
        return SMALL_STOP if episode < micro_stop_threshold else UNPLANNED_STOP
    return NO_DATA_TIME


@dataclass(frozen=True)
class Piece:
    """A stretch of planned production time and what it was."""

    start: float
    end: float
    kind: str
    span: StateSpan | None
    """The state span it lies in; None where no state span covers it (no data)."""

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Classification:
    """A machine's time over a period: the calendar's totals and its planned production time in pieces."""

    all_time: float
    scheduled: float
    planned_calendar: float
    """Breaks and holidays inside scheduled time."""
    pieces: tuple[Piece, ...]
    """Planned production time (scheduled time minus breaks and holidays), in time order."""
    production: tuple[Span, ...] = ()
    """The calendar's planned production windows in the period (before stops with planned reasons)."""
    scheduled_spans: tuple[Span, ...] = ()
    planned_calendar_spans: tuple[Span, ...] = ()


def classify(
    period: Span,
    scheduled: Iterable[Span],
    planned_windows: Iterable[Span],
    states: Sequence[StateSpan],
    micro_stop_threshold: float,
    in_service: float | None = None,
) -> Classification:
    """Split `period` into the time categories of DESIGN.md §4.

    `states` are sorted and do not overlap; time they do not cover counts as no-data. Time
    before `in_service` (when the machine went into service) is not scheduled.
    """
    start, end = period
    scheduled_spans = intersect(union(scheduled), [(max(start, in_service or start), end)])
    planned_calendar = intersect(union(planned_windows), scheduled_spans)
    production = subtract(scheduled_spans, planned_calendar)
    index = SpanIndex(production)
    pieces: list[Piece] = []
    for span, episode in zip(states, stop_episode_lengths(states)):
        kind = kind_of(span, episode, micro_stop_threshold)
        pieces += [Piece(a, b, kind, span) for a, b in index.clip(span.start, span.end)]
    covered = union((piece.start, piece.end) for piece in pieces)
    pieces += [Piece(a, b, NO_DATA_TIME, None) for a, b in subtract(production, covered)]
    pieces.sort(key=lambda piece: piece.start)
    return Classification(
        all_time=max(end - start, 0.0), scheduled=total(scheduled_spans),
        planned_calendar=total(planned_calendar), pieces=tuple(pieces), production=tuple(production),
        scheduled_spans=tuple(scheduled_spans), planned_calendar_spans=tuple(planned_calendar),
    )


def split(classification: Classification, boundaries: Sequence[float]) -> list[Classification]:
    """The classification cut at `boundaries` (sorted, within its period): one per [b, next b).

    Each is what `classify` gives over its stretch with the same states, since whether a stop
    is a small stop depends on its whole episode, not on where a period cuts it. So the
    `time_breakdown`s of the stretches add up to the whole's.
    """
    slots = list(zip(boundaries, boundaries[1:]))
    pieces = _cut(classification.pieces, boundaries, lambda piece, a, b: Piece(a, b, piece.kind, piece.span))
    scheduled = _cut(classification.scheduled_spans, boundaries, lambda _, a, b: (a, b))
    planned = _cut(classification.planned_calendar_spans, boundaries, lambda _, a, b: (a, b))
    production = _cut(classification.production, boundaries, lambda _, a, b: (a, b))
    return [
        Classification(
            all_time=max(end - start, 0.0), scheduled=total(scheduled[i]), planned_calendar=total(planned[i]),
            pieces=tuple(pieces[i]), production=tuple(production[i]), scheduled_spans=tuple(scheduled[i]),
            planned_calendar_spans=tuple(planned[i]),
        )
        for i, (start, end) in enumerate(slots)
    ]


def _cut(items: Sequence, boundaries: Sequence[float], clip) -> list[list]:
    """Sorted, disjoint stretches (spans or pieces) sorted into the slots between `boundaries`, clipped to them."""
    slots: list[list] = [[] for _ in range(max(len(boundaries) - 1, 0))]
    for item in items:
        start, end = (item.start, item.end) if isinstance(item, Piece) else item
        i = max(bisect_right(boundaries, start) - 1, 0)
        while i < len(slots) and boundaries[i] < end:
            a, b = max(start, boundaries[i]), min(end, boundaries[i + 1])
            if a < b:
                slots[i].append(clip(item, a, b))
            i += 1
    return slots


def time_breakdown(classification: Classification) -> TimeBreakdown:
    """The seconds of each time category: the OEE's times."""
    run = small = planned_reason = setup = failure = unexplained = no_data = 0.0
    for piece in classification.pieces:
        seconds = piece.seconds
        if piece.kind == RUN:
            run += seconds
        elif piece.kind == SMALL_STOP:
            run += seconds
            small += seconds
        elif piece.kind == PLANNED_STOP:
            planned_reason += seconds
        elif piece.kind == UNPLANNED_STOP:
            if piece.span.loss_category == SETUP_ADJUSTMENTS:
                setup += seconds
            else:
                failure += seconds
            if piece.span.loss_category is None:
                unexplained += seconds
        else:
            failure += seconds
            no_data += seconds
    planned_stop = classification.planned_calendar + planned_reason
    return TimeBreakdown(
        all_time=classification.all_time, scheduled=classification.scheduled, planned_stop=planned_stop,
        planned_production=classification.scheduled - planned_stop, unplanned_stop=failure + setup, run=run,
        small_stop=small, equipment_failure=failure, setup_adjustments=setup, unexplained=unexplained,
        no_data=no_data,
    )


def classify_time(
    period: Span,
    scheduled: Iterable[Span],
    planned_windows: Iterable[Span],
    states: Sequence[StateSpan],
    micro_stop_threshold: float,
) -> TimeBreakdown:
    """The seconds of each time category of DESIGN.md §4 over `period` (see `classify`)."""
    return time_breakdown(classify(period, scheduled, planned_windows, states, micro_stop_threshold))


def downtime_by_reason(classification: Classification, by_code: bool = False) -> dict[str, float]:
    """Seconds of stop per reason name (or code) inside planned production time.

    Unplanned stops (unexplained and no-data time included) add up to `unplanned_stop`; stops
    shorter than the micro-stop threshold are one entry, "Small stops".
    """
    totals: dict[str, float] = defaultdict(float)
    for piece in classification.pieces:
        if piece.kind == SMALL_STOP:
            totals[SMALL_STOPS_LABEL] += piece.seconds
        elif piece.kind == UNPLANNED_STOP:
            totals[(piece.span.reason if by_code else piece.span.reason_name) or UNEXPLAINED_LABEL] += piece.seconds
        elif piece.kind == NO_DATA_TIME:
            totals[NO_DATA_LABEL] += piece.seconds
    return dict(totals)


def state_now(spans: Sequence[StateSpan]) -> StateSpan | None:
    """The state a machine is in now, from its spans up to now; None when it never sent data.

    That is its newest span while it lasts. Once its data stopped coming, it is no-data from
    where the data stopped, as the figures count it.
    """
    if not spans:
        return None
    newest = spans[-1]
    if newest.still_going or newest.state == NO_DATA:
        return newest
    return StateSpan(newest.end, newest.end, NO_DATA, reason=NO_DATA_REASON, reason_name=NO_DATA_LABEL,
                     still_going=True)


@dataclass(frozen=True)
class Stretch:
    """A state span (or time no span covers, as no-data) and what it is worth."""

    span: StateSpan
    kind: str

    @property
    def unplanned(self) -> bool:
        return self.kind in UNPLANNED

    @property
    def needs_reason(self) -> bool:
        """An unplanned stop nobody has explained yet: the operator is asked for its reason."""
        return self.span.state == STOPPED and self.span.reason is None and self.unplanned


def stretches(
    states: Sequence[StateSpan], start: float, end: float, now: float, micro_stop_threshold: float,
    production: Sequence[Span] | None = None,
) -> list[Stretch]:
    """Every state span in time order, and the time none covers inside [start, min(end, now)) as no-data.

    With the period's planned production windows (`Classification.production`), a stop or
    silence that lies inside the period and wholly outside them is OUTSIDE_PRODUCTION: nobody is
    asked why the line stood during its break. One reaching beyond the period keeps its worth
    (the windows do not say what lies outside the period).
    """
    limit = min(end, now)
    result: list[Stretch] = []
    cursor = start
    index = SpanIndex(list(production)) if production is not None else None

    def worth(span: StateSpan, kind: str) -> str:
        if (index is not None and kind in UNPLANNED and start <= span.start and span.end <= end
                and not index.clip(span.start, span.end)):
            return OUTSIDE_PRODUCTION
        return kind

    def fill_gap(until: float) -> None:
        gap_start, gap_end = max(cursor, start), min(until, limit)
        if gap_start < gap_end:
            gap = StateSpan(gap_start, gap_end, NO_DATA, reason=NO_DATA_REASON, reason_name=NO_DATA_LABEL,
                            still_going=gap_end >= now)
            result.append(Stretch(gap, worth(gap, NO_DATA_TIME)))

    for span, episode in zip(states, stop_episode_lengths(states)):
        fill_gap(span.start)
        result.append(Stretch(span, worth(span, kind_of(span, episode, micro_stop_threshold))))
        cursor = max(cursor, span.end)
    fill_gap(limit)
    return result


def resolve_quality(total_count: int, good: int, reject: int, scrap: int, quality_counter: str) -> tuple[int, int]:
    """(good, reject) from counter deltas and hand-entered scrap, by which counter the machine has.

    Both lie within [0, total]: a reject counter or scrap entry ahead of the part counter (they
    are read at different moments) never makes good parts negative.
    """
    if quality_counter == "good_count":
        good_parts = min(max(good - scrap, 0), total_count)
        return good_parts, total_count - good_parts
    rejects = min((reject if quality_counter == "reject_count" else 0) + scrap, total_count)
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
