"""The projection of observations: state intervals, count buckets and derived events (DESIGN.md §2).

These rows are what the observations alone give. They are rewritten from a point in time by
replaying the stored observations from there (`rederive`); when new observations all come after
the stored ones, the fold carries on from where it stood and `extend` writes what they add (the
interval in progress closed, rows appended, parts added to their minute's bucket): the rows a
replay would write. Parts go to the work order whose run window holds them; when an order's
windows change, `recount` rewrites the count buckets of the time in between (and nothing else).
A replay and a recount drop the hourly rollups of the hours they change (`models.rollups.forget`);
what `extend` writes lies after every rolled-up hour (`rollups.horizon`). Where old observations
were deleted (`monitoring.retention`), the projection before is final: no replay starts before it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from monitoring.bulk import db_time, delete_rows, insert_rows, update_rows
from monitoring.lib.signals import COUNTER_SIGNALS, STATE_SIGNALS, parse_value
from monitoring.lib.states import Interval, MachineRules, Obs, PartCount, Replay, Snapshot, replay
from monitoring.models import (
    DERIVED_EVENT_KINDS,
    CountBucket,
    Event,
    MachineStatus,
    Observation,
    PrunedObservations,
    StateInterval,
    forget,
)
from planning.lib.orders import RunWindow, order_at
from planning.models import DowntimeReason, FaultCode, Machine, WorkOrder, fastest_cycle_times

DEVICE_SIGNALS = (*STATE_SIGNALS, *COUNTER_SIGNALS)
# Where each counted signal's parts go in a count bucket (total, good, reject, scrap).
BUCKET_COLUMN = {"total_count": 0, "good_count": 1, "reject_count": 2, "scrap": 3}


def minute_of(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def rules_for(machine: Machine) -> MachineRules:
    """What the fold needs to know of a machine."""
    return rules_by_machine([machine])[machine.pk]


def rules_by_machine(machines: list[Machine]) -> dict[int, MachineRules]:
    """Per machine id, `rules_for` each of `machines`, in two queries."""
    fastest = fastest_cycle_times(machines)
    fault_reasons: dict[int, dict[int, str]] = {machine.pk: {} for machine in machines}
    for machine_id, code, reason in FaultCode.objects.filter(machine_id__in=list(fault_reasons)).order_by().values_list(
        "machine", "code", "reason__code",
    ):
        fault_reasons[machine_id][code] = reason
    return {
        machine.pk: MachineRules(
            counter_modulus=machine.counter_modulus,
            fastest_cycle_time=fastest[machine.pk],
            expected_interval=machine.expected_interval,
            fault_reasons=fault_reasons[machine.pk],
        )
        for machine in machines
    }


def stored_observations(machine: Machine, since: datetime, until: datetime | None = None) -> list[Obs]:
    """The machine's observations from `since` (before `until`), each superseded one left out."""
    rows = Observation.objects.filter(machine=machine, ts__gte=since)
    if until is not None:
        rows = rows.filter(ts__lt=until)
    latest: dict[tuple[str, datetime], tuple[int, str]] = {}
    for ts, signal, value, revision in rows.values_list("ts", "signal", "value", "revision").iterator(5000):
        kept = latest.get((signal, ts))
        if kept is None or revision > kept[0]:
            latest[(signal, ts)] = (revision, value)
    return [Obs(ts, signal, parse_value(signal, value)) for (signal, ts), (_, value) in latest.items()]


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


def _latest_device_readings(machine: Machine, before: datetime) -> dict[str, tuple[datetime, str]]:
    """(ts, stored value) of the last reading of each device signal before `before`, in one query.

    Each signal is an index seek on (machine, signal, ts), however long the history. Device
    readings are never corrected, so they have one revision.
    """
    quote = connection.ops.quote_name
    table = quote(Observation._meta.db_table)
    one = (f"SELECT * FROM (SELECT id, {quote('signal')}, ts, value FROM {table} "
           f"WHERE machine_id = %s AND {quote('signal')} = %s AND ts < %s ORDER BY ts DESC LIMIT 1) AS s")
    sql = " UNION ALL ".join(f"{one}{i}" for i in range(len(DEVICE_SIGNALS)))
    moment = db_time(before)
    rows = Observation.objects.raw(sql, [p for signal in DEVICE_SIGNALS for p in (machine.pk, signal, moment)])
    return {row.signal: (row.ts, row.value) for row in rows}


