"""The one contract every collector keeps: connect, read a batch of signals, close.

A collector owns one device session. It never writes to the device. Anything that goes
wrong on the wire (refused, timeout, exception code, garbage, lost session) is raised as
`CollectorError`, so the supervising loop handles every protocol the same way.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime


class CollectorError(Exception):
    """The device could not be read: the message says what went wrong, for health and the event log."""


@dataclass(frozen=True)
class Reading:
    """One decoded value of one machine's signal, as read from a device."""

    machine_code: str
    signal: str
    value: bool | int | float | str
    ts: datetime
    raw: object = None


class Collector(abc.ABC):
    """A long-lived, read-only session with one device."""

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the session (and subscriptions where the protocol has them). Raise CollectorError."""

    @abc.abstractmethod
    async def read(self) -> list[Reading]:
        """Return the readings gathered since the last call (a poll, or what subscriptions queued)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the session; never raises."""
