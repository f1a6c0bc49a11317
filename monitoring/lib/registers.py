"""Modbus register maps: planning block reads and decoding / encoding values. Pure: no Django.

A binding says where one value lives: a table (holding, input, coil, discrete), an address,
a data type, optionally one bit of it, and a linear scale and offset. `plan_reads` groups
the bindings of a device into as few block reads as the protocol allows (125 registers or
2000 bits per request); `decode_block` turns a block's answer back into values. `encode`
is the inverse, for the plant simulator, which serves values with the same codec.

Word order is the order of the 16-bit registers of a multi-register value ("big": high word
first, the Modbus convention); byte order is the order of the two bytes inside each register
("big": high byte first). Devices differ on both, so both are per device.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Hashable, Iterable, MutableSequence, Sequence
from dataclasses import dataclass

HOLDING = "holding"
INPUT = "input"
COIL = "coil"
DISCRETE = "discrete"
REGISTER_TABLES = (HOLDING, INPUT)
BIT_TABLES = (COIL, DISCRETE)
TABLES = (COIL, DISCRETE, HOLDING, INPUT)

# The Modbus function code that reads each table. Collection only ever uses these four.
READ_FUNCTION_CODES = {COIL: 1, DISCRETE: 2, HOLDING: 3, INPUT: 4}

MAX_REGISTERS_PER_READ = 125
MAX_BITS_PER_READ = 2000
LAST_ADDRESS = 0xFFFF

# struct format and width in registers of each register data type.
_FORMATS: dict[str, tuple[str, int]] = {
    "int16": ("h", 1),
    "uint16": ("H", 1),
    "int32": ("i", 2),
    "uint32": ("I", 2),
    "float32": ("f", 2),
    "int64": ("q", 4),
    "uint64": ("Q", 4),
    "float64": ("d", 4),
}
DATA_TYPES = ("bool", *_FORMATS)
ORDERS = ("big", "little")


class RegisterMapError(ValueError):
    """A binding that cannot be read as described, or an answer that does not fit the map."""


def register_count(data_type: str) -> int:
    """How many 16-bit registers a value of `data_type` takes."""
    if data_type == "bool":
        return 1
    try:
        return _FORMATS[data_type][1]
    except KeyError:
        raise RegisterMapError(f"unknown data type {data_type!r}: expected one of {', '.join(DATA_TYPES)}") from None


def is_integer_type(data_type: str) -> bool:
    return data_type in _FORMATS and _FORMATS[data_type][0] not in ("f", "d")


@dataclass(frozen=True)
class RegisterBinding:
    """Where one value lives on a device; `key` says what it is for (e.g. machine and signal)."""

    key: Hashable
    table: str
    address: int
    data_type: str = "uint16"
    bit: int | None = None
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.address, int) or isinstance(self.address, bool):
            raise RegisterMapError(f"{self.key}: the address must be a whole number, not {self.address!r}")
        if self.table not in TABLES:
            raise RegisterMapError(f"{self.key}: unknown table {self.table!r}: expected one of {', '.join(TABLES)}")
        if self.table in BIT_TABLES:
            if self.data_type not in ("bool", ""):
                raise RegisterMapError(f"{self.key}: coils and discrete inputs are single bits, not {self.data_type}")
            if self.bit is not None:
                raise RegisterMapError(f"{self.key}: a coil or discrete input has no bits to pick from")
        elif self.data_type not in _FORMATS:
            raise RegisterMapError(
                f"{self.key}: registers hold one of {', '.join(_FORMATS)}, not {self.data_type!r}"
            )
        if self.address < 0 or self.address + self.width - 1 > LAST_ADDRESS:
            raise RegisterMapError(f"{self.key}: address {self.address} (+{self.width}) is outside 0–65535")
        if self.bit is not None:
            if not is_integer_type(self.data_type):
                raise RegisterMapError(f"{self.key}: a bit can only be read from an integer type, not {self.data_type}")
            if not 0 <= self.bit < 16 * self.width:
                raise RegisterMapError(f"{self.key}: a {self.data_type} has bits 0–{16 * self.width - 1}")

    @property
    def width(self) -> int:
        """Registers (or bits, in a bit table) the value occupies."""
        return 1 if self.table in BIT_TABLES else register_count(self.data_type)

    @property
    def end(self) -> int:
        return self.address + self.width


@dataclass(frozen=True)
class BlockRead:
    """One read request: `count` registers or bits of `table` from `address`, and what is in them."""

    table: str
    address: int
    count: int
    bindings: tuple[RegisterBinding, ...]

    @property
    def function_code(self) -> int:
        return READ_FUNCTION_CODES[self.table]

    @property
    def bridges_gaps(self) -> bool:
        """True when the block also reads addresses no binding uses."""
        covered: set[int] = set()
        for binding in self.bindings:
            covered.update(range(binding.address, binding.end))
        return len(covered) < self.count


def plan_reads(
    bindings: Iterable[RegisterBinding],
    *,
    bridge_gaps: bool = True,
    max_registers: int = MAX_REGISTERS_PER_READ,
    max_bits: int = MAX_BITS_PER_READ,
) -> list[BlockRead]:
    """Group bindings into the fewest block reads: per table, by address, within the size limits.

    With `bridge_gaps` a block also spans unused addresses between bindings (fewer requests);
    without, only touching or overlapping bindings share a block, for devices that refuse to
    read addresses they do not have.
    """
    by_table: dict[str, list[RegisterBinding]] = {}
    for binding in bindings:
        by_table.setdefault(binding.table, []).append(binding)
    blocks: list[BlockRead] = []
    for table in TABLES:
        members = sorted(by_table.get(table, ()), key=lambda b: (b.address, b.end))
        limit = max_bits if table in BIT_TABLES else max_registers
        current: list[RegisterBinding] = []
        start = end = 0
        for binding in members:
            new_end = max(end, binding.end)
            fits = new_end - start <= limit and (bridge_gaps or binding.address <= end)
            if current and fits:
                current.append(binding)
                end = new_end
                continue
            if current:
                blocks.append(BlockRead(table, start, end - start, tuple(current)))
            current, start, end = [binding], binding.address, binding.end
        if current:
            blocks.append(BlockRead(table, start, end - start, tuple(current)))
    return blocks


def _to_bytes(words: Sequence[int], word_order: str, byte_order: str) -> bytes:
    ordered = list(words) if word_order == "big" else list(reversed(words))
    if byte_order == "big":
        return b"".join(w.to_bytes(2, "big") for w in ordered)
    return b"".join(w.to_bytes(2, "little") for w in ordered)


def _from_bytes(data: bytes, word_order: str, byte_order: str) -> list[int]:
    words = [int.from_bytes(data[i:i + 2], byte_order) for i in range(0, len(data), 2)]
    return words if word_order == "big" else list(reversed(words))


def _check_orders(word_order: str, byte_order: str) -> None:
    if word_order not in ORDERS or byte_order not in ORDERS:
        raise RegisterMapError(f"word and byte order are 'big' or 'little', not {word_order!r}/{byte_order!r}")


def decode_words(
    words: Sequence[int], data_type: str, *, word_order: str = "big", byte_order: str = "big",
) -> int | float:
    """The number held by the registers `words` (as read, lowest address first)."""
    _check_orders(word_order, byte_order)
    fmt, width = _FORMATS[data_type]
    if len(words) != width:
        raise RegisterMapError(f"a {data_type} takes {width} registers, got {len(words)}")
    if any(not 0 <= w <= 0xFFFF for w in words):
        raise RegisterMapError(f"register values must be 0–65535, got {list(words)}")
    return struct.unpack(">" + fmt, _to_bytes(words, word_order, byte_order))[0]


def encode_words(number: int | float, data_type: str, *, word_order: str = "big", byte_order: str = "big") -> list[int]:
    """The registers holding `number` as `data_type`; integers wrap at the type's width, as a PLC's do."""
    _check_orders(word_order, byte_order)
    fmt, width = _FORMATS[data_type]
    if fmt in ("f", "d"):
        packed = struct.pack(">" + fmt, float(number))
    else:
        bits = 16 * width
        wrapped = int(number) % (1 << bits)
        if fmt.islower() and wrapped >= 1 << (bits - 1):
            wrapped -= 1 << bits
        packed = struct.pack(">" + fmt, wrapped)
    return _from_bytes(packed, word_order, byte_order)


def apply_scale(binding: RegisterBinding, raw: int | float) -> int | float:
    """Engineering value of a raw number: raw × scale + offset (kept an int when nothing changes)."""
    if binding.scale == 1.0 and binding.offset == 0.0:
        return raw
    value = raw * binding.scale + binding.offset
    if isinstance(raw, int) and float(value).is_integer() and abs(value) < 2**53:
        return int(value)
    return value


@dataclass(frozen=True)
class Decoded:
    binding: RegisterBinding
    raw: int | float | bool
    value: int | float | bool


def decode_block(
    block: BlockRead, data: Sequence[int] | Sequence[bool], *, word_order: str = "big", byte_order: str = "big",
) -> list[Decoded]:
    """Decode each binding of `block` from the block's answer (registers, or bits for bit tables)."""
    if len(data) < block.count:
        raise RegisterMapError(
            f"short answer: asked for {block.count} {'bits' if block.table in BIT_TABLES else 'registers'} "
            f"of {block.table} from {block.address}, got {len(data)}"
        )
    decoded: list[Decoded] = []
    for binding in block.bindings:
        start = binding.address - block.address
        if block.table in BIT_TABLES:
            bit = bool(data[start])
            decoded.append(Decoded(binding, bit, bit))
            continue
        raw = decode_words(data[start:start + binding.width], binding.data_type,
                           word_order=word_order, byte_order=byte_order)
        if binding.bit is not None:
            bit = bool((int(raw) >> binding.bit) & 1)
            decoded.append(Decoded(binding, raw, bit))
        else:
            decoded.append(Decoded(binding, raw, apply_scale(binding, raw)))
    return decoded


