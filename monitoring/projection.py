"""The projection of observations: state intervals, count buckets and derived events (DESIGN.md §2).

These rows are never edited: they are rewritten from a point in time by replaying the stored
observations from there (`rederive`), so they are always what the observations alone give.
Parts go to the work order whose run window holds them; when an order's windows change,
`recount` rewrites the count buckets of the time in between (and nothing else).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import OuterRef, Subquery

from monitoring.lib.signals import COUNTER_SIGNALS, STATE_SIGNALS, parse_value
from monitoring.lib.states import Interval, MachineRules, Obs, PartCount, Replay, Snapshot, replay
from monitoring.models import DERIVED_EVENT_KINDS, CountBucket, Event, MachineStatus, Observation, StateInterval
from planning.lib.orders import order_at
from planning.models import DowntimeReason, Machine, WorkOrder, fastest_cycle_time

DEVICE_SIGNALS = (*STATE_SIGNALS, *COUNTER_SIGNALS)


def minute_of(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def rules_for(machine: Machine) -> MachineRules:
    """What the fold needs to know of a machine (its fault codes loaded: `prefetch_related("fault_codes__reason")`)."""
    return MachineRules(
        counter_modulus=machine.counter_modulus,
        fastest_cycle_time=fastest_cycle_time(machine),
        expected_interval=machine.expected_interval,
        fault_reasons={fc.code: fc.reason.code for fc in machine.fault_codes.all()},
    )


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


def resume_point(machine: Machine, earliest: datetime) -> tuple[datetime, Snapshot]:
    """The minute to replay from, and the fold's state just before it.

    That is the minute of `earliest`, or earlier where resuming there would be wrong. The
    fold resumes from the interval in progress, and a gap found by the first replayed
    observation reaches back to the last device observation. So the interval in progress
    must be one that earlier observations made (not a no-data interval that the end of a gap
    opened) and must have started by that last device observation.
    """
    since = minute_of(earliest)
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
    return result


def recount(machine: Machine, start: datetime, end: datetime) -> None:
    """Rewrite the count buckets of [start, end) (whole minutes) from the observations: orders' parts anew.

    Call inside a transaction that holds the machine's row lock.
    """
    until = minute_of(end) + (timedelta(minutes=1) if end != minute_of(end) else timedelta())
    since, snapshot = resume_point(machine, start)
    observations = stored_observations(machine, since, until)
    result = replay(snapshot, observations, rules_for(machine))
    CountBucket.objects.filter(machine=machine, minute__gte=since, minute__lt=until).delete()
    CountBucket.objects.bulk_create(_buckets(machine, result.counts), batch_size=1000)


def _buckets(machine: Machine, counts: list[PartCount]) -> list[CountBucket]:
    """Sum part counts into one bucket per minute and work order (the one whose run window holds the count)."""
    if not counts:
        return []
    first, last = min(c.ts for c in counts), max(c.ts for c in counts)
    windows = WorkOrder.objects.run_windows([machine], first, last)[machine.pk]
    sums: dict[tuple[datetime, int | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for count in counts:
        sums[(minute_of(count.ts), order_at(windows, count.ts))][count.signal] += count.parts
    return [
        CountBucket(
            machine=machine, minute=minute, work_order_id=order,
            total_count=parts["total_count"], good_count=parts["good_count"],
            reject_count=parts["reject_count"], scrap_count=parts["scrap"],
        )
        for (minute, order), parts in sorted(sums.items(), key=lambda item: item[0][0])
    ]
