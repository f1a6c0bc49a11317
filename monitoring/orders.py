"""Work orders as the machines' history sees them: their parts, their results, their events.

Parts go to the order whose run window holds them. When an order's run windows change (it
starts, pauses, resumes, ends, or someone corrects its actual start in the admin), the parts
counted in the time between the old and the new windows change order: `reattribute` rewrites
those machines' count buckets there, and nothing else. `results` is what an order made and how
(the figures of its run windows); the IT systems hear of a start and a completion with them.
`order_progress` is how an order is getting on (made, good, scrap, its pace over the last
minutes, its ETA from that pace, how late it is against its plan): the one rule behind the
order's `card` in the live messages and the pace in its results.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from monitoring import changeover, kpi, live
from monitoring.lib import oee, progress
from monitoring.models import CountBucket, Event, EventKind
from monitoring.period import Counts
from monitoring.pipeline import lock_machine
from monitoring.projection import recount
from planning import outbox, signals
from planning.lib.instants import iso
from planning.lib.orders import changed_range, run_seconds
from planning.models import EventType, Machine, WorkOrder, WorkOrderStatus, ideal_cycle_times
from planning.workflow import OPERATOR_MOVES, allowed_moves

Windows = list[tuple[datetime, datetime | None]]


def reattribute(before: dict[int, tuple[Machine, Windows]], after: dict[int, tuple[Machine, Windows]]) -> set[int]:
    """Recount the parts of each machine whose order windows changed; return the machines recounted."""
    now = timezone.now()
    changed = set()
    with transaction.atomic():
        for machine_id in sorted(before.keys() | after.keys()):  # in the order every writer locks them
            machine = (after.get(machine_id) or before[machine_id])[0]
            span = changed_range(before.get(machine_id, (None, []))[1], after.get(machine_id, (None, []))[1], now)
            if span is None:
                continue
            lock_machine(machine)
            recount(machine, *span)
            changed.add(machine_id)
        if changed:
            transaction.on_commit(lambda: live.broadcast_machines(changed))
    return changed


@dataclass
class OrderResults:
    """What an order made, on its subject machines over its run windows (clipped at now)."""

    result: kpi.Result = kpi.EMPTY
    downtime: dict[str, float] = field(default_factory=dict)
    scrap_by_reason: dict[str, int] = field(default_factory=dict)
    progress: Progress | None = None

    @property
    def eta(self) -> datetime | None:
        return self.progress.eta if self.progress else None

    def as_dict(self) -> dict:
        data = self.result.as_dict()
        return {
            **{name: data[name] for name in ("total_count", "good_count", "reject_count", "run_s",
                                             "unplanned_stop_s", "planned_production_s", "availability",
                                             "performance", "quality", "oee")},
            "scrap_by_reason": self.scrap_by_reason,
            "downtime_by_reason_s": self.downtime,
            **(self.progress or Progress()).pace_dict(),
        }


def results(order: WorkOrder, now: datetime | None = None) -> OrderResults:
    """The order's counts (its own parts), times and figures over its run windows, its downtime and ETA."""
    now = now or timezone.now()
    windows = [(start, min(end or now, now)) for start, end in order.run_windows()]
    windows = [(start, end) for start, end in windows if start < end]
    found = OrderResults()
    downtime: dict[str, float] = defaultdict(float)
    for machine in order.subject_machines():
        times = oee.TimeBreakdown()
        startup: list = []
        for start, end in windows:
            period = kpi.MachinePeriod(machine, start, end, now)
            times += oee.time_breakdown(period.classification)
            startup += period.startup_spans()
            for reason, seconds in period.downtime().items():
                downtime[reason] += seconds
        production = kpi.production(machine, None, None, startup, work_order=order)
        found.result += kpi.Result(times, production)
    found.downtime = dict(sorted(downtime.items(), key=lambda item: -item[1]))
    found.scrap_by_reason = _scrap_by_reason(order, windows)
    found.progress = order_progress(order, order.subject_machines(), now)
    return found


