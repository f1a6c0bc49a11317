"""The collector host: one asyncio loop that reads many devices and batches what they say.

No Django here: `monitoring.collectors.wiring` gives it its devices and its sinks.

Each device gets its own task with its own session, so a device that hangs or answers garbage
only ever delays itself; a device that reports changes by itself (an OPC UA subscription) is
read as they arrive, not at its next scan. Readings pass a change filter (a signal is sent when
its value changes, or as a heartbeat every half of its machine's expected interval) into an
outbox. The flusher hands it to the sink as soon as it holds something: it waits at most
`flush_interval` after the first reading for others to join the batch, and what arrives while
the sink is busy goes in the next one, from one worker thread so batches arrive in order. A
watchdog turns a device silent for three scan intervals into `connected = false` observations
for its machines, and `connected = true` when it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from monitoring.collectors.base import CollectorError, Reading
from monitoring.collectors.records import DeviceSpec, HealthRow, Sample
from monitoring.collectors.spool import Spool

__all__ = ["CollectorHost", "DeviceSpec", "HealthRow", "Sample", "backoff_delay"]

logger = logging.getLogger(__name__)

SILENCE_INTERVALS = 3
MAX_BACKOFF = 60.0


@dataclass
class Health:
    connected: bool = False
    last_good_read: datetime | None = None
    consecutive_errors: int = 0
    last_error: str = ""


def backoff_delay(attempt: int, first: float, ceiling: float = MAX_BACKOFF, rng: random.Random | None = None) -> float:
    """Wait before reconnect attempt `attempt` (0-based): doubling from `first` up to `ceiling`, jittered.

    The jitter draws from the upper half of the window, so devices that dropped together
    do not all knock again at the same instant, and the wait never collapses to zero.
    """
    window = min(ceiling, first * (2 ** min(attempt, 32)))
    return window * (0.5 + 0.5 * (rng or random).random())


class _Run:
    """One device being read: its task, health, and what was last sent for each signal."""

    def __init__(self, spec: DeviceSpec, now: float) -> None:
        self.spec = spec
        self.task: asyncio.Task | None = None
        self.health = Health()
        self.health_dirty = True
        self.health_written = 0.0
        self.started = now
        self.last_good = 0.0
        self.silent = False
        self.announced = False
        self.scans = 0
        self.errors = 0
        self.new_errors: list[tuple[datetime, str]] = []
        # (machine, signal) → [value, reading ts, monotonic time it was last sent]
        self.latest: dict[tuple[str, str], list] = {}

    @property
    def silence_limit(self) -> float:
        return SILENCE_INTERVALS * self.spec.scan_interval


class CollectorHost:
    """Runs many device sessions on the current event loop and feeds one sink.

    `sink(samples)` is synchronous (Django ORM code, e.g. `pipeline_sink`) and runs in a worker
    thread; when it raises, the batch is kept and retried with back-off, never dropped.
    `health_sink(rows)` likewise receives device health when it changes (and every
    `health_every` seconds for the last good read).
    """

    def __init__(
        self,
        sink: Callable[[list[Sample]], object],
        *,
        name: str = "collector",
        health_sink: Callable[[list[HealthRow]], object] | None = None,
        flush_interval: float = 0.005,
        health_every: float = 10.0,
        max_backoff: float = MAX_BACKOFF,
        max_backlog: int = 1_000_000,
        thread_cleanup: Callable[[], object] | None = None,
        spool: Spool | None = None,
    ) -> None:
        self.sink = sink
        self.spool = spool
        self.thread_cleanup = thread_cleanup
        self.name = name
        self.health_sink = health_sink
        self.flush_interval = flush_interval
        self.health_every = health_every
        self.max_backoff = max_backoff
        self.max_backlog = max_backlog
        self.runs: dict[str, _Run] = {}
        self.delivered = 0
        self.dropped = 0
        self._outbox: list[Sample] = []
        self._in_flight = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-sink")
        self._flusher: asyncio.Task | None = None
        self._watchdog: asyncio.Task | None = None
        self._rng = random.Random()
        self._closing = asyncio.Event()
        self._news = asyncio.Event()
        """Set when the outbox gets its first reading or a device's health changes: the flusher's cue."""
        self._removed_health: list[HealthRow] = []

    # -- devices -------------------------------------------------------------------------

    @property
    def specs(self) -> dict[str, DeviceSpec]:
        return {key: run.spec for key, run in self.runs.items()}

    def add(self, spec: DeviceSpec) -> None:
        """Start reading a device (first scan at a random point of its interval, to spread the load)."""
        if spec.key in self.runs:
            raise ValueError(f"{spec.key} is already being read")
        loop = asyncio.get_running_loop()
        run = _Run(spec, loop.time())
        self.runs[spec.key] = run
        run.task = loop.create_task(self._read_device(run), name=f"collect {spec.key}")

    async def remove(self, key: str, *, disconnected: bool = False) -> None:
        """Stop reading a device; with `disconnected`, its machines are sent `connected = false`."""
        run = self.runs.pop(key, None)
        if run is None:
            return
        await _cancel(run.task)
        if disconnected:
            self._emit_connected(run, False, datetime.now(UTC))
        self._removed_health.append(self._health_row(run, owned=False))
        self._news.set()

    async def replace(self, spec: DeviceSpec) -> None:
        """Rebuild the session of a device whose configuration changed."""
        await self.remove(spec.key)
        self.add(spec)

    @property
    def pending(self) -> int:
        """Observations read but not yet delivered (in the outbox or in the sink right now)."""
        return len(self._outbox) + self._in_flight

    def stats(self) -> dict[str, dict[str, int]]:
        return {key: {"scans": run.scans, "errors": run.errors} for key, run in self.runs.items()}

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the flusher and the watchdog on the running loop."""
        loop = asyncio.get_running_loop()
        if self.spool is not None:
            # What a collector of this host could not store when it stopped goes first.
            self._outbox[:0] = self.spool.load()
            self._news.set()
        self._flusher = loop.create_task(self._flush_loop(), name=f"{self.name} flush")
        self._watchdog = loop.create_task(self._watch_loop(), name=f"{self.name} watchdog")

    async def stop(self, *, disconnected: bool = False) -> None:
        """Stop every device, deliver what is still in the outbox (one more try), shut the sink thread."""
        for key in list(self.runs):
            await self.remove(key, disconnected=disconnected)
        await _cancel(self._watchdog)
        # Let a delivery in progress finish (never cancel it half way), then send the rest.
        self._closing.set()
        self._news.set()
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        try:
            await self.flush()
        except Exception:  # noqa: BLE001 - logged by flush; kept on disk for the next collector
            if self.spool is not None:
                try:
                    self.spool.save(self._outbox)
                    self._outbox = []
                except OSError:
                    logger.exception("%s: %d readings could not be kept on disk: lost", self.name, len(self._outbox))
        if self.thread_cleanup is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self.thread_cleanup)
        self._executor.shutdown(wait=True)

    async def __aenter__(self) -> CollectorHost:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- one device ----------------------------------------------------------------------

    async def _read_device(self, run: _Run) -> None:
        spec = run.spec
        loop = asyncio.get_running_loop()
        await asyncio.sleep(self._rng.random() * min(spec.scan_interval, 5.0))
        attempt = 0
        while True:
            collector = spec.factory()
            try:
                await collector.connect()
                attempt = 0
                due = loop.time()
                while True:
                    readings = await collector.read()
                    self._good_scan(run, readings, loop.time())
                    take_errors = getattr(collector, "take_errors", None)
                    if take_errors is not None:
                        # Values the collector dropped (e.g. an OPC UA node of the wrong type).
                        for error in take_errors():
                            self._value_error(run, str(error))
                    now = loop.time()
                    if now >= due:  # a scan on schedule (not news read between two scans)
                        due += spec.scan_interval
                        if due <= now:
                            # Too slow for the interval: skip the missed ticks instead of bursting.
                            due = now + spec.scan_interval - (now - due) % spec.scan_interval
                    # Until the next scan, unless the device has news before (a subscription's changes).
                    await collector.wait_for_news(due - now)
            except CollectorError as error:
                self._failed(run, str(error))
            except Exception as error:  # noqa: BLE001 - a bug in one session must not end the host
                logger.exception("%s: unexpected error in collector", spec.key)
                self._failed(run, f"{type(error).__name__}: {error}")
            finally:
                await collector.close()
            await asyncio.sleep(backoff_delay(attempt, spec.reconnect_backoff, self.max_backoff, self._rng))
            attempt += 1

    def _good_scan(self, run: _Run, readings: list[Reading], now: float) -> None:
        spec = run.spec
        run.scans += 1
        run.last_good = now
        # Heartbeats and `connected` carry the time of this scan: a reading's own time may be a
        # source timestamp (OPC UA) from before the device went silent, or already sent.
        ts = datetime.now(UTC)
        health = run.health
        if not health.connected or health.consecutive_errors:
            self._health_changed(run)
        health.connected, health.consecutive_errors = True, 0
        health.last_good_read = ts
        if run.silent or not run.announced:
            self._emit_connected(run, True, ts)
            run.silent, run.announced = False, True
            run.latest.clear()
        for reading in readings:
            slot = run.latest.get((reading.machine_code, reading.signal))
            if slot is None:
                run.latest[(reading.machine_code, reading.signal)] = [reading.value, reading.ts, None]
            else:
                if slot[0] != reading.value or type(slot[0]) is not type(reading.value):
                    slot[2] = None
                slot[0], slot[1] = reading.value, reading.ts
        # Heartbeats come from the latest values, so a source that only reports changes
        # (OPC UA subscriptions) is re-sent as regularly as a polled one.
        outbox = self._outbox
        for (machine, signal), slot in run.latest.items():
            sent = slot[2]
            if sent is not None and now - sent < spec.machines.get(machine, 60.0) / 2:
                continue
            outbox.append(Sample(machine, slot[1] if sent is None else ts, signal, slot[0]))
            slot[2] = now
        if outbox:
            self._news.set()

    def _failed(self, run: _Run, message: str) -> None:
        run.errors += 1
        health = run.health
        if health.connected or health.last_error != message:
            self._health_changed(run)
        health.connected = False
        health.consecutive_errors += 1
        health.last_error = message
        if health.consecutive_errors == 1:
            run.new_errors.append((datetime.now(UTC), message))
        if health.consecutive_errors == 1 or health.consecutive_errors % 100 == 0:
            logger.warning("%s: %s (%d consecutive errors)", run.spec.key, message, health.consecutive_errors)

    def _value_error(self, run: _Run, message: str) -> None:
        if run.health.last_error != message:
            run.health.last_error = message
            self._health_changed(run)
            run.new_errors.append((datetime.now(UTC), message))

    def _emit_connected(self, run: _Run, connected: bool, ts: datetime) -> None:
        self._outbox.extend(Sample(machine, ts, "connected", connected) for machine in run.spec.machines)
        self._news.set()

    def _health_changed(self, run: _Run) -> None:
        run.health_dirty = True
        self._news.set()

    # -- watchdog ------------------------------------------------------------------------

    async def _watch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            shortest = min((run.spec.scan_interval for run in self.runs.values()), default=1.0)
            await asyncio.sleep(min(max(shortest / 4, 0.02), 0.5))
            now = loop.time()
            for run in list(self.runs.values()):
                if run.silent:
                    continue
                since = max(run.last_good, run.started)
                if now - since > run.silence_limit:
                    run.silent = True
                    run.announced = True
                    run.health.connected = False
                    self._health_changed(run)
                    self._emit_connected(run, False, datetime.now(UTC))
                    logger.warning("%s: silent for %.1f s; its machines have no data", run.spec.key, now - since)

    # -- delivery ------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        failures = 0
        while not self._closing.is_set():
            if failures:
                # Back-off while the sink fails, but short: the data is kept, and a database that is
                # back should see it within seconds, not half a minute.
                await _wait(self._closing, min(5.0, 0.5 * 2 ** failures))
            else:
                await _wait(self._news, self._until_health_due())
                # Readings of the same moment (other devices' scans, a subscription's burst) join the batch.
                await _wait(self._closing, self.flush_interval)
            # Cleared before the delivery: what arrives meanwhile is the next batch, sent right after.
            self._news.clear()
            try:
                await self.flush()
                failures = 0
            except Exception:  # noqa: BLE001 - the batch is kept; retried with back-off
                failures += 1

    def _until_health_due(self) -> float | None:
        """Seconds until a device's health is due again without a change (None: never)."""
        if self.health_sink is None or not self.runs:
            return None
        written = min(run.health_written for run in self.runs.values())
        return max(0.0, written + self.health_every - time.monotonic())

    async def flush(self) -> None:
        """Hand the outbox (and due health) to the sinks in the worker thread; keep it if they fail."""
        batch, self._outbox = self._outbox, []
        health = self._due_health()
        if not batch and not health:
            return
        loop = asyncio.get_running_loop()
        self._in_flight = len(batch)
        try:
            await loop.run_in_executor(self._executor, self._deliver, batch, health)
        except Exception:
            logger.exception("%s: delivering %d observations failed; keeping them to retry", self.name, len(batch))
            self._outbox[:0] = batch
            if len(self._outbox) > self.max_backlog:
                excess = len(self._outbox) - self.max_backlog
                del self._outbox[:excess]
                self.dropped += excess
                logger.error("%s: backlog over %d observations: dropped the %d oldest",
                             self.name, self.max_backlog, excess)
            for row in health:
                run = self.runs.get(f"{row.kind}:{row.code}")
                if run is not None:
                    run.health_dirty = True
            raise
        finally:
            self._in_flight = 0
        self.delivered += len(batch)
        if self.spool is not None:
            self.spool.delivered()  # the batch held whatever was loaded from the spool

    def _deliver(self, batch: list[Sample], health: list[HealthRow]) -> None:
        # Health first: the pipeline's broadcast after the observations then shows it too.
        if health and self.health_sink is not None:
            try:
                self.health_sink(health)
            except Exception:  # noqa: BLE001 - health is best effort; observations are what count
                logger.exception("%s: writing device health failed", self.name)
        if batch:
            self.sink(batch)

    def _due_health(self) -> list[HealthRow]:
        if self.health_sink is None:
            self._removed_health.clear()
            return []
        now = time.monotonic()
        rows, self._removed_health = self._removed_health, []
        for run in self.runs.values():
            if run.health_dirty or now - run.health_written >= self.health_every:
                rows.append(self._health_row(run, changed=run.health_dirty))
                run.health_dirty = False
                run.health_written = now
        return rows

    def _health_row(self, run: _Run, owned: bool = True, changed: bool = True) -> HealthRow:
        h = run.health
        errors, run.new_errors = tuple(run.new_errors), []
        return HealthRow(
            kind=run.spec.kind, code=run.spec.code, connected=h.connected and owned,
            last_good_read=h.last_good_read, consecutive_errors=h.consecutive_errors, last_error=h.last_error,
            collector=self.name if owned else "", machines=tuple(run.spec.machines), changed=changed,
            errors=errors,
        )


async def _wait(event: asyncio.Event, timeout: float | None) -> None:
    """Until `event` is set, or `timeout` seconds have passed (None: no limit)."""
    if event.is_set():
        return
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass


async def _cancel(task: asyncio.Task | None) -> None:
    """Cancel `task` and wait for it to end.

    Python 3.11's `asyncio.wait_for` (used inside pymodbus) can swallow a cancellation that
    arrives just as its future completes, so cancel again until the task has really ended.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s ended with an error", task.get_name(), exc_info=task.exception())
