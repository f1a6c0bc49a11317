"""OEE of one line over a year and over a decade of history, against the bare queries that read the same rows.

Usage: .venv/bin/python bench/oee_year.py [--stops-per-day 40] [--repeat 5] [--years 10] [--postgres]

Builds a decade of one constraint machine's history in a fresh database (three shifts a day
with breaks, stops through the day, a count bucket for every minute): SQLite by default,
PostgreSQL with --postgres or $DATABASE_URL. Then times `kpi.line_result` for the last year
and for the decade: cold (the first read, which rolls up every hour it reads) and warm (the
median of --repeat reads), and the same period read directly, hour rollups aside (what a read
cost before them). Each is set against the bare work every read of the raw rows cannot avoid:
fetching the period's state intervals and summing its count buckets with plain queries.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdb import bench_database, bench_line  # noqa: E402

POSTGRES = "postgres://postgres@127.0.0.1:5432/oee_rollups"


def build_history(machine, start: datetime, end: datetime, stops_per_day: int) -> int:
    """State intervals and a count bucket per minute over [start, end); return how many intervals."""
    from monitoring.bulk import insert_rows
    from monitoring.models import CountBucket, Observation, StateInterval

    rng = random.Random(1)
    intervals, cursor, running, made = [], start, True, 0
    mean_gap = 86400 / (stops_per_day * 2)
    while cursor < end:
        length = timedelta(seconds=rng.expovariate(1 / mean_gap) if running else rng.uniform(20, 900))
        intervals.append((machine.pk, cursor, min(cursor + length, end), "running" if running else "stopped"))
        cursor += length
        running = not running
        if len(intervals) == 50000 or cursor >= end:
            insert_rows(StateInterval, ("machine_id", "start", "end", "state"), intervals)
            made, intervals = made + len(intervals), []
    buckets, minute = [], start
    while minute < end:
        buckets.append((machine.pk, minute, 50, 0, int(rng.random() < 0.05), 0))
        minute += timedelta(minutes=1)
        if len(buckets) == 50000 or minute >= end:
            insert_rows(CountBucket, ("machine_id", "minute", "total_count", "good_count", "reject_count",
                                      "scrap_count"), buckets)
            buckets = []
    # The device's last reading, just after the history: every hour of it has closed.
    Observation.objects.create(machine=machine, ts=end + timedelta(minutes=10), signal="running", value="true")
    return made


def timed(work, repeat: int = 1) -> tuple[float, object]:
    """(median seconds of `repeat` runs, the last result)."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stops-per-day", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--years", type=int, default=10, help="length of the history: the decade read")
    parser.add_argument("--postgres", action="store_true", help=f"on $DATABASE_URL, else {POSTGRES}")
    args = parser.parse_args()
    if args.postgres:
        os.environ.setdefault("DATABASE_URL", POSTGRES)
    with bench_database():
        from django.db import connection
        from django.db.models import Sum

        from monitoring import kpi
        from monitoring.models import CountBucket, MachineHour, OrderHour, StateInterval
        from planning.models import Break, Machine, Shift, ShiftPattern

        end = datetime(2026, 1, 1, tzinfo=UTC)
        year = (datetime(2025, 1, 1, tzinfo=UTC), end)
        decade = (datetime(end.year - args.years, 1, 1, tzinfo=UTC), end)
        line = bench_line("Europe/Berlin")
        machine = Machine.objects.create(line=line, code="M", name="M", default_ideal_cycle_time=1.0,
                                         in_service=decade[0])
        line.constraint_machine = machine
        line.save()
        pattern = ShiftPattern.objects.create(line=line, name="3 shifts")
        for weekday in range(7):
            for name, start, stop, brk in (("Early", 6, 14, 10), ("Late", 14, 22, 18), ("Night", 22, 6, 2)):
                shift = Shift.objects.create(pattern=pattern, name=name, weekday=weekday, start=clock(start),
                                             end=clock(stop))
                Break.objects.create(shift=shift, start=clock(brk), end=clock(brk, 30))
        started = time.perf_counter()
        intervals = build_history(machine, *decade, args.stops_per_day)
        print(f"{args.years} years of one line on {connection.vendor}: {intervals:,} state intervals, "
              f"{CountBucket.objects.count():,} count buckets (built in {time.perf_counter() - started:,.0f} s)")

        def bare(period):
            def work() -> None:
                start, stop = period
                list(StateInterval.objects.filter(machine=machine, start__lt=stop, end__gt=start)
                     .values_list("start", "end", "state", "reason_id"))
                CountBucket.objects.filter(machine=machine, minute__gte=start, minute__lt=stop).aggregate(
                    Sum("total_count"), Sum("reject_count"))
            return work

        def ours(period):
            return lambda: kpi.line_result(line, *period, now=end)

        def forget_rollups() -> None:
            MachineHour.objects.all().delete()
            OrderHour.objects.all().delete()

        figures = {}
        for name, period in (("year", year), ("decade", decade)):
            forget_rollups()
            cold, result = timed(ours(period))
            warm, _ = timed(ours(period), args.repeat)
            direct_s, direct = timed(lambda: kpi.MachinePeriod(machine, *period, end).result())  # noqa: B023
            bare_s, _ = timed(bare(period), args.repeat)
            figures[name] = (warm, bare_s)
            assert abs(result.figures.oee - direct.figures.oee) < 1e-9, (result.figures.oee, direct.figures.oee)
            print(f"a {name}: kpi.line_result cold {cold * 1000:,.0f} ms (rolls up {MachineHour.objects.count():,} "
                  f"hours), warm {warm * 1000:,.0f} ms; read directly {direct_s * 1000:,.0f} ms; bare queries "
                  f"{bare_s * 1000:,.0f} ms; OEE {result.figures.oee:.4f} (directly {direct.figures.oee:.4f})")
        (year_s, bare_s), (decade_s, _) = figures["year"], figures["decade"]
        print(f"oee of a line over a year: {year_s * 1000:.0f} ms (target 100 ms; decade {decade_s * 1000:.0f} ms, "
              f"target 300 ms; bare {bare_s * 1000:.0f} ms; ratio {year_s / bare_s:.2f})")


if __name__ == "__main__":
    main()
