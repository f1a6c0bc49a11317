"""The OPC UA collector against the plant simulator's real asyncua server on loopback."""

from __future__ import annotations

import ast
import asyncio
import inspect
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import astuple, dataclass, replace
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
import pytest_asyncio
from asyncua import ua

from monitoring.collectors import opcua
from monitoring.collectors.base import CollectorError, Reading
from monitoring.collectors.opcua import OpcUaCollector
from monitoring.collectors.opcua_values import decode_value
from monitoring.collectors.settings import NodeBinding, OpcUaSettings
from monitoring.simulator.opcua_server import NAMESPACE_INDEX, SimulatorOpcUaServer, node_ids

# Tests sharing a module-scoped server must run on that server's event loop.
module_loop = pytest.mark.asyncio(loop_scope="module")

# Server_ServerStatus_BuildInfo_ProductName: a String node every OPC UA server has.
PRODUCT_NAME_NODE = "i=2261"


@dataclass
class Machine:
    """What the simulator reads of a simulated machine."""

    code: str
    running: bool = True
    fault_code: int = 0
    total_count: int = 0
    reject_count: int = 0
    packml_state: int | None = 6


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def simulator_url() -> str:
    return f"opc.tcp://127.0.0.1:{free_port()}/oee/"


def simulator(machines: list[Machine], **options: object) -> SimulatorOpcUaServer:
    """A simulator on a free port that updates often; without the server clock, which slows stop()."""
    return SimulatorOpcUaServer(machines, simulator_url(), period=0.02, clock=False, **options)


def fast(url: str, **settings: object) -> OpcUaSettings:
    """Endpoint settings that publish and time out quickly enough for tests."""
    return OpcUaSettings(url=url, publishing_interval=0.05, sampling_interval=0.02, timeout=1.0, **settings)


def bindings_of(server: SimulatorOpcUaServer, machine_code: str) -> list[tuple[str, str, str]]:
    return [(machine_code, signal, node) for signal, node in server.node_ids(machine_code).items()]


def latest(readings: list[Reading]) -> dict[tuple[str, str], object]:
    values: dict[tuple[str, str], object] = {}
    for reading in readings:
        values[reading.machine_code, reading.signal] = reading.value
    return values


async def read_until(
    collector: OpcUaCollector, done: Callable[[list[Reading]], bool], within: float = 20.0
) -> list[Reading]:
    """Read repeatedly until `done(all readings so far)`; fail after `within` seconds."""
    readings: list[Reading] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        readings += await collector.read()
        if done(readings):
            return readings
        await asyncio.sleep(0.05)
    pytest.fail(f"condition not met within {within}s; read {latest(readings)}")


async def read_until_error(collector: OpcUaCollector, within: float = 20.0) -> CollectorError:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            await collector.read()
        except CollectorError as error:
            return error
        await asyncio.sleep(0.05)
    pytest.fail(f"read() kept answering for {within}s after the server went away")


@dataclass
class SimulatedPlant:
    server: SimulatorOpcUaServer
    filler: Machine
    capper: Machine
    labeller: Machine


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def simulated() -> AsyncIterator[SimulatedPlant]:
    filler, capper, labeller = Machine("FILLER-1"), Machine("CAPPER-1", packml_state=None), Machine("LABELLER-1")
    async with simulator([filler, capper, labeller]) as server:
        yield SimulatedPlant(server, filler, capper, labeller)


@pytest_asyncio.fixture(loop_scope="module")
async def filler_collector(simulated: SimulatedPlant) -> AsyncIterator[OpcUaCollector]:
    collector = OpcUaCollector(fast(simulated.server.url), bindings_of(simulated.server, "FILLER-1"))
    await collector.connect()
    yield collector
    await collector.close()


def test_it_serves_the_simulator_namespace_at_index_2() -> None:
    assert NAMESPACE_INDEX == 2
    assert node_ids("FILLER-1") == {
        "running": "ns=2;s=FILLER-1.Running",
        "fault": "ns=2;s=FILLER-1.FaultCode",
        "total_count": "ns=2;s=FILLER-1.TotalCount",
        "reject_count": "ns=2;s=FILLER-1.RejectCount",
        "packml_state": "ns=2;s=FILLER-1.PackMLState",
    }


