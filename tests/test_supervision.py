"""Supervision: leases in a real Redis give every device exactly one live collector, and move with failures."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from monitoring.collectors import wiring
from monitoring.collectors.host import CollectorHost
from monitoring.collectors.host import DeviceSpec as HostSpec
from monitoring.collectors.leases import LeaseBook, LeaseKeeper, fair_share
from monitoring.collectors.modbus import ModbusCollector, ModbusSettings
from monitoring.lib.registers import RegisterBinding
from monitoring.simulator.behaviour import SimulatedMachine
from monitoring.simulator.modbus_server import DeviceSpec, SimulatedModbusDevice
from monitoring.simulator.plant import BackgroundPlant, MachineSpec, Plant, PlantSpec
from oee_site.redis_server import free_port
from tests.processes import set_up_plant, start_worker
from tests.proxy import CuttableLink


@pytest.fixture
def book_factory(redis_url):
    prefix = f"test:{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)

    def make(owner: str, ttl: float = 1.0, client: str | None = None) -> LeaseBook:
        via = redis.Redis.from_url(client, socket_timeout=0.5, socket_connect_timeout=0.5) if client else direct
        return LeaseBook(via, owner, ttl=ttl, prefix=prefix)

    direct = client
    yield make
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_a_lease_has_one_owner_until_it_expires_or_is_released(book_factory):
    a, b = book_factory("a", ttl=0.3), book_factory("b", ttl=0.3)
    assert a.claim("modbus:dev-1")
    assert not b.claim("modbus:dev-1")
    assert b.renew(["modbus:dev-1"]) == set()  # b cannot extend what it does not hold
    assert a.renew(["modbus:dev-1"]) == {"modbus:dev-1"}
    assert a.owners(["modbus:dev-1", "modbus:dev-2"]) == {"modbus:dev-1": "a", "modbus:dev-2": None}
    time.sleep(0.4)
    assert b.claim("modbus:dev-1")  # a stopped renewing: it expired
    assert a.release(["modbus:dev-1"]) == 0  # and a cannot release b's lease
    assert b.release(["modbus:dev-1"]) == 1
    assert a.owners(["modbus:dev-1"]) == {"modbus:dev-1": None}


def test_live_collectors_are_announced_until_they_expire(book_factory):
    a, b = book_factory("a", ttl=0.3), book_factory("b", ttl=5.0)
    a.announce({"worker": "w1"})
    b.announce({"worker": "w2"})
    assert a.live_hosts() == {"a": {"worker": "w1"}, "b": {"worker": "w2"}}
    time.sleep(0.4)
    assert a.live_hosts() == {"b": {"worker": "w2"}}
    b.leave([])
    assert a.live_hosts() == {}


def test_the_fair_share_rounds_up():
    assert fair_share(500, 3) == 167
    assert fair_share(6, 2) == 3
    assert fair_share(5, 0) == 5


async def test_a_worker_runs_one_collector_however_often_it_is_asked(redis_url, settings, tmp_path, monkeypatch):
    # supervise starts a collector on a worker that announced none: after Redis came back empty (or a round
    # longer than a lease) it started a second one in the worker's other pool process, and with both
    # collecting the worker ran none of its other tasks (screens' refresh, alerts, webhooks) again.
    from monitoring.collectors import leases

    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(leases, "LOCK_WAIT_S", 1.0)
    watcher = LeaseBook(redis.Redis.from_url(redis_url), "watcher")
    run = uuid.uuid4().hex[:8]

    def start(name: str, worker: str) -> tuple[asyncio.Task, asyncio.Event, str]:
        stop, owner = asyncio.Event(), f"{name}-{run}"
        task = asyncio.create_task(leases.run_collector_process(
            redis_url, owner=owner, info={"worker": worker}, load_specs=list, sink=lambda batch: None,
            health=None, ttl=2.0, stop=stop))
        return task, stop, owner

    first, first_stop, first_owner = start("first", f"w1-{run}@host")
    other, other_stop, other_owner = start("other", f"w2-{run}@host")
    try:
        await wait_until(lambda: {first_owner, other_owner} <= set(watcher.live_hosts()))
        second, _, second_owner = start("second", f"w1-{run}@host")
        await asyncio.wait_for(second, 30)  # it gave up by itself: a collector runs until told to stop
        assert second_owner not in watcher.live_hosts()
        first_stop.set()
        await first
        third, third_stop, third_owner = start("third", f"w1-{run}@host")  # the worker's next collector runs
        await wait_until(lambda: third_owner in watcher.live_hosts())
        third_stop.set()
        await third
    finally:
        for stop in (first_stop, other_stop):
            stop.set()
        await asyncio.gather(first, other)


# -- keepers in one process: claiming, sharing, taking over, following the configuration --


async def serve_devices(count: int) -> tuple[list[HostSpec], list[SimulatedModbusDevice]]:
    specs, devices = [], []
    for index in range(count):
        code = f"M{index}"
        machine = SimulatedMachine(code, ideal_cycle_time=0.1, seed=index)
        binding = (RegisterBinding((code, "total_count"), "holding", 2),)
        spec = DeviceSpec(f"dev-{index}", free_port(), bindings=binding)
        device = SimulatedModbusDevice(spec, {code: machine})
        await device.start()
        settings = ModbusSettings(spec.code, "127.0.0.1", spec.port, timeout=0.3, retries=0, bindings=binding)
        specs.append(HostSpec("modbus", spec.code, 0.1, 0.05, {code: 60.0},
                              lambda s=settings: ModbusCollector(s), version="v1"))
        devices.append(device)
    return specs, devices


class Keeper:
    def __init__(self, book: LeaseBook, specs: list[HostSpec], database: bool = False) -> None:
        """With `database`, the device health goes to the database and the keeper reads it (`read_elsewhere`)."""
        self.samples = []
        self.host = CollectorHost(self.samples.extend, name=book.owner, flush_interval=0.05,
                                  health_sink=wiring.health_sink if database else None, health_every=book.ttl_ms / 3000,
                                  thread_cleanup=wiring.close_db_connections if database else None)
        self.host.start()
        self.specs = specs
        self.keeper = LeaseKeeper(self.host, book, lambda: list(self.specs), interval=0.2,
                                  read_elsewhere=wiring.read_elsewhere if database else None,
                                  db_cleanup=wiring.close_db_connections if database else None)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.keeper.run(self.stop))

    @property
    def owned(self) -> set[str]:
        return set(self.host.runs)

    async def crash(self) -> None:
        """Die without giving anything back: the leases are left to expire."""
        self.keeper.book.leave = lambda keys: None
        self.stop.set()
        await self.task

    async def close(self) -> None:
        self.stop.set()
        await self.task


async def wait_until(condition, timeout: float = 10.0, every: float = 0.05, check=None) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not condition():
        if check is not None:
            check()
        if loop.time() - started > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(every)
    return loop.time() - started


async def test_collectors_share_devices_and_one_takes_over_when_the_other_dies(book_factory):
    specs, devices = await serve_devices(6)
    a = Keeper(book_factory("a"), specs)
    b = Keeper(book_factory("b"), specs)

    def never_both() -> None:
        assert not (a.owned & b.owned), "a device is read by two collectors at once"

    try:
        await wait_until(lambda: len(a.owned) == 3 and len(b.owned) == 3, check=never_both)
        await a.crash()
        assert len(a.owned) == 0
        await wait_until(lambda: len(b.owned) == 6, check=never_both)  # lease ttl 1 s + a round of 0.2 s
        await asyncio.sleep(0.3)
        scans = b.host.stats()
        assert all(stats["scans"] >= 1 for stats in scans.values())
    finally:
        await b.close()
        for device in devices:
            await device.stop()


async def test_a_new_collector_gets_its_share_from_a_busy_one(book_factory):
    specs, devices = await serve_devices(8)
    a = Keeper(book_factory("a"), specs)
    try:
        await wait_until(lambda: len(a.owned) == 8)
        b = Keeper(book_factory("b"), specs)
        await wait_until(lambda: len(a.owned) == 4 and len(b.owned) == 4,
                         check=lambda: not (a.owned & b.owned) or pytest.fail("shared device"))
        await b.close()
        await wait_until(lambda: len(a.owned) == 8)  # b left cleanly: its devices come straight back
    finally:
        await a.close()
        for device in devices:
            await device.stop()


async def test_a_changed_device_is_rebuilt_and_a_disabled_one_dropped(book_factory):
    specs, devices = await serve_devices(2)
    book = book_factory("a")
    a = Keeper(book, specs)
    try:
        await wait_until(lambda: len(a.owned) == 2)
        old_run = a.host.runs["modbus:dev-0"]
        a.specs = [replace(specs[0], version="v2", scan_interval=0.2), specs[1]]
        await wait_until(lambda: a.host.runs["modbus:dev-0"] is not old_run)
        assert a.host.runs["modbus:dev-0"].spec.scan_interval == 0.2
        a.specs = [a.specs[0]]
        await wait_until(lambda: a.owned == {"modbus:dev-0"})
        assert book.owners(["modbus:dev-1"]) == {"modbus:dev-1": None}  # given back at once
        await asyncio.sleep(0.1)
        assert [s.value for s in a.samples if s.machine_code == "M1" and s.signal == "connected"][-1] is False
    finally:
        await a.close()
        for device in devices:
            await device.stop()


async def test_a_collector_reads_on_through_a_redis_outage_and_takes_its_leases_back(redis_url, book_factory):
    # Reading stopped ~7 s into an outage and a long one was stored as no-data: downtime that never happened.
    specs, devices = await serve_devices(2)
    link = CuttableLink(urlsplit(redis_url).hostname, urlsplit(redis_url).port)
    a = Keeper(book_factory("a", client=through(link, redis_url)), specs)
    watcher = book_factory("watcher")
    try:
        await wait_until(lambda: len(a.owned) == 2)
        link.cut()
        scans = sum(s["scans"] for s in a.host.stats().values())
        await asyncio.sleep(3.0)  # three lease times: the leases are gone
        assert watcher.owners(list(a.owned)) == {key: None for key in a.owned}
        assert len(a.owned) == 2  # still read...
        await wait_until(lambda: sum(s["scans"] for s in a.host.stats().values()) > scans + 10)  # ...and read on
        link.restore()
        await wait_until(lambda: set(watcher.owners(list(a.owned)).values()) == {"a"})
        assert len(a.owned) == 2
    finally:
        await a.close()
        link.close()
        for device in devices:
            await device.stop()


@pytest.mark.django_db(transaction=True)
async def test_after_a_redis_outage_no_rival_takes_a_device_another_collector_still_reads(redis_url, book_factory):
    # a cannot reach Redis for longer than its leases; b can. The database, which a still writes,
    # tells b that a reads the devices: b takes none, and a takes its leases back. Never two owners.
    specs, devices = await serve_devices(2)
    link = CuttableLink(urlsplit(redis_url).hostname, urlsplit(redis_url).port)
    a = Keeper(book_factory("a", client=through(link, redis_url)), specs,
               database=True)
    b = None
    try:
        await wait_until(lambda: len(a.owned) == 2)
        link.cut()
        b = Keeper(book_factory("b"), specs, database=True)
        await asyncio.sleep(3.0)  # three lease times: a's leases are gone, b has had 15 rounds
        assert (len(a.owned), len(b.owned)) == (2, 0)
        link.restore()
        watcher = book_factory("watcher")
        await wait_until(lambda: set(watcher.owners(list(a.owned)).values()) == {"a"},
                         check=lambda: not b.owned or pytest.fail(f"b took {b.owned} while a read them"))
        await a.close()  # a leaves cleanly: its devices go to b at once
        await wait_until(lambda: len(b.owned) == 2)
    finally:
        await a.close()
        if b is not None:
            await b.close()
        link.close()
        for device in devices:
            await device.stop()


# -- the database dropping a collector thread's connection ---------------------------------


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def drop_database_link(thread: ThreadPoolExecutor) -> None:
    """What a database restart or a cut link leaves in a long-lived thread: the server ended its connection."""
    from django.db import connection

    pid = thread.submit(_backend_pid).result(30)

    def terminate() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as other:
        other.submit(terminate).result(30)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("door", ["device_specs", "read_elsewhere", "health_sink", "pipeline_sink"])
def test_a_collector_thread_whose_database_connection_died_reconnects(door):
    # After PostgreSQL refused connections for 20 s, every lease round failed with "the connection is
    # closed" (94 of 94): a thread of the collector kept its dead connection for ever.
    from datetime import UTC, datetime

    from django.db import connection

    from monitoring.collectors.records import HealthRow, Sample
    from monitoring.models import ModbusDevice, SignalBinding
    from planning.models import Area, Line, Machine, Site

    if connection.vendor != "postgresql":
        pytest.skip("a database server that drops connections (SQLite has none; its outage is a lock)")
    line = Line.objects.create(area=Area.objects.create(site=Site.objects.create(code="S", name="S"),
                                                        code="A", name="A"), code="L", name="L")
    machine = Machine.objects.create(line=line, code="M1", name="M1", default_ideal_cycle_time=1.0)
    device = ModbusDevice.objects.create(code="dev-1", host="127.0.0.1", port=free_port())
    SignalBinding.objects.create(machine=machine, signal="running", modbus_device=device, table="holding",
                                 address=0, data_type="uint16", bit=0)
    calls = {
        "device_specs": lambda: [spec.key for spec in wiring.device_specs()] == ["modbus:dev-1"],
        "read_elsewhere": lambda: wiring.read_elsewhere(["modbus:dev-1"], "me", 10.0) == set(),
        "health_sink": lambda: wiring.health_sink([HealthRow("modbus", "dev-1", True, datetime.now(UTC), 0, "",
                                                             "me", ("M1",))]) is None,
        "pipeline_sink": lambda: wiring.pipeline_sink([Sample("M1", datetime.now(UTC), "running", True)]) is None,
    }
    call = calls[door]
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collector-db")
    try:
        assert thread.submit(call).result(30)
        drop_database_link(thread)
        with pytest.raises(Exception):  # noqa: B017 - whatever the driver says of a dead connection
            thread.submit(call).result(30)
        # The call that met the dead connection let it go: the next one connects anew.
        assert thread.submit(call).result(30)
        assert thread.submit(call).result(30)
    finally:
        thread.submit(wiring.close_db_connections).result(30)
        thread.shutdown()


# -- Celery: supervise, and real workers ---------------------------------------------------


@pytest.mark.django_db
def test_supervise_asks_for_a_collector_when_devices_have_no_owner(redis_url, settings):
    from monitoring.models import ModbusDevice, SignalBinding
    from monitoring.tasks import supervise
    from planning.models import Area, Line, Machine, Site

    line = Line.objects.create(area=Area.objects.create(site=Site.objects.create(code="S", name="S"),
                                                        code="A", name="A"), code="L", name="L")
    machine = Machine.objects.create(line=line, code="M1", name="M1", default_ideal_cycle_time=1.0)
    device = ModbusDevice.objects.create(code="dev-1", host="127.0.0.1", port=free_port())
    SignalBinding.objects.create(machine=machine, signal="total_count", modbus_device=device, table="holding",
                                 address=2, data_type="uint16")
    ModbusDevice.objects.create(code="dev-unbound", host="127.0.0.1", port=free_port())
    client = redis.Redis.from_url(redis_url)
    client.delete("collect", "oee:collect:spawn:any")
    try:
        found = supervise(inspect_timeout=0.2)
        assert found["devices"] == 1 and found["unowned"] == ["modbus:dev-1"]
        assert found["started"] == ["any"]
        assert client.llen("collect") == 1
        message = json.loads(client.lindex("collect", 0))
        assert message["headers"]["task"] == "monitoring.tasks.run_collector"
        # A second beat does not pile up starts while the first is on its way.
        assert supervise(inspect_timeout=0.2)["started"] == []
        assert client.llen("collect") == 1
    finally:
        client.delete("collect", "oee:collect:spawn:any")




def stored_since(database: Path, machines: list[str]) -> list[tuple[str, str]]:
    """(machine, time of its latest observation) from the shared SQLite file."""
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT m.code, MAX(o.ts) FROM monitoring_observation o JOIN planning_machine m ON m.id = o.machine_id "
            f"WHERE m.code IN ({','.join('?' * len(machines))}) GROUP BY m.code", machines,
        ).fetchall()


def device_health(database: Path) -> dict[str, str]:
    with sqlite3.connect(database) as db:
        return dict(db.execute("SELECT device_code, collector FROM monitoring_devicehealth").fetchall())


def through(link: CuttableLink, url: str) -> str:
    """`url` with its host and port those of `link`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"127.0.0.1:{link.port}", parts.path, parts.query, parts.fragment))


