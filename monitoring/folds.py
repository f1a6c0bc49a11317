"""Machines' folds kept in memory between batches, trusted only while the database confirms them.

A collector stores each machine's readings as they come, a second after the last. Resuming the
fold from the database for every batch (`projection.resume_point`) costs far more than folding
the readings; so the process that stores keeps, per machine, where the fold stood after the
machine's last stored observation. A kept fold is used only when, under the machine's lock, the
database still holds what it was kept for: the version this process drew when it wrote
(`ProjectionVersion`), the same last observation and the same last interval. Another process
writing the machine, a replay, a rollback or a database reset all make one of them differ, and
the pipeline then replays as it always could. A machine with nothing stored needs no kept fold:
its fold starts empty.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import OuterRef, Subquery

from monitoring.bulk import upsert_rows
from monitoring.lib.states import PEOPLE_SIGNALS, Obs, Snapshot
from monitoring.models import Observation, ProjectionVersion, StateInterval
from monitoring.stops import Told
from planning.models import Machine


@dataclass(frozen=True)
class KeptFold:
    """Where a machine's fold stood after its last stored observation, and what was told of its stop."""

    version: int
    """The `ProjectionVersion` written with it."""
    last_key: tuple[datetime, int]
    """(ts, signal rank) of the machine's last stored observation."""
    snapshot: Snapshot
    told: Told | None = None

    def continues(self, observations: Iterable[Obs]) -> bool:
        """Whether folding `observations` onto this fold gives what a replay of everything would.

        They must all come after the last stored observation and be device readings (what people
        enter may reach back into a stop), and the interval in progress must have started by the
        last device reading: otherwise an interval before it could be the one a gap cuts short.
        """
        interval, last_ts = self.snapshot.interval, self.snapshot.last_ts
        if interval is not None and (last_ts is None or interval.start > last_ts):
            return False
        last_key = self.last_key
        return all(obs.signal not in PEOPLE_SIGNALS and obs.sort_key > last_key for obs in observations)


# The fold of a machine without observations or intervals: what a replay of everything starts from.
NOTHING_STORED = KeptFold(version=0, last_key=(datetime.min.replace(tzinfo=UTC), -1), snapshot=Snapshot())

_kept: dict[int, KeptFold] = {}
_lock = threading.Lock()


def last_key(observations: Iterable[Obs]) -> tuple[datetime, int]:
    """The (ts, signal rank) the fold sorts last of `observations`."""
    return max(obs.sort_key for obs in observations)


def trusted(machine_ids: Iterable[int]) -> dict[int, KeptFold]:
    """Per machine id, the fold to carry on that the database confirms (call holding the machines' locks).

    That is the kept one, or the empty fold of a machine with nothing stored yet.
    """
    machine_ids = list(machine_ids)
    with _lock:
        kept = {pk: _kept[pk] for pk in machine_ids if pk in _kept}
    stored = (
        Machine.objects.filter(pk__in=machine_ids).order_by()
        .annotate(
            version=Subquery(ProjectionVersion.objects.filter(machine=OuterRef("pk")).values("version")),
            last_ts=Subquery(Observation.objects.filter(machine=OuterRef("pk")).order_by("-ts").values("ts")[:1]),
            last_start=Subquery(
                StateInterval.objects.filter(machine=OuterRef("pk")).order_by("-start").values("start")[:1]),
        )
        .values_list("pk", "version", "last_ts", "last_start")
    )
    found = {}
    for pk, version, last_ts, last_start in stored:
        fold = kept.get(pk)
        if fold is not None and (version, last_ts, last_start) == (
            fold.version, fold.last_key[0], fold.snapshot.interval.start if fold.snapshot.interval else None,
        ):
            found[pk] = fold
        elif last_ts is None and last_start is None:
            found[pk] = NOTHING_STORED
    return found


def stamp(machine_ids: Iterable[int]) -> dict[int, int]:
    """Draw and store a new projection version for each machine (in the caller's transaction)."""
    versions = {pk: secrets.randbits(62) for pk in machine_ids}
    upsert_rows(ProjectionVersion, ("machine_id", "version"), ("bigint", "bigint"), "machine_id",
                list(versions.items()))
    return versions


def keep(machine_id: int, fold: KeptFold) -> None:
    with _lock:
        _kept[machine_id] = fold


def forget_all() -> None:
    """Drop every kept fold (the next batch of each machine replays)."""
    with _lock:
        _kept.clear()
