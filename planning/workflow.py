"""The one door for products and work orders: put them (create or update) and move orders.

The API, the admin and the line screen all come through here. A move follows the state machine
(`MOVES`); a move the order's status does not allow is refused naming the status. Each move is
kept (`WorkOrderMove`) and told to whoever builds on planning (`signals.order_moved`), in the
same transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from planning.models import (
    OPEN_STATUSES,
    Line,
    Machine,
    Product,
    ProductCycleTime,
    WorkOrder,
    WorkOrderMove,
    WorkOrderPause,
    WorkOrderStatus,
)
from planning.signals import order_moved, order_put, run_windows_changed

S = WorkOrderStatus
# move → (the statuses it may start from, the status it leads to)
MOVES: dict[str, tuple[tuple[str, ...], str]] = {
    "release": ((S.PLANNED,), S.RELEASED),
    "start": ((S.RELEASED,), S.RUNNING),
    "pause": ((S.RUNNING,), S.PAUSED),
    "resume": ((S.PAUSED,), S.RUNNING),
    "complete": ((S.RUNNING, S.PAUSED), S.COMPLETED),
    "cancel": (OPEN_STATUSES, S.CANCELLED),
}

# Ideal cycle times a product may have on a machine, in seconds per part.
MIN_CYCLE_TIME = 0.001
MAX_CYCLE_TIME = 86_400.0
# Moves the operators of a line may make on its orders at the line screen (release and cancel are planning's).
OPERATOR_MOVES = ("start", "pause", "resume", "complete")


class MoveRefused(Exception):
    """The order's status (or another running order) does not allow the move; the message says why."""


class NotYours(Exception):
    """The order is on a line the caller may not write; the message says which order."""


def allowed_moves(order: WorkOrder) -> list[str]:
    """The moves the order's status allows, in the order a screen offers them."""
    return [move for move, (sources, _) in MOVES.items() if order.status in sources]


def move_order(order: WorkOrder, move: str, by: str, at: datetime | None = None) -> WorkOrder:
    """Move the order (release, start, pause, resume, complete, cancel) at `at` (default now).

    Raises MoveRefused when its status does not allow the move, or when starting it would
    run two orders on one machine; nothing is changed then.
    """
    if move not in MOVES:
        raise MoveRefused(f"Unknown move {move!r}: one of {', '.join(MOVES)}.")
    at = at or timezone.now()
    with transaction.atomic():
        # The line's row first: two orders of one line starting at once go one after the other.
        # (Not FOR UPDATE: rows that refer to it, checked at commit, must not wait on the move.)
        line_id = order.line_id
        while True:
            Line.objects.select_for_update(no_key=True).filter(pk=line_id).values_list("pk").get()
            order = (WorkOrder.objects.select_for_update(of=("self",), no_key=True)
                     .select_related("line", "machine", "product").get(pk=order.pk))
            if order.line_id == line_id:
                break
            line_id = order.line_id  # put on another line meanwhile: hold that one
        sources, target = MOVES[move]
        if order.status not in sources:
            raise MoveRefused(
                f"Work order {order.number} is {order.status}: it cannot {move} "
                f"(only a {' or '.join(sources)} order can)."
            )
        if target == S.RUNNING:
            clash = order.running_clash()
            if clash is not None:
                raise MoveRefused(f"Work order {clash.number} is running there: complete or pause it first.")
        before = order.machine_windows()
        previous = order.status
        if move == "start":
            order.actual_start = at
        if move in ("complete", "cancel") and order.actual_start is not None:
            order.actual_end = at
        if move == "pause":
            WorkOrderPause.objects.create(order=order, start=at)
        if previous == S.PAUSED and move in ("resume", "complete", "cancel"):
            order.pauses.filter(end__isnull=True).update(end=at)
        order.status = target
        try:
            with transaction.atomic():
                order.save()
        except IntegrityError:
            if target != S.RUNNING:
                raise
            # Another order of the machine started meanwhile: the database's constraint says so.
            raise MoveRefused(f"Another work order is running there: {order.number} cannot {move}.") from None
        if move in ("pause", "resume"):
            # Only the pauses changed, which the order's own save does not see.
            run_windows_changed.send(WorkOrder, order=order, before=before, after=order.machine_windows())
        WorkOrderMove.objects.create(order=order, move=move, from_status=previous, to_status=target, at=at, by=by)
        order_moved.send(WorkOrder, order=order, move=move, at=at, by=by)
    return order


@dataclass(frozen=True)
class OrderIn:
    """A work order as an ERP sends it (already parsed: codes, not rows)."""

    product: str
    quantity: int
    line: str
    machine: str | None
    planned_start: datetime
    planned_end: datetime


