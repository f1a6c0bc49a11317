"""Which instants the product takes at all, and how it writes them. Pure: no Django."""

from __future__ import annotations

from datetime import UTC, datetime

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


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with microseconds, so strings of the stream and the API sort like the times they name."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
