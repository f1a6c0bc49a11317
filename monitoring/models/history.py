"""Append-only history (observations) and its projection (intervals, buckets, events).

Observations are the record. State intervals, count buckets and the derived events are a
projection of them: `monitoring.pipeline` rewrites them by replaying observations, and would
write the same rows again from the observations alone.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from planning.models import DowntimeReason, Machine


class Signal(models.TextChoices):
    """The canonical signals of DESIGN.md §5, plus the two the product itself produces."""

    RUNNING = "running"
    FAULT = "fault"
    REASON = "reason"
    TOTAL_COUNT = "total_count"
    GOOD_COUNT = "good_count"
    REJECT_COUNT = "reject_count"
    PACKML_STATE = "packml_state"
    # Parts scrapped, entered by an operator: a quantity, not a cumulative counter.
    SCRAP = "scrap"
    # Sent by a collector when a device stops answering (false) and when it is back (true).
    CONNECTED = "connected"


class Observation(models.Model):
    """One reading of one signal of one machine, exactly as it arrived (after validation).

    Append-only: a row is never changed or deleted. A correction (an operator choosing another
    reason for the same instant) is a new row with a higher `revision`, which supersedes the
    rows of the same machine, signal and instant.
    """

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="+")
    ts = models.DateTimeField()
    signal = models.CharField(max_length=16, choices=Signal.choices)
    value = models.CharField(max_length=64)
    revision = models.PositiveSmallIntegerField(
        default=0, help_text="0 as it first arrived; each correction of the same instant counts one up.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["machine", "signal", "ts", "revision"], name="unique_observation"),
        ]
        indexes = [models.Index(fields=["machine", "ts"], name="observation_machine_ts")]

    def __str__(self) -> str:
        return f"{self.machine_id} {self.ts.isoformat()} {self.signal}={self.value}"


class MachineStatus(models.TextChoices):
    RUNNING = "running"
    STOPPED = "stopped"
    NO_DATA = "no-data"


class StateIntervalQuerySet(models.QuerySet):
    def overlapping(self, start, end) -> StateIntervalQuerySet:
        return self.filter(start__lt=end).filter(models.Q(end__gt=start) | models.Q(end__isnull=True))


class StateInterval(models.Model):
    """A stretch of time in one state; the newest of a machine is open (`end` is null)."""

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="intervals")
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=MachineStatus.choices)
    reason = models.ForeignKey(DowntimeReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    fault_code = models.BigIntegerField(null=True, blank=True)

    objects = StateIntervalQuerySet.as_manager()

    class Meta:
        ordering = ["machine", "start"]
        constraints = [models.UniqueConstraint(fields=["machine", "start"], name="unique_interval_start")]

    def __str__(self) -> str:
        return f"{self.machine_id} {self.state} {self.start.isoformat()}–{self.end.isoformat() if self.end else '…'}"


class CountBucket(models.Model):
    """Parts counted in one minute on one machine for one work order (counter deltas)."""

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="count_buckets")
    minute = models.DateTimeField()
    work_order = models.ForeignKey(
        "planning.WorkOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="count_buckets"
    )
    total_count = models.BigIntegerField(default=0)
    good_count = models.BigIntegerField(default=0)
    reject_count = models.BigIntegerField(default=0)
    scrap_count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["machine", "minute"]
        indexes = [models.Index(fields=["machine", "minute"], name="bucket_machine_minute")]

    def __str__(self) -> str:
        return f"{self.machine_id} {self.minute.isoformat()} total={self.total_count}"


class ProjectionVersion(models.Model):
    """Which writing of a machine's projection is the latest: a number each writer draws at random.

    Every batch the pipeline stores for a machine draws a new one, in its transaction. A process
    that kept the machine's fold in memory (`monitoring.folds`) trusts its copy only while the
    stored number is the one it drew: another process, a replay or a rollback make it differ.
    """

    machine = models.OneToOneField(Machine, primary_key=True, on_delete=models.CASCADE, related_name="+")
    version = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.machine_id} {self.version}"


class EventKind(models.TextChoices):
    STATE_CHANGE = "state_change", _("State change")
    ROLLOVER = "rollover", _("Counter rollover")
    RESET = "reset", _("Counter reset")
    REJECTED_JUMP = "rejected_jump", _("Implausible counter jump (not counted)")
    NO_DATA = "no_data", _("No data")
    DEVICE_ERROR = "device_error", _("Device error")
    REASON_GIVEN = "reason_given", _("Reason given")
    SCRAP_ENTERED = "scrap_entered", _("Scrap entered")


# Kinds the pipeline derives from observations; it rewrites them when it replays a window.
DERIVED_EVENT_KINDS = (
    EventKind.STATE_CHANGE, EventKind.ROLLOVER, EventKind.RESET, EventKind.REJECTED_JUMP, EventKind.NO_DATA
)


class Event(models.Model):
    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="events")
    ts = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    detail = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["machine", "ts", "id"]
        indexes = [models.Index(fields=["machine", "ts"], name="event_machine_ts")]

    def __str__(self) -> str:
        return f"{self.machine_id} {self.ts.isoformat()} {self.kind}"