def put_order(
    number: str, data: OrderIn, writable_lines: set[int] | None = None, _again: bool = False, by: str = "",
) -> tuple[WorkOrder, bool, bool]:
    """Create or update the order `number`; (order, created, changed). The same data twice changes nothing.

    A creation or a change is told to whoever builds on planning (`signals.order_put`, with `by`:
    who asked), in the same transaction.

    Raises ValidationError naming the field (an unknown product, a machine of another line),
    MoveRefused when a finished order would change, or a started one would move to other
    machines, and NotYours when the order is on a line outside `writable_lines` (ids; None: any).
    """
    errors: dict[str, str] = {}
    product = Product.objects.filter(code=data.product).first()
    if product is None:
        errors["product"] = f"No product {data.product!r}: put it first (PUT /api/v1/products/{data.product}/)."
    line = Line.objects.filter(code=data.line).first()
    if line is None:
        errors["line"] = f"No line {data.line!r}."
    machine = None
    if data.machine:
        machine = Machine.objects.filter(code=data.machine).first()
        if machine is None:
            errors["machine"] = f"No machine {data.machine!r}."
        elif line is not None and machine.line_id != line.pk:
            errors["machine"] = f"Machine {data.machine} is not on line {data.line}."
    if data.planned_end <= data.planned_start:
        errors["planned_end"] = "planned_end must be after planned_start."
    if errors:
        raise ValidationError(errors)
    fields = {"product": product, "quantity": data.quantity, "line": line, "machine": machine,
              "planned_start": data.planned_start, "planned_end": data.planned_end}
    with transaction.atomic():
        order = WorkOrder.objects.select_for_update(of=("self",), no_key=True).filter(number=number).first()
        if order is None:
            order = WorkOrder(number=number, **fields)
            if not _inserted(order, again=_again):
                return put_order(number, data, writable_lines, _again=True, by=by)
            order_put.send(WorkOrder, order=order, created=True, changed=set(fields), by=by)
            return order, True, False
        if writable_lines is not None and order.line_id not in writable_lines:
            raise NotYours(f"Work order {number} is on a line this caller may not write.")
        changed = {name for name, value in fields.items() if getattr(order, name) != value}
        if not changed:
            return order, False, False
        if order.status not in OPEN_STATUSES:
            raise MoveRefused(f"Work order {number} is {order.status}: it cannot change any more.")
        if order.actual_start is not None and changed & {"product", "line", "machine"}:
            raise MoveRefused(
                f"Work order {number} has started: its {', '.join(sorted(changed & {'product', 'line', 'machine'}))} "
                "can no longer change (cancel it and put a new one)."
            )
        for name, value in fields.items():
            setattr(order, name, value)
        order.full_clean()
        order.save()
        order_put.send(WorkOrder, order=order, created=False, changed=changed, by=by)
        return order, False, True


def _inserted(row: WorkOrder | Product, again: bool) -> bool:
    """Validate and save a new row; False when the same one was put at once by another writer, who
    made it first (the caller then puts again, as an update). A second loss is not a race: raised."""
    row.full_clean(validate_unique=False)  # the database says whether its number or code is new
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        if again:
            raise
        return False
    return True


def put_product(
    code: str, name: str, cycle_times: dict[str, float], only_machines: set[str] | None = None,
    _again: bool = False,
) -> tuple[Product, bool, bool]:
    """Create or update a product and its ideal cycle times; (product, created, changed).

    The cycle times become exactly those given, on every machine, or on `only_machines` (the
    machines of a caller's lines) when given. Raises ValidationError naming what is wrong (an
    unknown machine, a cycle time out of range).
    """
    errors: dict[str, str] = {}
    machines = {m.code: m for m in Machine.objects.filter(code__in=cycle_times)}
    for machine_code, seconds in cycle_times.items():
        if machine_code not in machines:
            errors[f"cycle_times.{machine_code}"] = f"No machine {machine_code!r}."
        elif not (isinstance(seconds, int | float) and math.isfinite(seconds)
                  and MIN_CYCLE_TIME <= seconds <= MAX_CYCLE_TIME):
            errors[f"cycle_times.{machine_code}"] = (
                f"An ideal cycle time is {MIN_CYCLE_TIME:g} to {MAX_CYCLE_TIME:g} seconds per part, got {seconds!r}.")
    if errors:
        raise ValidationError(errors)
    mine = set(cycle_times) if only_machines is None else set(only_machines) | set(cycle_times)
    with transaction.atomic():
        product = Product.objects.select_for_update(no_key=True).filter(code=code).first()
        created = product is None
        if created:
            product = Product(code=code, name=name)
            if not _inserted(product, again=_again):
                return put_product(code, name, cycle_times, only_machines, _again=True)
        stored = dict(product.cycle_times.values_list("machine__code", "ideal_cycle_time"))
        # The cycle times this caller answers for become exactly those sent; other machines' stay.
        answered = {machine: seconds for machine, seconds in stored.items()
                    if only_machines is None or machine in mine}
        changed = not created and (product.name != name or answered != cycle_times)
        if changed and product.name != name:
            product.name = name
            product.full_clean()
            product.save()
        if created or answered != cycle_times:
            gone = product.cycle_times.exclude(machine__code__in=cycle_times)
            if only_machines is not None:
                gone = gone.filter(machine__code__in=mine)
            gone.delete()
            for machine_code, seconds in cycle_times.items():
                ProductCycleTime.objects.update_or_create(
                    product=product, machine=machines[machine_code], defaults={"ideal_cycle_time": seconds},
                )
    return product, created, changed
