"""From a value changing in a PLC to the message on a screen: Modbus and OPC UA, against the bare client libraries.

Usage: .venv/bin/python bench/latency.py [--trials 40] [--scan-interval 1] [--publishing-interval 1]

Sets up a line with two machines in a fresh database (a temporary SQLite file, or a new database
on $DATABASE_URL's PostgreSQL server) and a private Redis (or $REDIS_URL): MB-1 read from a
simulated Modbus TCP device every --scan-interval seconds, UA-1 from a simulated OPC UA server
by subscription at --publishing-interval. Runs the product's processes for real: daphne
(`oee_site.asgi:application`) and a collector process (what the worker's `run_collector` task
runs: the lease keeper, the collector host feeding the pipeline, the live publisher in its
thread). A manager's screen watches the line (MB-1 its constraint machine) over a websocket.
Beside them on the line, --busy machines (each on a Modbus device of its own) make a part every
second, so the collector, pipeline and publisher have other work when a measured change
arrives, as in a running plant.

Each trial adds one part to a machine's counter in the simulator at a random moment (a register
the device serves; an OPC UA node written in the server's address space) and times the change
until the screen's message shows it: collector, pipeline, database, publisher, Redis, daphne.
In the same run, on the same changes, the bare libraries: a pymodbus client polling the same
register at the same interval, and an asyncua subscription at the same publishing interval,
each timed until it sees the new value (the floor: a change waits for the next poll or publish).
Trials are spaced 1.5-2.5 s after the previous change reached the screen, so the screen's own
coalescing (LIVE_MIN_INTERVAL) never holds one back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchdb import served_database, served_settings, start_daphne  # noqa: E402

MARGIN_MS = 100  # target: p95 ≤ the interval + 100 ms
COLLECTOR = """
import asyncio
import django
django.setup()
from django.conf import settings
from monitoring import live
from monitoring.collectors.leases import run_collector_process
live.publish_in_background()
asyncio.run(run_collector_process(settings.REDIS_URL, ttl=settings.COLLECTOR_LEASE_TTL))
"""


def set_up_plant(modbus_port: int, opcua_url: str, scan_interval: float, publishing_interval: float,
                 expected_interval: float, busy_ports: list[int]) -> str:
    """Line LAT with MB-1 (Modbus), UA-1 (OPC UA) and BUSY-n, their devices and bindings; a manager's session cookie."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from monitoring.models import ModbusDevice, OpcUaEndpoint, SignalBinding
    from monitoring.simulator.opcua_server import node_ids
    from planning.models import Area, Line, Machine, Site
    from planning.permissions import MANAGERS

    call_command("migrate", verbosity=0)
    site = Site.objects.create(code="bench", name="Bench plant", time_zone="Europe/Berlin")
    line = Line.objects.create(area=Area.objects.create(site=site, code="bench", name="Bench"), code="LAT",
                               name="Latency")
    codes = ["MB-1", "UA-1"] + [f"BUSY-{n}" for n in range(1, len(busy_ports) + 1)]
    machines = {code: Machine.objects.create(line=line, code=code, name=code, position=index,
                                             default_ideal_cycle_time=1.0, expected_interval=expected_interval)
                for index, code in enumerate(codes)}
    line.constraint_machine = machines["MB-1"]  # as a configured line names its bottleneck
    line.save()
    for code, port in [("MB-1", modbus_port)] + [(f"BUSY-{n}", p) for n, p in enumerate(busy_ports, 1)]:
        device = ModbusDevice.objects.create(code=f"plc-{code.lower()}", host="127.0.0.1", port=port,
                                             scan_interval=scan_interval, timeout=1.0, retries=0, reconnect_backoff=0.5)
        for signal, address, bit in (("running", 0, 0), ("total_count", 2, None)):
            SignalBinding.objects.create(machine=machines[code], signal=signal, modbus_device=device,
                                         table="holding", address=address, data_type="uint16", bit=bit)
    endpoint = OpcUaEndpoint.objects.create(code="plc-ua", url=opcua_url, scan_interval=publishing_interval,
                                            publishing_interval=publishing_interval, sampling_interval=0.1,
                                            timeout=2.0, reconnect_backoff=0.5)
    nodes = node_ids("UA-1", packml=False)
    for signal in ("running", "total_count"):
        SignalBinding.objects.create(machine=machines["UA-1"], signal=signal, opcua_endpoint=endpoint,
                                     node_id=nodes[signal])
    user = User.objects.create_user("bench-manager")
    user.groups.add(Group.objects.get_or_create(name=MANAGERS)[0])
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY], store[HASH_SESSION_KEY] = str(user.pk), user.get_session_auth_hash()
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store.create()
    return f"sessionid={store.session_key}"