@module_loop
async def test_it_reads_every_signal_by_subscription(
    simulated: SimulatedPlant, filler_collector: OpcUaCollector
) -> None:
    assert filler_collector.subscribed
    machine = simulated.filler
    first = await read_until(filler_collector, lambda r: len(latest(r)) == 5)
    assert latest(first)["FILLER-1", "running"] is machine.running

    machine.running, machine.fault_code, machine.packml_state = False, 17, 2
    machine.total_count += 250
    machine.reject_count += 3
    expected = {
        ("FILLER-1", "running"): False,
        ("FILLER-1", "fault"): 17,
        ("FILLER-1", "total_count"): machine.total_count,
        ("FILLER-1", "reject_count"): machine.reject_count,
        ("FILLER-1", "packml_state"): 2,
    }
    changed = await read_until(filler_collector, lambda r: latest(r) == expected)

    running = [r for r in changed if r.signal == "running"][-1]
    assert type(running.value) is bool and running.raw is False
    assert all(type(r.value) is int for r in changed if r.signal != "running")
    assert running.ts.tzinfo is not None and abs(time.time() - running.ts.timestamp()) < 5
    assert filler_collector.take_errors() == []


@module_loop
async def test_changes_within_one_publishing_interval_all_arrive_in_order(
    simulated: SimulatedPlant, filler_collector: OpcUaCollector
) -> None:
    await read_until(filler_collector, lambda r: len(latest(r)) == 5)
    start = simulated.filler.total_count
    for _ in range(5):
        simulated.filler.total_count += 1
        # Write each value now rather than at the simulator's next tick, which could merge two.
        await simulated.server.update_once()
    readings = await read_until(
        filler_collector, lambda r: latest(r).get(("FILLER-1", "total_count")) == start + 5
    )
    assert [r.value for r in readings if r.signal == "total_count"] == list(range(start + 1, start + 6))


@module_loop
async def test_it_sends_the_32_bit_counter_as_the_plc_has_it(
    simulated: SimulatedPlant, filler_collector: OpcUaCollector
) -> None:
    simulated.filler.total_count = 2**32 + 41
    readings = await read_until(filler_collector, lambda r: latest(r).get(("FILLER-1", "total_count")) == 41)
    assert latest(readings)["FILLER-1", "total_count"] == 41


@module_loop
async def test_a_machine_without_packml_has_no_packml_node(simulated: SimulatedPlant) -> None:
    assert "packml_state" not in simulated.server.node_ids("CAPPER-1")
    binding = ("CAPPER-1", "packml_state", "ns=2;s=CAPPER-1.PackMLState")
    collector = OpcUaCollector(fast(simulated.server.url), [binding])
    await collector.connect()
    try:
        assert await collector.read() == []
        (error,) = collector.take_errors()
        assert "BadNodeIdUnknown" in str(error) and "CAPPER-1.packml_state" in str(error)
    finally:
        await collector.close()


@module_loop
async def test_a_malformed_value_is_dropped_with_an_error_not_a_crash(simulated: SimulatedPlant) -> None:
    bindings = [("CAPPER-1", "running", "ns=2;s=CAPPER-1.Running"), ("CAPPER-1", "total_count", PRODUCT_NAME_NODE)]
    collector = OpcUaCollector(fast(simulated.server.url), bindings)
    await collector.connect()
    try:
        readings = await read_until(collector, lambda r: ("CAPPER-1", "running") in latest(r))
        await asyncio.sleep(0.2)
        readings += await collector.read()
        assert {r.signal for r in readings} == {"running"}
        (error,) = collector.take_errors()
        assert "CAPPER-1.total_count" in str(error) and "expected a cumulative count, got String" in str(error)
        assert collector.take_errors() == []
    finally:
        await collector.close()


@module_loop
async def test_a_node_id_that_does_not_parse_is_reported_and_the_rest_is_read(simulated: SimulatedPlant) -> None:
    bindings = [("CAPPER-1", "running", "ns=2;s=CAPPER-1.Running"), ("CAPPER-1", "fault", "not a node id")]
    collector = OpcUaCollector(fast(simulated.server.url), bindings)
    await collector.connect()
    try:
        await read_until(collector, lambda r: ("CAPPER-1", "running") in latest(r))
        (error,) = collector.take_errors()
        assert "CAPPER-1.fault (not a node id): not a node id" in str(error)
    finally:
        await collector.close()


