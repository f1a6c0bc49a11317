"""The one door observations come in by: `record_observations` (DESIGN.md §2, §5).

Collectors, the ingest API and the import command all call it. It validates a batch, appends
the new observations, and for each machine replays the observations from the start of the
minute of its earliest new one, rewriting the derived state intervals, count buckets and
events from there. Because the derived rows are a pure function of the stored observations,
a batch applied twice, a batch split differently or observations arriving late all leave the
same rows behind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery

from monitoring import live
from monitoring.lib.signals import COUNTER_SIGNALS, STATE_SIGNALS, canonical_text, parse_value
from monitoring.lib.states import Interval, MachineRules, Obs, Snapshot, replay
from monitoring.models import (
    DERIVED_EVENT_KINDS,
    CountBucket,
    DowntimeReason,
    Event,
    Machine,
    MachineStatus,
    Observation,
    StateInterval,
)


class ObservationIn(NamedTuple):
    """One observation as a source hands it in, before validation."""

    machine_code: str
    ts: datetime
    signal: str
    value: object


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


def _minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def validate(
    observations: list[ObservationIn], machines: dict[str, Machine], reasons: set[str],
) -> tuple[list[tuple[Machine, Obs]], list[Rejection]]:
    """Typed observations and the rejections, each naming what was wrong."""
    valid: list[tuple[Machine, Obs]] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(observations):
        machine = machines.get(item.machine_code)
        if machine is None:
            rejected.append(Rejection(index, f"unknown machine {item.machine_code!r}"))
            continue
        if not isinstance(item.ts, datetime) or item.ts.tzinfo is None:
            rejected.append(Rejection(index, f"ts {item.ts!r} must be an aware date-time with a UTC offset"))
            continue
        try:
            value = parse_value(item.signal, item.value)
        except ValueError as error:
            rejected.append(Rejection(index, str(error)))
            continue
        if item.signal == "reason" and value not in reasons:
            rejected.append(Rejection(index, f"unknown reason code {value!r}"))
            continue
        valid.append((machine, Obs(item.ts.astimezone(UTC), item.signal, value)))
    return valid, rejected


def _validated(batch: list[ObservationIn]) -> tuple[list[tuple[Machine, Obs]], list[Rejection]]:
    codes = {item.machine_code for item in batch}
    machines = {m.code: m for m in Machine.objects.filter(code__in=codes).prefetch_related("fault_codes__reason")}
    reason_codes = {str(item.value).strip() for item in batch if item.signal == "reason"}
    known_reasons = set(DowntimeReason.objects.filter(code__in=reason_codes).values_list("code", flat=True))
    return validate(batch, machines, known_reasons)


def check_observations(observations: Iterable[ObservationIn]) -> list[Rejection]:
    """What `record_observations` would reject in this batch, without storing anything."""
    return _validated(list(observations))[1]


def record_observations(
    observations: Iterable[ObservationIn], all_or_nothing: bool = False,
) -> PipelineResult:
    """Validate, store and derive a batch in one transaction; broadcast after commit.

    Bad observations are rejected with a message and the good ones applied, unless
    `all_or_nothing`, in which case one bad observation raises BatchRejected and nothing is stored.
    """
    batch = list(observations)
    result = PipelineResult(received=len(batch))
    valid, result.rejected = _validated(batch)
    if result.rejected and all_or_nothing:
        raise BatchRejected(result.rejected)

    by_machine: dict[int, list[Obs]] = defaultdict(list)
    machine_by_id: dict[int, Machine] = {}
    for machine, obs in valid:
        by_machine[machine.pk].append(obs)
        machine_by_id[machine.pk] = machine

    with transaction.atomic():
        for machine_id, items in by_machine.items():
            # The row lock serialises writers of one machine (PostgreSQL; SQLite locks the database).
            Machine.objects.select_for_update().filter(pk=machine_id).values_list("pk").get()
            machine = machine_by_id[machine_id]
            since, snapshot = _resume_point(machine, min(o.ts for o in items))
            stored = [
                Obs(ts, signal, parse_value(signal, value))
                for ts, signal, value in Observation.objects.filter(machine=machine, ts__gte=since)
                .values_list("ts", "signal", "value").iterator(chunk_size=5000)
            ]
            new = _new_only(items, stored)
            result.duplicates += len(items) - len(new)
            if not new:
                continue
            _insert(machine, new)
            result.applied += len(new)
            result.machines.add(machine_id)
            _rederive(machine, since, snapshot, stored + new)
        if result.machines:
            changed = set(result.machines)
            transaction.on_commit(lambda: live.broadcast_machines(changed))
    return result


def _new_only(items: list[Obs], stored: list[Obs]) -> list[Obs]:
    """The observations not stored yet; on equal (signal, ts) within a batch the first wins."""
    seen = {(o.signal, o.ts) for o in stored}
    new: list[Obs] = []
    for obs in items:
        key = (obs.signal, obs.ts)
        if key not in seen:
            seen.add(key)
            new.append(obs)
    return new


def _insert(machine: Machine, new: list[Obs]) -> None:
    """Append observations with one executemany: this is the hot path of every collector."""
    ops = connection.ops
    table = connection.ops.quote_name(Observation._meta.db_table)
    rows = [(machine.pk, ops.adapt_datetimefield_value(o.ts), o.signal, canonical_text(o.value)) for o in new]
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} (machine_id, ts, signal, value) VALUES (%s, %s, %s, %s)", rows)


def rules_for(machine: Machine) -> MachineRules:
    return MachineRules(
        counter_modulus=machine.counter_modulus,
        ideal_cycle_time=machine.default_ideal_cycle_time,
        expected_interval=machine.expected_interval,
        fault_reasons={fc.code: fc.reason.code for fc in machine.fault_codes.all()},
    )


def _snapshot(row: StateInterval | None, latest: dict[str, tuple[datetime, str]]) -> Snapshot:
    """The fold's state just before a point in time: the interval in progress and each signal's last reading."""
    interval = None
    if row is not None:
        interval = Interval(
            start=row.start, state=row.state, reason=row.reason.code if row.reason else None,
            fault_code=row.fault_code,
        )
    signals = {}
    counters = {}
    for signal, (ts, text) in latest.items():
        value = parse_value(signal, text)
        if signal in COUNTER_SIGNALS:
            counters[signal] = (value, ts)
        else:
            signals[signal] = value
    last_ts = max((ts for ts, _ in latest.values()), default=None)
    return Snapshot(interval=interval, signals=signals, counters=counters, last_ts=last_ts)


DEVICE_SIGNALS = (*STATE_SIGNALS, *COUNTER_SIGNALS)


def _latest_device_readings(machine: Machine, before: datetime) -> dict[str, tuple[datetime, str]]:
    """(ts, stored value) of the last reading of each device signal before `before`, in one query.

    Each signal is an index seek on (machine, signal, ts), however long the history.
    """
    def latest(signal: str, column: str) -> Subquery:
        return Subquery(
            Observation.objects.filter(machine=OuterRef("pk"), signal=signal, ts__lt=before)
            .order_by("-ts").values(column)[:1]
        )

    columns = {}
    for signal in DEVICE_SIGNALS:
        columns[f"{signal}__ts"] = latest(signal, "ts")
        columns[f"{signal}__value"] = latest(signal, "value")
    row = Machine.objects.filter(pk=machine.pk).annotate(**columns).values(*columns).get()
    return {
        signal: (row[f"{signal}__ts"], row[f"{signal}__value"])
        for signal in DEVICE_SIGNALS if row[f"{signal}__ts"] is not None
    }


def _resume_point(machine: Machine, earliest_new: datetime) -> tuple[datetime, Snapshot]:
    """The minute to replay from, and the fold's state just before it.

    That is the minute of `earliest_new`, or earlier where resuming there would be wrong. The
    fold resumes from the interval in progress, and a gap found by the first replayed
    observation reaches back to the last device observation. So the interval in progress
    must be one that earlier observations made (not a no-data interval that the end of a gap
    opened) and must have started by that last device observation.
    """
    since = _minute(earliest_new)
    while True:
        row = (
            StateInterval.objects.filter(machine=machine, start__lt=since)
            .select_related("reason").order_by("-start").first()
        )
        latest = _latest_device_readings(machine, since)
        last_device = max((ts for ts, _ in latest.values()), default=None)
        if row is None or (
            row.state != MachineStatus.NO_DATA and (last_device is None or row.start <= last_device)
        ):
            return since, _snapshot(row, latest)
        since = _minute(row.start)


def _rederive(machine: Machine, since: datetime, snapshot: Snapshot, observations: list[Obs]) -> None:
    """Rewrite the machine's derived rows from `since` by replaying `observations` (all of them from there)."""
    result = replay(snapshot, observations, rules_for(machine))

    interval_from = snapshot.interval.start if snapshot.interval else since
    StateInterval.objects.filter(machine=machine, start__gte=interval_from).delete()
    reasons = dict(DowntimeReason.objects.filter(
        code__in={i.reason for i in result.intervals if i.reason}).values_list("code", "pk"))
    StateInterval.objects.bulk_create([
        StateInterval(
            machine=machine, start=i.start, end=i.end, state=i.state,
            reason_id=reasons.get(i.reason), fault_code=i.fault_code,
        )
        for i in result.intervals
    ], batch_size=1000)

    CountBucket.objects.filter(machine=machine, minute__gte=since).delete()
    CountBucket.objects.bulk_create(_buckets(machine, result.counts), batch_size=1000)

    Event.objects.filter(machine=machine, ts__gte=since, kind__in=DERIVED_EVENT_KINDS).delete()
    Event.objects.bulk_create(
        [Event(machine=machine, ts=e.ts, kind=e.kind, detail=e.detail) for e in result.events], batch_size=1000,
    )


