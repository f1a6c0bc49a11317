"""What an OPC UA value means for a signal: its type checked, one bit of it or scaled, its timestamp.

Pure decoding of asyncua's values: no session, no Django.
"""

from __future__ import annotations

from datetime import datetime, timezone

from asyncua import ua

from monitoring.collectors.base import CollectorError
from monitoring.collectors.settings import NodeBinding
from monitoring.lib.signals import parse_value

# The bits of each integer type: a `bit` past them is a mistake in the map, not a bit that is off.
INTEGER_BITS = {
    ua.VariantType.SByte: 8, ua.VariantType.Byte: 8, ua.VariantType.Int16: 16, ua.VariantType.UInt16: 16,
    ua.VariantType.Int32: 32, ua.VariantType.UInt32: 32, ua.VariantType.Int64: 64, ua.VariantType.UInt64: 64,
}
INTEGER_TYPES = set(INTEGER_BITS)
FLOAT_TYPES = {ua.VariantType.Float, ua.VariantType.Double}
_COUNT = ((int, float), "a cumulative count")
# The Python types (decoded from the OPC UA type) each device signal accepts, and how to say
# what was expected when refused. The ranges are the shared rules of `parse_value`.
ACCEPTED_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "running": ((bool, int), "a Boolean"),
    "fault": ((bool, int), "a Boolean or a fault code"),
    "reason": ((str, int), "a reason code"),
    "total_count": _COUNT,
    "good_count": _COUNT,
    "reject_count": _COUNT,
    "packml_state": ((int,), "a PackML state number"),
}


def _plain_value(variant: ua.Variant | None) -> bool | int | float | str:
    """The Python value of a scalar Boolean, integer, float or string variant; CollectorError otherwise."""
    if variant is None or variant.VariantType == ua.VariantType.Null or variant.Value is None:
        raise CollectorError("the node has no value")
    if variant.is_array:
        raise CollectorError(f"expected a single value, got an array of {variant.VariantType.name}")
    kind = variant.VariantType
    if kind == ua.VariantType.Boolean:
        return bool(variant.Value)
    if kind in INTEGER_TYPES:
        return int(variant.Value)
    if kind in FLOAT_TYPES:
        return float(variant.Value)
    if kind == ua.VariantType.String:
        return str(variant.Value)
    raise CollectorError(f"unsupported OPC UA type {kind.name}")


def decode_value(
    signal: str, variant: ua.Variant | None, *, bit: int | None = None, scale: float = 1.0, offset: float = 0.0
) -> bool | int | float | str:
    """The value of `signal` carried by `variant` (one bit of it, or scaled), checked against DESIGN §5.

    Raises CollectorError for a value the signal cannot take, e.g. a string for a count.
    """
    if signal not in ACCEPTED_TYPES:
        raise CollectorError(f"{signal!r} is not a signal a device sends")
    value = _plain_value(variant)
    got = f"{variant.VariantType.name} {value!r}"
    if bit is not None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CollectorError(f"bit {bit} needs an integer value, got {got}")
        width = INTEGER_BITS[variant.VariantType]
        if not 0 <= bit < width:
            raise CollectorError(f"bit {bit} is not in a {variant.VariantType.name}, which has bits 0–{width - 1}")
        # A negative value is its two's complement, as the PLC holds it.
        value = bool(value >> bit & 1)
    elif (scale, offset) != (1.0, 0.0) and isinstance(value, int | float) and not isinstance(value, bool):
        value = value * scale + offset
    types, expected = ACCEPTED_TYPES[signal]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise CollectorError(f"expected {expected}, got {got}")
    if signal == "reason" and isinstance(value, int):
        value = str(value)
    try:
        return parse_value(signal, value)
    except ValueError as exc:
        raise CollectorError(str(exc)) from None


def source_timestamp(datavalue: ua.DataValue | None, default: datetime) -> datetime:
    """The value's source timestamp as an aware UTC datetime, or `default` when it has none."""
    ts = datavalue.SourceTimestamp if datavalue is not None else None
    # An unset timestamp decodes as the 1601 FILETIME epoch.
    if ts is None or ts.year < 1971:
        return default
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def checked_value(binding: NodeBinding, datavalue: ua.DataValue) -> bool | int | float | str:
    """The decoded value of a node read or change for the binding's signal. Raises CollectorError."""
    status = datavalue.StatusCode
    if status is not None and not status.is_good():
        raise CollectorError(f"bad status {status.name}")
    return decode_value(
        binding.signal, datavalue.Value, bit=binding.bit, scale=binding.scale, offset=binding.offset
    )


def raw_value(datavalue: ua.DataValue) -> object:
    return datavalue.Value.Value if datavalue.Value is not None else None
