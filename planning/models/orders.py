"""Products with their ideal cycle times, and work orders with their run windows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from planning.lib.orders import RunWindow, order_at, run_windows
from planning.models.plant import Machine, code_validator
from planning.signals import run_windows_changed


class Product(models.Model):
    code = models.CharField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ProductCycleTime(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="cycle_times")
    machine = models.ForeignKey("planning.Machine", on_delete=models.CASCADE, related_name="product_cycle_times")
    ideal_cycle_time = models.FloatField(
        validators=[MinValueValidator(0.001, "The ideal cycle time must be positive."),
                    MaxValueValidator(86_400, "An ideal cycle time of more than a day is not a cycle time.")],
        help_text=_("Seconds per part at ideal speed for this product on this machine."),
    )

    class Meta:
        ordering = ["product", "machine"]
        constraints = [models.UniqueConstraint(fields=["product", "machine"], name="unique_cycle_time")]

    def __str__(self) -> str:
        return f"{self.product.code} on {self.machine.code}: {self.ideal_cycle_time} s"


class WorkOrderStatus(models.TextChoices):
    PLANNED = "planned", pgettext_lazy("work order status", "Planned")
    RELEASED = "released", pgettext_lazy("work order status", "Released")
    RUNNING = "running", pgettext_lazy("work order status", "Running")
    PAUSED = "paused", pgettext_lazy("work order status", "Paused")
    COMPLETED = "completed", pgettext_lazy("work order status", "Completed")
    CANCELLED = "cancelled", pgettext_lazy("work order status", "Cancelled")


OPEN_STATUSES = (WorkOrderStatus.PLANNED, WorkOrderStatus.RELEASED, WorkOrderStatus.RUNNING, WorkOrderStatus.PAUSED)
STARTED_STATUSES = (WorkOrderStatus.RUNNING, WorkOrderStatus.PAUSED, WorkOrderStatus.COMPLETED)

Windows = list[tuple[datetime, datetime | None]]


class WorkOrderQuerySet(models.QuerySet):
    def running(self) -> WorkOrderQuerySet:
        return self.filter(status=WorkOrderStatus.RUNNING)

    def run_windows(self, machines: Iterable[Machine], start: datetime, end: datetime) -> dict[int, list[RunWindow]]:
        """Per machine id, the run windows of its orders (and its line's) that overlap [start, end]."""
        machines = list(machines)
        orders = (
            self.filter(line_id__in={m.line_id for m in machines}, actual_start__isnull=False, actual_start__lte=end)
            .filter(Q(actual_end__isnull=True) | Q(actual_end__gt=start))
            .order_by("actual_start", "pk").prefetch_related("pauses")
        )
        found: dict[int, list[RunWindow]] = {m.pk: [] for m in machines}
        for order in orders:
            for machine in machines:
                if machine.line_id == order.line_id and order.machine_id in (None, machine.pk):
                    found[machine.pk] += [
                        RunWindow(order.pk, window_start, window_end, order.machine_id is not None)
                        for window_start, window_end in order.run_windows()
                    ]
        return found

    def running_at(self, machines: Iterable[Machine], at: datetime) -> dict[int, WorkOrder | None]:
        """Per machine id, the order whose run window holds `at` (its own before its line's), or None."""
        machines = list(machines)
        windows = self.run_windows(machines, at, at)
        running = {m.pk: order_at(windows[m.pk], at) for m in machines}
        orders = self.select_related("product").in_bulk({pk for pk in running.values() if pk is not None})
        return {machine_id: orders.get(order_id) for machine_id, order_id in running.items()}


    def waiting_on(self, machines: Iterable[Machine]) -> dict[int, WorkOrder | None]:
        """Per machine id, the order waiting for it: the first of its queue (`queues_on`), or None."""
        return {machine_id: queue[0] if queue else None for machine_id, queue in self.queues_on(machines).items()}

    def queues_on(self, machines: Iterable[Machine]) -> dict[int, list[WorkOrder]]:
        """Per machine id, the orders waiting for it in the order they are taken up: paused ones, then
        released ones by planned start; its own before its line's."""
        machines = list(machines)
        waiting = (
            self.filter(line_id__in={m.line_id for m in machines},
                        status__in=[WorkOrderStatus.PAUSED, WorkOrderStatus.RELEASED])
            .select_related("product").order_by("planned_start", "pk")
        )
        found: dict[int, list[WorkOrder]] = {}
        for machine in machines:
            mine = [o for o in waiting if o.line_id == machine.line_id and o.machine_id in (None, machine.pk)]
            mine.sort(key=lambda o: (o.status != WorkOrderStatus.PAUSED, o.machine_id is None))
            found[machine.pk] = mine
        return found


class WorkOrder(models.Model):
    number = models.CharField(max_length=40, unique=True, validators=[code_validator])
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="work_orders")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    line = models.ForeignKey("planning.Line", on_delete=models.PROTECT, related_name="work_orders")
    machine = models.ForeignKey(
        "planning.Machine", null=True, blank=True, on_delete=models.PROTECT, related_name="work_orders",
        help_text=_("Leave empty to run the order on the whole line."),
    )
    planned_start = models.DateTimeField()
    planned_end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=WorkOrderStatus.choices, default=WorkOrderStatus.PLANNED)
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = WorkOrderQuerySet.as_manager()

    class Meta:
        ordering = ["planned_start", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["machine"], condition=Q(status="running", machine__isnull=False),
                name="one_running_order_per_machine",
            ),
            models.UniqueConstraint(
                fields=["line"], condition=Q(status="running", machine__isnull=True),
                name="one_running_line_order_per_line",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.product.code} × {self.quantity}"

    @classmethod
    def from_db(cls, db, field_names, values) -> WorkOrder:
        order = super().from_db(db, field_names, values)
        order._stored_run = order._run_fields()
        return order

    def _run_fields(self) -> tuple:
        return self.actual_start, self.actual_end, self.machine_id, self.line_id

    def save(self, *args, **kwargs) -> None:
        # An order runs from the moment it becomes running; it stops running when it ends.
        if self.status == WorkOrderStatus.RUNNING and self.actual_start is None:
            self.actual_start = timezone.now()
        if self.status in (WorkOrderStatus.COMPLETED, WorkOrderStatus.CANCELLED) and self.actual_start is not None \
                and self.actual_end is None:
            self.actual_end = timezone.now()
        stored = getattr(self, "_stored_run", None)
        before = self.machine_windows(stored) if stored is not None and self.pk else {}
        super().save(*args, **kwargs)
        if stored != self._run_fields():
            # Its start, end or machines changed (the admin corrected a start, say): tell who counts parts.
            run_windows_changed.send(WorkOrder, order=self, before=before, after=self.machine_windows())
        self._stored_run = self._run_fields()

    def pause_spans(self) -> Windows:
        return [(pause.start, pause.end) for pause in self.pauses.all()] if self.pk else []

    def run_windows(self) -> Windows:
        """The stretches of time the order ran (or runs: an open end), without its pauses."""
        return run_windows(self.actual_start, self.actual_end, self.pause_spans())

    def machine_windows(self, fields: tuple | None = None) -> dict[int, tuple[Machine, Windows]]:
        """Per machine id, the machine and the order's run windows on it (as `fields` were, if given)."""
        actual_start, actual_end, machine_id, line_id = fields or self._run_fields()
        windows = run_windows(actual_start, actual_end, self.pause_spans() if actual_start else [])
        if not windows:
            return {}
        machines = Machine.objects.filter(pk=machine_id) if machine_id else Machine.objects.filter(line_id=line_id)
        return {machine.pk: (machine, windows) for machine in machines.with_plant()}

    def subject_machines(self) -> list[Machine]:
        """The machines whose figures are the order's: its machine, else its line's subject machines."""
        return [self.machine] if self.machine_id else self.line.subject_machines()

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.planned_start and self.planned_end and self.planned_end <= self.planned_start:
            errors["planned_end"] = "The planned end must be after the planned start."
        if self.actual_start and self.actual_end and self.actual_end <= self.actual_start:
            errors["actual_end"] = "The actual end must be after the actual start."
        if self.status in (WorkOrderStatus.PLANNED, WorkOrderStatus.RELEASED) and self.actual_start:
            errors["actual_start"] = f"A {self.status} order has not started: leave the actual start empty."
        if self.status in (WorkOrderStatus.RUNNING, WorkOrderStatus.PAUSED) and self.actual_end:
            errors["actual_end"] = f"A {self.status} order has not ended: leave the actual end empty."
        if self.status in STARTED_STATUSES and not self.actual_start:
            errors["actual_start"] = f"A {self.status} order has started: give its actual start."
        if self.status == WorkOrderStatus.COMPLETED and not self.actual_end:
            errors["actual_end"] = "A completed order has ended: give its actual end."
        if self.machine_id and self.line_id and self.machine.line_id != self.line_id:
            errors["machine"] = "The machine must belong to the work order's line."
        if self.status == WorkOrderStatus.RUNNING and self.line_id:
            clash = self.running_clash()
            if clash is not None:
                errors["status"] = f"Work order {clash.number} is already running there; complete it first."
        if errors:
            raise ValidationError(errors)

    def running_clash(self) -> WorkOrder | None:
        """Another running order on the same machine (or any machine of this line-wide order)."""
        others = WorkOrder.objects.running().exclude(pk=self.pk).filter(line_id=self.line_id)
        if self.machine_id:
            others = others.filter(Q(machine_id=self.machine_id) | Q(machine__isnull=True))
        return others.first()


