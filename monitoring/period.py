"""One machine over one period, from the stored projection (DESIGN.md §4): the rule every figure folds.

`MachinePeriod` reads one machine's state intervals over a period once and answers every
question about them through `monitoring.lib.oee`: the OEE's times, the downtime by reason,
the stops and the timeline. Its `tally` is what the period adds to the figures before the
counts are resolved per work order, so tallies of adjacent stretches add up to the tally of
the whole (`monitoring.rollups` stores them per hour). `monitoring.kpi` is the door others use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from functools import cached_property

from django.db.models import Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from monitoring.lib import oee
from monitoring.lib.spans import Span, SpanIndex, union
from monitoring.lib.states import GAP_INTERVALS, PEOPLE_SIGNALS
from monitoring.models import CountBucket, MachineStatus, Observation, StateInterval
from planning.models import LossCategory, Machine, WorkOrder, ideal_cycle_times
from planning.schedule import LineCalendar, line_calendar


@dataclass(frozen=True)
class Result:
    """Times and production of one machine or a sum of machines, and the ratios derived from them."""

    times: oee.TimeBreakdown
    production: oee.Production

    def __add__(self, other: Result) -> Result:
        return Result(self.times + other.times, self.production + other.production)

    @property
    def figures(self) -> oee.Figures:
        return oee.figures(self.times, self.production)

    def as_dict(self) -> dict:
        """The JSON shape of `/api/v1/oee/`."""
        f, t, p = self.figures, self.times, self.production
        return {
            "availability": f.availability, "performance": f.performance, "quality": f.quality,
            "oee": f.oee, "teep": f.teep,
            "all_time_s": t.all_time, "scheduled_s": t.scheduled, "planned_stop_s": t.planned_stop,
            "planned_production_s": t.planned_production, "unplanned_stop_s": t.unplanned_stop,
            "run_s": t.run, "small_stop_s": t.small_stop, "unexplained_s": t.unexplained, "no_data_s": t.no_data,
            "total_count": p.total, "good_count": p.good, "reject_count": p.reject,
            "ideal_production_s": p.ideal_seconds,
            "losses": f.losses, "reject_parts": f.reject_parts,
        }


EMPTY = Result(oee.TimeBreakdown(), oee.Production())


@dataclass(frozen=True)
class Counts:
    """Raw sums of count buckets (counter deltas and hand-entered scrap), before their quality is resolved."""

    total: int = 0
    good: int = 0
    reject: int = 0
    scrap: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


OrderCounts = dict[int | None, Counts]
"""Counts per work order id (None: parts no order's run window holds)."""


def add_counts(a: OrderCounts, b: OrderCounts) -> OrderCounts:
    summed = dict(a)
    for order, counts in b.items():
        summed[order] = summed[order] + counts if order in summed else counts
    return summed


@dataclass(frozen=True)
class Tally:
    """What a stretch of one machine's time adds to its figures: its times, and its counts per work order,
    all and those in startup windows, summed raw. Tallies of adjacent stretches add up to the whole's;
    the counts are resolved only at the end, per order over the whole (`result`)."""

    times: oee.TimeBreakdown = oee.TimeBreakdown()
    counts: OrderCounts = field(default_factory=dict)
    startup: OrderCounts = field(default_factory=dict)

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.times + other.times, add_counts(self.counts, other.counts),
                     add_counts(self.startup, other.startup))

    def result(self, machine: Machine) -> Result:
        return Result(self.times, resolved(machine, self.counts, self.startup))


def last_device_observation(machine: Machine) -> datetime | None:
    """When the machine's device last sent anything (what people enter says nothing of the device)."""
    return (Observation.objects.filter(machine=machine).exclude(signal__in=PEOPLE_SIGNALS)
            .order_by("-ts").values_list("ts", flat=True).first())


def data_ends_at(machine: Machine, now: datetime) -> datetime | None:
    """When the machine's data stops counting: three expected intervals after its last device
    observation, or now. The pipeline's fold ends a silence's last state at the same instant once
    data comes back."""
    last = last_device_observation(machine)
    if last is None:
        return None
    return min(now, last + timedelta(seconds=GAP_INTERVALS * machine.expected_interval))


