"""The register codec: block planning and decoding, with plain numbers and against a real Modbus server."""

from __future__ import annotations

import math

import pytest

from monitoring.collectors.modbus import ModbusCollector, ModbusSettings
from monitoring.lib.registers import (
    BlockRead,
    RegisterBinding,
    RegisterMapError,
    decode_block,
    decode_words,
    encode,
    encode_words,
    plan_reads,
)
from monitoring.simulator.modbus_server import DeviceSpec, SimulatedModbusDevice
from oee_site.redis_server import free_port

ORDERS = [("big", "big"), ("little", "big"), ("big", "little"), ("little", "little")]


def holding(key, address, data_type="uint16", **kwargs) -> RegisterBinding:
    return RegisterBinding(key, "holding", address, data_type, **kwargs)


# -- planning ---------------------------------------------------------------------------


def test_it_reads_neighbouring_registers_in_one_block():
    bindings = [holding("a", 0), holding("b", 1), holding("c", 2, "uint32"), holding("d", 4, "float64")]
    blocks = plan_reads(bindings)
    assert [(b.table, b.address, b.count) for b in blocks] == [("holding", 0, 8)]


def test_it_splits_a_block_at_125_registers():
    bindings = [holding(i, i * 10, "float64") for i in range(30)]  # addresses 0 .. 293
    blocks = plan_reads(bindings)
    assert all(b.count <= 125 for b in blocks)
    assert [b.address for b in blocks] == [0, 130, 260]
    assert sum(len(b.bindings) for b in blocks) == 30


def test_a_value_never_straddles_two_blocks():
    bindings = [holding("a", 0), holding("b", 123, "uint32"), holding("c", 124)]
    blocks = plan_reads(bindings)
    for block in blocks:
        for binding in block.bindings:
            assert block.address <= binding.address and binding.end <= block.address + block.count


def test_it_bridges_gaps_only_when_asked():
    bindings = [holding("a", 0), holding("b", 50)]
    assert [(b.address, b.count) for b in plan_reads(bindings)] == [(0, 51)]
    assert [(b.address, b.count) for b in plan_reads(bindings, bridge_gaps=False)] == [(0, 1), (50, 1)]
    assert plan_reads(bindings)[0].bridges_gaps


def test_bits_of_one_register_share_one_read():
    bindings = [holding("run", 7, bit=0), holding("alarm", 7, bit=3), holding("count", 8)]
    blocks = plan_reads(bindings)
    assert [(b.address, b.count, len(b.bindings)) for b in blocks] == [(7, 2, 3)]


def test_coils_go_up_to_2000_bits_per_read_and_tables_never_mix():
    bindings = [RegisterBinding(i, "coil", i * 100, "bool") for i in range(25)]  # 0 .. 2400
    bindings += [RegisterBinding("d", "discrete", 0, "bool"), RegisterBinding("i", "input", 0)]
    blocks = plan_reads(bindings)
    coil_blocks = [b for b in blocks if b.table == "coil"]
    assert [(b.address, b.count) for b in coil_blocks] == [(0, 1901), (2000, 401)]
    assert {b.table for b in blocks} == {"coil", "discrete", "input"}
    assert [b.function_code for b in blocks] == [1, 1, 2, 4]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"table": "register", "address": 0}, "unknown table"),
        ({"table": "coil", "address": 0, "data_type": "uint16"}, "single bits"),
        ({"table": "holding", "address": 0, "data_type": "float32", "bit": 1}, "integer type"),
        ({"table": "holding", "address": 0, "data_type": "uint16", "bit": 16}, "bits 0–15"),
        ({"table": "holding", "address": 65535, "data_type": "uint32"}, "outside 0–65535"),
        ({"table": "holding", "address": None}, "whole number"),
        ({"table": "holding", "address": 0, "data_type": "string"}, "registers hold one of"),
    ],
)
def test_it_refuses_a_binding_it_cannot_read(kwargs, message):
    with pytest.raises(RegisterMapError, match=message):
        RegisterBinding("x", **kwargs)


# -- decoding with plain numbers ---------------------------------------------------------


@pytest.mark.parametrize(
    "word_order, byte_order, words",
    [
        ("big", "big", [0x1234, 0x5678]),
        ("little", "big", [0x5678, 0x1234]),
        ("big", "little", [0x3412, 0x7856]),
        ("little", "little", [0x7856, 0x3412]),
    ],
)
def test_it_decodes_a_uint32_in_every_word_and_byte_order(word_order, byte_order, words):
    assert decode_words(words, "uint32", word_order=word_order, byte_order=byte_order) == 0x12345678
    assert encode_words(0x12345678, "uint32", word_order=word_order, byte_order=byte_order) == words


def test_it_decodes_floats_and_signed_integers():
    assert decode_words([0x3F80, 0x0000], "float32") == 1.0
    assert decode_words([0x0000, 0x3F80], "float32", word_order="little") == 1.0
    assert decode_words([0xFFFF], "int16") == -1
    assert decode_words([0xFFFF, 0xFFFE], "int32") == -2
    assert decode_words([0x4009, 0x21FB, 0x5444, 0x2D18], "float64") == math.pi
    assert decode_words([0xFFFF] * 4, "uint64") == 2**64 - 1
    assert decode_words([0x8000, 0, 0, 0], "int64") == -(2**63)


