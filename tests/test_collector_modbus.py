"""The Modbus collector session against real pymodbus servers on loopback: reads, errors, read-only."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from monitoring.collectors.base import CollectorError
from monitoring.collectors.host import CollectorHost, DeviceSpec as HostSpec
from monitoring.collectors.modbus import ModbusCollector, ModbusSettings
from monitoring.lib.registers import RegisterBinding
from monitoring.simulator.behaviour import SimulatedMachine
from monitoring.simulator.modbus_server import DeviceSpec, SimulatedModbusDevice
from oee_site.redis_server import free_port

COLLECTOR_MODULES = ("base.py", "settings.py", "modbus.py", "host.py", "wiring.py", "leases.py")


def demo_bindings(machine: str = "M1") -> tuple[RegisterBinding, ...]:
    """The demo wiring: running = bit 0 of 0, fault code at 1, counters at 2 and 3, PackML at 4."""
    return (
        RegisterBinding((machine, "running"), "holding", 0, "uint16", bit=0),
        RegisterBinding((machine, "fault"), "holding", 1),
        RegisterBinding((machine, "total_count"), "holding", 2),
        RegisterBinding((machine, "reject_count"), "holding", 3),
        RegisterBinding((machine, "packml_state"), "holding", 4),
    )


def collector_for(spec: DeviceSpec, timeout: float = 0.5, retries: int = 0) -> ModbusCollector:
    return ModbusCollector(ModbusSettings(spec.code, spec.host, spec.port, spec.unit_id, timeout=timeout,
                                          retries=retries, bindings=spec.bindings))


@pytest.fixture
async def device():
    machine = SimulatedMachine("M1", ideal_cycle_time=1.0, seed=3, packml=True, total_count=65535 + 42)
    spec = DeviceSpec("dev-1", free_port(), bindings=demo_bindings())
    served = SimulatedModbusDevice(spec, {"M1": machine})
    await served.start()
    yield served
    await served.stop()


async def test_it_reads_the_demo_map_in_one_request(device):
    collector = collector_for(device.spec)
    await collector.connect()
    try:
        readings = await collector.read()
    finally:
        await collector.close()
    values = {r.signal: r.value for r in readings}
    # 65535 + 42 parts made: a 16-bit register shows 41.
    assert values == {"running": True, "fault": 0, "total_count": 41, "reject_count": 0, "packml_state": 6}
    assert {r.machine_code for r in readings} == {"M1"}
    assert all(r.ts.tzinfo is not None for r in readings)
    assert dict(device.function_codes) == {3: 1}


async def test_a_refused_connection_is_a_collector_error():
    collector = collector_for(DeviceSpec("nobody", free_port(), bindings=demo_bindings()))
    with pytest.raises(CollectorError, match="cannot connect"):
        await collector.connect()
    await collector.close()


@pytest.mark.parametrize(
    "fault, message",
    [
        (lambda d: d.answer_exception(2), "exception code 2 \\(illegal data address\\)"),
        (lambda d: d.answer_exception(4), "exception code 4 \\(server device failure\\)"),
        (lambda d: d.hang(), "No response|no answer|TimeoutError"),
        (lambda d: d.answer_garbage(), "."),
    ],
    ids=["illegal-address", "device-failure", "hang", "garbage"],
)
async def test_a_misbehaving_device_raises_one_error_type(device, fault, message):
    collector = collector_for(device.spec, timeout=0.3)
    await collector.connect()
    fault(device)
    try:
        with pytest.raises(CollectorError, match=message):
            await asyncio.wait_for(collector.read(), timeout=5)
    finally:
        await collector.close()


async def test_a_dropped_connection_fails_the_read_at_once(device):
    collector = collector_for(device.spec, timeout=120.0)
    await collector.connect()
    await collector.read()
    device.drop_connections()
    await asyncio.sleep(0.05)
    # Not the 120-s request timeout: the lost connection ends the read (else wait_for gives up first).
    with pytest.raises(CollectorError):
        await asyncio.wait_for(collector.read(), timeout=30)
    await collector.close()


async def test_it_splits_a_block_when_the_device_refuses_the_gap():
    # A device with registers 0-1 and 10-11 only: reading 0..11 in one go is refused.
    port = free_port()
    server = ModbusTcpServer(
        SimDevice(id=1, simdata=(
            [SimData(0, count=16, datatype=DataType.BITS)], [SimData(0, count=16, datatype=DataType.BITS)],
            [SimData(0, count=2, datatype=DataType.REGISTERS, values=[7, 8]),
             SimData(10, count=2, datatype=DataType.REGISTERS, values=[9, 10])],
            [SimData(0, count=1, datatype=DataType.REGISTERS)],
        )),
        address=("127.0.0.1", port),
    )
    await server.serve_forever(background=True)
    bindings = (RegisterBinding(("M", "fault"), "holding", 1), RegisterBinding(("M", "total_count"), "holding", 10))
    collector = ModbusCollector(ModbusSettings("gappy", "127.0.0.1", port, timeout=1.0, bindings=bindings))
    try:
        assert len(collector.blocks) == 1
        await collector.connect()
        first = {r.signal: r.value for r in await collector.read()}
        second = {r.signal: r.value for r in await collector.read()}
    finally:
        await collector.close()
        await server.shutdown()
    assert first == second == {"fault": 8, "total_count": 9}
    assert [(b.address, b.count) for b in collector.blocks] == [(1, 1), (10, 1)]


# -- read-only ---------------------------------------------------------------------------


def modbus_writes_in(source: str, name: str = "<source>") -> list[str]:
    """Calls and imports in `source` that could send a Modbus write function code."""
    found = []
    for node in ast.walk(ast.parse(source, filename=name)):
        if isinstance(node, ast.ImportFrom):
            found += [f"{name}: imports {a.name}" for a in node.names if "write" in a.name.lower()]
            continue
        called = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
        if called and (called.lower().startswith(("write_", "mask_write", "readwrite", "write"))
                       and called.lower() not in ("write_text", "writelines")):
            found.append(f"{name}:{node.lineno}: {called}")
    return found


def test_the_write_scan_would_catch_a_write():
    assert modbus_writes_in("await client.write_register(1, 5)")
    assert modbus_writes_in("client.readwrite_registers(read_address=0)")
    assert modbus_writes_in("from pymodbus.pdu.register_message import WriteSingleRegisterRequest")


def test_no_collector_code_calls_a_modbus_write_function():
    root = Path(__file__).resolve().parent.parent / "monitoring" / "collectors"
    offending = [hit for name in COLLECTOR_MODULES for hit in modbus_writes_in((root / name).read_text(), name)]
    assert offending == []


async def test_the_server_only_ever_sees_read_function_codes():
    machine = SimulatedMachine("M1", ideal_cycle_time=0.05, seed=1)
    bindings = demo_bindings() + (
        RegisterBinding(("M1", "good_count"), "input", 10, "uint32"),
        RegisterBinding(("M2", "running"), "coil", 3, "bool"),
        RegisterBinding(("M2", "fault"), "discrete", 7, "bool"),
    )
    spec = DeviceSpec("all-tables", free_port(), bindings=bindings)
    device = SimulatedModbusDevice(spec, {"M1": machine, "M2": machine})
    await device.start()
    host = CollectorHost(lambda batch: None, flush_interval=0.05)
    host.start()
    host.add(HostSpec("modbus", spec.code, 0.05, 0.05, {"M1": 60.0, "M2": 60.0}, lambda: collector_for(spec)))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30

    async def until_each_code_seen(times: int) -> None:
        while len(device.function_codes) < 4 or min(device.function_codes.values()) < times:
            assert loop.time() < deadline, f"the host did not read every table: {dict(device.function_codes)}"
            await asyncio.sleep(0.02)

    try:
        await until_each_code_seen(3)
        device.drop_connections()  # a reconnect must not send anything else either
        await until_each_code_seen(6)
    finally:
        await host.stop()
        await device.stop()
    seen = dict(device.function_codes)
    assert set(seen) == {1, 2, 3, 4}
    assert min(seen.values()) >= 5