class MachinePeriod:
    """One machine over [start, end), clipped at now: its state spans read once, and every fold over them."""

    def __init__(
        self, machine: Machine, start: datetime, end: datetime, now: datetime | None = None,
        calendar: LineCalendar | None = None,
    ) -> None:
        self.machine = machine
        self.now = now or timezone.now()
        # The future has no time in it yet.
        self.start, self.end = start, max(min(end, self.now), start)
        self.given_calendar = calendar

    @property
    def empty(self) -> bool:
        return self.end <= self.start

    @cached_property
    def calendar(self) -> LineCalendar:
        return self.given_calendar or line_calendar(self.machine.line, self.start, self.end)

    @cached_property
    def spans(self) -> list[oee.StateSpan]:
        """The machine's state spans around the period: a margin either side for whole stops, and for
        a setup that ended just before the period and whose startup window reaches into it."""
        machine, now = self.machine, self.now
        margin = timedelta(seconds=max(machine.micro_stop_threshold, machine.startup_window))
        read_from = self.start - margin
        # Intervals never overlap, so the one in progress at `read_from` is the last to start by then:
        # reading from its start keeps a short period late in a long history as cheap as an early one.
        in_progress = (StateInterval.objects.filter(machine=machine, start__lte=read_from)
                       .order_by("-start").values("start")[:1])
        rows = (
            StateInterval.objects.overlapping(read_from, self.end + margin)
            .filter(machine=machine, start__gte=Coalesce(Subquery(in_progress), read_from))
            .order_by("start")
            .values_list("start", "end", "state", "reason__code", "reason__name", "reason__planned",
                         "reason__loss_category", "fault_code")
        )
        spans = []
        for start, end, state, reason, reason_name, planned, loss_category, fault_code in rows.iterator(5000):
            still_going = False
            if end is None:
                # The newest interval lasts while data comes; the figures stop where it stopped.
                end = max(data_ends_at(machine, now) or start, start)
                still_going = end >= now
            if state == MachineStatus.NO_DATA:
                reason, reason_name = oee.NO_DATA_REASON, oee.NO_DATA_LABEL
            spans.append(oee.StateSpan(
                start=start.timestamp(), end=end.timestamp(), state=state, planned=bool(planned),
                loss_category=loss_category, reason=reason, reason_name=reason_name, fault_code=fault_code,
                still_going=still_going,
            ))
        return spans

    @cached_property
    def classification(self) -> oee.Classification:
        # Read now, not from the machine object: the pipeline sets a first observation meanwhile.
        in_service = (Machine.objects.filter(pk=self.machine.pk).values_list(
            Coalesce("in_service", "first_observation"), flat=True).first())
        calendar = self.calendar
        return oee.classify(
            (self.start.timestamp(), self.end.timestamp()), calendar.scheduled, calendar.planned, self.spans,
            # A machine that never sent anything has not gone into service yet.
            self.machine.micro_stop_threshold, (in_service or self.end).timestamp(),
        )

    def result(self) -> Result:
        """Times and production over the period."""
        return EMPTY if self.empty else self.tally().result(self.machine)

    def tally(self) -> Tally:
        """Times over the period, and its parts per work order (all, and in startup windows), unresolved."""
        if self.empty:
            return Tally()
        buckets = CountBucket.objects.filter(machine=self.machine, minute__gte=self.start, minute__lt=self.end)
        counts = count_sums(buckets)
        startup = self.startup_spans()
        in_startup = startup_sums(self.machine, buckets, startup) if startup and counts else {}
        return Tally(oee.time_breakdown(self.classification), counts, in_startup)

    def downtime(self, by_code: bool = False) -> dict[str, float]:
        """Seconds of stop per reason name (or code) inside planned production time (`oee.downtime_by_reason`)."""
        return {} if self.empty else oee.downtime_by_reason(self.classification, by_code)

    def stretches(self) -> list[oee.Stretch]:
        """Every state around the period in time order; the time none covers inside it is no-data."""
        production = None if self.empty else self.classification.production
        return oee.stretches(self.spans, self.start.timestamp(), self.end.timestamp(), self.now.timestamp(),
                             self.machine.micro_stop_threshold, production)

    def startup_spans(self) -> list[Span]:
        """Windows after each start of scheduled time and each setup stop in which rejects are startup rejects."""
        window = self.machine.startup_window
        calendar = self.calendar
        # A machine starts up when scheduled time begins after unscheduled time, not at each shift change.
        starts = [] if calendar.around_the_clock else [s for s, _ in union(calendar.scheduled)]
        starts += [s.end for s in self.spans
                   if s.state != oee.RUNNING and s.loss_category == LossCategory.SETUP_ADJUSTMENTS]
        return union((s, s + window) for s in starts)


