"""Reading what an API request names: instants and periods, with a 400 that names what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError

from planning.lib.instants import out_of_range


def parse_instant(raw: object, name: str) -> datetime:
    """An aware date-time from ISO 8601 text (a '+' sent unescaped in a query arrives as a space)."""
    if not isinstance(raw, str):
        raise ValidationError({name: f"{name} must be an ISO 8601 date-time string, got {raw!r}."})
    try:
        value = parse_datetime(raw.strip().replace(" ", "+"))
    except ValueError:  # well-formed, but no such day or offset (2026-02-30, +25:00)
        value = None
    if value is None:
        raise ValidationError({name: f"{name}={raw!r} is not an ISO 8601 date-time."})
    if value.tzinfo is None:
        raise ValidationError({name: f"{name}={raw!r} has no UTC offset (add Z or +01:00)."})
    problem = out_of_range(value)
    if problem:
        raise ValidationError({name: f"{name}: {problem}."})
    # In UTC: PostgreSQL takes offsets up to 15:59 only, ISO 8601 up to 23:59.
    return value.astimezone(UTC)


def required_instant(params, name: str) -> datetime:
    raw = params.get(name)
    if not raw:
        raise ValidationError({name: f"{name} is required: an ISO 8601 date-time with a UTC offset."})
    return parse_instant(raw, name)
