"""Which instants the product takes at all, how it reads them from text and how it writes them.

No database: Django's ISO 8601 parser is the only thing it uses of Django.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime

# Before the epoch a timestamp is negative, past 2999 a plant has other problems: both are typos.
EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def out_of_range(moment: datetime) -> str | None:
    """Why an aware instant cannot be a plant's time, or None when it can."""
    try:
        inside = EARLIEST <= moment <= LATEST
    except OverflowError:  # an offset that pushes the date past what datetime holds
        inside = False
    return None if inside else f"{moment.isoformat()} is not between {EARLIEST.year} and {LATEST.year - 1}"


def read_instant(text: str) -> datetime:
    """The instant ISO 8601 `text` names, in UTC; ValueError saying why when it names none a plant can have."""
    try:
        moment = parse_datetime(text.strip())
    except ValueError:  # well-formed, but no such day or offset (2026-02-30, +25:00)
        moment = None
    if moment is None:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time")
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (add Z or +01:00)")
    problem = out_of_range(moment)
    if problem:
        raise ValueError(problem)
    # In UTC: PostgreSQL takes offsets up to 15:59 only, ISO 8601 up to 23:59.
    return moment.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with microseconds, so strings of the stream and the API sort like the times they name."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