def resume_point(machine: Machine, earliest: datetime) -> tuple[datetime, Snapshot]:
    """The minute to replay from, and the fold's state just before it.

    That is the minute of `earliest`, or earlier where resuming there would be wrong. The
    fold resumes from the interval in progress, and a gap found by the first replayed
    observation reaches back to the last device observation. So the interval in progress
    must be one that earlier observations made (not a no-data interval that the end of a gap
    opened) and must have started by that last device observation.
    """
    since = minute_of(earliest)
    kept_from = PrunedObservations.objects.filter(machine=machine).values_list("before", flat=True).first()
    if kept_from is not None and since < kept_from:
        # The observations before were deleted; the last reading of each signal was kept for here.
        since = kept_from
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
        since = minute_of(row.start)


def rederive(machine: Machine, since: datetime, snapshot: Snapshot, observations: list[Obs]) -> Replay:
    """Rewrite the machine's projection from `since` by replaying `observations` (all of them from there).

    Returns the replay (its intervals tell the IT systems of stops: `stops.announce_replayed`).
    """
    # Only an observation older than the kept ones (`resume_point`) lies before `since`: too late to count.
    result = replay(snapshot, [o for o in observations if o.ts >= since], rules_for(machine))
    # A stop the replay ends sooner or later may turn from a small stop into an unplanned one (or back)
    # up to a micro-stop threshold before `since`; a stop that began earlier had lasted long enough.
    forget([machine.pk], since - timedelta(seconds=machine.micro_stop_threshold))

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
    return result


def recount(machine: Machine, start: datetime, end: datetime) -> None:
    """Rewrite the count buckets of [start, end) (whole minutes) from the observations: orders' parts anew.

    Call inside a transaction that holds the machine's row lock.
    """
    until = minute_of(end) + (timedelta(minutes=1) if end != minute_of(end) else timedelta())
    since, snapshot = resume_point(machine, start)
    observations = stored_observations(machine, since, until)
    result = replay(snapshot, observations, rules_for(machine))
    forget([machine.pk], since, until)
    CountBucket.objects.filter(machine=machine, minute__gte=since, minute__lt=until).delete()
    CountBucket.objects.bulk_create(_buckets(machine, result.counts), batch_size=1000)


def _buckets(machine: Machine, counts: list[PartCount]) -> list[CountBucket]:
    """Sum part counts into one bucket per minute and work order (the one whose run window holds the count)."""
    if not counts:
        return []
    first, last = min(c.ts for c in counts), max(c.ts for c in counts)
    windows = WorkOrder.objects.run_windows([machine], first, last)[machine.pk]
    return [
        CountBucket(machine=machine, minute=minute, work_order_id=order, total_count=parts[0], good_count=parts[1],
                    reject_count=parts[2], scrap_count=parts[3])
        for (minute, order), parts in sorted(_part_sums(counts, windows).items(), key=lambda item: item[0][0])
    ]


def _part_sums(counts: list[PartCount], windows: list[RunWindow]) -> dict[tuple[datetime, int | None], list[int]]:
    """Parts per (minute, work order running then): total, good, reject and scrap counts."""
    sums: dict[tuple[datetime, int | None], list[int]] = {}
    minute = next_minute = None
    for count in counts:
        if minute is None or not minute <= count.ts < next_minute:  # counts mostly come in time order
            minute = minute_of(count.ts)
            next_minute = minute + timedelta(minutes=1)
        key = (minute, order_at(windows, count.ts) if windows else None)
        parts = sums.get(key)
        if parts is None:
            parts = sums[key] = [0, 0, 0, 0]
        parts[BUCKET_COLUMN[count.signal]] += count.parts
    return sums


