"""The Modbus TCP collector: one long-lived connection per device, block reads in sequence.

Read-only by construction: the only requests this module builds are the four read
function codes (1 coils, 2 discrete inputs, 3 holding registers, 4 input registers).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException

from monitoring.collectors.base import Collector, CollectorError, ProbeRow, Reading
from monitoring.collectors.settings import ModbusSettings
from monitoring.lib.registers import (
    COIL,
    DISCRETE,
    HOLDING,
    BlockRead,
    RegisterMapError,
    decode_block,
    plan_reads,
)

logger = logging.getLogger(__name__)

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}
ILLEGAL_DATA_ADDRESS = 2


class ModbusCollector(Collector):
    """A session with one Modbus TCP device that reads its whole map in as few requests as possible."""

    def __init__(self, settings: ModbusSettings) -> None:
        self.settings = settings
        self.blocks: list[BlockRead] = plan_reads(settings.bindings)
        self.requests = 0
        self._client: AsyncModbusTcpClient | None = None

    def __repr__(self) -> str:
        return f"<ModbusCollector {self.settings.code} {self.settings.host}:{self.settings.port}>"

    async def connect(self) -> None:
        await self.close()
        s = self.settings
        client = AsyncModbusTcpClient(
            s.host,
            port=s.port,
            name=s.code,
            timeout=s.timeout,
            retries=s.retries,
            # The collector host reconnects with its own back-off; pymodbus must not race it.
            reconnect_delay=0,
            trace_connect=self._on_connection_change,
        )
        try:
            connected = await asyncio.wait_for(client.connect(), timeout=s.timeout + 1.0)
        except (TimeoutError, OSError, ModbusException) as error:
            client.close()
            raise CollectorError(f"cannot connect to {s.host}:{s.port}: {error or type(error).__name__}") from None
        if not connected:
            client.close()
            raise CollectorError(f"cannot connect to {s.host}:{s.port} (refused or no answer in {s.timeout:g} s)")
        self._client = client

    def _on_connection_change(self, connected: bool) -> None:
        # A request in flight when the device hangs up would otherwise wait for its timeout.
        client = self._client
        if connected or client is None:
            return
        pending = getattr(client.ctx, "response_future", None)
        if pending is not None and not pending.done():
            pending.set_exception(ConnectionException("the device closed the connection"))

    async def read(self) -> list[Reading]:
        readings: list[Reading] = []
        for block in list(self.blocks):
            data = await self._read_block(block)
            ts = datetime.now(UTC)
            try:
                decoded = decode_block(
                    block, data, word_order=self.settings.word_order, byte_order=self.settings.byte_order
                )
            except RegisterMapError as error:
                raise CollectorError(str(error)) from None
            for item in decoded:
                machine_code, signal = item.binding.key
                readings.append(Reading(machine_code, signal, item.value, ts, item.raw))
        return readings

    async def _read_block(self, block: BlockRead) -> list[int] | list[bool]:
        client = self._client
        if client is None or not client.connected:
            raise CollectorError("not connected")
        read = {
            COIL: client.read_coils,
            DISCRETE: client.read_discrete_inputs,
            HOLDING: client.read_holding_registers,
        }.get(block.table, client.read_input_registers)
        where = f"{block.table} {block.address}+{block.count}"
        self.requests += 1
        try:
            response = await read(block.address, count=block.count, device_id=self.settings.unit_id)
        except ModbusException as error:
            raise CollectorError(f"reading {where}: {_plain(error)}") from None
        except (TimeoutError, OSError) as error:
            raise CollectorError(f"reading {where}: {error or type(error).__name__}") from None
        if response.isError():
            code = getattr(response, "exception_code", None)
            if code == ILLEGAL_DATA_ADDRESS and block.bridges_gaps:
                return await self._read_without_gaps(block)
            name = EXCEPTION_NAMES.get(code, "unknown exception")
            raise CollectorError(f"reading {where}: exception code {code} ({name})")
        data = response.bits if block.table in (COIL, DISCRETE) else response.registers
        if len(data) < block.count:
            raise CollectorError(
                f"reading {where}: answer has {len(data)} values, expected {block.count}"
            )
        return data[: block.count]

    async def _read_without_gaps(self, block: BlockRead) -> list[int] | list[bool]:
        """The device refuses addresses between bindings: split the block for good, read the parts now."""
        parts = plan_reads(block.bindings, bridge_gaps=False)
        logger.warning("%s: %s %s+%s spans addresses the device does not have; reading it in %d parts",
                       self.settings.code, block.table, block.address, block.count, len(parts))
        index = self.blocks.index(block)
        self.blocks[index:index + 1] = parts
        data: list = [0] * block.count
        for part in parts:
            answer = await self._read_block(part)
            offset = part.address - block.address
            data[offset:offset + part.count] = answer
        return data

    @classmethod
    async def probe(cls, settings: ModbusSettings) -> list[ProbeRow]:
        """Read the map once, block by block, so one refused block still shows the values of the others."""
        keys = [binding.key for binding in settings.bindings]
        collector = cls(settings)
        found: dict[tuple[str, str], ProbeRow] = {}
        try:
            await collector.connect()
            for block in list(collector.blocks):
                try:
                    data = await collector._read_block(block)
                    decoded = decode_block(block, data, word_order=settings.word_order,
                                           byte_order=settings.byte_order)
                except (CollectorError, RegisterMapError) as error:
                    for binding in block.bindings:
                        found[binding.key] = ProbeRow(*binding.key, None, None, str(error))
                    continue
                for item in decoded:
                    found[item.binding.key] = ProbeRow(*item.binding.key, item.raw, item.value)
        except CollectorError as error:
            return [ProbeRow(*key, None, None, str(error)) for key in keys]
        finally:
            await collector.close()
        return [found.get(key, ProbeRow(*key, None, None, "not read")) for key in keys]

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing must never raise
                logger.debug("closing %s failed", self.settings.code, exc_info=True)


def _plain(error: Exception) -> str:
    """pymodbus prefixes its messages with the exception class in brackets; keep the words."""
    text = str(error)
    if text.startswith("Modbus Error: "):
        text = text[len("Modbus Error: "):]
    return text.strip() or type(error).__name__
