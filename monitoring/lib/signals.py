"""Parsing and canonical text of signal values (DESIGN.md §5). Pure: no Django."""

from __future__ import annotations

STATE_SIGNALS = ("connected", "running", "packml_state", "fault")
COUNTER_SIGNALS = ("total_count", "good_count", "reject_count")
ALL_SIGNALS = (*STATE_SIGNALS, *COUNTER_SIGNALS, "scrap", "reason")

# Within one timestamp the state is settled first, then parts are counted, then a reason is
# applied to the stop that is by then in progress. Sorting by this rank makes replay
# independent of the order in which observations arrived.
SIGNAL_RANK = {name: rank for rank, name in enumerate(ALL_SIGNALS)}

_TRUE = {"1", "true", "on", "yes"}
_FALSE = {"0", "false", "off", "no"}

Value = bool | int | str


def _boolean(signal: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)) and raw in (0, 1):
        return bool(raw)
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{signal} must be a boolean (true/false or 1/0), got {raw!r}")


def _whole(signal: str, raw: object, minimum: int = 0) -> int:
    # float() reads "٣" and "３" as 3: a device or an ERP writes its digits in ASCII, anything else is a mistake.
    if isinstance(raw, bool) or (isinstance(raw, str) and not raw.isascii()):
        raise ValueError(f"{signal} must be a whole number, got {raw!r}")
    try:
        number = float(raw) if not isinstance(raw, int) else raw
    except (TypeError, ValueError):
        raise ValueError(f"{signal} must be a whole number, got {raw!r}") from None
    if isinstance(number, float) and (number != number or not number.is_integer()):
        raise ValueError(f"{signal} must be a whole number, got {raw!r}")
    value = int(number)
    if value < minimum:
        raise ValueError(f"{signal} must be at least {minimum}, got {raw!r}")
    if value >= 1 << 64:
        raise ValueError(f"{signal} does not fit in 64 bits, got {raw!r}")
    return value


def parse_value(signal: str, raw: object) -> Value:
    """The typed value of a signal reading; ValueError with a message naming what is wrong."""
    if signal in ("running", "connected"):
        return _boolean(signal, raw)
    if signal == "fault":
        text = str(raw).strip().lower()
        if isinstance(raw, bool) or text in _TRUE - {"1"} or text in _FALSE - {"0"}:
            return _boolean(signal, raw)
        return _whole(signal, raw)
    if signal in COUNTER_SIGNALS:
        return _whole(signal, raw)
    if signal == "packml_state":
        state = _whole(signal, raw)
        if state > 17:
            raise ValueError(f"packml_state must be a PackML state number 0–17, got {raw!r}")
        return state
    if signal == "scrap":
        return _whole(signal, raw, minimum=1)
    if signal == "reason":
        code = str(raw).strip()
        if not code or len(code) > 40 or not code.isprintable():
            raise ValueError(f"reason must be a reason code of 1–40 characters (no control characters), got {raw!r}")
        return code
    raise ValueError(f"unknown signal {signal!r}: expected one of {', '.join(ALL_SIGNALS)}")


def canonical_text(value: Value) -> str:
    """How a parsed value is stored: booleans as true/false, numbers in decimal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
