"""Work orders as the machines' history sees them: parts go to the order whose run window holds them.

When an order's run windows change (it starts, ends, or someone corrects its actual start in
the admin), the parts counted in the time between the old and the new windows change order:
`reattribute` rewrites those machines' count buckets there, and nothing else.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from monitoring import live
from monitoring.pipeline import lock_machine
from monitoring.projection import recount
from planning.lib.orders import changed_range
from planning.models import Machine, WorkOrder

Windows = list[tuple[datetime, datetime | None]]


def _runs(order: WorkOrder) -> dict[int, tuple[Machine, Windows]]:
    """Per machine id, the machine and the order's run windows on it."""
    windows = order.run_windows()
    return {machine.pk: (machine, windows) for machine in order.machines()} if windows else {}


def reattribute(before: dict[int, tuple[Machine, Windows]], after: dict[int, tuple[Machine, Windows]]) -> set[int]:
    """Recount the parts of each machine whose order windows changed; return the machines recounted."""
    now = timezone.now()
    changed = set()
    with transaction.atomic():
        for machine_id in before.keys() | after.keys():
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


def _remember_runs(sender, instance: WorkOrder, raw: bool = False, **kwargs) -> None:
    """Before an order is saved: its run windows as stored."""
    if raw:
        return
    stored = WorkOrder.objects.filter(pk=instance.pk).select_related("machine").first() if instance.pk else None
    instance._runs_before = _runs(stored) if stored is not None else {}


def _reattribute_runs(sender, instance: WorkOrder, raw: bool = False, **kwargs) -> None:
    """After an order is saved: its parts follow its run windows."""
    if raw:
        return
    reattribute(getattr(instance, "_runs_before", {}), _runs(instance))


def connect() -> None:
    """Follow every save of a work order (the admin's, the API's, the line screen's)."""
    pre_save.connect(_remember_runs, sender=WorkOrder, dispatch_uid="monitoring.orders.remember")
    post_save.connect(_reattribute_runs, sender=WorkOrder, dispatch_uid="monitoring.orders.reattribute")