# --- in-order appends: the projection carried on past its end, for many machines at once ------------

@dataclass(frozen=True)
class Extension:
    """A machine's projection carried on: observations after its last stored one folded onto its kept fold."""

    machine: Machine
    open_interval: Interval | None
    """The interval in progress as stored (the kept fold's), which the fold may close or replace."""
    result: Replay


def extend(extensions: list[Extension]) -> None:
    """Write what in-order observations add to these machines' projections: a few statements in all.

    The rows are those `rederive` would leave: the interval in progress closed or replaced, new
    intervals, parts added to their minute's bucket (or new buckets), new events. Call holding the
    machines' locks.
    """
    _extend_intervals(extensions)
    _extend_buckets([extension for extension in extensions if extension.result.counts])
    insert_rows(Event, ("machine_id", "ts", "kind", "detail"), [
        (extension.machine.pk, event.ts, event.kind, json.dumps(event.detail))
        for extension in extensions for event in extension.result.events
    ])


def _extend_intervals(extensions: list[Extension]) -> None:
    closed, replaced, new = [], [], []
    for extension in extensions:
        intervals, stored = extension.result.intervals, extension.open_interval
        if stored is not None:
            first = intervals[0]
            if (first.start, first.state, first.reason, first.fault_code) == (
                stored.start, stored.state, stored.reason, stored.fault_code,
            ):
                if first.end is not None:
                    closed.append((extension.machine.pk, first.start, first.end))
                intervals = intervals[1:]
            else:
                replaced.append((extension.machine.pk, stored.start))
        new += [(extension.machine.pk, interval) for interval in intervals]
    delete_rows(StateInterval, ("machine_id", "start"), ("bigint", "timestamptz"), replaced)
    update_rows(StateInterval, f"{connection.ops.quote_name('end')} = {{closed_at}}", ("machine_id", "start"),
                ("closed_at",), ("bigint", "timestamptz", "timestamptz"), closed)
    codes = {interval.reason for _, interval in new if interval.reason}
    reasons = dict(DowntimeReason.objects.filter(code__in=codes).values_list("code", "pk")) if codes else {}
    insert_rows(StateInterval, ("machine_id", "start", "end", "state", "reason_id", "fault_code"), [
        (machine_id, i.start, i.end, i.state, reasons.get(i.reason), i.fault_code) for machine_id, i in new
    ])


def _extend_buckets(extensions: list[Extension]) -> None:
    """Add the parts to the buckets of their minute and order, or make new ones."""
    if not extensions:
        return
    machines = [extension.machine for extension in extensions]
    first = min(extension.result.counts[0].ts for extension in extensions)
    last = max(extension.result.counts[-1].ts for extension in extensions)
    windows = WorkOrder.objects.run_windows(machines, first, last)
    sums = {
        (extension.machine.pk, minute, order): parts
        for extension in extensions
        for (minute, order), parts in _part_sums(extension.result.counts, windows[extension.machine.pk]).items()
    }
    stored = {
        (machine_id, minute, order): pk for pk, machine_id, minute, order in CountBucket.objects.filter(
            machine_id__in=[machine.pk for machine in machines], minute__in={minute for _, minute, _ in sums},
        ).order_by().values_list("pk", "machine_id", "minute", "work_order_id")
    }
    update_rows(
        CountBucket, "total_count = total_count + {total}, good_count = good_count + {good}, "
                     "reject_count = reject_count + {reject}, scrap_count = scrap_count + {scrap}",
        ("id",), ("total", "good", "reject", "scrap"), ("bigint",) * 5,
        [(stored[key], *parts) for key, parts in sums.items() if key in stored],
    )
    insert_rows(
        CountBucket, ("machine_id", "minute", "work_order_id", "total_count", "good_count", "reject_count",
                      "scrap_count"),
        [(*key, *parts) for key, parts in sums.items() if key not in stored],
    )
