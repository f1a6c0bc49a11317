"""Retention of raw observations (`OBSERVATIONS_KEEP_DAYS`): old ones are deleted once their hours are rolled up.

Only observations go. The projection (state intervals, count buckets, events) and the rollups
stay: they are a small part of the history (a row per state change and per minute, against a
reading per signal per scan), and the pages, stops, timelines, reports and the API keep showing
an old period exactly as before. What goes is the power to replay that past: the projection
before the retention horizon is final. A replay never starts before it (`projection.resume_point`
starts there, from the last reading of each device signal, which is kept), so an observation
that arrives later than the retention, or an order's run window moved that far back, no longer
changes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from monitoring import partitions, rollups
from monitoring.models import Observation, PrunedObservations, hour_of
from monitoring.projection import DEVICE_SIGNALS, resume_point
from planning.models import Machine

# Deleted a day at a time, each day in its own short transaction.
BATCH = timedelta(days=1)


def keep_for() -> timedelta | None:
    """How long raw observations are kept; None: for ever."""
    days = settings.OBSERVATIONS_KEEP_DAYS
    return timedelta(days=days) if days else None


def prune_all(now: datetime | None = None) -> int:
    """Delete every machine's observations older than the retention; return about how many.

    On PostgreSQL whole months go at once (`monitoring.partitions`) once every machine with rows
    in them is past them; what is left before a horizon goes row by row.
    """
    keep = keep_for()
    if keep is None:
        return 0
    now = now or timezone.now()
    machines = list(Machine.objects.with_plant())
    advanced = {machine.pk: horizon for machine in machines if (horizon := advance(machine, now, keep))}
    horizons = dict(PrunedObservations.objects.values_list("machine_id", "before"))
    deleted = partitions.drop_pruned([machine.pk for machine in machines], horizons, DEVICE_SIGNALS)
    return deleted + sum(delete_before(machine, advanced[machine.pk]) for machine in machines
                         if machine.pk in advanced)


def prune(machine: Machine, now: datetime, keep: timedelta) -> int:
    """Delete the machine's observations older than `keep` whose hours are rolled up; return how many.

    The last reading of each device signal before the new horizon stays: a replay from there
    starts from them.
    """
    horizon = advance(machine, now, keep)
    return 0 if horizon is None else delete_before(machine, horizon)


def advance(machine: Machine, now: datetime, keep: timedelta) -> datetime | None:
    """Move the machine's retention horizon on to `now - keep` once those hours are rolled up; the new horizon.

    None when it does not move. From then on no replay reads what lies before it.
    """
    from monitoring.pipeline import lock_machine  # the pipeline reaches the figures itself

    start = rollups.history_start(machine)
    until = rollups.horizon(machine, now)
    if start is None or until is None:
        return None
    cutoff = min(hour_of(now - keep), until)
    if cutoff <= start:
        return None
    rollups.fill(machine, start, cutoff, now)
    if rollups.stored(machine, start, cutoff) is None:
        return None  # some hours could not be rolled up yet: try again next time
    with transaction.atomic():
        lock_machine(machine)
        before = PrunedObservations.objects.filter(machine=machine).values_list("before", flat=True).first()
        horizon, _ = resume_point(machine, cutoff)
        if before is not None and horizon <= before:
            return None
        PrunedObservations.objects.update_or_create(machine=machine, defaults={"before": horizon})
    return horizon


def delete_before(machine: Machine, horizon: datetime) -> int:
    """Delete the machine's observations before `horizon` but the last of each device signal; how many."""
    kept = [
        pk for signal in DEVICE_SIGNALS
        if (pk := Observation.objects.filter(machine=machine, signal=signal, ts__lt=horizon)
            .order_by("-ts", "-revision").values_list("pk", flat=True).first()) is not None
    ]
    # No replay reads what lies before the horizon: it can go in small steps.
    deleted = 0
    bound = Observation.objects.filter(machine=machine, ts__lt=horizon).order_by("ts").values_list(
        "ts", flat=True).first()
    while bound is not None and bound < horizon:
        bound = min(bound + BATCH, horizon)
        with transaction.atomic():
            deleted += Observation.objects.filter(machine=machine, ts__lt=bound).exclude(pk__in=kept).delete()[0]
    return deleted