def _scrap_by_reason(order: WorkOrder, windows: Windows) -> dict[str, int]:
    """Parts scrapped by hand in the order's run windows on its subject machines, by reason."""
    scrapped: dict[str, int] = defaultdict(int)
    for start, end in windows:
        for detail in Event.objects.filter(
            machine__in=order.subject_machines(), kind=EventKind.SCRAP_ENTERED, ts__gte=start, ts__lt=end,
        ).values_list("detail", flat=True):
            scrapped[detail.get("reason") or "unspecified"] += int(detail.get("quantity") or 0)
    return dict(scrapped)


@dataclass(frozen=True)
class Progress:
    """How far an order is on some machines and how it is getting on: the order's card (the line
    screen, the live tiles) and the pace of its API result."""

    made: int = 0
    good: int = 0
    scrap: int = 0
    pace: progress.Pace = progress.Pace(0, 0, 0.0)
    ideal_per_minute: float = 0.0
    eta: datetime | None = None
    """When it will have made its quantity of good parts at its pace (running orders only)."""
    late_s: float | None = None
    """Seconds it ends (or is forecast to end) after its planned end; negative: before."""

    def pace_dict(self) -> dict:
        """The pace and forecast, as the API and the live messages carry them."""
        return {
            "rate_per_min": self.pace.parts_per_minute, "ideal_rate_per_min": self.ideal_per_minute or None,
            "rate_minutes": settings.ORDER_RATE_MINUTES, "eta": iso(self.eta), "late_s": self.late_s,
        }


def order_progress(order: WorkOrder, machines: list[Machine], now: datetime) -> Progress:
    """The order's parts on `machines` (all, good, scrap), its pace over the last `ORDER_RATE_MINUTES`
    of its run windows (stops included), its ETA from that pace and how late it is against its plan."""
    # Buckets are whole minutes: the pace counts from a minute's start, and the time since then.
    since = (now - timedelta(minutes=settings.ORDER_RATE_MINUTES)).replace(second=0, microsecond=0)
    made = good = scrap = recent_parts = recent_good = 0
    ideal = 0.0
    for machine in machines:
        whole, latest = _order_counts(machine, order, since, now)
        good_here, scrap_here = oee.resolve_quality(whole.total, whole.good, whole.reject, whole.scrap,
                                                    machine.quality_counter)
        made, good, scrap = made + whole.total, good + good_here, scrap + scrap_here
        recent_parts += latest.total
        recent_good += oee.resolve_quality(latest.total, latest.good, latest.reject, latest.scrap,
                                           machine.quality_counter)[0]
        ideal += progress.ideal_parts_per_minute([ideal_cycle_times(machine, [order.pk])[order.pk]])
    pace = progress.Pace(recent_parts, recent_good, run_seconds(order.run_windows(), since, now))
    eta = None
    if order.status == WorkOrderStatus.RUNNING and machines:
        seconds = progress.eta_seconds(order.quantity - good, pace)
        eta = None if seconds is None else now + timedelta(seconds=seconds)
    late = None
    if order.status != WorkOrderStatus.CANCELLED:
        late = progress.late_seconds(order.planned_end, order.actual_end or eta, now)
    return Progress(made, good, scrap, pace, ideal, eta, late)


def _order_counts(machine: Machine, order: WorkOrder, since: datetime, now: datetime) -> tuple[Counts, Counts]:
    """The order's raw counts on the machine: all of them, and those counted from `since` to `now`."""
    recent = Q(minute__gte=since, minute__lt=now)
    sums = CountBucket.objects.filter(machine=machine, work_order=order).aggregate(
        **{name: Sum(f"{name}_count") for name in ("total", "good", "reject", "scrap")},
        **{f"recent_{name}": Sum(f"{name}_count", filter=recent) for name in ("total", "good", "reject", "scrap")},
    )
    whole = Counts(*(sums[name] or 0 for name in ("total", "good", "reject", "scrap")))
    latest = Counts(*(sums[f"recent_{name}"] or 0 for name in ("total", "good", "reject", "scrap")))
    return whole, latest