def redis_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@pytest.mark.slow
def test_a_killed_workers_devices_are_picked_up_by_another_worker(redis_url, tmp_path):
    ports = {f"M{i}": free_port() for i in range(6)}
    database = tmp_path / "shared.sqlite3"
    broker = redis_db(redis_url, 7)  # a database of its own: queues and leases of this test only
    client = redis.Redis.from_url(broker)
    client.flushdb()
    env = {
        **os.environ, "DATABASE_URL": f"sqlite:///{database}", "REDIS_URL": broker,
        "COLLECTOR_LEASE_TTL_MS": "3000", "DJANGO_SETTINGS_MODULE": "oee_site.settings", "LOG_LEVEL": "INFO",
    }
    set_up_plant(env, ports)
    spec = PlantSpec(
        machines=tuple(MachineSpec(code, 0.05) for code in ports),
        modbus=tuple(DeviceSpec(f"dev-{code}", port, bindings=(
            RegisterBinding((code, "running"), "holding", 0, "uint16", bit=0),
            RegisterBinding((code, "total_count"), "holding", 2),
        )) for code, port in ports.items()),
    )
    keys = [f"modbus:dev-{code}" for code in ports]
    book = LeaseBook(client, "observer", ttl=3.0)
    workers: dict[str, subprocess.Popen] = {}
    logs = {}
    try:
        with BackgroundPlant(Plant(spec, seed=2)):
            for name in ("w1", "w2"):
                logs[name] = open(tmp_path / f"{name}.log", "wb")
                workers[name] = start_worker(env, name, logs[name])

            def by_worker() -> dict[str, set[str]]:
                owners = book.owners(keys)
                found: dict[str, set[str]] = {}
                for key, owner in owners.items():
                    if owner is not None:
                        found.setdefault(owner.split("@")[0], set()).add(key)
                return found

            deadline = time.monotonic() + 45
            while sorted(map(len, by_worker().values())) != [3, 3]:
                assert time.monotonic() < deadline, f"workers did not share the devices fairly: {by_worker()}"
                assert all(w.poll() is None for w in workers.values()), "a worker exited"
                time.sleep(0.2)
            shared = by_worker()

            os.killpg(workers["w1"].pid, signal.SIGKILL)
            workers["w1"].wait(10)
            killed = time.monotonic()
            killed_at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
            while by_worker() != {"w2": set(keys)}:
                assert time.monotonic() - killed < 30, f"devices not picked up within 30 s: {by_worker()}"
                time.sleep(0.2)
            took = time.monotonic() - killed

            # Let the new owner read and store a round; on a loaded machine the shared SQLite
            # file may keep it waiting, so wait for the outcome rather than a fixed time.
            moved = sorted(key.split(":dev-")[1] for key in shared["w1"])
            deadline = time.monotonic() + 20
            while True:
                rows, health = stored_since(database, moved), device_health(database)
                stored = sorted(code for code, last in rows if last >= killed_at) == moved
                if (stored and all(health.get(f"dev-{code}", "").startswith("w2@") for code in ports)) or (
                    time.monotonic() > deadline
                ):
                    break
                time.sleep(0.2)

            # A warm shutdown (SIGTERM) stops the collector and gives its leases back at once.
            workers["w2"].send_signal(signal.SIGTERM)
            workers["w2"].wait(20)
            released = book.owners(keys)
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
        for log in logs.values():
            log.close()
        client.flushdb()

    assert took < 30  # the promise; with a 3 s lease it takes about 4 s
    assert released == dict.fromkeys(keys)
    # The devices the dead worker had are read and stored by the live one.
    assert sorted(code for code, _ in rows) == moved
    assert all(last >= killed_at for _, last in rows), (rows, killed_at)
    assert all(health[f"dev-{code}"].startswith("w2@") for code in ports), health