def encode(
    binding: RegisterBinding,
    value: int | float | bool,
    memory: MutableSequence[int] | MutableSequence[bool],
    *,
    word_order: str = "big",
    byte_order: str = "big",
) -> None:
    """Write `value` into `memory` (a table's registers or bits from address 0) where `binding` reads it.

    The inverse of decoding: the scale and offset are undone, integers wrap at the type's
    width, and a bit binding sets or clears only its bit of the register(s).
    """
    if binding.table in BIT_TABLES:
        memory[binding.address] = bool(value)
        return
    here = slice(binding.address, binding.end)
    if binding.bit is not None:
        current = int(decode_words(memory[here], binding.data_type, word_order=word_order, byte_order=byte_order))
        mask = 1 << binding.bit
        number = (current | mask) if value else (current & ~mask)
    else:
        number = (value - binding.offset) / binding.scale if (binding.scale, binding.offset) != (1.0, 0.0) else value
        if is_integer_type(binding.data_type):
            if isinstance(number, float):
                if not math.isfinite(number):
                    raise RegisterMapError(f"{binding.key}: cannot store {value!r} in a {binding.data_type}")
                number = round(number)
            number = int(number)
    memory[here] = encode_words(number, binding.data_type, word_order=word_order, byte_order=byte_order)