@module_loop
async def test_read_now_reads_each_node_once(simulated: SimulatedPlant) -> None:
    simulated.capper.total_count, simulated.capper.running = 1234, True
    await simulated.server.update_once()
    bindings = [
        ("CAPPER-1", "running", "ns=2;s=CAPPER-1.Running"),
        ("CAPPER-1", "total_count", "ns=2;s=CAPPER-1.TotalCount"),
        ("CAPPER-1", "reject_count", PRODUCT_NAME_NODE),
        ("CAPPER-1", "fault", "ns=2;s=CAPPER-1.NoSuchNode"),
    ]
    settings = replace(fast(simulated.server.url), bindings=tuple(NodeBinding(*b) for b in bindings))
    results = await OpcUaCollector.probe(settings)

    assert astuple(results[0]) == ("CAPPER-1", "running", True, True, None)
    assert astuple(results[1]) == ("CAPPER-1", "total_count", 1234, 1234, None)
    machine, signal, raw, value, error = astuple(results[2])
    assert (signal, value) == ("reject_count", None) and isinstance(raw, str) and "expected a cumulative count" in error
    assert results[3].value is None and "BadNodeIdUnknown" in results[3].error


@module_loop
async def test_read_now_says_for_each_binding_that_the_endpoint_does_not_answer() -> None:
    settings = replace(fast(simulator_url()), bindings=(NodeBinding("M", "running", "ns=2;s=M.Running"),))
    (row,) = await OpcUaCollector.probe(settings)
    assert row.value is None and "cannot connect" in row.error


@module_loop
async def test_connect_to_a_closed_port_raises_collector_error() -> None:
    collector = OpcUaCollector(fast(simulator_url()), [("M", "running", "ns=2;s=M.Running")])
    with pytest.raises(CollectorError, match="cannot connect"):
        await collector.connect()
    assert collector.client is None
    with pytest.raises(CollectorError, match="not connected"):
        await collector.read()
    await collector.close()


@module_loop
async def test_it_polls_when_the_server_refuses_subscriptions() -> None:
    machine = Machine("PRESS-1", total_count=10)
    async with simulator([machine], subscriptions=False) as server:
        collector = OpcUaCollector(fast(server.url), bindings_of(server, "PRESS-1"))
        await collector.connect()
        try:
            assert not collector.subscribed
            first = await collector.read()
            assert latest(first) == {
                ("PRESS-1", "running"): True,
                ("PRESS-1", "fault"): 0,
                ("PRESS-1", "total_count"): 10,
                ("PRESS-1", "reject_count"): 0,
                ("PRESS-1", "packml_state"): 6,
            }
            machine.total_count, machine.running = 11, False
            changed = await read_until(collector, lambda r: latest(r)["PRESS-1", "total_count"] == 11)
            assert latest(changed)["PRESS-1", "running"] is False

            await server.stop()
            error = str(await read_until_error(collector))
            assert "session lost" in error or "read failed" in error
        finally:
            await collector.close()


@module_loop
async def test_the_host_reads_a_subscribed_change_when_it_arrives_not_at_the_next_scan() -> None:
    from monitoring.collectors.host import CollectorHost, DeviceSpec

    machine = Machine("OVEN-2", total_count=10)
    async with simulator([machine]) as server:
        samples = []
        host = CollectorHost(samples.extend)
        host.start()
        settings, bindings = fast(server.url), bindings_of(server, "OVEN-2")
        # One scan an hour: only the subscription's news can bring the change within the test.
        host.add(DeviceSpec("opcua", "oven", 3600.0, 0.05, {"OVEN-2": 7200.0},
                            lambda: OpcUaCollector(settings, bindings)))
        try:
            counts = lambda: [s.value for s in samples if s.signal == "total_count"]  # noqa: E731
            deadline = time.monotonic() + 20
            while counts() != [10]:
                assert time.monotonic() < deadline, f"the first scan's values never came: {samples}"
                await asyncio.sleep(0.02)
            scans = host.runs["opcua:oven"].scans
            machine.total_count = 11
            while counts() != [10, 11]:
                assert time.monotonic() < deadline, f"the change never came: {counts()}"
                await asyncio.sleep(0.02)
            assert host.runs["opcua:oven"].scans > scans  # read on its news, between two scans
        finally:
            await host.stop()