class Screen:
    """A manager's line screen: the latest total count of each machine, and when it arrived."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.states: dict[str, str] = {}
        self.arrived: dict[tuple[str, int], float] = {}
        self.news = asyncio.Event()

    async def watch(self, socket) -> None:
        async for text in socket:
            at = time.time()
            message = json.loads(text)
            for machine in message["machines"] if message["type"] == "snapshot" else [message]:
                if "total_count" not in machine:
                    continue
                code, count = machine["machine"], machine["total_count"]
                self.arrived.setdefault((code, count), at)
                self.counts[code], self.states[code] = count, machine["state"]
            self.news.set()

    async def until(self, condition, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            self.news.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self.news.wait(), left)
            except TimeoutError:
                return False
        return True


class Seen:
    """When a bare client first saw each value of the counter."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}

    def saw(self, value: int) -> None:
        self.at.setdefault(int(value), time.time())


async def bare_modbus(port: int, interval: float, seen: Seen) -> None:
    """pymodbus alone: read the counter register every `interval` seconds."""
    from pymodbus.client import AsyncModbusTcpClient

    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1.0, retries=0)
    await client.connect()
    loop = asyncio.get_running_loop()
    due = loop.time() + random.random() * interval
    try:
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            response = await client.read_holding_registers(2, count=1, device_id=1)
            if not response.isError():
                seen.saw(response.registers[0])
            due += interval
    finally:
        client.close()


async def bare_opcua(url: str, node_id: str, interval: float, seen: Seen) -> None:
    """asyncua alone: a subscription to the counter node at `interval`."""
    from asyncua import Client

    class Handler:
        def datachange_notification(self, node, value, data) -> None:
            seen.saw(value)

    client = Client(url, timeout=2.0)
    await client.connect()
    try:
        subscription = await client.create_subscription(interval * 1000, Handler())
        await subscription.subscribe_data_change([client.get_node(node_id)], sampling_interval=100)
        await asyncio.Event().wait()
    finally:
        await client.disconnect()


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def measure(options, env: dict, cookie: str, modbus_port: int, web_port: int, machines: dict, opcua_server,
                  log_dir: Path) -> dict[str, tuple[list[float], list[float], int]]:
    from websockets.asyncio.client import connect

    from monitoring.simulator.opcua_server import node_ids

    screen = Screen()
    socket = await connect(f"ws://127.0.0.1:{web_port}/ws/lines/LAT/", origin=f"http://127.0.0.1:{web_port}",
                           additional_headers={"Cookie": cookie}, max_size=None, compression=None, ping_interval=None)
    watcher = asyncio.create_task(screen.watch(socket))
    seen = {"modbus": Seen(), "opcua": Seen()}
    bare = [asyncio.create_task(bare_modbus(modbus_port, options.scan_interval, seen["modbus"])),
            asyncio.create_task(bare_opcua(opcua_server.url, node_ids("UA-1", packml=False)["total_count"],
                                           options.publishing_interval, seen["opcua"]))]
    collector = subprocess.Popen([sys.executable, "-c", COLLECTOR], cwd=ROOT, env=env,
                                 stdout=(log_dir / "collector.log").open("wb"), stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        # The collector claims its devices, reads them, the pipeline stores, the screen shows both running.
        if not await screen.until(lambda: all(screen.states.get(code) == "running" for code in ("MB-1", "UA-1")), 90):
            sys.exit(f"the screen never showed both machines running: {screen.states}; see {log_dir}")
        results = {}
        for protocol, code in (("modbus", "MB-1"), ("opcua", "UA-1")):
            machine = machines[code]
            ours, floor, missed = [], [], 0
            for trial in range(options.trials + 2):  # two to warm up, not counted
                await asyncio.sleep(random.uniform(1.5, 2.5))
                before = screen.counts.get(code, 0)
                machine.total_count += 1
                changed_at = time.time()
                if protocol == "opcua":
                    await opcua_server.update_once()
                if not await screen.until(lambda: screen.counts.get(code, 0) > before, 15):
                    missed += 1
                    continue
                arrived = min(at for (name, count), at in screen.arrived.items() if name == code and count > before)
                for _ in range(300):  # the bare client may see it after the screen did: wait for it too
                    if machine.total_count in seen[protocol].at:
                        break
                    await asyncio.sleep(0.01)
                bare_at = seen[protocol].at.get(machine.total_count)
                if trial >= 2:
                    ours.append(arrived - changed_at)
                    if bare_at is not None:
                        floor.append(bare_at - changed_at)
            results[protocol] = (ours, floor, missed)
        return results
    finally:
        collector.terminate()
        try:
            collector.wait(20)
        except subprocess.TimeoutExpired:
            collector.kill()
        watcher.cancel()
        for task in bare:
            task.cancel()
        await asyncio.gather(*bare, return_exceptions=True)  # disconnect while the servers still answer
        await socket.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40, help="changes per protocol")
    parser.add_argument("--scan-interval", type=float, default=1.0, help="Modbus scan interval (s)")
    parser.add_argument("--publishing-interval", type=float, default=1.0, help="OPC UA publishing interval (s)")
    parser.add_argument("--expected-interval", type=float, default=60.0,
                        help="the machines' expected interval (s); a heartbeat goes every half of it")
    parser.add_argument("--busy", type=int, default=4, help="other machines on the line, a part a second each")
    options = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    import logging

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
    from oee_site import redis_server
    from oee_site.redis_server import free_port

    url, drop = served_database("latency")
    private = None
    if os.environ.get("REDIS_URL"):
        redis_url = os.environ["REDIS_URL"]
    else:
        private, redis_url = redis_server.start()
    env = served_settings(url, redis_url)
    modbus_port, web_port = free_port(), free_port()
    busy_ports = [free_port() for _ in range(options.busy)]
    opcua_url = f"opc.tcp://127.0.0.1:{free_port()}/oee/"
    log_dir = Path(tempfile.mkdtemp(prefix="oee-bench-latency-logs-"))
    web = None
    try:
        import django

        django.setup()
        cookie = set_up_plant(modbus_port, opcua_url, options.scan_interval, options.publishing_interval,
                              options.expected_interval, busy_ports)
        web = start_daphne(env, web_port, "oee_site.asgi:application", log_dir / "daphne.log")
        results = asyncio.run(run(options, env, cookie, modbus_port, busy_ports, web_port, opcua_url, log_dir))
    finally:
        if web is not None:
            web.kill()
            web.wait()
        drop()
        if private is not None:
            private.terminate()

    database_name = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"{options.trials} changes per protocol; Modbus scan {options.scan_interval:g} s, OPC UA publishing "
          f"{options.publishing_interval:g} s; {options.busy} busy machines beside them; expected interval "
          f"{options.expected_interval:g} s; {database_name}; "
          f"{os.cpu_count()} CPUs; logs in {log_dir}")
    print(f"{'change → seen by':<34} {'p50':>7} {'p95':>7} {'max':>7} {'missed':>6}")
    summary = []
    for protocol, interval, label in (("modbus", options.scan_interval, "register"),
                                      ("opcua", options.publishing_interval, "node")):
        ours, floor, missed = results[protocol]
        name = {"modbus": "Modbus", "opcua": "OPC UA"}[protocol]
        bare_name = {"modbus": "bare pymodbus poll", "opcua": "bare asyncua subscription"}[protocol]
        print(f"  {name + ' ' + label + ' → screen':<32} {quantile(ours, 50) * 1000:>5.0f}ms "
              f"{quantile(ours, 95) * 1000:>5.0f}ms {max(ours) * 1000:>5.0f}ms {missed:>6}")
        print(f"  {bare_name:<32} {quantile(floor, 50) * 1000:>5.0f}ms {quantile(floor, 95) * 1000:>5.0f}ms "
              f"{max(floor) * 1000:>5.0f}ms")
        target = interval * 1000 + MARGIN_MS
        p95 = quantile(ours, 95) * 1000
        summary.append(f"{name} p95 {p95:.0f} ms at {interval:g} s (target ≤ {target:.0f} ms, "
                       f"{'met' if p95 <= target and not missed else 'NOT met'}; bare {quantile(floor, 95) * 1000:.0f} "
                       f"ms, ratio {p95 / (quantile(floor, 95) * 1000):.2f})")
    print("change in the PLC → screen: " + "; ".join(summary))


