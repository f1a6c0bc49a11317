"""The collector host: change filter and heartbeats, silence → no-data, isolation of bad devices, delivery."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter

import pytest

from monitoring.collectors.host import CollectorHost, backoff_delay
from monitoring.collectors.host import DeviceSpec as HostSpec
from monitoring.collectors.modbus import ModbusCollector, ModbusSettings
from monitoring.lib.registers import RegisterBinding
from monitoring.simulator.behaviour import SimulatedMachine
from monitoring.simulator.modbus_server import DeviceSpec, SimulatedModbusDevice
from oee_site.redis_server import free_port

CLOCKS: list[asyncio.Task] = []
DEADLINE = 30.0  # seconds to wait for an outcome that must come, however loaded the machine


async def until(condition, what: str, deadline: float = DEADLINE) -> None:
    """Wait for `condition()` to hold, checking every 20 ms; fail saying `what` never happened."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline
    while not condition():
        assert loop.time() < give_up, f"{what} did not happen within {deadline:g} s"
        await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
async def stop_clocks():
    yield
    while CLOCKS:
        CLOCKS.pop().cancel()


def demo_bindings(machine: str) -> tuple[RegisterBinding, ...]:
    return (
        RegisterBinding((machine, "running"), "holding", 0, "uint16", bit=0),
        RegisterBinding((machine, "fault"), "holding", 1),
        RegisterBinding((machine, "total_count"), "holding", 2),
        RegisterBinding((machine, "reject_count"), "holding", 3),
    )


class Recorder:
    def __init__(self) -> None:
        self.samples = []
        self.batches = 0

    def __call__(self, batch) -> None:
        self.batches += 1
        self.samples.extend(batch)

    def of(self, machine: str, signal: str) -> list:
        return [s for s in self.samples if s.machine_code == machine and s.signal == signal]


async def serve(count: int, *, still: bool = False) -> list[SimulatedModbusDevice]:
    """`count` simulated devices with a machine each; unless `still`, the machines make parts."""
    devices, machines = [], []
    for index in range(count):
        machine = SimulatedMachine(f"M{index}", ideal_cycle_time=0.02, seed=index)
        spec = DeviceSpec(f"dev-{index}", free_port(), bindings=demo_bindings(machine.code))
        device = SimulatedModbusDevice(spec, {machine.code: machine})
        await device.start()
        devices.append(device)
        machines.append(machine)
    if not still:
        CLOCKS.append(asyncio.get_running_loop().create_task(run_clock(machines)))
    return devices


async def run_clock(machines: list[SimulatedMachine]) -> None:
    while True:
        await asyncio.sleep(0.02)
        for machine in machines:
            machine.step(0.02)


def host_spec(device: SimulatedModbusDevice, interval: float, expected: float = 60.0, timeout: float = 0.3) -> HostSpec:
    spec = device.spec
    settings = ModbusSettings(spec.code, spec.host, spec.port, timeout=timeout, retries=0, bindings=spec.bindings)
    machines = {b.key[0]: expected for b in spec.bindings}
    return HostSpec("modbus", spec.code, interval, 0.05, machines, lambda: ModbusCollector(settings))


async def test_a_value_is_sent_when_it_changes_or_when_a_heartbeat_is_due():
    (device,) = await serve(1, still=True)
    sink = Recorder()
    host = CollectorHost(sink, flush_interval=0.05)
    host.start()
    host.add(host_spec(device, interval=0.05, expected=1.0))
    await until(lambda: len(sink.of("M0", "total_count")) >= 4, "four sends of an unchanged count")
    await host.stop()
    await device.stop()
    scans = device.function_codes[3]
    sent = sink.of("M0", "total_count")
    # The count never changed: after the first value only heartbeats, half an expected interval
    # (0.5 s) apart by the scans' own clock, so far fewer than the scans.
    gaps = [(b.ts - a.ts).total_seconds() for a, b in zip(sent[1:], sent[2:])]
    assert gaps and all(gap >= 0.5 - 0.01 for gap in gaps), gaps
    assert scans >= 2 * len(sent)
    assert sink.of("M0", "connected")[0].value is True


async def test_every_scan_round_goes_to_the_sink_in_few_batches():
    devices = await serve(5)
    sink = Recorder()
    host = CollectorHost(sink, flush_interval=0.2)
    host.start()
    started = asyncio.get_running_loop().time()
    for device in devices:
        host.add(host_spec(device, interval=0.05))
    await until(lambda: sum(d.function_codes[3] for d in devices) >= 60, "60 scans")
    batches, elapsed = sink.batches, asyncio.get_running_loop().time() - started
    await host.stop()
    for device in devices:
        await device.stop()
    scans = sum(d.function_codes[3] for d in devices)
    # A batch waits one flush interval for others to join it: never one batch per scan.
    assert batches <= elapsed / 0.2 + 2
    assert 2 * batches <= scans
    assert len(sink.samples) > sink.batches


