"""How many Modbus devices one collector process reads at a 1 s scan interval, against bare pymodbus.

Starts N simulated Modbus TCP devices on loopback ports in separate server processes, then, in
this process and one after the other over the same devices:

1. a bare pymodbus loop: one AsyncModbusTcpClient per device reading the demo map (5 holding
   registers) every interval, nothing else;
2. the collector host (`monitoring.collectors.host.CollectorHost` with `ModbusCollector`
   sessions, change filter, heartbeats, batching, watchdog), its sink only counting
   observations: "pipeline off";
3. with --and-store, the same host feeding the real `pipeline.record_observations` and
   `DeviceHealth` into a fresh SQLite database: "pipeline on".

Prints reads per second sustained over the measured window, the process CPU they cost, and
each collector figure as a ratio of the bare loop's. Run: `python bench/collect.py [--devices 500]`.

`python bench/collect.py --pipeline` measures storing instead (bench/storing.py): how many
simulated machines changing every second this process stores in real time, lag p95 ≤ 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitoring.lib.registers import RegisterBinding  # noqa: E402

REGISTERS = 5


def demo_bindings(machine: str) -> tuple[RegisterBinding, ...]:
    return (
        RegisterBinding((machine, "running"), "holding", 0, "uint16", bit=0),
        RegisterBinding((machine, "fault"), "holding", 1),
        RegisterBinding((machine, "total_count"), "holding", 2),
        RegisterBinding((machine, "reject_count"), "holding", 3),
        RegisterBinding((machine, "packml_state"), "holding", 4),
    )


def free_ports(count: int) -> list[int]:
    import socket

    sockets, ports = [], []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        ports.append(sock.getsockname()[1])
    for sock in sockets:
        sock.close()
    return ports


def serve(ports: list[int], first_index: int, ready, stop) -> None:
    """Server process: one simulated device per port, machines making parts at ~1 part/s."""
    import logging

    # A server answering a client that the bench just cancelled is not news.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    from monitoring.simulator.modbus_server import DeviceSpec
    from monitoring.simulator.plant import MachineSpec, Plant, PlantSpec

    codes = [f"M{first_index + i}" for i in range(len(ports))]
    spec = PlantSpec(
        machines=tuple(MachineSpec(code, 1.0, packml=True) for code in codes),
        modbus=tuple(DeviceSpec(f"dev-{code}", port, bindings=demo_bindings(code)) for code, port in zip(codes, ports)),
    )

    async def main() -> None:
        plant = Plant(spec, seed=1, step=0.5, tick=0.5)
        await plant.start()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.2)
        await plant.stop()

    asyncio.run(main())


class Window:
    """Counts reads and CPU time between `open()` and `close()`."""

    def __init__(self) -> None:
        self.reads = 0
        self.errors = 0

    def open(self) -> None:
        self.reads = self.errors = 0
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def close(self) -> tuple[float, float]:
        wall = time.perf_counter() - self.wall
        return self.reads / wall, (time.process_time() - self.cpu) / wall


async def bare_loop(ports: list[int], interval: float, warmup: float, seconds: float) -> tuple[float, float, int]:
    """The bare library: per device one client reading the same registers every interval."""
    from pymodbus.client import AsyncModbusTcpClient

    window = Window()

    async def device(port: int, offset: float) -> None:
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2.0, retries=0, reconnect_delay=0)
        await client.connect()
        loop = asyncio.get_running_loop()
        await asyncio.sleep(offset)
        due = loop.time()
        try:
            while True:
                try:
                    response = await client.read_holding_registers(0, count=REGISTERS, device_id=1)
                    if response.isError():
                        window.errors += 1
                    else:
                        window.reads += 1
                except Exception:  # noqa: BLE001
                    window.errors += 1
                due += interval
                await asyncio.sleep(max(0.0, due - loop.time()))
        finally:
            client.close()

    tasks = [asyncio.create_task(device(port, interval * i / len(ports))) for i, port in enumerate(ports)]
    await asyncio.sleep(warmup)
    window.open()
    await asyncio.sleep(seconds)
    rate, cpu = window.close()
    errors = window.errors
    # Python 3.11's wait_for (inside pymodbus) can swallow a cancellation: repeat until all ended.
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)
    return rate, cpu, errors


async def collector_host(
    ports: list[int], interval: float, warmup: float, seconds: float, *, pipeline: bool,
) -> tuple[float, float, int, dict]:
    """The collector host over the same devices; its sink counts (pipeline off) or stores (on)."""
    from functools import partial

    from monitoring.collectors.host import CollectorHost, DeviceSpec
    from monitoring.collectors.modbus import ModbusCollector, ModbusSettings

    observed = {"samples": 0, "calls": []}
    if pipeline:
        from monitoring.collectors.wiring import close_db_connections, health_sink, pipeline_sink

        def sink(batch) -> None:
            started = time.perf_counter()
            pipeline_sink(batch)
            observed["calls"].append((time.perf_counter() - started, len(batch)))
            observed["samples"] += len(batch)

        host = CollectorHost(sink, health_sink=health_sink, thread_cleanup=close_db_connections)
    else:
        def sink(batch) -> None:
            observed["samples"] += len(batch)

        host = CollectorHost(sink)
    host.start()
    for index, port in enumerate(ports):
        code = f"M{index}"
        settings = ModbusSettings(f"dev-{code}", "127.0.0.1", port, timeout=2.0, retries=0,
                                  bindings=demo_bindings(code))
        host.add(DeviceSpec("modbus", settings.code, interval, 1.0, {code: 60.0}, partial(ModbusCollector, settings)))
    await asyncio.sleep(warmup)

    def scans() -> tuple[int, int]:
        stats = host.stats().values()
        return sum(s["scans"] for s in stats), sum(s["errors"] for s in stats)

    scans_before, errors_before = scans()
    samples_before = observed["samples"]
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    scans_after, errors_after = scans()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    extra = {
        "observations_per_s": (observed["samples"] - samples_before) / wall,
        "backlog": host.pending,
        "connected": sum(1 for run in host.runs.values() if run.health.connected),
        "calls": list(observed["calls"]),
    }
    await host.stop()
    return (scans_after - scans_before) / wall, cpu / wall, errors_after - errors_before, extra


def prepare_database(count: int, ports: list[int], interval: float) -> None:
    """A fresh SQLite database with one line of `count` machines and their Modbus devices."""
    directory = Path(tempfile.mkdtemp(prefix="oee-bench-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{directory / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oee_site.settings")
    os.environ.setdefault("DEBUG", "1")  # the development settings this figure has been measured with
    import django

    django.setup()
    from django.core.management import call_command

    from monitoring.models import ModbusDevice, SignalBinding
    from planning.models import Area, Line, Machine, Site

    call_command("migrate", verbosity=0)
    site = Site.objects.create(code="BENCH", name="Bench")
    line = Line.objects.create(area=Area.objects.create(site=site, code="B", name="Bench"), code="B1", name="Bench")
    machines = Machine.objects.bulk_create([
        Machine(line=line, code=f"M{i}", name=f"M{i}", default_ideal_cycle_time=1.0) for i in range(count)
    ])
    devices = ModbusDevice.objects.bulk_create([
        ModbusDevice(code=f"dev-M{i}", host="127.0.0.1", port=port, scan_interval=interval)
        for i, port in enumerate(ports)
    ])
    SignalBinding.objects.bulk_create([
        SignalBinding(machine=machine, modbus_device=device, signal=b.key[1], table=b.table, address=b.address,
                      data_type=b.data_type, bit=b.bit)
        for machine, device in zip(machines, devices) for b in demo_bindings(machine.code)
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--interval", type=float, default=1.0, help="Scan interval in seconds (default 1).")
    parser.add_argument("--seconds", type=float, default=20.0, help="Measured window per run (default 20).")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--server-processes", type=int, default=1)
    parser.add_argument("--and-store", dest="pipeline", action="store_true",
                        help="Also run the collector with the real pipeline storing into a fresh SQLite database.")
    parser.add_argument("--pipeline", dest="storing", action="store_true",
                        help="Instead: how many simulated machines changing every second this process stores in "
                             "real time through the real pipeline (bench/storing.py), on SQLite or $DATABASE_URL.")
    parser.add_argument("--machines", default="250,500,750,1000,1500,2000",
                        help="With --pipeline: the machine counts to try, ascending (default 250,…,2000).")
    parser.add_argument("--live", action="store_true",
                        help="With --pipeline: publish live messages as a collector process does (needs Redis).")
    options = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # figures appear as each run ends, even into a file
    if options.storing:
        from storing import run

        run([int(count) for count in options.machines.split(",")], options.interval, options.warmup,
            options.seconds, options.live)
        return
    import logging

    # pymodbus logs a dump of recent frames with each error, e.g. when clients are cancelled.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * options.devices + 100
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed * 2), hard))

    ports = free_ports(options.devices)
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    servers = []
    per = -(-options.devices // options.server_processes)
    for first in range(0, options.devices, per):
        ready = context.Event()
        process = context.Process(target=serve, args=(ports[first:first + per], first, ready, stop), daemon=True)
        process.start()
        servers.append((process, ready))
    for process, ready in servers:
        if not ready.wait(120):
            sys.exit("the simulated devices did not start")
    if options.pipeline:
        prepare_database(options.devices, ports, options.interval)
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

    print(f"{options.devices} simulated Modbus devices in {len(servers)} server process(es), "
          f"{options.interval:g} s scan interval, {REGISTERS} registers per device, "
          f"{options.seconds:g} s measured after {options.warmup:g} s warm-up, {os.cpu_count()} CPUs")
    target = options.devices / options.interval
    try:
        bare_rate, bare_cpu, bare_errors = asyncio.run(
            bare_loop(ports, options.interval, options.warmup, options.seconds))
        print(f"  bare pymodbus loop         {bare_rate:8.1f} reads/s  ({bare_rate / target:6.1%} of schedule)  "
              f"CPU {bare_cpu:6.1%} of a core  errors {bare_errors}")
        runs = [("collector, pipeline off", False)] + ([("collector, pipeline on", True)] if options.pipeline else [])
        for label, pipeline in runs:
            rate, cpu, errors, extra = asyncio.run(
                collector_host(ports, options.interval, options.warmup, options.seconds, pipeline=pipeline))
            print(f"  {label:<26} {rate:8.1f} reads/s  ({rate / target:6.1%} of schedule)  "
                  f"CPU {cpu:6.1%} of a core  errors {errors}  "
                  f"observations delivered {extra['observations_per_s']:.0f}/s, waiting {extra['backlog']}  "
                  f"connected {extra['connected']}/{options.devices}")
            print(f"    ratio to bare loop: reads {rate / bare_rate:6.1%}   CPU per read "
                  f"{(cpu / rate) / (bare_cpu / bare_rate):4.2f}× the bare loop's")
            if extra["calls"]:
                durations = [d for d, _ in extra["calls"]]
                print(f"    record_observations: {len(durations)} calls finished, "
                      f"{max(durations):.1f} s the longest, {sum(n for _, n in extra['calls']) / len(durations):.0f} "
                      f"observations per call on average")
            if not pipeline:
                summary = (f"modbus devices read at {1 / options.interval:g} Hz: {rate:.1f} reads/s (target {target:g}; "
                           f"bare {bare_rate:.1f}; ratio {rate / bare_rate:.2f}; CPU {cpu:.1%} of a core, "
                           f"bare {bare_cpu:.1%})")
        print(summary)
    finally:
        stop.set()
        for process, _ in servers:
            process.join(10)


if __name__ == "__main__":
    main()
