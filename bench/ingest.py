"""Observations ingested per second through record_observations, against a bare bulk insert.

Usage: .venv/bin/python bench/ingest.py [--machines 10] [--hours 2] [--batch 5000]

Both sides write the same rows to a fresh database (a temporary SQLite file, or
$DATABASE_URL when set to PostgreSQL — the bench creates and drops its own tables there
through the test-database machinery). The bare side is the database driver's executemany
INSERT of the same observation rows, one transaction per batch: the limit the pipeline
cannot beat, since it stores the same rows and then derives intervals, buckets and events.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdb import bench_database, bench_line  # noqa: E402


def observations(machines: list[str], hours: float):
    """A realistic stream: every machine reports both counters each second, state every few minutes."""
    from monitoring.pipeline import ObservationIn

    start = datetime(2026, 1, 12, 6, tzinfo=UTC)
    rows = []
    for index, code in enumerate(machines):
        total = reject = 0
        for second in range(int(hours * 3600)):
            ts = start + timedelta(seconds=second)
            if second % 300 == 0:
                rows.append(ObservationIn(code, ts, "running", (second // 300 + index) % 7 != 0))
            total = (total + 1) % 65536
            if second % 97 == 0:
                reject += 1
            rows.append(ObservationIn(code, ts, "total_count", total))
            rows.append(ObservationIn(code, ts, "reject_count", reject))
    rows.sort(key=lambda o: o.ts)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=10)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()

    with bench_database():
        from django.db import connection, transaction

        from monitoring.models import Observation
        from monitoring.pipeline import record_observations
        from planning.models import Machine

        line = bench_line()
        codes = [f"M{i:03d}" for i in range(args.machines)]
        machines = {c: Machine.objects.create(line=line, code=c, name=c, default_ideal_cycle_time=0.9,
                                              expected_interval=10) for c in codes}
        stream = observations(codes, args.hours)

        ops, table = connection.ops, connection.ops.quote_name(Observation._meta.db_table)
        started = time.perf_counter()
        for i in range(0, len(stream), args.batch):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {table} (machine_id, ts, signal, value, revision) VALUES (%s, %s, %s, %s, 0)",
                    [(machines[o.machine_code].pk, ops.adapt_datetimefield_value(o.ts), o.signal, str(o.value))
                     for o in stream[i:i + args.batch]],
                )
        bare = len(stream) / (time.perf_counter() - started)
        Observation.objects.all().delete()

        started = time.perf_counter()
        for i in range(0, len(stream), args.batch):
            record_observations(stream[i:i + args.batch])
        ours = len(stream) / (time.perf_counter() - started)

        vendor = connection.vendor
        print(f"observations: {len(stream):,} ({args.machines} machines × {args.hours} h, batches of {args.batch})"
              f" on {vendor}")
        print(f"bare executemany INSERT of the same rows: {bare:,.0f} observations/s")
        print(f"record_observations (store + derive):    {ours:,.0f} observations/s")
        print(f"ratio: {ours / bare:.2f} of the bare insert (target ≥ 20,000 observations/s)")



if __name__ == "__main__":
    main()
