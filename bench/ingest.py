"""Observations ingested per second through record_observations, against the bare driver storing the same rows.

Usage: .venv/bin/python bench/ingest.py [--shapes import,collectors,one-machine] [--repeat 1]

Each shape stores a stream of readings (every machine counts a part each second, rejects now and
then, and changes state every few minutes) on machines of its own, in the batches its source
hands in:

- import:      10 machines × 1 h in time order, batches of 5,000 (an import, the ingest API);
- collectors:  500 machines, one reading each per batch (a collector's round), 60 rounds;
- one-machine: 1 machine × 10 h in one batch.

The bare side writes the same observation rows with the same batches, one transaction each: the
driver's executemany INSERT, and on PostgreSQL also COPY. It is the limit the pipeline cannot
beat: the pipeline stores the same rows and then derives intervals, buckets and events. The
database is a temporary SQLite file, or $DATABASE_URL's server (the bench creates and drops its
own database there through the test-database machinery).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdb import bench_database, bench_line  # noqa: E402

START = datetime(2026, 1, 12, 6, tzinfo=UTC)
TARGETS = {"sqlite": 50_000, "postgresql": 100_000}
COPY_RATIO_TARGET = 0.75


def rounds(codes: list[str], seconds: int) -> list[list]:
    """Per second, what the machines report: a part counted, a reject every 97 s, state every 300 s."""
    from monitoring.pipeline import ObservationIn

    found = []
    for second in range(seconds):
        ts = START + timedelta(seconds=second)
        readings = []
        for index, code in enumerate(codes):
            if second % 300 == 0:
                readings.append(ObservationIn(code, ts, "running", (second // 300 + index) % 7 != 0))
            readings.append(ObservationIn(code, ts, "total_count", (second + 1) % 65536))
            if second % 97 == 0:
                readings.append(ObservationIn(code, ts, "reject_count", second // 97))
        found.append(readings)
    return found


def shape_batches(shape: str) -> tuple[str, int, list[list]]:
    """(description, machines, batches) of a shape."""
    if shape == "import":
        codes = [f"I{i:03d}" for i in range(10)]
        flat = [o for batch in rounds(codes, 3600) for o in batch]
        return "10 machines × 1 h, batches of 5,000", len(codes), [flat[i:i + 5000] for i in range(0, len(flat), 5000)]
    if shape == "collectors":
        codes = [f"C{i:03d}" for i in range(500)]
        return "500 machines, one reading each per batch, 60 batches", len(codes), rounds(codes, 60)
    if shape == "one-machine":
        flat = [o for batch in rounds(["S000"], 36000) for o in batch]
        return "1 machine × 10 h in one batch", 1, [flat]
    raise SystemExit(f"unknown shape {shape!r}: import, collectors or one-machine")


def timed(batches: list[list], store: Callable[[list], None]) -> float:
    """Observations per second storing `batches` one after the other."""
    started = time.perf_counter()
    for batch in batches:
        store(batch)
    return sum(len(batch) for batch in batches) / (time.perf_counter() - started)


def clear() -> None:
    """Empty the history and its projection (between runs: each side writes into empty tables)."""
    from django.db import connection

    from monitoring.models import CountBucket, Event, Observation, StateInterval
    from planning.models import OutboxEvent, WebhookDelivery

    tables = [model._meta.db_table for model in (WebhookDelivery, OutboxEvent, Observation, StateInterval,
                                                 CountBucket, Event)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
            cursor.execute(f"VACUUM ANALYZE {', '.join(tables)}")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
    try:
        from monitoring import folds
    except ImportError:  # the pipeline before it kept folds (measuring where this started from)
        return
    folds.forget_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="import,collectors,one-machine")
    parser.add_argument("--repeat", type=int, default=1, help="Runs of each side per shape; the best counts.")
    parser.add_argument("--live", action="store_true",
                        help="Publish live messages after each commit, as the ingest API and the import command do "
                             "(default: storing only, no screens)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)

    with bench_database():
        from django.db import connection, transaction

        from monitoring.models import Observation
        from monitoring.pipeline import record_observations
        from planning.models import Machine

        if not args.live:
            from monitoring import live

            live.broadcast_machines = lambda machine_ids: None
        vendor = connection.vendor
        line = bench_line()
        ops, table = connection.ops, connection.ops.quote_name(Observation._meta.db_table)
        columns = "machine_id, ts, signal, value, revision"

        def executemany(batch: list, ids: dict[str, int]) -> None:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, 0)",
                    [(ids[o.machine_code], ops.adapt_datetimefield_value(o.ts), o.signal, str(o.value))
                     for o in batch],
                )

        def copy(batch: list, ids: dict[str, int]) -> None:
            with transaction.atomic(), connection.cursor() as cursor:
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as writer:
                    for o in batch:
                        writer.write_row((ids[o.machine_code], o.ts, o.signal, str(o.value), 0))

        print(f"observations ingested per second on {vendor}, against the bare driver storing the same rows "
              f"(live screens {'published after each commit' if args.live else 'off'})")
        summary = None
        for shape in args.shapes.split(","):
            description, count, batches = shape_batches(shape)
            ids = {}
            for o in batches[0]:
                if o.machine_code not in ids:
                    ids[o.machine_code] = Machine.objects.create(
                        line=line, code=o.machine_code, name=o.machine_code, default_ideal_cycle_time=0.5,
                        expected_interval=10).pk
            assert len(ids) == count
            sides: dict[str, Callable[[list], None]] = {"bare executemany": lambda b: executemany(b, ids)}
            if vendor == "postgresql":
                sides["bare COPY"] = lambda b: copy(b, ids)
            sides["record_observations"] = record_observations
            rates = {}
            for _ in range(args.repeat):
                for name, store in sides.items():
                    clear()
                    rates[name] = max(rates.get(name, 0.0), timed(batches, store))
            clear()
            observations = sum(len(batch) for batch in batches)
            bare = rates["bare COPY" if vendor == "postgresql" else "bare executemany"]
            ours = rates["record_observations"]
            print(f"{shape}: {observations:,} observations, {description}")
            for name, rate in rates.items():
                print(f"  {name:<20} {rate:10,.0f} observations/s" + (
                    f"   ratio {rate / bare:.2f}" if name == "record_observations" else ""))
            if summary is None or shape == "import":
                summary = (shape, ours, rates)
        shape, ours, rates = summary
        target = TARGETS.get(vendor, TARGETS["sqlite"])
        many = rates["bare executemany"]
        if vendor == "postgresql":
            print(f"observations ingested: {ours:,.0f} obs/s ({shape}; target {target:,}; bare COPY "
                  f"{rates['bare COPY']:,.0f}, executemany {many:,.0f}; ratio {ours / rates['bare COPY']:.2f} of COPY, "
                  f"target {COPY_RATIO_TARGET})")
        else:
            print(f"observations ingested: {ours:,.0f} obs/s ({shape}; target {target:,}; bare executemany "
                  f"{many:,.0f}; ratio {ours / many:.2f})")


if __name__ == "__main__":
    main()
