"""How instants are written where machines and people read them. Pure: no Django."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with microseconds, so strings of the stream and the API sort like the times they name."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
