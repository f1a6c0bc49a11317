"""Calling the API as an IT system does."""

from __future__ import annotations


def bearer(key: str) -> dict[str, str]:
    """The header an API client sends its key in."""
    return {"Authorization": f"Bearer {key}"}