class WorkOrderPause(models.Model):
    """A stretch in which a started order did not run: its parts in there are nobody's."""

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="pauses")
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "start"]

    def __str__(self) -> str:
        return f"{self.order.number} paused {self.start:%Y-%m-%d %H:%M}"


class WorkOrderMove(models.Model):
    """One move of an order through its state machine: what, when, and who asked."""

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="moves")
    move = models.CharField(max_length=10)
    from_status = models.CharField(max_length=10, choices=WorkOrderStatus.choices)
    to_status = models.CharField(max_length=10, choices=WorkOrderStatus.choices)
    at = models.DateTimeField()
    by = models.CharField(max_length=160, help_text=_('Who asked: "user:<name>" or "client:<name>".'))

    class Meta:
        ordering = ["order", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.order.number} {self.move} ({self.from_status} → {self.to_status})"


def ideal_cycle_times(machine: Machine, order_ids: Iterable[int]) -> dict[int | None, float]:
    """Seconds per part at ideal speed on the machine for each order; None (no order) is the machine's default.

    The one place the rule lives: the cycle time of the order's product on that machine, else
    the machine's default.
    """
    default = machine.default_ideal_cycle_time
    times: dict[int | None, float] = {order_id: default for order_id in set(order_ids)}
    times[None] = default
    rows = ProductCycleTime.objects.filter(machine=machine, product__work_orders__in=set(order_ids) - {None})
    times.update(rows.values_list("product__work_orders", "ideal_cycle_time"))
    return times


def fastest_cycle_time(machine: Machine) -> float:
    """The shortest ideal cycle time the machine has for any product: how fast it could possibly count."""
    return fastest_cycle_times([machine])[machine.pk]


def fastest_cycle_times(machines: Iterable[Machine]) -> dict[int, float]:
    """Per machine id, `fastest_cycle_time` of each of `machines`, in one query."""
    fastest = {machine.pk: machine.default_ideal_cycle_time for machine in machines}
    for machine_id, cycle_time in ProductCycleTime.objects.filter(machine_id__in=list(fastest)).values_list(
        "machine", "ideal_cycle_time",
    ):
        fastest[machine_id] = min(fastest[machine_id], cycle_time)
    return fastest
