"""Read a device's map once, outside the collectors: the admin's "read now" action.

`read_once(device)` connects, reads every binding once, closes, and returns one row per
binding with the raw and decoded value or the error that prevented it. It runs its own event
loop, so it is called from ordinary (synchronous) Django code.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass

from monitoring.collectors.base import CollectorError


@dataclass(frozen=True)
class ProbeRow:
    machine_code: str
    signal: str
    raw: object
    value: object
    error: str | None = None


def read_once(device) -> list[ProbeRow]:
    """Read a `ModbusDevice` or `OpcUaEndpoint` once; one row per binding, in binding order."""
    from monitoring.models import ModbusDevice, OpcUaEndpoint

    if isinstance(device, ModbusDevice):
        bindings = list(device.bindings.select_related("machine").order_by("machine__code", "signal"))
        return _run(_probe_modbus(device, bindings))
    if isinstance(device, OpcUaEndpoint):
        bindings = list(device.bindings.select_related("machine").order_by("machine__code", "signal"))
        return _run(_probe_opcua(device, bindings))
    raise TypeError(f"cannot probe {type(device).__name__}: expected a ModbusDevice or an OpcUaEndpoint")


def _run(coroutine) -> list[ProbeRow]:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Called from inside an event loop (an async view, a shell): use a loop of our own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _probe_modbus(device, bindings: list) -> list[ProbeRow]:
    from monitoring.collectors.modbus import ModbusCollector, ModbusSettings
    from monitoring.lib.registers import RegisterMapError, decode_block

    if not bindings:
        return []
    try:
        settings = ModbusSettings.from_device(device, bindings)
    except RegisterMapError as error:
        return [ProbeRow(b.machine.code, b.signal, None, None, str(error)) for b in bindings]
    collector = ModbusCollector(settings)
    found: dict[tuple[str, str], ProbeRow] = {}
    try:
        await collector.connect()
        # Block by block, so one refused block still shows the values of the others.
        for block in list(collector.blocks):
            try:
                data = await collector._read_block(block)
                decoded = decode_block(block, data, word_order=settings.word_order, byte_order=settings.byte_order)
            except (CollectorError, RegisterMapError) as error:
                for binding in block.bindings:
                    found[binding.key] = ProbeRow(*binding.key, None, None, str(error))
                continue
            for item in decoded:
                found[item.binding.key] = ProbeRow(*item.binding.key, item.raw, item.value)
    except CollectorError as error:
        return [ProbeRow(b.machine.code, b.signal, None, None, str(error)) for b in bindings]
    finally:
        await collector.close()
    missing = "not read"
    return [found.get((b.machine.code, b.signal), ProbeRow(b.machine.code, b.signal, None, None, missing))
            for b in bindings]


async def _probe_opcua(endpoint, bindings: list) -> list[ProbeRow]:
    if not bindings:
        return []
    try:
        from monitoring.collectors import opcua
    except ImportError as error:
        return [ProbeRow(b.machine.code, b.signal, None, None, f"OPC UA collector unavailable: {error}")
                for b in bindings]
    if hasattr(opcua, "read_once"):
        try:
            rows = await _maybe_await(opcua.read_once(endpoint, bindings))
        except CollectorError as error:
            return [ProbeRow(b.machine.code, b.signal, None, None, str(error)) for b in bindings]
        return [row if isinstance(row, ProbeRow) else ProbeRow(*row) for row in rows]
    collector = opcua.collector_for_endpoint(endpoint, bindings)
    try:
        await collector.connect()
        readings = await collector.read()
    except CollectorError as error:
        return [ProbeRow(b.machine.code, b.signal, None, None, str(error)) for b in bindings]
    finally:
        await collector.close()
    latest = {(r.machine_code, r.signal): r for r in readings}
    rows = []
    for b in bindings:
        reading = latest.get((b.machine.code, b.signal))
        if reading is None:
            rows.append(ProbeRow(b.machine.code, b.signal, None, None, "no value received"))
        else:
            rows.append(ProbeRow(b.machine.code, b.signal, reading.raw, reading.value))
    return rows


async def _maybe_await(value):
    if asyncio.iscoroutine(value):
        return await value
    return value