@module_loop
async def test_after_a_server_restart_reconnect_builds_a_new_session_and_subscription(
    simulated: SimulatedPlant,
) -> None:
    server, machine = simulated.server, simulated.labeller
    machine.total_count = 100
    collector = OpcUaCollector(fast(server.url), bindings_of(server, "LABELLER-1"))
    await collector.connect()
    try:
        await read_until(collector, lambda r: latest(r).get(("LABELLER-1", "total_count")) == 100)
        dead_client = collector.client

        await server.restart()
        error = await read_until_error(collector)
        assert "session lost" in str(error)

        await collector.close()
        machine.total_count = 107
        await collector.connect()
        assert collector.client is not dead_client and collector.subscribed
        await read_until(collector, lambda r: latest(r).get(("LABELLER-1", "total_count")) == 107)
        machine.total_count = 108
        await read_until(collector, lambda r: latest(r).get(("LABELLER-1", "total_count")) == 108)
    finally:
        await collector.close()


class FreezableRelay:
    """A TCP relay in front of the server that can stop passing bytes while keeping the sockets open: a hung device."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.frozen = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for reader, writer in ((client_reader, server_writer), (server_reader, client_writer)):
            task = asyncio.create_task(self._pump(reader, writer))
            self._tasks.add(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if not self.frozen:
                    writer.write(data)
                    await writer.drain()
        finally:
            writer.close()


@module_loop
async def test_a_server_that_hangs_is_a_lost_session(simulated: SimulatedPlant) -> None:
    relay = FreezableRelay(urlparse(simulated.server.url).port)
    await relay.start()
    # Requests get 2 s: a loaded CI machine took over 0.5 s to create the monitored items through the relay.
    settings = OpcUaSettings(url=f"opc.tcp://127.0.0.1:{relay.port}/oee/", publishing_interval=0.05, timeout=2.0)
    collector = OpcUaCollector(settings, bindings_of(simulated.server, "CAPPER-1"))
    try:
        await collector.connect()
        await read_until(collector, lambda r: ("CAPPER-1", "running") in latest(r))
        relay.frozen = True
        # A hanging server answers nothing, ever: only the session's watchdog can tell, before the deadline.
        assert "session lost" in str(await read_until_error(collector))
    finally:
        await collector.close()
        await relay.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def password_server() -> AsyncIterator[SimulatorOpcUaServer]:
    async with simulator([Machine("OVEN-1")], users={"collector": "s3cret"}) as server:
        yield server


@module_loop
async def test_it_logs_in_with_user_name_and_password(password_server: SimulatorOpcUaServer) -> None:
    settings = fast(password_server.url, username="collector", password="s3cret")
    collector = OpcUaCollector(settings, bindings_of(password_server, "OVEN-1"))
    await collector.connect()
    try:
        await read_until(collector, lambda r: latest(r).get(("OVEN-1", "running")) is True)
    finally:
        await collector.close()


@module_loop
@pytest.mark.parametrize("username, password", [("collector", "wrong"), ("", "")])
async def test_a_wrong_password_or_none_is_refused(
    password_server: SimulatorOpcUaServer, username: str, password: str
) -> None:
    collector = OpcUaCollector(
        fast(password_server.url, username=username, password=password), bindings_of(password_server, "OVEN-1")
    )
    with pytest.raises(CollectorError, match="cannot connect"):
        await collector.connect()
    assert collector.client is None


@pytest.mark.parametrize(
    "signal, variant, expected",
    [
        ("running", ua.Variant(True, ua.VariantType.Boolean), True),
        ("running", ua.Variant(0, ua.VariantType.Int16), False),
        ("fault", ua.Variant(17, ua.VariantType.UInt16), 17),
        ("fault", ua.Variant(False, ua.VariantType.Boolean), False),
        ("reason", ua.Variant("JAM", ua.VariantType.String), "JAM"),
        ("reason", ua.Variant(12, ua.VariantType.Int32), "12"),
        ("total_count", ua.Variant(2**32 - 1, ua.VariantType.UInt32), 2**32 - 1),
        ("good_count", ua.Variant(2**40, ua.VariantType.UInt64), 2**40),
        ("reject_count", ua.Variant(12.0, ua.VariantType.Double), 12),
        ("packml_state", ua.Variant(6, ua.VariantType.Int32), 6),
    ],
)
def test_it_decodes_each_signal_to_its_python_type(signal: str, variant: ua.Variant, expected: object) -> None:
    value = decode_value(signal, variant)
    assert value == expected and type(value) is type(expected)


def test_it_reads_one_bit_of_a_status_word() -> None:
    status_word = ua.Variant(0b1000, ua.VariantType.UInt16)
    assert decode_value("running", status_word, bit=3) is True
    assert decode_value("running", status_word, bit=2) is False
    with pytest.raises(CollectorError, match="needs an integer"):
        decode_value("running", ua.Variant(1.0, ua.VariantType.Float), bit=0)


def test_it_scales_a_counter_kept_in_other_units() -> None:
    assert decode_value("total_count", ua.Variant(7, ua.VariantType.Int32), scale=10) == 70
    with pytest.raises(CollectorError, match="whole number"):
        decode_value("total_count", ua.Variant(7, ua.VariantType.Int32), scale=0.5)


@pytest.mark.parametrize(
    "signal, variant",
    [
        ("total_count", ua.Variant("12", ua.VariantType.String)),
        ("total_count", ua.Variant(True, ua.VariantType.Boolean)),
        ("total_count", ua.Variant(-3, ua.VariantType.Int32)),
        ("reject_count", ua.Variant(1.5, ua.VariantType.Float)),
        ("running", ua.Variant(2, ua.VariantType.Int16)),
        ("running", ua.Variant("yes", ua.VariantType.String)),
        ("packml_state", ua.Variant(6.0, ua.VariantType.Double)),
        ("packml_state", ua.Variant(-1, ua.VariantType.Int32)),
        ("packml_state", ua.Variant(18, ua.VariantType.Int32)),
        ("reason", ua.Variant("", ua.VariantType.String)),
        ("fault", ua.Variant(None, ua.VariantType.Null)),
        ("total_count", ua.Variant([1, 2], ua.VariantType.UInt32)),
        ("total_count", ua.Variant(b"\x01", ua.VariantType.ByteString)),
        ("scrap", ua.Variant(1, ua.VariantType.Int32)),
    ],
)
def test_it_refuses_a_value_its_signal_cannot_take(signal: str, variant: ua.Variant) -> None:
    with pytest.raises(CollectorError):
        decode_value(signal, variant)


# Every client-side call that would change something on the device.
WRITE_CALLS = {
    "write_value", "write_values", "write_attribute", "write_attributes", "write_array", "set_value",
    "set_attribute", "set_writable", "set_read_only", "add_variable", "add_object", "add_nodes",
    "delete_nodes", "call_method", "call", "write",
}


def test_the_collector_never_writes_to_the_device() -> None:
    tree = ast.parse(inspect.getsource(opcua))
    called = {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    assert called & WRITE_CALLS == set()
    assert "read_attributes" in called and "subscribe_data_change" in called


def test_an_endpoint_gives_its_collector_the_nodes_of_its_enabled_machines(plant: SimpleNamespace) -> None:
    from monitoring.collectors.wiring import device_specs
    from monitoring.models import OpcUaEndpoint, SignalBinding

    plant.a2.enabled = False
    plant.a2.save()
    endpoint = OpcUaEndpoint.objects.create(code="PLC-1", url="opc.tcp://127.0.0.1:4840/")
    for machine in (plant.a1, plant.a2):
        SignalBinding.objects.create(
            machine=machine, signal="running", opcua_endpoint=endpoint, node_id=f"ns=2;s={machine.code}.Status", bit=3
        )
    SignalBinding.objects.create(
        machine=plant.a1, signal="total_count", opcua_endpoint=endpoint, node_id="ns=2;s=A1.Count", scale=10
    )
    expected = [
        NodeBinding("A1", "running", "ns=2;s=A1.Status", bit=3),
        NodeBinding("A1", "total_count", "ns=2;s=A1.Count", scale=10),
    ]

    (spec,) = device_specs()
    collector = spec.factory()

    assert (spec.kind, spec.code, dict(spec.machines)) == ("opcua", "PLC-1", {"A1": 60})
    assert isinstance(collector, OpcUaCollector)
    assert (collector.endpoint.url, collector.endpoint.code) == ("opc.tcp://127.0.0.1:4840/", "PLC-1")
    assert sorted(collector.bindings, key=str) == expected
