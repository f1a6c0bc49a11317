"""Plan against actual: what each work order was planned to make in a period, and what it made then.

In ISO 22400-2's words an order has a planned quantity (PQ) and makes a good quantity (GQ). An
order's PQ is spread evenly over its planned window, so a period holds the share of it that its
part of the window holds. Schedule adherence of a period is Σ min(GQᵢ, PQᵢ) / Σ PQᵢ over the orders
planned or run in it: the share of the planned quantity made, good, when it was planned (parts made
early, late or beyond the quantity do not make up for parts missing). Of one order it is the same
over its planned window: the share of its quantity made good inside it. Cancelled orders are not
part of the plan. Good parts are the order's own (its run windows' count buckets, on its subject
machines), as in the order's results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from monitoring import kpi
from planning.lib.instants import iso
from planning.models import Line, WorkOrder, WorkOrderStatus


def planned_quantity(order: WorkOrder, start: datetime, end: datetime) -> float:
    """The part of the order's quantity its plan puts in [start, end) (spread evenly over its planned window)."""
    planned = (order.planned_end - order.planned_start).total_seconds()
    overlap = (min(end, order.planned_end) - max(start, order.planned_start)).total_seconds()
    return order.quantity * max(overlap, 0.0) / planned if planned > 0 else 0.0


def good_made(order: WorkOrder, start: datetime, end: datetime) -> int:
    """Good parts of the order counted on its subject machines in [start, end) (by the minute)."""
    if order.actual_start is None or order.actual_start >= end:
        return 0
    return sum(kpi.production(machine, start, end, [], work_order=order).good for machine in order.subject_machines())


def adherence(made: float, planned: float) -> float | None:
    """min(made, planned) / planned, or None when nothing was planned."""
    return min(made, planned) / planned if planned > 0 else None


@dataclass(frozen=True)
class OrderInPeriod:
    """One order's plan against what it made, inside one period."""

    order: WorkOrder
    planned_quantity: float
    good_count: int

    @property
    def schedule_adherence(self) -> float | None:
        return adherence(self.good_count, self.planned_quantity)

    def as_dict(self) -> dict:
        order = self.order
        return {
            "number": order.number, "product": order.product.code, "status": order.status,
            "machine": order.machine.code if order.machine_id else None,
            "quantity": order.quantity, "planned_start": iso(order.planned_start), "planned_end": iso(order.planned_end),
            "actual_start": iso(order.actual_start), "actual_end": iso(order.actual_end),
            "planned_quantity": round(self.planned_quantity, 3), "good_count": self.good_count,
            "schedule_adherence": self.schedule_adherence,
        }


@dataclass
class PeriodPlan:
    """The orders of a line planned or run in a period, and the period's schedule adherence."""

    start: datetime
    end: datetime
    orders: list[OrderInPeriod] = field(default_factory=list)

    @property
    def planned_quantity(self) -> float:
        return sum(row.planned_quantity for row in self.orders)

    @property
    def good_count(self) -> int:
        return sum(row.good_count for row in self.orders)

    @property
    def on_plan(self) -> float:
        """Σ min(GQ, PQ): the good parts made when and up to what was planned."""
        return sum(min(row.good_count, row.planned_quantity) for row in self.orders)

    @property
    def schedule_adherence(self) -> float | None:
        planned = self.planned_quantity
        return self.on_plan / planned if planned > 0 else None

    def as_dict(self) -> dict:
        return {
            "planned_quantity": round(self.planned_quantity, 3), "good_count": self.good_count,
            "schedule_adherence": self.schedule_adherence, "orders": [row.as_dict() for row in self.orders],
        }


def orders_in(line: Line, start: datetime, end: datetime) -> list[WorkOrder]:
    """The line's orders (but cancelled ones) planned to run in [start, end) or run in it, by planned start."""
    planned = Q(planned_start__lt=end, planned_end__gt=start)
    ran = Q(actual_start__lt=end) & (Q(actual_end__isnull=True) | Q(actual_end__gt=start))
    return list(
        WorkOrder.objects.filter(line=line).exclude(status=WorkOrderStatus.CANCELLED).filter(planned | ran)
        .select_related("product", "line__constraint_machine", "machine__line__area__site")
        .order_by("planned_start", "number")
    )


def period_plan(line: Line, start: datetime, end: datetime, now: datetime | None = None,
                orders: list[WorkOrder] | None = None) -> PeriodPlan:
    """Plan against actual of the line's orders in [start, end) (clipped at now for what was made).

    `orders` given: those among them that fall in the period (read once for many periods).
    """
    now = now or timezone.now()
    made_until = min(end, now)
    plan = PeriodPlan(start, end)
    for order in orders_in(line, start, end) if orders is None else orders:
        planned = planned_quantity(order, start, end)
        ran = order.actual_start is not None and order.actual_start < end and (
            order.actual_end is None or order.actual_end > start)
        if planned <= 0 and not ran:
            continue
        good = good_made(order, start, made_until) if start < made_until else 0
        plan.orders.append(OrderInPeriod(order, planned, good))
    return plan


def order_plan(order: WorkOrder, good_count: int, now: datetime | None = None) -> dict:
    """The order's plan against its actual: planned quantity and window, what it made, when, and its
    schedule adherence (so far, while its planned window is open). `good_count`: its good parts."""
    now = now or timezone.now()
    in_window = good_made(order, order.planned_start, min(order.planned_end, now)) \
        if order.planned_start < now else 0
    return {
        "planned_quantity": order.quantity,
        "planned_start": iso(order.planned_start), "planned_end": iso(order.planned_end),
        "good_count": good_count, "good_in_planned_window": in_window,
        "actual_start": iso(order.actual_start), "actual_end": iso(order.actual_end),
        "schedule_adherence": None if order.status == WorkOrderStatus.CANCELLED
        else adherence(in_window, order.quantity),
    }


def shift_plans(line: Line, windows: list, now: datetime | None = None) -> list[tuple]:
    """(shift window, PeriodPlan) for each of the line's shift occurrences `windows` (in time order)."""
    now = now or timezone.now()
    if not windows:
        return []
    orders = orders_in(line, windows[0].start, max(w.end for w in windows))
    return [(window, period_plan(line, window.start, window.end, now, orders)) for window in windows]


def total(plans: list[PeriodPlan]) -> PeriodPlan:
    """Several periods' plans as one: their orders' rows side by side, so the sums are the periods' sums."""
    if not plans:
        return PeriodPlan(timezone.now(), timezone.now())
    return PeriodPlan(plans[0].start, plans[-1].end, [row for p in plans for row in p.orders])