async def test_what_is_read_while_the_sink_is_busy_goes_in_one_batch_in_order():
    devices = await serve(5)
    release = threading.Event()
    calls: list[list] = []

    def slow_sink(batch) -> None:
        calls.append(list(batch))
        if len(calls) == 1:
            release.wait(30)  # the database is slow this once

    host = CollectorHost(slow_sink)  # the default: no fixed wait, a batch goes when it has something
    host.start()
    for device in devices:
        host.add(host_spec(device, interval=0.05))
    await until(lambda: calls, "the first batch")
    scans = lambda: sum(s["scans"] for s in host.stats().values())  # noqa: E731
    busy_from = scans()
    await until(lambda: scans() >= busy_from + 40, "40 scans while the sink is busy")
    release.set()
    await until(lambda: len(calls) >= 2, "the batch after")
    await host.stop()
    for device in devices:
        await device.stop()
    # Forty scans of five devices became one batch, not forty.
    assert len({s.machine_code for s in calls[1]}) == 5
    counts = [s.value for batch in calls for s in batch if s.machine_code == "M0" and s.signal == "total_count"]
    assert counts == sorted(counts) and len(counts) >= 2


async def test_a_silent_device_puts_its_machines_in_no_data_and_back():
    (device,) = await serve(1)
    sink = Recorder()
    host = CollectorHost(sink, flush_interval=0.05, max_backoff=0.2)
    host.start()
    host.add(host_spec(device, interval=0.1, timeout=0.2))
    await until(lambda: sink.of("M0", "connected"), "the first connected=true")
    device.hang()
    await until(lambda: len(sink.of("M0", "connected")) >= 2, "connected=false after three silent scan intervals")
    run = host.runs["modbus:dev-0"]
    assert [s.value for s in sink.of("M0", "connected")] == [True, False]
    assert run.health.connected is False
    await until(lambda: run.health.consecutive_errors >= 1, "an error in the device's health")
    assert "No response" in run.health.last_error or "reading holding" in run.health.last_error
    device.heal()
    await until(lambda: len(sink.of("M0", "connected")) >= 3, "connected=true once it answers again")
    await until(lambda: len(sink.samples) >= sink.samples.index(sink.of("M0", "connected")[2]) + 5,
                "every signal sent afresh")
    await host.stop()
    await device.stop()
    connected = sink.of("M0", "connected")
    assert [s.value for s in connected] == [True, False, True]
    assert connected[1].ts < connected[2].ts
    # After coming back every signal is sent afresh, not only the ones that changed.
    back = sink.samples.index(connected[2])
    assert {s.signal for s in sink.samples[back:back + 5]} == {"connected", "running", "fault", "total_count",
                                                               "reject_count"}


async def keep_dropping(device: SimulatedModbusDevice) -> None:
    while True:
        device.drop_connections()
        await asyncio.sleep(0.15)


async def test_bad_devices_never_slow_the_healthy_ones():
    devices = await serve(8)
    hanging, garbage, refusing, stopped, dropping = devices[:5]
    healthy = devices[5:]
    host = CollectorHost(Recorder(), flush_interval=0.1)
    host.start()
    interval, timeout = 0.1, 0.5
    for device in devices:
        host.add(host_spec(device, interval=interval, timeout=timeout))
    await until(lambda: all(s["scans"] >= 2 for s in host.stats().values()), "every device read")
    loop = asyncio.get_running_loop()
    before, started = {key: stats["scans"] for key, stats in host.stats().items()}, loop.time()
    hanging.hang()
    garbage.answer_garbage()
    refusing.answer_exception(6)
    await stopped.stop()
    dropper = asyncio.create_task(keep_dropping(dropping))
    bad_keys = [f"modbus:{d.spec.code}" for d in (hanging, garbage, refusing, stopped, dropping)]
    await until(lambda: all(host.stats()[key]["errors"] >= 1 for key in bad_keys), "an error on every bad device")
    await asyncio.sleep(1.0)
    after, elapsed = host.stats(), loop.time() - started
    dropper.cancel()
    await host.stop()
    for device in devices:
        await device.stop()
    # A healthy device waiting on a bad one's 0.5-s timeouts would manage a fifth of its scans at
    # most; on its own it keeps (nearly) its pace, measured by the same clock.
    expected = elapsed / interval
    for device in healthy:
        key = f"modbus:{device.spec.code}"
        assert (after[key]["scans"] - before[key]) / expected >= 0.5, (key, after[key], expected)
        assert after[key]["errors"] == 0


