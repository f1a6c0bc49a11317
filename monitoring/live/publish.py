"""Sending live messages to the screens, and keeping the latest ones for screens that connect.

`broadcast_machines` is what the pipeline calls after a commit: the machines' lines are built
once each (`build.line_messages`), each message is encoded once per page (`encode.texts`) and
sent to the machine, line and plant groups, and the line's messages are cached with their texts,
so a screen that connects gets the same messages as its snapshot, built and encoded once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections
from django.utils import timezone

from monitoring.live import encode
from monitoring.live.build import line_messages
from monitoring.live.encode import OPERATED_LINE, UPDATE_EVENT  # noqa: F401 - UPDATE_EVENT is part of live's API
from planning.models import Line, Machine

logger = logging.getLogger(__name__)

PLANT_GROUP = "plant"

# Channels accepts group names of ASCII letters, digits, '-', '_' and '.', shorter than 100.
# Plant codes are made of those; anything else is hashed behind a leading '_', which no code
# starts with, so a hashed name never equals a plain one.
_SAFE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


def _group_part(code: str) -> str:
    if _SAFE_CODE.match(code):
        return code
    return "_" + hashlib.sha256(code.encode()).hexdigest()[:40]


def machine_group(code: str) -> str:
    return f"machine.{_group_part(code)}"


def line_group(code: str) -> str:
    return f"line.{_group_part(code)}"


def groups_of(message: dict) -> dict[str, tuple[str, ...]]:
    """The groups that hear of a machine's message, and the views of the screens in each.

    A line's group has its line screens, and the plant screens of its operators (who listen to
    their lines' groups rather than the plant's, see `consumers.watch_for`).
    """
    return {
        machine_group(message["machine"]): ("machine",),
        line_group(message["line"]): ("plant", "line", OPERATED_LINE),
        PLANT_GROUP: ("plant",),
    }


# --- the latest messages of each line, shared by every process through the cache -----------------

@dataclass(frozen=True)
class LineMessages:
    """A line's messages as built at `built`, and each of them as every view gets it (`encode.texts`)."""

    built: datetime
    messages: list[dict]
    texts: list[dict[str, str]]


def _build(line: Line, now: datetime) -> LineMessages:
    messages = line_messages(line, now)
    return LineMessages(now, messages, [encode.texts(message) for message in messages])


def _cache_key(line: Line) -> str:
    return f"live:line:{_group_part(line.code)}"


def _cached(lines: list[Line], now: datetime) -> dict[int, LineMessages]:
    keys = {_cache_key(line): line for line in lines}
    try:
        found = cache.get_many(list(keys))
    except Exception:  # noqa: BLE001 - without the cache a snapshot is built, not refused
        logger.warning("live cache unreadable; building the snapshots of %d line(s)", len(lines))
        return {}
    max_age = timedelta(seconds=settings.LIVE_SNAPSHOT_MAX_AGE)
    return {
        keys[key].pk: entry for key, entry in found.items()
        if isinstance(entry, LineMessages) and now - max_age <= entry.built <= now
    }


def _keep(line: Line, entry: LineMessages) -> None:
    try:
        cache.set(_cache_key(line), entry, timeout=settings.LIVE_SNAPSHOT_MAX_AGE)
    except Exception:  # noqa: BLE001 - the messages were built and sent; only the snapshot is not kept
        logger.warning("live cache unwritable; the snapshot of %s is built again next time", line.code)


def line_snapshots(lines: list[Line], now: datetime | None = None) -> dict[int, LineMessages]:
    """By line id, the latest messages of each line's enabled machines: cached ones while fresh, else built now.

    The cache is read in one round trip for all the lines.
    """
    now = now or timezone.now()
    entries = _cached(lines, now)
    for line in lines:
        if line.pk not in entries:
            entries[line.pk] = _build(line, now)
            _keep(line, entries[line.pk])
    return entries


def line_snapshot(line: Line, now: datetime | None = None) -> list[dict]:
    """The latest messages of every enabled machine of the line: cached ones while fresh, else built now."""
    return line_snapshots([line], now)[line.pk].messages


# --- publishing -----------------------------------------------------------------------------------

_thread_state = threading.local()


async def _send_all(layer, sends: list[tuple[str, dict]]) -> None:
    for group, event in sends:
        await layer.group_send(group, event)


def use_own_loop() -> None:
    """From now on this thread sends on an event loop of its own (a long-lived publishing thread calls this).

    Its Redis connections then last from one publication to the next; without it, each `send`
    gets a new loop, thread and connection for the call.
    """
    _thread_state.loop = asyncio.new_event_loop()