def _buckets(machine: Machine, counts) -> list[CountBucket]:
    """Sum part counts into one bucket per minute and running work order."""
    if not counts:
        return []
    from planning.models import WorkOrder

    first, last = counts[0].ts, max(c.ts for c in counts)
    orders = list(
        WorkOrder.objects.on(machine)
        .filter(actual_start__isnull=False, actual_start__lte=last)
        .filter(Q(actual_end__isnull=True) | Q(actual_end__gt=first))
        .order_by("actual_start")
        .values_list("pk", "actual_start", "actual_end", "machine_id")
    )

    def order_at(ts: datetime) -> int | None:
        # A machine's own order wins over a line-wide one.
        found = None
        for pk, start, end, machine_id in orders:
            if start <= ts and (end is None or ts < end):
                if machine_id is not None:
                    return pk
                found = pk
        return found

    sums: dict[tuple[datetime, int | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for count in counts:
        sums[(_minute(count.ts), order_at(count.ts))][count.signal] += count.parts
    return [
        CountBucket(
            machine=machine, minute=minute, work_order_id=order,
            total_count=parts["total_count"], good_count=parts["good_count"],
            reject_count=parts["reject_count"], scrap_count=parts["scrap"],
        )
        for (minute, order), parts in sorted(sums.items(), key=lambda item: item[0][0])
    ]