def card(machine: Machine, running: WorkOrder | None, queue: list[WorkOrder], now: datetime) -> dict | None:
    """The order card of a machine's live message: the order on it now (running, else the first of its
    queue, see `WorkOrderQuerySet.queues_on`), its progress and pace, the moves the line's operators
    may make on it, and the next released order, which an operator may start when the shown one is paused."""
    order = running or (queue[0] if queue else None)
    if order is None:
        return None
    shown = order_progress(order, [machine], now)
    upcoming = next((o for o in queue if o.status == WorkOrderStatus.RELEASED and o.pk != order.pk), None)
    rate, ideal_rate = progress.rate_text(shown.pace.parts_per_minute, shown.ideal_per_minute)
    return {
        "number": order.number, "product": order.product.code, "product_name": order.product.name,
        "quantity": order.quantity, "status": order.status, "planned_end": iso(order.planned_end),
        "produced": shown.good, "made": shown.made, "scrap": shown.scrap,
        **shown.pace_dict(),
        "rate_text": rate, "ideal_rate_text": ideal_rate, "late_text": progress.lateness_text(shown.late_s),
        "moves": [move for move in allowed_moves(order) if move in OPERATOR_MOVES],
        "next": None if upcoming is None else {
            "number": upcoming.number, "product": upcoming.product.code, "product_name": upcoming.product.name,
            "quantity": upcoming.quantity, "planned_start": iso(upcoming.planned_start),
            "changeover": upcoming.product_id != order.product_id,
            "moves": ["start"] if order.status == WorkOrderStatus.PAUSED else [],
        },
    }


def summary(order: WorkOrder) -> dict:
    """The order as the IT systems see it (without its results)."""
    return {
        "number": order.number, "status": order.status, "product": order.product.code, "quantity": order.quantity,
        "line": order.line.code, "machine": order.machine.code if order.machine_id else None,
        "planned_start": iso(order.planned_start), "planned_end": iso(order.planned_end),
        "actual_start": iso(order.actual_start), "actual_end": iso(order.actual_end),
    }


def _on_run_windows_changed(sender, order: WorkOrder, before: dict, after: dict, **kwargs) -> None:
    reattribute(before, after)


# The moves the IT systems are told of (pause and resume only show on the screens).
MOVE_EVENTS = {"release": EventType.WORK_ORDER_RELEASED, "start": EventType.WORK_ORDER_STARTED,
               "complete": EventType.WORK_ORDER_COMPLETED, "cancel": EventType.WORK_ORDER_CANCELLED}


def _on_order_moved(sender, order: WorkOrder, move: str, at: datetime, by: str, **kwargs) -> None:
    """The screens show the move; a release, start, completion or cancellation is an event for the IT
    systems, a completion with the order's results."""
    machines = {machine.pk for machine in order.line.machines.all()} if not order.machine_id else {order.machine_id}
    transaction.on_commit(lambda: live.broadcast_machines(machines))
    event_type = MOVE_EVENTS.get(move)
    if event_type is None:
        return
    payload = {"work_order": summary(order), "by": by}
    if move == "start":
        # Another product than a machine's last one opens a changeover there; the ERP hears where.
        payload["changeovers"] = [item.as_dict() for item in changeover.open_changeovers(order, at, by)]
    if move == "complete":
        payload["results"] = results(order).as_dict()
    outbox.emit(event_type, f"{event_type}:{order.number}:{iso(at)}", at, payload, line=order.line)


def _on_order_put(sender, order: WorkOrder, created: bool, changed: set[str], by: str, **kwargs) -> None:
    """A new order, or a change of its plan (a board's reschedule, an ERP's update), for the IT systems."""
    at = order.updated or timezone.now()
    payload = {"work_order": summary(order), "created": created, "changed": sorted(changed), "by": by}
    outbox.emit(EventType.WORK_ORDER_PLANNED, f"{EventType.WORK_ORDER_PLANNED}:{order.number}:{iso(at)}", at,
                payload, line=order.line)


def connect() -> None:
    """Follow the orders' run windows and moves, however an order changes (API, admin, line screen)."""
    signals.run_windows_changed.connect(_on_run_windows_changed, dispatch_uid="monitoring.orders.reattribute")
    signals.order_moved.connect(_on_order_moved, dispatch_uid="monitoring.orders.events")
    signals.order_put.connect(_on_order_put, dispatch_uid="monitoring.orders.planned")