COUNT_NAMES = ("total_count", "good_count", "reject_count", "scrap_count")


def count_sums(buckets: QuerySet[CountBucket]) -> OrderCounts:
    """The buckets' counts summed per work order."""
    rows = buckets.values("work_order_id").annotate(
        total=Sum("total_count"), good=Sum("good_count"), reject=Sum("reject_count"), scrap=Sum("scrap_count"),
    )
    return {row["work_order_id"]: Counts(row["total"], row["good"], row["reject"], row["scrap"]) for row in rows}


def may_reject(machine: Machine) -> Q:
    """Buckets that can hold rejects: with a good-part counter that is every bucket with parts."""
    return {
        "reject_count": Q(reject_count__gt=0) | Q(scrap_count__gt=0),
        "good_count": Q(total_count__gt=0) | Q(scrap_count__gt=0),
    }.get(machine.quality_counter, Q(scrap_count__gt=0))


def startup_buckets(
    machine: Machine, buckets: QuerySet[CountBucket], startup: list[Span],
) -> Iterator[tuple[datetime, int | None, Counts]]:
    """(minute, work order id, counts) of the buckets that can hold rejects and lie in a startup window."""
    index = SpanIndex(startup)
    for minute, work_order_id, *count in buckets.filter(may_reject(machine)).values_list(
            "minute", "work_order_id", *COUNT_NAMES):
        if index.contains(minute.timestamp()):
            yield minute, work_order_id, Counts(*count)


def startup_sums(machine: Machine, buckets: QuerySet[CountBucket], startup: list[Span]) -> OrderCounts:
    """Counts per work order of the buckets that can hold rejects and lie in a startup window."""
    sums: OrderCounts = {}
    for _, order, counts in startup_buckets(machine, buckets, startup):
        sums[order] = sums[order] + counts if order in sums else counts
    return sums


def resolved(machine: Machine, counts: OrderCounts, startup: OrderCounts) -> oee.Production:
    """Parts made at their orders' ideal cycle times, each order's counts resolved over their sum;
    the rejects among `startup` (a part of `counts`) are startup rejects."""
    cycle = ideal_cycle_times(machine, {order for order in counts if order})
    result = oee.Production()
    for order, count in counts.items():
        ict = cycle[order]
        good, reject = oee.resolve_quality(count.total, count.good, count.reject, count.scrap, machine.quality_counter)
        result += oee.Production(
            total=count.total, good=good, reject=reject,
            ideal_seconds=ict * count.total, ideal_good_seconds=ict * good, reject_seconds=ict * reject,
        )
    startup_reject = startup_seconds = 0
    for order, count in startup.items():
        _, reject = oee.resolve_quality(count.total, count.good, count.reject, count.scrap, machine.quality_counter)
        startup_reject += reject
        startup_seconds += reject * cycle[order]
    return oee.Production(
        total=result.total, good=result.good, reject=result.reject,
        startup_reject=min(startup_reject, result.reject),
        ideal_seconds=result.ideal_seconds, ideal_good_seconds=result.ideal_good_seconds,
        reject_seconds=result.reject_seconds, startup_reject_seconds=min(startup_seconds, result.reject_seconds),
    )


def production(
    machine: Machine, start: datetime | None, end: datetime | None, startup: list[Span],
    work_order: WorkOrder | None = None,
) -> oee.Production:
    """Parts made on the machine in [start, end) (or for `work_order`, whenever) at their orders' ideal
    cycle times; rejects in `startup` are startup rejects."""
    buckets = CountBucket.objects.filter(machine=machine)
    if work_order is not None:
        buckets = buckets.filter(work_order=work_order)
    if start is not None:
        buckets = buckets.filter(minute__gte=start, minute__lt=end)
    counts = count_sums(buckets)
    return resolved(machine, counts, startup_sums(machine, buckets, startup) if startup and counts else {})

