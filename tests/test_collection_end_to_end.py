"""Simulator → Modbus collector → pipeline → database: the counts stored are the plant's true counts.

The simulated plant runs in one thread (its own event loop, like `manage.py simulate_plant`),
the collector host in another (like a Celery worker's collector), and the pipeline writes
through the host's sink thread into the test database.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.db.models import Sum

from monitoring.collectors.host import CollectorHost
from monitoring.collectors.wiring import close_db_connections, device_specs, health_sink, pipeline_sink
from monitoring.models import CountBucket, DeviceHealth, Event, ModbusDevice, SignalBinding, StateInterval
from monitoring.simulator.plant import BackgroundPlant, Plant, load_plant_spec
from oee_site.redis_server import free_port
from planning.models import Area, Line, Machine, Site

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

START = 65_536 - 400  # every machine rolls its 16-bit counter over within a few seconds


def demo_plant(scan_interval: float = 0.1, ideal_cycle_time: float = 0.005) -> list[Machine]:
    """Two machines wired like the demo: running bit 0 of 0, fault 1, total 2, rejects 3 (holding)."""
    site = Site.objects.create(code="S1", name="Site")
    line = Line.objects.create(area=Area.objects.create(site=site, code="A1", name="Area"), code="L1", name="Line")
    machines = []
    for code in ("L1-FILL", "L1-CAP"):
        machine = Machine.objects.create(line=line, code=code, name=code, default_ideal_cycle_time=ideal_cycle_time,
                                         expected_interval=1.0)
        device = ModbusDevice.objects.create(code=f"dev-{code}", host="127.0.0.1", port=free_port(),
                                             scan_interval=scan_interval, timeout=0.3, retries=0,
                                             reconnect_backoff=0.05)
        for signal, address, bit in (("running", 0, 0), ("fault", 1, None), ("total_count", 2, None),
                                     ("reject_count", 3, None)):
            SignalBinding.objects.create(machine=machine, signal=signal, modbus_device=device, table="holding",
                                         address=address, data_type="uint16", bit=bit)
        machines.append(machine)
    return machines


class Delivered:
    """The pipeline sink, remembering what it has stored (so a test can wait for a value to land)."""

    def __init__(self) -> None:
        self.samples = []
        self.lock = threading.Lock()

    def __call__(self, batch) -> None:
        pipeline_sink(batch)
        with self.lock:
            self.samples.extend(batch)

    def latest(self, machine: str, signal: str):
        with self.lock:
            values = [s.value for s in self.samples if s.machine_code == machine and s.signal == signal]
        return values[-1] if values else None

    def values(self, machine: str, signal: str) -> list:
        with self.lock:
            return [s.value for s in self.samples if s.machine_code == machine and s.signal == signal]


class HostThread:
    """A collector host on its own event loop in a thread, reading the devices of the database."""

    def __init__(self, sink: Delivered, max_backoff: float = 0.2) -> None:
        self.specs = device_specs()
        self.loop = asyncio.new_event_loop()
        self.host = CollectorHost(sink, name="e2e", flush_interval=0.1, max_backoff=max_backoff,
                                  health_sink=health_sink, thread_cleanup=close_db_connections)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> HostThread:
        self.thread.start()

        async def start() -> None:
            self.host.start()
            for spec in self.specs:
                self.host.add(spec)

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self.host.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition.__doc__ or condition}")
        time.sleep(0.05)


def stored_counts(code: str) -> dict[str, int]:
    return CountBucket.objects.filter(machine__code=code).aggregate(
        total=Sum("total_count"), rejects=Sum("reject_count"))


def test_it_counts_what_the_plant_made_across_16_bit_rollovers():
    machines = demo_plant()
    codes = [m.code for m in machines]
    plant = Plant(load_plant_spec(), seed=11, time_scale=5.0, counter_start=START)
    plant.paused = True
    delivered = Delivered()
    with BackgroundPlant(plant) as sim, HostThread(delivered):
        wait_for(lambda: all(delivered.latest(c, "total_count") == START for c in codes))
        sim.resume()
        time.sleep(3.0)
        sim.pause()
        truth = sim.truth()["machines"]
        for code in codes:
            wait_for(lambda: delivered.latest(code, "total_count") == truth[code]["total_count"] % 65_536
                     and delivered.latest(code, "reject_count") == truth[code]["reject_count"] % 65_536)
    for code in codes:
        made = truth[code]["total_count"] - START
        assert truth[code]["total_count"] > 65_536, "the plant should have rolled its counter over"
        assert min(delivered.values(code, "total_count")) < 1000  # the collector saw it wrap
        assert stored_counts(code) == {"total": made, "rejects": truth[code]["reject_count"]}


def test_a_killed_device_goes_no_data_and_comes_back_without_losing_a_part():
    machines = demo_plant(scan_interval=0.2)
    filler, capper = (m.code for m in machines)
    plant = Plant(load_plant_spec(), seed=4, time_scale=5.0, counter_start=START)
    plant.paused = True
    delivered = Delivered()
    with BackgroundPlant(plant) as sim, HostThread(delivered):
        wait_for(lambda: all(delivered.latest(c, "total_count") == START for c in (filler, capper)))
        sim.resume()
        time.sleep(1.0)
        stopped = datetime.now(UTC)
        sim.stop_device(f"dev-{filler}")
        wait_for(lambda: delivered.latest(filler, "connected") is False)
        time.sleep(0.5)  # the machine keeps making parts while its PLC is unreachable
        restarted = datetime.now(UTC)
        sim.start_device(f"dev-{filler}")
        wait_for(lambda: delivered.latest(filler, "connected") is True)
        time.sleep(0.5)
        sim.pause()
        truth = sim.truth()["machines"]
        for code in (filler, capper):
            wait_for(lambda: delivered.latest(code, "total_count") == truth[code]["total_count"] % 65_536)

    assert delivered.values(filler, "connected") == [True, False, True]
    assert delivered.values(capper, "connected") == [True]
    # One no-data interval: from after the device stopped answering to after it answered again.
    no_data = StateInterval.objects.filter(machine__code=filler, state="no-data")
    assert no_data.count() == 1
    gap = no_data.get()
    assert stopped <= gap.start < restarted <= gap.end
    assert not StateInterval.objects.filter(machine__code=capper, state="no-data").exists()
    for code in (filler, capper):
        assert stored_counts(code)["total"] == truth[code]["total_count"] - START, code
    # What admin shows: the device's health, and the outage in the machine's event log.
    health = DeviceHealth.objects.get(device_kind="modbus", device_code=f"dev-{filler}")
    assert (health.connected, health.collector) == (False, "")  # the host stopped: nobody reads it now
    assert health.last_good_read is not None and "cannot connect" in health.last_error
    errors = Event.objects.filter(machine__code=filler, kind="device_error")
    assert errors.count() >= 1 and errors.first().detail["device"] == f"modbus:dev-{filler}"
    assert not Event.objects.filter(machine__code=capper, kind="device_error").exists()
