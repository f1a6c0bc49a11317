"""OEE of one line over a year of history, against the bare queries that read the same rows.

Usage: .venv/bin/python bench/oee_year.py [--stops-per-day 40] [--repeat 5]

Builds a year of one constraint machine's history in a fresh database (three shifts a day,
stops through the day, a count bucket for every minute), then times `kpi.line_result` for
the year against the bare work it cannot avoid: fetching the same state intervals and
summing the same count buckets with plain queries. Prints the median of --repeat runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, time as clock, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdb import bench_database, bench_line  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stops-per-day", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with bench_database():
        from django.db import connection
        from django.db.models import Sum

        from monitoring import kpi
        from monitoring.models import CountBucket, StateInterval
        from planning.models import Break, Machine, Shift, ShiftPattern

        line = bench_line("Europe/Berlin")
        machine = Machine.objects.create(line=line, code="M", name="M", default_ideal_cycle_time=1.0)
        line.constraint_machine = machine
        line.save()
        pattern = ShiftPattern.objects.create(line=line, name="3 shifts")
        for weekday in range(7):
            for name, start, end, brk in (("Early", 6, 14, 10), ("Late", 14, 22, 18), ("Night", 22, 6, 2)):
                shift = Shift.objects.create(pattern=pattern, name=name, weekday=weekday, start=clock(start),
                                             end=clock(end))
                Break.objects.create(shift=shift, start=clock(brk), end=clock(brk, 30))

        rng = random.Random(1)
        year_start = datetime(2025, 1, 1, tzinfo=UTC)
        year_end = datetime(2026, 1, 1, tzinfo=UTC)
        intervals, cursor, running = [], year_start, True
        mean_gap = 86400 / (args.stops_per_day * 2)
        while cursor < year_end:
            length = timedelta(seconds=rng.expovariate(1 / mean_gap) if running else rng.uniform(20, 900))
            intervals.append(StateInterval(machine=machine, start=cursor, end=min(cursor + length, year_end),
                                           state="running" if running else "stopped"))
            cursor += length
            running = not running
        StateInterval.objects.bulk_create(intervals, batch_size=5000)
        buckets = []
        minute = year_start
        while minute < year_end:
            buckets.append(CountBucket(machine=machine, minute=minute, total_count=50, reject_count=rng.random() < 0.05))
            minute += timedelta(minutes=1)
            if len(buckets) == 20000:
                CountBucket.objects.bulk_create(buckets)
                buckets = []
        CountBucket.objects.bulk_create(buckets)

        def bare() -> None:
            list(StateInterval.objects.filter(machine=machine, start__lt=year_end, end__gt=year_start)
                 .values_list("start", "end", "state", "reason_id"))
            CountBucket.objects.filter(machine=machine, minute__gte=year_start, minute__lt=year_end).aggregate(
                Sum("total_count"), Sum("reject_count"))

        def ours() -> float | None:
            return kpi.line_result(line, year_start, year_end, now=year_end).figures.oee

        timings = {"bare": [], "ours": []}
        for _ in range(args.repeat):
            for name, work in (("bare", bare), ("ours", ours)):
                started = time.perf_counter()
                work()
                timings[name].append(time.perf_counter() - started)
        bare_s, ours_s = statistics.median(timings["bare"]), statistics.median(timings["ours"])
        print(f"a year of one line: {len(intervals):,} state intervals, {CountBucket.objects.count():,} count buckets"
              f" on {connection.vendor}")
        print(f"bare queries reading the same rows: {bare_s * 1000:,.0f} ms")
        print(f"kpi.line_result for the year:       {ours_s * 1000:,.0f} ms (OEE {ours():.3f})")
        print(f"ratio: {bare_s / ours_s:.2f} of the bare queries' speed (target ≤ 300 ms)")



if __name__ == "__main__":
    main()
