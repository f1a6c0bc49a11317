"""A simulated Modbus TCP device: a pymodbus server serving machines' attributes, with fault injection.

Every read refreshes the requested table from the machines with the same codec the collector
decodes with (`monitoring.lib.registers.encode`). Faults a test can switch on per device:
`drop_connections()`, `hang()` (accepts and reads requests but never answers), `answer_exception(code)`,
`answer_garbage()`, `stop()` / `start()` / `restart()`. `function_codes` counts every request
function code the device received, so a test can prove a client only read.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from monitoring.lib.registers import BIT_TABLES, COIL, DISCRETE, HOLDING, INPUT, RegisterBinding, encode

logger = logging.getLogger(__name__)

# Which attribute of a simulated machine each canonical signal is served from.
ATTRIBUTE_FOR_SIGNAL = {
    "running": "running",
    "fault": "fault_code",
    "total_count": "total_count",
    "reject_count": "reject_count",
    "good_count": "good_count",
    "packml_state": "packml_state",
}
_TABLE_FOR_FUNCTION = {1: COIL, 2: DISCRETE, 3: HOLDING, 4: INPUT}

HEALTHY = "healthy"
HANG = "hang"
EXCEPTION = "exception"
GARBAGE = "garbage"


@dataclass(frozen=True)
class ServedValue:
    """One machine signal a device serves; `binding.key` is (machine code, signal)."""

    binding: RegisterBinding

    @property
    def machine_code(self) -> str:
        return self.binding.key[0]

    @property
    def attribute(self) -> str:
        return ATTRIBUTE_FOR_SIGNAL[self.binding.key[1]]


@dataclass(frozen=True)
class DeviceSpec:
    """A simulated Modbus device: where it listens and what it serves."""

    code: str
    port: int
    host: str = "127.0.0.1"
    unit_id: int = 1
    word_order: str = "big"
    byte_order: str = "big"
    bindings: tuple[RegisterBinding, ...] = ()


def _table_sizes(bindings: tuple[RegisterBinding, ...]) -> dict[str, int]:
    sizes = dict.fromkeys((COIL, DISCRETE, HOLDING, INPUT), 16)
    for binding in bindings:
        sizes[binding.table] = max(sizes[binding.table], binding.end)
    # Bit tables are stored 16 bits to a register; keep whole registers.
    for table in BIT_TABLES:
        sizes[table] = -(-sizes[table] // 16) * 16
    return sizes


class SimulatedModbusDevice:
    """Serves the bound attributes of `machines` on `spec.host:spec.port` (all tables from address 0)."""

    def __init__(self, spec: DeviceSpec, machines: Mapping[str, object], *, seed: int = 0) -> None:
        self.spec = spec
        self.machines = machines
        self.served = {table: [ServedValue(b) for b in spec.bindings if b.table == table]
                       for table in (COIL, DISCRETE, HOLDING, INPUT)}
        self.sizes = _table_sizes(spec.bindings)
        self.memory: dict[str, list] = {
            table: ([False] * size if table in BIT_TABLES else [0] * size) for table, size in self.sizes.items()
        }
        self.function_codes: Counter[int] = Counter()
        self.answered = 0
        self.mode = HEALTHY
        self.exception_code = ExcCodes.DEVICE_FAILURE
        self.exception_functions: set[int] | None = None
        self._rng = random.Random(seed)
        self._server: ModbusTcpServer | None = None

    def __repr__(self) -> str:
        return f"<SimulatedModbusDevice {self.spec.code} {self.spec.host}:{self.spec.port} {self.mode}>"

    @property
    def running(self) -> bool:
        return self._server is not None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            return
        device = SimDevice(
            id=self.spec.unit_id,
            simdata=(
                [SimData(0, count=self.sizes[COIL], datatype=DataType.BITS, values=False)],
                [SimData(0, count=self.sizes[DISCRETE], datatype=DataType.BITS, values=False)],
                [SimData(0, count=self.sizes[HOLDING], datatype=DataType.REGISTERS, values=0)],
                [SimData(0, count=self.sizes[INPUT], datatype=DataType.REGISTERS, values=0)],
            ),
            action=self._on_request,
        )
        server = ModbusTcpServer(
            device, address=(self.spec.host, self.spec.port), trace_packet=self._on_packet,
        )
        await server.serve_forever(background=True)
        self._server = server

    async def stop(self) -> None:
        """Stop listening and drop every connection, like a device switched off."""
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    # -- fault injection -----------------------------------------------------------------

    def drop_connections(self) -> int:
        """Close every client connection (the device keeps listening); return how many."""
        if self._server is None:
            return 0
        connections = list(self._server.active_connections.values())
        for connection in connections:
            if connection.transport is not None:
                connection.transport.abort()
        return len(connections)

    def hang(self) -> None:
        """Keep connections open and read requests, but never answer."""
        self.mode = HANG

    def answer_exception(self, code: int = ExcCodes.DEVICE_FAILURE, function_codes: set[int] | None = None) -> None:
        """Answer reads (all, or those with `function_codes`) with a Modbus exception response carrying `code`."""
        self.exception_code = ExcCodes(code)
        self.exception_functions = function_codes
        self.mode = EXCEPTION

    def answer_garbage(self) -> None:
        """Answer every read with random bytes instead of a Modbus frame."""
        self.mode = GARBAGE

    def heal(self) -> None:
        self.mode = HEALTHY

    # -- serving -------------------------------------------------------------------------

    def refresh(self, table: str) -> list:
        """Encode the machines' current values into the table's memory; return the memory."""
        memory = self.memory[table]
        spec = self.spec
        for served in self.served[table]:
            machine = self.machines.get(served.machine_code)
            if machine is None:
                continue
            value = getattr(machine, served.attribute)
            encode(served.binding, 0 if value is None else value, memory,
                   word_order=spec.word_order, byte_order=spec.byte_order)
        return memory

    async def _on_request(self, function_code, start_address, address, count, registers, set_values):
        table = _TABLE_FOR_FUNCTION.get(function_code)
        if set_values is not None or table is None:
            # A simulated PLC of a read-only integration refuses writes outright.
            return ExcCodes.ILLEGAL_FUNCTION
        if self.mode == EXCEPTION and (self.exception_functions is None or function_code in self.exception_functions):
            return self.exception_code
        memory = self.refresh(table)
        if table in BIT_TABLES:
            for i in range(len(registers) - 1):
                word = 0
                for bit, value in enumerate(memory[16 * i:16 * i + 16]):
                    if value:
                        word |= 1 << bit
                registers[i] = word
        else:
            registers[: len(memory)] = memory
        return None

    def _on_packet(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            self._count_requests(data)
            return data
        if self.mode == HANG:
            return b""
        if self.mode == GARBAGE:
            return bytes(self._rng.getrandbits(8) for _ in range(max(len(data), 9)))
        self.answered += 1
        return data

    def _count_requests(self, data: bytes) -> None:
        # pymodbus hands over its whole receive buffer and takes one frame from it per call,
        # so count the first complete frame (MBAP: transaction 2, protocol 2, length 2, unit 1, code 1).
        if len(data) >= 8 and len(data) >= 6 + int.from_bytes(data[4:6], "big"):
            self.function_codes[data[7]] += 1
