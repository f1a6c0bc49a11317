"""How the API reads and writes instants: with a UTC offset in, in UTC with microseconds out."""

from __future__ import annotations

from datetime import UTC, datetime

from rest_framework import serializers

from planning.lib.instants import out_of_range


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