def test_integers_wrap_at_their_width_like_a_plc_counter():
    assert encode_words(65536 + 5, "uint16") == [5]
    assert encode_words(-1, "int16") == [0xFFFF]
    assert encode_words(2**32 + 7, "uint32") == [0, 7]


def test_scale_offset_and_bits():
    block = BlockRead("holding", 0, 2, (
        holding("temp", 0, "int16", scale=0.1, offset=-10.0),
        holding("running", 1, bit=0),
        holding("alarm", 1, bit=15),
        holding("count", 1),
    ))
    values = {d.binding.key: d.value for d in decode_block(block, [1234, 0x8001])}
    assert values["temp"] == pytest.approx(113.4)
    assert values["running"] is True and values["alarm"] is True
    assert values["count"] == 0x8001


def test_a_short_answer_is_an_error():
    block = BlockRead("holding", 0, 4, (holding("a", 3),))
    with pytest.raises(RegisterMapError, match="short answer"):
        decode_block(block, [1, 2, 3])


@pytest.mark.parametrize("word_order, byte_order", ORDERS)
@pytest.mark.parametrize(
    "data_type, value",
    [("int16", -12345), ("uint16", 54321), ("int32", -2_000_000_000), ("uint32", 4_000_000_000),
     ("float32", 1.5), ("int64", -(2**62) - 3), ("uint64", 2**63 + 11), ("float64", -1234.5678)],
)
def test_encode_then_decode_gives_the_value_back(data_type, value, word_order, byte_order):
    binding = holding("v", 3, data_type)
    memory = [0] * 8
    encode(binding, value, memory, word_order=word_order, byte_order=byte_order)
    block = plan_reads([binding])[0]
    (decoded,) = decode_block(block, memory[block.address:block.address + block.count],
                              word_order=word_order, byte_order=byte_order)
    assert decoded.value == value


def test_encoding_a_bit_leaves_the_other_bits_alone():
    memory = [0b1010]
    encode(holding("run", 0, bit=0), True, memory)
    encode(holding("alarm", 0, bit=3), False, memory)
    assert memory == [0b0011]


def test_encoding_undoes_scale_and_offset():
    memory = [0]
    encode(holding("temp", 0, "int16", scale=0.1, offset=-10.0), 113.4, memory)
    assert memory == [1234]


# -- against a real Modbus TCP server ----------------------------------------------------

VALUES = {
    "int16": -12345, "uint16": 54321, "int32": -2_000_000_000, "uint32": 4_000_000_000,
    "float32": 3.14159, "int64": -(2**62) - 3, "uint64": 2**63 + 11, "float64": -1234.5678,
}


def typed_map(table: str) -> list[tuple[RegisterBinding, object]]:
    """One value of every type in `table`, packed back to back, plus a bit and a scaled value."""
    pairs, address = [], 0
    for data_type, value in VALUES.items():
        binding = RegisterBinding(("T", f"{table}.{data_type}"), table, address, data_type)
        pairs.append((binding, value))
        address = binding.end
    pairs.append((RegisterBinding(("T", f"{table}.bit5"), table, address, "uint16", bit=5), True))
    pairs.append((RegisterBinding(("T", f"{table}.scaled"), table, address + 1, "int16", scale=0.5, offset=1.0), -20.0))
    return pairs


async def read_served(pairs, word_order: str, byte_order: str) -> dict:
    spec = DeviceSpec("typed", free_port(), word_order=word_order, byte_order=byte_order,
                      bindings=tuple(b for b, _ in pairs))
    device = SimulatedModbusDevice(spec, machines={})
    for binding, value in pairs:
        encode(binding, value, device.memory[binding.table], word_order=word_order, byte_order=byte_order)
    await device.start()
    collector = ModbusCollector(ModbusSettings("typed", "127.0.0.1", spec.port, word_order=word_order,
                                               byte_order=byte_order, timeout=1.0, bindings=spec.bindings))
    try:
        await collector.connect()
        readings = await collector.read()
    finally:
        await collector.close()
        await device.stop()
    return {r.signal: r.value for r in readings}, device


@pytest.mark.parametrize("word_order, byte_order", ORDERS)
async def test_it_decodes_every_type_read_from_a_real_server(word_order, byte_order):
    pairs = typed_map("holding") + typed_map("input")
    pairs += [(RegisterBinding(("T", f"coil{i}"), "coil", i, "bool"), i % 3 == 0) for i in range(20)]
    pairs += [(RegisterBinding(("T", f"di{i}"), "discrete", 3 + i, "bool"), i % 2 == 1) for i in range(5)]
    read, device = await read_served(pairs, word_order, byte_order)
    for binding, expected in pairs:
        got = read[binding.key[1]]
        if binding.data_type == "float32":
            assert got == pytest.approx(expected, rel=1e-6), binding.key
        else:
            assert got == expected, binding.key
    # Each table came back in one block read: FC 1, 2, 3 and 4 once each.
    assert dict(device.function_codes) == {1: 1, 2: 1, 3: 1, 4: 1}
