"""Work orders as the machines' history sees them: their parts, their results, their events.

Parts go to the order whose run window holds them. When an order's run windows change (it
starts, pauses, resumes, ends, or someone corrects its actual start in the admin), the parts
counted in the time between the old and the new windows change order: `reattribute` rewrites
those machines' count buckets there, and nothing else. `results` is what an order made and how
(the figures of its run windows); the IT systems hear of a start and a completion with them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from monitoring import kpi, live
from monitoring.lib import oee
from monitoring.models import Event, EventKind
from monitoring.pipeline import lock_machine
from monitoring.projection import recount
from planning import outbox, signals
from planning.lib.instants import iso
from planning.lib.orders import changed_range
from planning.models import EventType, Machine, WorkOrder, WorkOrderStatus, ideal_cycle_times

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
    eta: datetime | None = None

    def as_dict(self) -> dict:
        data = self.result.as_dict()
        return {
            **{name: data[name] for name in ("total_count", "good_count", "reject_count", "run_s",
                                             "unplanned_stop_s", "planned_production_s", "availability",
                                             "performance", "quality", "oee")},
            "scrap_by_reason": self.scrap_by_reason,
            "downtime_by_reason_s": self.downtime,
            "eta": iso(self.eta),
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
    found.eta = _eta(order, found.result, now)
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


def _eta(order: WorkOrder, result: kpi.Result, now: datetime) -> datetime | None:
    """When a running order will have made its quantity, at its performance so far."""
    machines = order.subject_machines()
    if order.status != WorkOrderStatus.RUNNING or not machines:
        return None
    machine = machines[0]
    seconds = oee.eta_seconds(order.quantity - result.production.good,
                              ideal_cycle_times(machine, [order.pk])[order.pk], result.figures.performance)
    return None if seconds is None else now + timedelta(seconds=seconds)


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


def _on_order_moved(sender, order: WorkOrder, move: str, at: datetime, by: str, **kwargs) -> None:
    """The screens show the move; a start or a completion is an event for the IT systems, a completion
    with the order's results."""
    machines = {machine.pk for machine in order.line.machines.all()} if not order.machine_id else {order.machine_id}
    transaction.on_commit(lambda: live.broadcast_machines(machines))
    if move not in ("start", "complete"):
        return
    payload = {"work_order": summary(order), "by": by}
    if move == "complete":
        payload["results"] = results(order).as_dict()
    event_type = EventType.WORK_ORDER_STARTED if move == "start" else EventType.WORK_ORDER_COMPLETED
    outbox.emit(event_type, f"{event_type}:{order.number}:{iso(at)}", at, payload, line=order.line)


def connect() -> None:
    """Follow the orders' run windows and moves, however an order changes (API, admin, line screen)."""
    signals.run_windows_changed.connect(_on_run_windows_changed, dispatch_uid="monitoring.orders.reattribute")
    signals.order_moved.connect(_on_order_moved, dispatch_uid="monitoring.orders.events")
