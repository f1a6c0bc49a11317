"""How the API reads and writes instants and numbers.

Instants: with a UTC offset in, in UTC with microseconds out. Numbers: in ASCII digits only, as
JSON numbers or as text ("²" and "٣" are digits to Python's int(), never to an ERP).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from planning.lib.instants import out_of_range
from planning.lib.text import shown


class Instant(serializers.DateTimeField):
    """An ISO 8601 date-time. In: it must say its UTC offset (a plant's clock is ambiguous without
    one). Out: UTC with microseconds, as every answer and the live stream write times."""

    def enforce_timezone(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise serializers.ValidationError("Give a UTC offset (Z or +01:00): a time without one is ambiguous.")
        problem = out_of_range(value)
        if problem:
            raise serializers.ValidationError(problem)
        # In UTC: PostgreSQL takes offsets up to 15:59 only, ISO 8601 up to 23:59.
        return value.astimezone(UTC)

    def to_representation(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        return value.astimezone(UTC).isoformat(timespec="microseconds")


_WHOLE_TEXT = re.compile(r"-?[0-9]+")


def _ascii_number(value: object) -> bool:
    return not isinstance(value, str) or value.isascii()


class WholeNumber(serializers.IntegerField):
    """A whole number, as a JSON number or ASCII digits."""

    def to_internal_value(self, data):
        if not _ascii_number(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class Number(serializers.FloatField):
    """A finite number, as a JSON number or ASCII text."""

    def to_internal_value(self, data):
        if not _ascii_number(data):
            self.fail("invalid")
        return super().to_internal_value(data)


def whole_number(raw: object, name: str, lowest: int, highest: int) -> int:
    """A whole number in [lowest, highest] from a query parameter or a body field (an int, or ASCII
    digits); a 400 naming `name` otherwise."""
    out_of_range = ValidationError({name: f"{name} must be between {lowest} and {highest}, got {shown(raw)}."})
    if isinstance(raw, str) and _WHOLE_TEXT.fullmatch(raw.strip()):
        if len(raw.strip()) > 18:  # past any bound here (and past 4,300 digits int() refuses it)
            raise out_of_range
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValidationError({name: f"{name} must be a whole number, got {shown(raw)}."})
    if not lowest <= raw <= highest:
        raise out_of_range
    return raw

