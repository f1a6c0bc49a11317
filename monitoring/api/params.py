"""Reading what an API request names: instants and periods, with a 400 that names what is wrong."""

from __future__ import annotations

from datetime import datetime

from rest_framework.exceptions import ValidationError

from planning.lib.instants import read_instant


def parse_instant(raw: object, name: str) -> datetime:
    """An aware date-time from ISO 8601 text (a '+' sent unescaped in a query arrives as a space)."""
    if not isinstance(raw, str):
        raise ValidationError({name: f"{name} must be an ISO 8601 date-time string, got {raw!r}."})
    try:
        return read_instant(raw.strip().replace(" ", "+"))
    except ValueError as why:
        raise ValidationError({name: f"{name}={why}."}) from None


def required_instant(params, name: str) -> datetime:
    raw = params.get(name)
    if not raw:
        raise ValidationError({name: f"{name} is required: an ISO 8601 date-time with a UTC offset."})
    return parse_instant(raw, name)
