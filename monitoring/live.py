"""Live layer: what the pipeline calls after a commit so screens update (filled in by the live-screens work)."""

from __future__ import annotations


def broadcast_machines(machine_ids: set[int]) -> None:
    """Send a fresh live message for each machine to the screens watching it (after commit)."""
