"""Configuration that changes what a rolled-up hour was drops its rollups (`monitoring.rollups`).

What changes how time is classified or counts are summed into rollups: a line's calendar (its
shift pattern, shifts, breaks, calendar exceptions, its site's time zone), a machine's thresholds,
in-service time (or first observation), quality counter, startup window or line, a downtime reason's planned flag or
loss category. Each change drops the rollups it may change (all of a machine's, or those around
a calendar exception), in the change's transaction and holding the machines' locks, so a rollup
being written meanwhile is dropped too. Ideal cycle times are not in rollups (they are applied
when a period is read), and work orders' run windows move parts through `projection.recount`,
which drops the hours it recounts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Max, Model
from django.db.models.signals import post_delete, post_save, pre_save

from monitoring.models import HOUR, StateInterval, forget
from planning.models import (
    Area,
    Break,
    CalendarException,
    DowntimeReason,
    Line,
    Machine,
    Shift,
    ShiftPattern,
    Site,
)

EVER = datetime(1, 1, 2, tzinfo=UTC)

# The fields whose change drops rollups; a change of any other field keeps them.
WATCHED = {
    Site: ("time_zone",),
    Area: ("site_id",),
    Line: ("area_id",),
    Machine: ("line_id", "micro_stop_threshold", "startup_window", "in_service", "first_observation",
              "quality_counter", "expected_interval"),
    DowntimeReason: ("planned", "loss_category"),
    CalendarException: ("line_id", "kind", "start", "end"),
}


def forget_hours(machine_ids: Iterable[int], since: datetime = EVER, until: datetime | None = None) -> None:
    """Drop the machines' rollups of [since, until), holding their locks (in the order every writer takes them)."""
    from monitoring.pipeline import lock_machines  # the pipeline reaches the figures itself

    machine_ids = sorted(set(machine_ids))
    if not machine_ids:
        return
    with transaction.atomic():
        lock_machines(machine_ids)
        forget(machine_ids, since, until)


def _before(instance: Model) -> dict | None:
    return getattr(instance, "_rollup_fields", None)


def _fields(instance: Model) -> dict:
    return {name: getattr(instance, name) for name in WATCHED[type(instance)]}


def _remember(sender: type[Model], instance: Model, raw: bool = False, **kwargs) -> None:
    """Keep the watched fields as stored, to tell after the save whether they changed."""
    if raw or instance.pk is None:
        instance._rollup_fields = None
        return
    instance._rollup_fields = sender.objects.filter(pk=instance.pk).values(*WATCHED[sender]).first()


def _changed(instance: Model, created: bool) -> bool:
    before = _before(instance)
    return not created and before is not None and before != _fields(instance)


def _machines_of_line(line_id: int | None) -> list[int]:
    return list(Machine.objects.filter(line_id=line_id).values_list("pk", flat=True)) if line_id else []


def _on_configuration(sender: type[Model], instance: Model, created: bool = False, raw: bool = False,
                      **kwargs) -> None:
    if raw or not _changed(instance, created):
        return
    if sender is Site:
        forget_hours(Machine.objects.filter(line__area__site=instance).values_list("pk", flat=True))
    elif sender is Area:
        forget_hours(Machine.objects.filter(line__area=instance).values_list("pk", flat=True))
    elif sender is Line:
        forget_hours(_machines_of_line(instance.pk))
    elif sender is Machine:
        forget_hours([instance.pk])
    elif sender is DowntimeReason:
        forget_hours(StateInterval.objects.filter(reason=instance).values_list("machine_id", flat=True).distinct())


def _on_exception_saved(sender: type[CalendarException], instance: CalendarException, created: bool = False,
                        raw: bool = False, **kwargs) -> None:
    if raw or not (created or _changed(instance, created)):
        return
    before = _before(instance)
    _forget_exception(instance.line_id, instance.start, instance.end)
    if before is not None:
        _forget_exception(before["line_id"], before["start"], before["end"])


def _on_exception_deleted(sender: type[CalendarException], instance: CalendarException, **kwargs) -> None:
    _forget_exception(instance.line_id, instance.start, instance.end)


def _forget_exception(line_id: int, start: datetime, end: datetime) -> None:
    """An exception changes its stretch of the calendar, and the startup windows up to a window after."""
    machines = _machines_of_line(line_id)
    window = Machine.objects.filter(pk__in=machines).aggregate(longest=Max("startup_window"))["longest"] or 0
    forget_hours(machines, start - HOUR, end + timedelta(seconds=window) + HOUR)


def _on_shifts(sender: type[Model], instance: Model, raw: bool = False, **kwargs) -> None:
    """A shift pattern, shift or break changes the line's calendar everywhere."""
    if raw:
        return
    if isinstance(instance, ShiftPattern):
        machines = _machines_of_line(instance.line_id)
    elif isinstance(instance, Shift):
        machines = Machine.objects.filter(line__shift_pattern=instance.pattern_id).values_list("pk", flat=True)
    else:
        machines = Machine.objects.filter(line__shift_pattern__shifts=instance.shift_id).values_list("pk", flat=True)
    forget_hours(machines)


def connect() -> None:
    """Follow the configuration that rollups depend on, however it changes (admin, API, import)."""
    for model in WATCHED:
        pre_save.connect(_remember, sender=model, dispatch_uid=f"rollups.remember.{model.__name__}")
    for model in (Site, Area, Line, Machine, DowntimeReason):
        post_save.connect(_on_configuration, sender=model, dispatch_uid=f"rollups.changed.{model.__name__}")
    post_save.connect(_on_exception_saved, sender=CalendarException, dispatch_uid="rollups.exception.saved")
    post_delete.connect(_on_exception_deleted, sender=CalendarException, dispatch_uid="rollups.exception.deleted")
    for signal in (post_save, post_delete):
        for model in (ShiftPattern, Shift, Break):
            signal.connect(_on_shifts, sender=model, dispatch_uid=f"rollups.shifts.{model.__name__}.{signal is post_save}")
