"""Hourly rollups of each machine's OEE (DESIGN.md §2, §9): a long period read in a few queries.

A rolled-up hour is the `Tally` of `MachinePeriod` over that hour: its times (`MachineHour`),
and its parts per work order, all and those in startup windows, summed raw (`OrderHour`). A long
period's tally is the sum of its whole hours' rollups and the tallies of the stretches at its
edges, read directly; the counts are resolved per order only then, over the whole period. So a
long period's figures are the ones `MachinePeriod.result()` gives for it (tests/test_rollups.py).

When an hour may be rolled up (`horizon`): once it has ended, at least the machine's micro-stop
threshold before its last device observation (and before now). The projection up to the last
observation is fixed for anything appended after it, and a stop that crosses the hour's end and
still goes on has lasted the threshold already: it stays an unplanned stop however it goes on.
So new data never changes a rolled-up hour; what else does drops it (`models.rollups.forget`):
a replay of the projection from a minute (`projection.rederive`, `projection.recount`), and
changes of configuration (`monitoring.rollup_signals`).

Rollups are written when a long period is read and misses some (`fill`), and by the beat task
`monitoring.tasks.roll_up` for the hours closed since (`roll_up`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import fields
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import CharField, Count, Min, QuerySet, Sum
from django.db.models.functions import Cast, Substr, TruncHour

from monitoring.bulk import insert_rows
from monitoring.lib import oee
from monitoring.models import HOUR, CountBucket, MachineHour, OrderHour, StateInterval, hour_of
from monitoring.period import (
    COUNT_NAMES,
    Counts,
    MachinePeriod,
    OrderCounts,
    Tally,
    last_device_observation,
    startup_buckets,
)
from planning.models import Machine
from planning.schedule import line_calendar

# A period at least this long is read from rollups: a shorter one costs fewer queries read directly.
LONG_PERIOD = timedelta(hours=12)
# Missing hours are rolled up this many at a time, each batch in one short transaction.
FILL_BATCH = timedelta(days=31)

TIME_FIELDS = tuple(f.name for f in fields(oee.TimeBreakdown))
STARTUP_FIELDS = ("startup_total", "startup_good", "startup_reject", "startup_scrap")


def next_hour(moment: datetime) -> datetime:
    """The first hour boundary at or after `moment`."""
    hour = hour_of(moment)
    return hour if hour == moment else hour + HOUR


def horizon(machine: Machine, now: datetime) -> datetime | None:
    """The end of the machine's last hour that may be rolled up; None before it sent anything."""
    last = last_device_observation(machine)
    if last is None:
        return None
    return hour_of(min(now, last) - timedelta(seconds=machine.micro_stop_threshold))


def is_long(period: MachinePeriod) -> bool:
    return period.end - period.start >= LONG_PERIOD


def whole_hours(period: MachinePeriod) -> tuple[datetime, datetime] | None:
    """[first, last): the hours of a long period its rollups stand for; None for a short period.

    They begin a startup window after the period's start: a period reads the calendar from its
    start on, so the startup windows just after its start are its own. They end at the horizon.
    """
    if period.empty or not is_long(period):
        return None
    machine = period.machine
    first = next_hour(period.start + timedelta(seconds=machine.startup_window))
    until = horizon(machine, period.now)
    if until is None:
        return None
    last = min(hour_of(period.end), until)
    return (first, last) if first < last else None


def tally(period: MachinePeriod) -> Tally:
    """The period's tally: its whole hours from their rollups (written first where missing), its edges
    read directly. Edges read the calendar the whole period reads, so their startup windows are its."""
    hours = whole_hours(period)
    if hours is None:
        return period.tally()
    first, last = hours
    machine = period.machine
    rolled_up = stored(machine, first, last)
    if rolled_up is None:
        fill(machine, first, last, period.now)
        rolled_up = stored(machine, first, last)
    if rolled_up is None:  # a replay dropped some meanwhile: read it all
        return period.tally()
    calendar = period.given_calendar
    lead = MachinePeriod(machine, period.start, first, period.now, calendar)
    trail = MachinePeriod(machine, last, period.end, period.now, calendar or line_calendar(
        machine.line, last - timedelta(seconds=machine.startup_window), period.end))
    return lead.tally() + rolled_up + trail.tally()


def stored(machine: Machine, first: datetime, last: datetime) -> Tally | None:
    """The sum of the rollups of the machine's hours in [first, last); None unless all are there."""
    sums = MachineHour.objects.of(machine, first, last).aggregate(
        hours=Count("pk"), **{name: Sum(name) for name in TIME_FIELDS})
    if sums["hours"] != (last - first) // HOUR:
        return None
    times = oee.TimeBreakdown(**{name: sums[name] or 0.0 for name in TIME_FIELDS})
    counts: OrderCounts = {}
    startup: OrderCounts = {}
    for row in OrderHour.objects.of(machine, first, last).values("work_order_id").annotate(
            **{name: Sum(name) for name in (*COUNT_NAMES, *STARTUP_FIELDS)}):
        order = row["work_order_id"]
        counts[order] = Counts(*(row[name] for name in COUNT_NAMES))
        startup[order] = Counts(*(row[name] for name in STARTUP_FIELDS))
    return Tally(times, counts, startup)