async def run(options, env: dict, cookie: str, modbus_port: int, busy_ports: list[int], web_port: int,
              opcua_url: str, log_dir: Path) -> dict:
    from monitoring.lib.registers import RegisterBinding
    from monitoring.simulator.modbus_server import DeviceSpec, SimulatedModbusDevice
    from monitoring.simulator.opcua_server import SimulatorOpcUaServer

    machines = {code: SimpleNamespace(code=code, running=True, fault_code=0, total_count=1000, reject_count=0,
                                      good_count=1000, packml_state=None) for code in ("MB-1", "UA-1")}
    busy = {f"BUSY-{n}": (port, SimpleNamespace(running=True, total_count=0)) for n, port in enumerate(busy_ports, 1)}
    devices = [SimulatedModbusDevice(DeviceSpec(f"plc-{code.lower()}", port, bindings=(
        RegisterBinding((code, "running"), "holding", 0, "uint16", bit=0),
        RegisterBinding((code, "total_count"), "holding", 2),
    )), {code: machine}) for code, (port, machine) in [("MB-1", (modbus_port, machines["MB-1"])), *busy.items()]]
    for device in devices:
        await device.start()

    async def make_parts(machine: SimpleNamespace) -> None:
        await asyncio.sleep(random.random())
        while True:
            machine.total_count += 1
            await asyncio.sleep(1.0)

    makers = [asyncio.create_task(make_parts(machine)) for _, machine in busy.values()]
    # The bench writes the node itself (update_once), so the server's own refresh never does.
    server = SimulatorOpcUaServer([machines["UA-1"]], opcua_url, period=3600.0, clock=False)
    await server.start()
    try:
        return await measure(options, env, cookie, modbus_port, web_port, machines, server, log_dir)
    finally:
        for task in makers:
            task.cancel()
        await server.stop()
        for device in devices:
            await device.stop()


if __name__ == "__main__":
    main()