def send(sends: list[tuple[str, dict]]) -> None:
    """Send (group, event) pairs on the channel layer; a failure is logged, never raised."""
    layer = get_channel_layer()
    if not sends or layer is None:
        return
    try:
        loop = getattr(_thread_state, "loop", None)
        if loop is not None:
            loop.run_until_complete(_send_all(layer, sends))
        else:
            async_to_sync(_send_all)(layer, sends)
    except Exception:
        logger.exception("live updates of %d machine(s) not sent", len(sends) // 3)


def publish_lines(lines: list[Line], changed: set[int] | None = None) -> None:
    """Build the messages of `changed` machines (all if None), keep them for snapshots, and send them.

    A line whose messages are cached, fresh, has only its changed machines' messages built, in
    place of theirs among the cached ones; another line is built whole.
    """
    now = timezone.now()
    cached = {} if changed is None else _cached(lines, now)
    sends: list[tuple[str, dict]] = []
    for line in lines:
        try:
            built = _refresh(line, changed, cached.get(line.pk), now)
        except Exception:
            logger.exception("live messages of line %s could not be built", line.code)
            continue
        for message, texts in built:
            sends += encode.update_events(message, texts, groups_of(message))
    send(sends)


def _refresh(line: Line, changed: set[int] | None, entry: LineMessages | None,
             now: datetime) -> list[tuple[dict, dict[str, str]]]:
    """Keep the line's messages built anew (all, or `changed` ones merged into `entry`); the (message, texts) built."""
    if entry is not None and changed is not None:
        messages = line_messages(line, now, only=changed)
        if not messages:
            return []
        kept = {message["machine"] for message in entry.messages}
        if all(message["machine"] in kept for message in messages):
            fresh = {message["machine"]: (message, encode.texts(message)) for message in messages}
            merged = [fresh.get(message["machine"], (message, texts))
                      for message, texts in zip(entry.messages, entry.texts)]
            # Another process may merge into the same entry meanwhile: a snapshot then shows one of its
            # machines as of an earlier message, until the next update or the entry's expiry.
            _keep(line, LineMessages(entry.built, [m for m, _ in merged], [t for _, t in merged]))
            return list(fresh.values())
    entry = _build(line, now)
    _keep(line, entry)
    codes = None if changed is None else set(line.machines.filter(pk__in=changed).values_list("code", flat=True))
    return [(message, texts) for message, texts in zip(entry.messages, entry.texts)
            if codes is None or message["machine"] in codes]


def _publish(machine_ids: set[int]) -> None:
    if not machine_ids:
        return
    line_ids = set(Machine.objects.filter(pk__in=machine_ids).values_list("line_id", flat=True))
    lines = list(Line.objects.filter(pk__in=line_ids).select_related("area__site", "constraint_machine"))
    publish_lines(lines, set(machine_ids))


def publish_all() -> int:
    """Send every line's messages (the figures of a shift move on even when no machine changes)."""
    lines = list(Line.objects.filter(machines__enabled=True).distinct().select_related("area__site",
                                                                                       "constraint_machine"))
    publish_lines(lines)
    return len(lines)


class _Publisher(threading.Thread):
    """Builds and sends live messages off the caller's thread, each machine at most once per LIVE_MIN_INTERVAL.

    A collector commits a batch every scan. A machine that changed is published at once when
    its last publication is at least `min_interval` old, else with its latest state when that
    is due; a busy machine never holds back a quiet one, and the collector's loop never waits.
    """

    def __init__(self, min_interval: float) -> None:
        super().__init__(name="live-publisher", daemon=True)
        self.min_interval = min_interval
        self.pending: set[int] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.published: dict[int, float] = {}
        """Machine id → when (monotonic) it was last published."""

    def add(self, machine_ids: set[int]) -> None:
        with self.lock:
            self.pending |= machine_ids
        self.wake.set()

    def run(self) -> None:
        use_own_loop()
        waiting: set[int] = set()
        while True:
            next_due = min((self.published[m] + self.min_interval for m in waiting), default=None)
            self.wake.wait(None if next_due is None else max(next_due - time.monotonic(), 0))
            with self.lock:
                waiting |= self.pending
                self.pending = set()
                self.wake.clear()
            now = time.monotonic()
            due = {m for m in waiting if self.published.get(m, -math.inf) + self.min_interval <= now}
            if not due:
                continue
            waiting -= due
            self.published.update(dict.fromkeys(due, now))
            try:
                _publish(due)
            except Exception:
                logger.exception("live publishing failed")
            finally:
                close_old_connections()


_publisher: _Publisher | None = None


def publish_in_background() -> None:
    """From now on this process publishes from a background thread (collector hosts call this)."""
    global _publisher
    if _publisher is None:
        _publisher = _Publisher(getattr(settings, "LIVE_MIN_INTERVAL", 0.5))
        _publisher.start()


def broadcast_machines(machine_ids: set[int]) -> None:
    """Send a fresh live message for each machine to the screens watching it (after commit).

    A failure is logged, never raised: the observations are committed whatever the screens get.
    """
    if _publisher is not None:
        _publisher.add(set(machine_ids))
    else:
        try:
            _publish(set(machine_ids))
        except Exception:
            logger.exception("live updates not sent")
