"""What the collector host takes and hands out, as plain values: the devices it reads, samples, health rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from monitoring.collectors.base import Collector


class Sample(NamedTuple):
    """One observation on its way to the pipeline (the fields of `pipeline.ObservationIn`)."""

    machine_code: str
    ts: datetime
    signal: str
    value: bool | int | float | str


@dataclass(frozen=True)
class DeviceSpec:
    """A device as the host runs it: how often, which machines, and how to open a session."""

    kind: str
    code: str
    scan_interval: float
    reconnect_backoff: float
    machines: Mapping[str, float]
    """Machine code → expected interval in seconds (a signal is re-sent after half of it)."""
    factory: Callable[[], Collector] = field(compare=False)
    version: str = ""
    """Changes whenever anything that matters to the session changes (the host then rebuilds it)."""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.code}"


@dataclass(frozen=True)
class HealthRow:
    """A device's health as the host reports it (`wiring.health_sink` keeps it in `DeviceHealth`)."""

    kind: str
    code: str
    connected: bool
    last_good_read: datetime | None
    consecutive_errors: int
    last_error: str
    collector: str
    machines: tuple[str, ...]
    changed: bool = True
    """False for a periodic refresh of the last good read, True when something a screen shows changed."""
    errors: tuple[tuple[datetime, str], ...] = ()
    """Errors that began a streak since the last row (for the machines' event log)."""