def fill(machine: Machine, first: datetime, last: datetime, now: datetime) -> int:
    """Roll up the machine's missing hours in [first, last) up to its horizon; return how many were written.

    Each batch holds the machine's lock (`pipeline.lock_machine`) while it reads and writes, and
    reads the machine's configuration under it: what changes the projection or the configuration
    drops rollups under the same lock, so no rollup of an old state outlives the change.
    """
    # The pipeline's lock; imported here because the pipeline reaches the figures (live, stops) itself.
    from monitoring.pipeline import lock_machine

    if MachineHour.objects.of(machine, first, last).count() == (last - first) // HOUR:
        return 0
    written = 0
    batch_start = first
    while batch_start < last:
        batch_end = min(batch_start + FILL_BATCH, last)
        with transaction.atomic():
            lock_machine(machine)
            current = Machine.objects.with_plant().get(pk=machine.pk)
            until = horizon(current, now)
            if until is None or until <= batch_start:
                break
            have = set(MachineHour.objects.of(machine, batch_start, min(batch_end, until))
                       .values_list("hour", flat=True))
            for start, end in _missing(batch_start, min(batch_end, until), have):
                written += _store(current, start, end, now)
        batch_start = batch_end
    return written


def _missing(first: datetime, last: datetime, have: set[datetime]) -> list[tuple[datetime, datetime]]:
    """The runs of hours in [first, last) that are not in `have`."""
    runs: list[tuple[datetime, datetime]] = []
    hour = first
    while hour < last:
        if hour not in have:
            if runs and runs[-1][1] == hour:
                runs[-1] = (runs[-1][0], hour + HOUR)
            else:
                runs.append((hour, hour + HOUR))
        hour += HOUR
    return runs


def _store(machine: Machine, first: datetime, last: datetime, now: datetime) -> int:
    """Write the rollups of the machine's hours in [first, last); return how many hours."""
    hours = hourly_tallies(machine, first, last, now)
    insert_rows(MachineHour, ("machine_id", "hour", *TIME_FIELDS), [
        (machine.pk, hour, *(getattr(t.times, name) for name in TIME_FIELDS)) for hour, t in hours
    ])
    insert_rows(OrderHour, ("machine_id", "hour", "work_order_id", *COUNT_NAMES, *STARTUP_FIELDS), [
        (machine.pk, hour, order, *_values(t.counts.get(order)), *_values(t.startup.get(order)))
        for hour, t in hours for order in t.counts.keys() | t.startup.keys()
    ])
    return len(hours)


def _values(counts: Counts | None) -> tuple[int, int, int, int]:
    counts = counts or Counts()
    return counts.total, counts.good, counts.reject, counts.scrap


def hourly_tallies(machine: Machine, first: datetime, last: datetime, now: datetime) -> list[tuple[datetime, Tally]]:
    """The tally of each hour in [first, last), each what `MachinePeriod` over that hour alone gives.

    One `MachinePeriod` over the whole stretch, cut at the hours (`oee.split`); its calendar is read
    from a startup window before, for the startup windows that reach into its first hour.
    """
    calendar = line_calendar(machine.line, first - timedelta(seconds=machine.startup_window), last)
    period = MachinePeriod(machine, first, last, now, calendar)
    count = (last - first) // HOUR
    starts = [first + i * HOUR for i in range(count)]
    pieces = oee.split(period.classification, [(first + i * HOUR).timestamp() for i in range(count + 1)])

    buckets = CountBucket.objects.filter(machine=machine, minute__gte=first, minute__lt=last)
    counts: dict[datetime, OrderCounts] = defaultdict(dict)
    for hour, order, *values in _by_hour(buckets).values_list(
            "hour", "work_order_id", Sum("total_count"), Sum("good_count"), Sum("reject_count"), Sum("scrap_count")):
        counts[_hour(hour)][order] = Counts(*values)
    startup: dict[datetime, OrderCounts] = defaultdict(dict)
    windows = period.startup_spans()
    if windows and counts:
        for minute, order, values in startup_buckets(machine, buckets, windows):
            of_hour = startup[hour_of(minute)]
            of_hour[order] = of_hour[order] + values if order in of_hour else values
    return [(hour, Tally(oee.time_breakdown(piece), counts.get(hour, {}), startup.get(hour, {})))
            for hour, piece in zip(starts, pieces)]


def _by_hour(buckets: QuerySet[CountBucket]) -> QuerySet[CountBucket]:
    """The buckets grouped by hour and work order: `hour` is a key of the hour (see `_hour`)."""
    if connection.vendor == "sqlite":
        # SQLite stores a time as its ISO text; Django's TruncHour calls back into Python for each row.
        hour = Substr(Cast("minute", CharField()), 1, 13)
    else:
        hour = TruncHour("minute", tzinfo=UTC)
    return buckets.annotate(hour=hour).order_by().values("hour", "work_order_id")


def _hour(key: datetime | str) -> datetime:
    return key if isinstance(key, datetime) else datetime.strptime(key, "%Y-%m-%d %H").replace(tzinfo=UTC)


def roll_up(machine: Machine, now: datetime) -> int:
    """Roll up the machine's hours closed since its newest rollup (from the start of its history);
    return how many were written. Hours dropped further back are written again when read."""
    until = horizon(machine, now)
    if until is None:
        return 0
    newest = MachineHour.objects.filter(machine=machine).order_by("-hour").values_list("hour", flat=True).first()
    first = newest + HOUR if newest else history_start(machine)
    return fill(machine, first, until, now) if first is not None and first < until else 0


def history_start(machine: Machine) -> datetime | None:
    """The hour the machine's history begins: its in-service time, first observation, interval or count."""
    moments = [
        machine.in_service, machine.first_observation,
        StateInterval.objects.filter(machine=machine).aggregate(first=Min("start"))["first"],
        CountBucket.objects.filter(machine=machine).aggregate(first=Min("minute"))["first"],
    ]
    moments = [moment for moment in moments if moment is not None]
    return hour_of(min(moments)) if moments else None