def test_the_back_off_doubles_with_jitter_up_to_a_ceiling():
    rng = random.Random(1)
    waits = [backoff_delay(n, 1.0, 60.0, rng) for n in range(10)]
    for n, wait in enumerate(waits):
        window = min(60.0, 2.0**n)
        assert window / 2 <= wait <= window
    assert len({round(w, 6) for w in waits[7:]}) == 3  # capped, yet not in lock step


async def test_observations_are_kept_and_retried_when_the_sink_fails():
    (device,) = await serve(1)
    delivered = []
    failures = Counter()

    def flaky(batch):
        if failures["n"] < 2:
            failures["n"] += 1
            raise ConnectionError("database went away")
        delivered.extend(batch)

    host = CollectorHost(flaky, flush_interval=0.05)
    host.start()
    host.add(host_spec(device, interval=0.05))
    # Two failures back off 1 s and 2 s, then everything goes through.
    await until(lambda: len([s for s in delivered if s.signal == "total_count"]) > 10, "deliveries after failures")
    await host.stop()
    await device.stop()
    counts = [s.value for s in delivered if s.signal == "total_count"]
    assert failures["n"] == 2
    assert counts == sorted(counts)  # nothing lost in the middle, nothing out of order
    assert delivered[0].signal == "connected"


async def test_health_rows_follow_the_device():
    (device,) = await serve(1)
    rows = []
    host = CollectorHost(lambda batch: None, name="w1", health_sink=rows.extend, flush_interval=0.05,
                         health_every=60.0)
    host.start()
    host.add(host_spec(device, interval=0.05, timeout=0.2))

    def states() -> list[tuple]:
        return [(r.connected, r.collector, r.consecutive_errors > 0) for r in rows]

    await until(lambda: (True, "w1", False) in states(), "a healthy row")
    await device.stop()
    await until(lambda: (False, "w1", True) in states(), "a row with the device's errors")
    await host.remove("modbus:dev-0")
    await host.stop()
    assert states()[-1][:2] == (False, "")  # given up: no collector owns it
    assert rows[-1].last_good_read is not None and rows[-1].machines == ("M0",)


async def test_what_could_not_be_stored_when_stopping_is_delivered_by_the_next_collector(tmp_path):
    # A worker stopped while the database was away lost what it had read: parts fell into a later hour
    # and the machine's running and stopped changes became no-data.
    from monitoring.collectors.spool import Spool

    (device,) = await serve(1)

    def database_away(batch):
        raise ConnectionError("database went away")

    first = CollectorHost(database_away, flush_interval=0.05, spool=Spool(tmp_path))
    first.start()
    first.add(host_spec(device, interval=0.05))
    await until(lambda: first.pending > 20, "readings waiting for the database")
    await first.stop()
    kept = list(tmp_path.glob("*.jsonl"))
    assert len(kept) == 1 and first.pending == 0
    spooled = Spool(tmp_path).load()
    assert len(spooled) > 20

    delivered = Recorder()
    second = CollectorHost(delivered, flush_interval=0.05, spool=Spool(tmp_path))
    second.start()
    second.add(host_spec(device, interval=0.05))
    await until(lambda: len(delivered.of("M0", "total_count")) > 30, "the kept readings and new ones delivered")
    await second.stop()
    await device.stop()
    assert list(tmp_path.iterdir()) == []  # delivered: the file is gone
    assert delivered.samples[:len(spooled)] == spooled  # first, as they were read
    counts = [s.value for s in delivered.of("M0", "total_count")]
    assert counts == sorted(counts) and len(counts) > 30  # the first collector's readings come first, in order
    first_reading = delivered.samples[0]
    assert first_reading.signal == "connected" and first_reading.value is True  # types survive the disk
    assert all(type(s.value) is bool for s in delivered.of("M0", "running"))
    assert all(s.ts.tzinfo is not None for s in delivered.samples)


async def test_a_spool_file_that_cannot_be_read_whole_gives_what_it_can(tmp_path):
    from datetime import UTC, datetime

    from monitoring.collectors.records import Sample
    from monitoring.collectors.spool import Spool

    sample = Sample("M0", datetime(2026, 12, 3, 22, 0, tzinfo=UTC), "total_count", 7)
    Spool(tmp_path).save([sample])
    (tmp_path / "torn.jsonl").write_text('["M0", "2026-12-03T22:00:01+00:00", "total_count", 8]\n["M0", "20')
    spool = Spool(tmp_path)
    assert spool.load() == [sample, Sample("M0", datetime(2026, 12, 3, 22, 0, 1, tzinfo=UTC), "total_count", 8)]
    spool.delivered()
    assert list(tmp_path.iterdir()) == []
