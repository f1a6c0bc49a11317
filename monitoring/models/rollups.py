"""Hourly rollups of the projection: what each closed hour adds to a machine's OEE (`monitoring.rollups`).

Like the rest of the projection they are derived, never edited: a row is written once for an
hour whose data can no longer change by itself, and deleted (`forget`) when a replay or a change
of configuration changes what the hour was; a read then computes it again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import models

from planning.models import Machine

HOUR = timedelta(hours=1)


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour that holds `moment`."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class RollupQuerySet(models.QuerySet):
    def of(self, machine: Machine | int, first: datetime, last: datetime) -> RollupQuerySet:
        """Rows of the machine's hours in [first, last)."""
        return self.filter(machine=machine, hour__gte=first, hour__lt=last)

    def touching(self, machine_ids, since: datetime, until: datetime | None = None) -> RollupQuerySet:
        """Rows of the machines' hours that hold any instant in [since, until) (until: for ever)."""
        rows = self.filter(machine_id__in=list(machine_ids), hour__gt=since - HOUR)
        return rows if until is None else rows.filter(hour__lt=until)


def forget(machine_ids, since: datetime, until: datetime | None = None) -> None:
    """Drop the rollups of the machines' hours that hold any instant in [since, until): they are computed
    again when read. Call it inside the transaction that changes what those hours were, holding the
    machines' locks (`pipeline.lock_machine`), so no rollup of the old state is written after it."""
    machine_ids = list(machine_ids)
    for model in (MachineHour, OrderHour):
        model.objects.touching(machine_ids, since, until).delete()


class MachineHour(models.Model):
    """One machine's OEE times over one closed UTC hour, in seconds (the fields of `oee.TimeBreakdown`).

    Its row exists exactly when the hour is rolled up; its parts are in `OrderHour`.
    """

    # Indexed by the (machine, hour) constraint.
    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField(help_text="Start of the UTC hour.")
    all_time = models.FloatField()
    scheduled = models.FloatField()
    planned_stop = models.FloatField()
    planned_production = models.FloatField()
    unplanned_stop = models.FloatField()
    run = models.FloatField()
    small_stop = models.FloatField()
    equipment_failure = models.FloatField()
    setup_adjustments = models.FloatField()
    unexplained = models.FloatField()
    no_data = models.FloatField()

    objects = RollupQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["machine", "hour"], name="unique_machine_hour")]

    def __str__(self) -> str:
        return f"{self.machine_id} {self.hour.isoformat()}"


class OrderHour(models.Model):
    """Parts one machine counted in one rolled-up hour for one work order (none: no order's run window),
    summed raw: all of them, and those in startup windows that can hold rejects. Their quality is
    resolved per order over a whole period, after summing, never per hour."""

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()
    work_order = models.ForeignKey("planning.WorkOrder", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    total_count = models.BigIntegerField(default=0)
    good_count = models.BigIntegerField(default=0)
    reject_count = models.BigIntegerField(default=0)
    scrap_count = models.BigIntegerField(default=0)
    startup_total = models.BigIntegerField(default=0)
    startup_good = models.BigIntegerField(default=0)
    startup_reject = models.BigIntegerField(default=0)
    startup_scrap = models.BigIntegerField(default=0)

    objects = RollupQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["machine", "hour"], name="order_hour_machine_hour")]

    def __str__(self) -> str:
        return f"{self.machine_id} {self.hour.isoformat()} order {self.work_order_id}"


class PrunedObservations(models.Model):
    """Where the machine's kept observations begin: older ones were deleted (`monitoring.retention`),
    but for the last reading of each device signal before, which a replay from there starts from.
    The projection before it is final: no replay reaches back beyond it."""

    machine = models.OneToOneField(Machine, on_delete=models.CASCADE, related_name="+")
    before = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.machine_id} observations from {self.before.isoformat()}"
