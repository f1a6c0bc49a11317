"""How many machines changing every second one collector process stores in real time (`collect.py --pipeline`).

Simulated machines, read in this process by the real collector host (`CollectorHost`: change
filter, heartbeats, batching, one sink thread) at a 1 s scan interval, without a network in
between: each counts a part every second it runs, rejects one now and then, and stops and runs
again every few minutes. Their readings go to the real `pipeline_sink` (and device health to
`health_sink`) on a fresh database: a temporary SQLite file, or $DATABASE_URL's server. The lag
of a reading is the time from its reading to the commit of the batch that stored it.

For each machine count, the bare driver stores the same stream first (the host's batches, each
an executemany INSERT of the observation rows in one transaction, or COPY on PostgreSQL), then
the pipeline. The counts go up until the pipeline's lag p95 passes the limit (1 s).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

LAG_LIMIT = 1.0
TARGET = 500


class SimulatedMachine:
    """A machine's PLC as a collector reads it: running, fault, total and reject counters."""

    def __init__(self, code: str, rng: random.Random) -> None:
        self.code = code
        self.rng = rng
        self.running = True
        self.fault = 0
        self.total = rng.randrange(65536)
        self.rejects = 0

    def step(self) -> None:
        if self.running:
            self.total = (self.total + 1) % 65536
            if self.rng.random() < 0.02:
                self.rejects += 1
            if self.rng.random() < 1 / 300:
                self.running = False
                self.fault = self.rng.choice([0, 0, 7])
        elif self.rng.random() < 1 / 40:
            self.running, self.fault = True, 0


def simulated_collector(machine: SimulatedMachine):
    """A collector session on the simulated machine (the host's `Collector` contract)."""
    from monitoring.collectors.base import Collector, Reading

    class Simulated(Collector):
        async def connect(self) -> None:
            pass

        async def read(self) -> list[Reading]:
            machine.step()
            now = datetime.now(UTC)
            return [
                Reading(machine.code, "running", machine.running, now),
                Reading(machine.code, "fault", machine.fault, now),
                Reading(machine.code, "total_count", machine.total, now),
                Reading(machine.code, "reject_count", machine.rejects, now),
            ]

        async def close(self) -> None:
            pass

        @classmethod
        async def probe(cls, settings) -> list:
            return []

    return Simulated()


class Lags:
    """Reading-to-commit lags of the samples read inside the measured window."""

    def __init__(self) -> None:
        self.opened: datetime | None = None
        self.closed: datetime | None = None
        self.lags: list[float] = []
        self.batches = 0

    def committed(self, batch: list) -> None:
        now = datetime.now(UTC)
        if self.opened is None:
            return
        measured = [(now - sample.ts).total_seconds() for sample in batch
                    if self.opened <= sample.ts and (self.closed is None or sample.ts < self.closed)]
        if measured:
            self.lags += measured
            self.batches += 1

    def percentile(self, fraction: float) -> float:
        if not self.lags:
            return float("inf")
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run_host(codes: list[str], store: Callable[[list], None], health: Callable | None, interval: float,
                   warmup: float, seconds: float) -> tuple[Lags, int, float]:
    """Read the machines for warm-up + window (+ drain); (lags, backlog at the end, CPU share of a core)."""
    from functools import partial

    from monitoring.collectors.host import CollectorHost, DeviceSpec
    from monitoring.collectors.wiring import close_db_connections

    lags = Lags()

    def sink(batch: list) -> None:
        store(batch)
        lags.committed(batch)

    host = CollectorHost(sink, health_sink=health, thread_cleanup=close_db_connections)
    host.start()
    rng = random.Random(1)
    for code in codes:
        machine = SimulatedMachine(code, rng)
        host.add(DeviceSpec("sim", code, interval, 1.0, {code: 60.0}, partial(simulated_collector, machine)))
    await asyncio.sleep(warmup)
    lags.opened = datetime.now(UTC)
    cpu = time.process_time()
    await asyncio.sleep(seconds)
    lags.closed = datetime.now(UTC)
    cpu = (time.process_time() - cpu) / seconds
    backlog = host.pending
    # What was read inside the window is measured when it is stored, however late: give it time.
    deadline = time.monotonic() + max(30.0, seconds)
    while host.pending and time.monotonic() < deadline and lags.percentile(0.5) < 60:
        await asyncio.sleep(0.2)
    await host.stop()
    return lags, backlog, cpu


