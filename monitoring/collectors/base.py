"""The one contract every collector keeps: connect, read a batch of signals, close; and read once.

Between two reads the host waits in `wait_for_news`: a polled device sleeps until its next
scan; a device with subscriptions returns as soon as changes arrive, so they are read then.

A collector owns one device session, built from the plain settings its device model gives
(`monitoring.collectors.settings`). It never writes to the device. Anything that goes wrong
on the wire (refused, timeout, exception code, garbage, lost session) is raised as
`CollectorError`, so the supervising loop handles every protocol the same way.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
from collections.abc import Coroutine
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


@dataclass(frozen=True)
class ProbeRow:
    """One binding's outcome of a one-shot read: the raw and decoded value, or why there is none."""

    machine_code: str
    signal: str
    raw: object
    value: object
    error: str | None = None


class Collector(abc.ABC):
    """A long-lived, read-only session with one device."""

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the session (and subscriptions where the protocol has them). Raise CollectorError."""

    @abc.abstractmethod
    async def read(self) -> list[Reading]:
        """Return the readings gathered since the last call (a poll, or what subscriptions queued)."""

    async def wait_for_news(self, timeout: float) -> None:
        """Wait `timeout` seconds for the next scan; a device that reports changes by itself returns on its news."""
        await asyncio.sleep(timeout)

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the session; never raises."""

    @classmethod
    @abc.abstractmethod
    async def probe(cls, settings) -> list[ProbeRow]:
        """Connect, read every binding once, close: one row per binding, in order (the admin's "read now")."""


def run_probe(probe: Coroutine) -> list[ProbeRow]:
    """Run a probe from ordinary (synchronous) code, in an event loop of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(probe)
    # Called from inside an event loop (an async view, a shell): use a loop of our own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, probe).result()
