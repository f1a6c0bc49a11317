"""The one door observations come in by: `record_observations` (DESIGN.md §2, §5).

Collectors, the ingest API, the import command and operators' actions all call it. It
validates a batch, appends the new observations, and for each machine rewrites the
projection (`monitoring.projection`) from the minute of its earliest new observation. Because
the projection is a pure function of the stored observations, a batch applied twice, a batch
split differently or observations arriving late all leave the same rows behind.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from monitoring import folds, kpi, live, partitions, stops
from monitoring.bulk import insert_rows
from monitoring.folds import KeptFold
from monitoring.lib.signals import canonical_text, parse_value
from monitoring.lib.states import PEOPLE_SIGNALS, Obs, Replay, Snapshot, replay
from monitoring.models import Observation, Signal
from monitoring.projection import Extension, extend, rederive, resume_point, rules_by_machine, stored_observations
from planning.lib.instants import out_of_range
from planning.lib.text import text_problem
from planning.models import DowntimeReason, Machine
from planning.schedule import calendar_around


class ObservationIn(NamedTuple):
    """One observation as a source hands it in, before validation."""

    machine_code: str
    ts: datetime
    signal: str
    value: object
    supersedes: bool = False
    """A correction: it replaces what was stored for the same machine, signal and instant."""


@dataclass(frozen=True)
class Rejection:
    index: int
    """Position of the observation in the batch (0-based)."""
    message: str


@dataclass
class PipelineResult:
    received: int = 0
    applied: int = 0
    """New observations stored (duplicates of stored ones are not counted)."""
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    machines: set[int] = field(default_factory=set)


class BatchRejected(Exception):
    """Raised by `record_observations(..., all_or_nothing=True)` when any observation is bad."""

    def __init__(self, rejected: list[Rejection]) -> None:
        self.rejected = rejected
        super().__init__(f"{len(rejected)} observation(s) rejected; first: {rejected[0].message}")


class Checked(NamedTuple):
    """A valid observation: its machine, its typed value, whether it corrects a stored one, its batch index."""

    machine: Machine
    obs: Obs
    supersedes: bool
    index: int = 0


def validate(
    observations: list[ObservationIn], machines: dict[str, Machine], reasons: set[str],
) -> tuple[list[Checked], list[Rejection]]:
    """Typed observations and the rejections, each naming what was wrong."""
    valid: list[Checked] = []
    rejected: list[Rejection] = []
    # Bounds on time (settings.OBSERVATIONS_*): an unset device clock, or one running ahead, would
    # make everything before its reading a gap in the data.
    earliest = datetime.fromisoformat(settings.OBSERVATIONS_NOT_BEFORE).replace(tzinfo=UTC)
    ahead = timedelta(seconds=settings.OBSERVATIONS_MAX_AHEAD_S)
    latest = timezone.now() + ahead
    for index, item in enumerate(observations):
        machine = machines.get(item.machine_code)
        if machine is None:
            rejected.append(Rejection(index, f"unknown machine {item.machine_code!r}"))
            continue
        ts = item.ts
        if not isinstance(ts, datetime) or ts.tzinfo is None:
            rejected.append(Rejection(index, f"ts {ts!r} must be an aware date-time with a UTC offset"))
            continue
        problem = out_of_range(ts)
        if problem is None and ts < earliest:
            problem = (f"{ts.isoformat()} is before {settings.OBSERVATIONS_NOT_BEFORE} "
                       "(OBSERVATIONS_NOT_BEFORE): is the device's clock set?")
        elif problem is None and ts > latest:
            problem = (f"{ts.isoformat()} lies in the future, more than {settings.OBSERVATIONS_MAX_AHEAD_S} s "
                       "ahead of this server's clock (OBSERVATIONS_MAX_AHEAD_S): is the device's clock ahead?")
        if problem:
            rejected.append(Rejection(index, f"ts {problem}"))
            continue
        try:
            value = parse_value(item.signal, item.value)
        except ValueError as error:
            rejected.append(Rejection(index, str(error)))
            continue
        if item.signal == "reason" and value not in reasons:
            rejected.append(Rejection(index, f"unknown reason code {value!r}"))
            continue
        if ts.tzinfo is not UTC:
            ts = ts.astimezone(UTC)
        valid.append(Checked(machine, Obs(ts, item.signal, value), item.supersedes, index))
    return valid, rejected


def _validated(batch: list[ObservationIn]) -> tuple[list[Checked], list[Rejection]]:
    # A code no database can even be asked for (one with a NUL) matches nothing: validate() then
    # rejects its observation alone, not the whole batch with a database error.
    codes = {code for code in {item.machine_code for item in batch} if _askable(code)}
    machines = {m.code: m for m in Machine.objects.filter(code__in=codes)}
    reason_codes = {code for code in {str(item.value).strip() for item in batch if item.signal == "reason"}
                    if _askable(code)}
    known_reasons = set(DowntimeReason.objects.filter(code__in=reason_codes).values_list("code", flat=True))
    return validate(batch, machines, known_reasons)


def _askable(code: object) -> bool:
    return not isinstance(code, str) or text_problem(code) is None


def check_observations(observations: Iterable[ObservationIn]) -> list[Rejection]:
    """What `record_observations` would reject in this batch, without storing anything."""
    return _validated(list(observations))[1]


def lock_machine(machine: Machine) -> None:
    """Hold the machine's row: writers of one machine's history go one after the other.

    (PostgreSQL locks the row; SQLite's IMMEDIATE transactions lock the whole database.)
    """
    lock_machines([machine.pk])


def lock_machines(machine_ids: Iterable[int]) -> None:
    """Hold the machines' rows, taken in the order of their ids as every writer takes them."""
    list(Machine.objects.select_for_update(no_key=True).filter(pk__in=list(machine_ids)).order_by("pk")
         .values_list("pk", flat=True))


@dataclass
class _Store:
    """What a batch stores for one machine, and how its projection follows: carried on, or replayed."""

    machine: Machine
    new: list[Obs]
    superseding: list[Obs]
    kept: KeptFold | None
    """The fold kept in memory, when the batch only carries it on (`KeptFold.continues`)."""
    since: datetime | None = None
    """Else: the replay starts here, from `snapshot`, and folds `replayed` (all observations from there)."""
    snapshot: Snapshot | None = None
    replayed: list[Obs] = field(default_factory=list)


def record_observations(
    observations: Iterable[ObservationIn], all_or_nothing: bool = False, refuse_excess_scrap: bool = False,
) -> PipelineResult:
    """Validate, store and project a batch in one transaction; update the live screens after commit.

    Bad observations are rejected with a message and the good ones applied, unless
    `all_or_nothing`, in which case one bad observation raises BatchRejected and nothing is stored.
    With `refuse_excess_scrap` (the doors of what people and IT systems enter), scrap beyond the good
    parts of its shift is rejected too (`_scrap_beyond_good_parts`). That depends on what was counted
    before it came, so it is left to those doors: whatever is stored, any batching projects the same.
    """
    with _collection_paused():
        return _record(list(observations), all_or_nothing, refuse_excess_scrap)


def _record(batch: list[ObservationIn], all_or_nothing: bool, refuse_excess_scrap: bool) -> PipelineResult:
    result = PipelineResult(received=len(batch))
    valid, result.rejected = _validated(batch)
    if result.rejected and all_or_nothing:
        raise BatchRejected(result.rejected)
    scrap = [item for item in valid if item.obs.signal == Signal.SCRAP] if refuse_excess_scrap else []
    if not scrap:
        _store(valid, result)
        return result

    # Scrap is checked against the good parts counted by then, the batch's own included: the rest
    # of the batch is stored first, then the scrap that leaves no good part negative.
    with transaction.atomic():
        lock_machines({item.machine.pk for item in valid})
        _store([item for item in valid if item.obs.signal != Signal.SCRAP], result)
        refused = _scrap_beyond_good_parts(scrap)
        if refused and all_or_nothing:
            raise BatchRejected(refused)
        if refused:
            result.rejected = sorted(result.rejected + refused, key=lambda rejection: rejection.index)
            scrap = [item for item in scrap if item.index not in {rejection.index for rejection in refused}]
        _store(scrap, result)
    return result


def _scrap_beyond_good_parts(scrap: list[Checked]) -> list[Rejection]:
    """The scrap that would make good parts negative, each rejected naming the good parts there are.

    Scrap comes out of the good parts of the shift it is entered in (the latest begun by its time),
    counted up to a minute after it; entries are taken in time order, each out of what the earlier
    ones left. A scrap observation stored already is a duplicate, not more scrap.
    """
    refused: list[Rejection] = []
    taken: dict[tuple[int, datetime], int] = defaultdict(int)
    first_of: dict[tuple[int, datetime], Rejection | None] = {}
    for item in sorted(scrap, key=lambda item: (item.obs.ts, item.index)):
        machine, ts, quantity = item.machine, item.obs.ts, int(item.obs.value)
        if (machine.pk, ts) in first_of:  # the batch's duplicate of an entry: refused with it, else a duplicate
            if (first := first_of[machine.pk, ts]) is not None:
                refused.append(Rejection(item.index, first.message))
            continue
        first_of[machine.pk, ts] = None
        if Observation.objects.filter(machine=machine, signal=Signal.SCRAP, ts=ts).exists():
            continue
        begun = [w for w in calendar_around(machine.line, ts).windows if w.start <= ts]
        start = begun[-1].start if begun else ts
        good = kpi.production(machine, start, ts + timedelta(minutes=1), []).good - taken[machine.pk, start]
        if quantity > good:
            since = start.astimezone(machine.line.area.site.zone).strftime("%Y-%m-%d %H:%M")
            first_of[machine.pk, ts] = Rejection(item.index, (
                f"{machine.code} has {max(good, 0):,} good parts since the shift began ({since}): {quantity:,} scrap "
                "would make them negative. Enter the parts the counters missed as a correction instead, or check "
                "the machine."
            ))
            refused.append(first_of[machine.pk, ts])
        else:
            taken[machine.pk, start] += quantity
    return refused


def _store(valid: list[Checked], result: PipelineResult) -> None:
    """Store the valid observations and project them, machine by machine, in one transaction."""
    by_machine: dict[int, list[Checked]] = defaultdict(list)
    for item in valid:
        by_machine[item.machine.pk].append(item)
    if not by_machine:
        return

    with transaction.atomic():
        # Machines in the order of their ids, the outbox last: writers never wait on each other in a circle.
        machine_ids = sorted(by_machine)
        lock_machines(machine_ids)
        kept = folds.trusted(machine_ids)
        stores = []
        for machine_id in machine_ids:
            items = by_machine[machine_id]
            store = _planned(items, kept.get(machine_id))
            result.duplicates += len(items) - len(store.new) - len(store.superseding)
            if store.new or store.superseding:
                stores.append(store)
        if not stores:
            return
        _insert(stores)

        rules = rules_by_machine([store.machine for store in stores if store.kept])
        outcomes: list[tuple[_Store, Replay, tuple[datetime, int]]] = []
        extensions = []
        for store in stores:
            machine = store.machine
            _note_first_observation(machine, store.new)
            if store.kept is None:
                replayed = rederive(machine, store.since, store.snapshot, store.replayed)
                outcomes.append((store, replayed, folds.last_key(store.replayed)))
            else:
                carried = replay(store.kept.snapshot, store.new, rules[machine.pk])
                extensions.append(Extension(machine, store.kept.snapshot.interval, carried))
                outcomes.append((store, carried, folds.last_key(store.new)))
        extend(extensions)

        versions = folds.stamp(store.machine.pk for store in stores)
        for store, replayed, last_key in outcomes:
            machine = store.machine
            told = stops.announce_replayed(machine, replayed.intervals, replayed.snapshot.last_ts,
                                           store.kept.told if store.kept else None)
            folds.keep(machine.pk, KeptFold(versions[machine.pk], last_key, replayed.snapshot, told))
            result.applied += len(store.new) + len(store.superseding)
            result.machines.add(machine.pk)
        changed = set(result.machines)
        transaction.on_commit(lambda: live.broadcast_machines(changed))


@contextmanager
def _collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a batch is stored.

    A batch makes a few short-lived objects per observation, which reference counting frees;
    meanwhile each of the collector's full passes walks every object of the process, and cost
    a fifth of an import's time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _planned(items: list[Checked], kept: KeptFold | None) -> _Store:
    """Carry the kept fold on when the batch continues it; else replay from where its earliest observation falls."""
    machine = items[0].machine
    if kept is not None and not any(item.supersedes for item in items) and kept.continues(
        item.obs for item in items
    ):
        new, _ = _new_only(items, [])
        return _Store(machine, new, [], kept)
    since, snapshot = resume_point(machine, min(item.obs.ts for item in items))
    stored = stored_observations(machine, since)
    new, superseding = _new_only(items, stored)
    replayed = _without_superseded(stored, superseding) + new + superseding
    return _Store(machine, new, superseding, None, since, snapshot, replayed)


def _note_first_observation(machine: Machine, new: list[Obs]) -> None:
    """Keep the machine's earliest device observation: its in-service time unless one is set."""
    first = min((o.ts for o in new if o.signal not in PEOPLE_SIGNALS), default=None)
    if first is not None and (machine.first_observation is None or first < machine.first_observation):
        Machine.objects.filter(pk=machine.pk).update(first_observation=first)
        machine.first_observation = first


def _new_only(items: list[Checked], stored: list[Obs]) -> tuple[list[Obs], list[Obs]]:
    """(observations not stored yet, corrections); on equal (signal, ts) within a batch the first wins."""
    seen = {(o.signal, o.ts) for o in stored}
    new: list[Obs] = []
    superseding: dict[tuple[str, datetime], Obs] = {}
    for item in items:
        key = (item.obs.signal, item.obs.ts)
        if item.supersedes:
            superseding.setdefault(key, item.obs)
        elif key not in seen:
            seen.add(key)
            new.append(item.obs)
    new = [obs for obs in new if (obs.signal, obs.ts) not in superseding]
    return new, list(superseding.values())


def _without_superseded(stored: list[Obs], superseding: list[Obs]) -> list[Obs]:
    replaced = {(o.signal, o.ts) for o in superseding}
    return [o for o in stored if (o.signal, o.ts) not in replaced]


def _insert(stores: list[_Store]) -> None:
    """Append the batch's observations in one statement (COPY, or one executemany): the collectors' hot path."""
    rows = [(store.machine.pk, o.ts, o.signal, canonical_text(o.value), 0) for store in stores for o in store.new]
    for store in stores:
        for obs in store.superseding:
            # The next revision of this instant: the highest stored one plus one.
            stored = Observation.objects.filter(machine=store.machine, signal=obs.signal, ts=obs.ts).aggregate(
                top=Max("revision"))
            revision = 0 if stored["top"] is None else stored["top"] + 1
            rows.append((store.machine.pk, obs.ts, obs.signal, canonical_text(obs.value), revision))
    if rows and connection.vendor == "postgresql":
        times = [row[1] for row in rows]
        partitions.ensure(min(times), max(times))
    insert_rows(Observation, ("machine_id", "ts", "signal", "value", "revision"), rows)
