"""OEE of machines and lines over a period, from stored intervals and count buckets (DESIGN.md §4).

The arithmetic is in `monitoring.lib.oee`; this module only reads rows and hands plain
values to it. Every page, the API and the report go through here, so they agree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max, Q, Sum
from django.utils import timezone

from monitoring.lib import oee
from monitoring.lib.states import GAP_INTERVALS
from monitoring.models import CountBucket, Line, LossCategory, Machine, Observation, StateInterval
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


def _clip(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime]:
    """Periods end at `now`: the future has no time in it yet."""
    end = min(end, now)
    return start, max(end, start)


def data_ends_at(machine: Machine, now: datetime) -> datetime | None:
    """When the machine's data stops counting: three expected intervals after its last observation, or now."""
    last = Observation.objects.filter(machine=machine).aggregate(last=Max("ts"))["last"]
    if last is None:
        return None
    return min(now, last + timedelta(seconds=GAP_INTERVALS * machine.expected_interval))


def state_spans(machine: Machine, start: datetime, end: datetime, now: datetime) -> list[oee.StateSpan]:
    """The machine's state spans around [start, end); the open one ends when data stopped coming."""
    margin = timedelta(seconds=machine.micro_stop_threshold)
    rows = (
        StateInterval.objects.overlapping(start - margin, end + margin).filter(machine=machine)
        .order_by("start").values_list("start", "end", "state", "reason__planned", "reason__loss_category")
    )
    spans: list[oee.StateSpan] = []
    for row_start, row_end, state, planned, loss_category in rows.iterator(chunk_size=5000):
        if row_end is None:
            row_end = max(data_ends_at(machine, now) or row_start, row_start)
        spans.append(oee.StateSpan(
            start=row_start.timestamp(), end=row_end.timestamp(), state=state,
            planned=bool(planned), loss_category=loss_category,
        ))
    return spans


def _cycle_times(machine: Machine, order_ids: set[int]) -> dict[int | None, float]:
    from planning.models import ProductCycleTime, WorkOrder

    times: dict[int | None, float] = {None: machine.default_ideal_cycle_time}
    products = dict(WorkOrder.objects.filter(pk__in=order_ids).values_list("pk", "product_id"))
    per_product = dict(
        ProductCycleTime.objects.filter(machine=machine, product_id__in=set(products.values()))
        .values_list("product_id", "ideal_cycle_time")
    )
    for order_id, product_id in products.items():
        times[order_id] = per_product.get(product_id, machine.default_ideal_cycle_time)
    return times


def startup_spans(machine: Machine, calendar: LineCalendar, states: list[oee.StateSpan]) -> list[oee.Span]:
    """Windows after each shift start and each setup stop in which rejects are startup rejects."""
    window = machine.startup_window
    # A machine starts up when scheduled time begins after unscheduled time, not at each shift change.
    starts = [] if calendar.around_the_clock else [s for s, _ in oee.union(calendar.scheduled)]
    starts += [s.end for s in states if s.state != oee.RUNNING and s.loss_category == LossCategory.SETUP_ADJUSTMENTS]
    return oee.union((s, s + window) for s in starts)


def production(
    machine: Machine, start: datetime, end: datetime, startup: list[oee.Span],
) -> oee.Production:
    buckets = CountBucket.objects.filter(machine=machine, minute__gte=start, minute__lt=end)
    sums = list(
        buckets.values("work_order_id").annotate(
            total=Sum("total_count"), good=Sum("good_count"), reject=Sum("reject_count"), scrap=Sum("scrap_count"),
        )
    )
    cycle = _cycle_times(machine, {row["work_order_id"] for row in sums if row["work_order_id"]})
    result = oee.Production()
    for row in sums:
        ict = cycle[row["work_order_id"]]
        good, reject = oee.resolve_quality(row["total"], row["good"], row["reject"], row["scrap"], machine.quality_counter)
        result += oee.Production(
            total=row["total"], good=good, reject=reject,
            ideal_seconds=ict * row["total"], ideal_good_seconds=ict * good, reject_seconds=ict * reject,
        )
    startup_reject = startup_seconds = 0
    if startup and (result.reject or result.total):
        startup_index = oee.SpanIndex(startup)
        # Only minutes that can hold rejects: with a good-part counter that is every minute with parts.
        may_reject = {
            "reject_count": Q(reject_count__gt=0) | Q(scrap_count__gt=0),
            "good_count": Q(total_count__gt=0) | Q(scrap_count__gt=0),
        }.get(machine.quality_counter, Q(scrap_count__gt=0))
        with_rejects = buckets.filter(may_reject)
        for row in with_rejects.values("minute", "work_order_id", "total_count", "good_count", "reject_count", "scrap_count"):
            if not startup_index.contains(row["minute"].timestamp()):
                continue
            _, reject = oee.resolve_quality(
                row["total_count"], row["good_count"], row["reject_count"], row["scrap_count"], machine.quality_counter,
            )
            startup_reject += reject
            startup_seconds += reject * cycle[row["work_order_id"]]
    return oee.Production(
        total=result.total, good=result.good, reject=result.reject, startup_reject=startup_reject,
        ideal_seconds=result.ideal_seconds, ideal_good_seconds=result.ideal_good_seconds,
        reject_seconds=result.reject_seconds, startup_reject_seconds=startup_seconds,
    )


def machine_result(
    machine: Machine, start: datetime, end: datetime, now: datetime | None = None,
    calendar: LineCalendar | None = None,
) -> Result:
    """Times and production of one machine over [start, end) (clipped at now)."""
    now = now or timezone.now()
    start, end = _clip(start, end, now)
    if end <= start:
        return EMPTY
    calendar = calendar or line_calendar(machine.line, start, end)
    states = state_spans(machine, start, end, now)
    times = oee.classify_time(
        (start.timestamp(), end.timestamp()), calendar.scheduled, calendar.planned, states,
        machine.micro_stop_threshold,
    )
    return Result(times, production(machine, start, end, startup_spans(machine, calendar, states)))


def machines_result(machines: list[Machine], start: datetime, end: datetime, now: datetime | None = None) -> Result:
    """Summed times and counts of several machines (never an average of ratios)."""
    now = now or timezone.now()
    calendars: dict[int, LineCalendar] = {}
    total = EMPTY
    for machine in machines:
        if machine.line_id not in calendars:
            calendars[machine.line_id] = line_calendar(machine.line, *_clip(start, end, now))
        total += machine_result(machine, start, end, now, calendars[machine.line_id])
    return total


def line_result(line: Line, start: datetime, end: datetime, now: datetime | None = None) -> Result:
    """A line's OEE is its constraint machine's; without one, the sum of its machines."""
    if line.constraint_machine_id:
        return machine_result(line.constraint_machine, start, end, now)
    return machines_result(list(line.machines.enabled().with_plant()), start, end, now)


def per_shift(machine: Machine, start: datetime, end: datetime, now: datetime | None = None) -> list[tuple]:
    """[(shift window, Result)] for every shift occurrence of the machine's line within [start, end)."""
    now = now or timezone.now()
    calendar = line_calendar(machine.line, start, end)
    rows = []
    for window in calendar.windows:
        if window.start >= now:
            continue
        rows.append((window, machine_result(machine, max(window.start, start), min(window.end, end), now, calendar)))
    return rows


def group_by(results: list[tuple[object, Result]]) -> dict[object, Result]:
    grouped: dict[object, Result] = defaultdict(lambda: EMPTY)
    for key, result in results:
        grouped[key] = grouped[key] + result
    return dict(grouped)