def bare_store(ids: dict[str, int]) -> Callable[[list], None]:
    """The driver alone storing a batch of samples as observation rows, one transaction per batch."""
    from django.db import connection, transaction

    from monitoring.models import Observation

    ops, table = connection.ops, connection.ops.quote_name(Observation._meta.db_table)
    columns = "machine_id, ts, signal, value, revision"

    def store(batch: list) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for s in batch:
                        copy.write_row((ids[s.machine_code], s.ts, s.signal, str(s.value), 0))
            else:
                cursor.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, 0)",
                    [(ids[s.machine_code], ops.adapt_datetimefield_value(s.ts), s.signal, str(s.value))
                     for s in batch],
                )
    return store


def run(counts: list[int], interval: float, warmup: float, seconds: float, live: bool) -> None:
    """Measure each machine count (bare, then the pipeline) and print the summary line."""
    from benchdb import bench_database, bench_line

    with bench_database():
        from django.db import connection

        from monitoring import live as live_stream
        from monitoring.collectors.wiring import health_sink, pipeline_sink
        from planning.models import Machine

        if live:
            live_stream.publish_in_background()
        else:
            live_stream.broadcast_machines = lambda machine_ids: None  # no screens: storing only
        vendor = connection.vendor
        bare_name = "bare COPY" if vendor == "postgresql" else "bare executemany"
        line = bench_line()
        print(f"machines changing every second stored live by one collector process on {vendor}, "
              f"{interval:g} s scans, {seconds:g} s measured after {warmup:g} s warm-up, {os.cpu_count()} CPUs, "
              f"live screens {'published' if live else 'off'}")
        passed, at_target, bare_at = None, None, {}
        for count in counts:
            figures = {}
            for name in (bare_name, "pipeline"):
                codes = [f"{name[0].upper()}{count}-{i}" for i in range(count)]
                machines = Machine.objects.bulk_create([
                    Machine(line=line, code=code, name=code, default_ideal_cycle_time=0.5, expected_interval=60)
                    for code in codes
                ])
                ids = {machine.code: machine.pk for machine in machines}
                store = pipeline_sink if name == "pipeline" else bare_store(ids)
                lags, backlog, cpu = asyncio.run(run_host(
                    codes, store, health_sink if name == "pipeline" else None, interval, warmup, seconds))
                # A machine changes at least once a second while it runs: fewer stored means it fell behind.
                kept_up = len(lags.lags) >= 0.8 * count * seconds / interval
                figures[name] = lags.percentile(0.95) if kept_up else float("inf")
                print(f"  {count:5d} machines  {name:<17} lag p50 {lags.percentile(0.5):7.3f} s  "
                      f"p95 {lags.percentile(0.95):7.3f} s  max {max(lags.lags, default=float('inf')):7.3f} s  "
                      f"{len(lags.lags) / seconds:8,.0f} observations/s in {lags.batches / seconds:5.1f} batches/s "
                      f"of {len(lags.lags) / max(lags.batches, 1):5.0f}  "
                      f"CPU {cpu:6.1%}  waiting at the end {backlog}")
            bare_at[count] = figures[bare_name]
            if figures["pipeline"] <= LAG_LIMIT:
                passed = (count, figures["pipeline"])
            if count == TARGET:
                at_target = figures["pipeline"]
            if figures["pipeline"] > LAG_LIMIT and count >= TARGET:
                break
        if passed is not None:
            print(f"machines stored live: {passed[0]} (target {TARGET}; lag p95 {passed[1]:.2f} s; "
                  f"{bare_name} lag p95 {bare_at[passed[0]]:.3f} s)")
        else:
            print(f"machines stored live: fewer than {counts[0]} (target {TARGET}; lag p95 "
                  f"{at_target if at_target is not None else figures['pipeline']:.2f} s at "
                  f"{TARGET if at_target is not None else counts[0]})")
