"""Products with their ideal cycle times, and work orders."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from monitoring.models.plant import code_validator


class Product(models.Model):
    code = models.CharField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ProductCycleTime(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="cycle_times")
    machine = models.ForeignKey("monitoring.Machine", on_delete=models.CASCADE, related_name="product_cycle_times")
    ideal_cycle_time = models.FloatField(
        validators=[MinValueValidator(0.001, "The ideal cycle time must be positive.")],
        help_text="Seconds per part at ideal speed for this product on this machine.",
    )

    class Meta:
        ordering = ["product", "machine"]
        constraints = [models.UniqueConstraint(fields=["product", "machine"], name="unique_cycle_time")]

    def __str__(self) -> str:
        return f"{self.product.code} on {self.machine.code}: {self.ideal_cycle_time} s"


class WorkOrderStatus(models.TextChoices):
    PLANNED = "planned"
    RELEASED = "released"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class WorkOrderQuerySet(models.QuerySet):
    def open(self) -> WorkOrderQuerySet:
        return self.filter(status__in=[WorkOrderStatus.PLANNED, WorkOrderStatus.RELEASED, WorkOrderStatus.RUNNING])

    def running(self) -> WorkOrderQuerySet:
        return self.filter(status=WorkOrderStatus.RUNNING)

    def on(self, machine) -> WorkOrderQuerySet:
        """Work orders for this machine, or for its whole line."""
        return self.filter(Q(machine=machine) | Q(machine__isnull=True, line_id=machine.line_id))


class WorkOrder(models.Model):
    number = models.CharField(max_length=40, unique=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="work_orders")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    line = models.ForeignKey("monitoring.Line", on_delete=models.PROTECT, related_name="work_orders")
    machine = models.ForeignKey(
        "monitoring.Machine", null=True, blank=True, on_delete=models.PROTECT, related_name="work_orders",
        help_text="Leave empty to run the order on the whole line.",
    )
    planned_start = models.DateTimeField()
    planned_end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=WorkOrderStatus.choices, default=WorkOrderStatus.PLANNED)
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)

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

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.planned_start and self.planned_end and self.planned_end <= self.planned_start:
            errors["planned_end"] = "The planned end must be after the planned start."
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
