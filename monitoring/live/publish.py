"""Sending live messages to the screens, and keeping the latest ones for screens that connect.

`broadcast_machines` is what the pipeline calls after a commit: the machines' lines are built
once each (`build.line_messages`), their messages go to the machine, line and plant groups, and
the line's messages are cached, so a screen that connects gets the same messages as its snapshot.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections
from django.utils import timezone

from monitoring.live.build import line_messages
from planning.models import Line, Machine

logger = logging.getLogger(__name__)

PLANT_GROUP = "plant"
UPDATE_EVENT = "machine.update"

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


# --- the latest messages of each line, shared by every process through the cache -----------------

def _cache_key(line: Line) -> str:
    return f"live:line:{_group_part(line.code)}"


def _cached(line: Line, now: datetime) -> list[dict] | None:
    try:
        found = cache.get(_cache_key(line))
    except Exception:  # noqa: BLE001 - without the cache a snapshot is built, not refused
        logger.warning("live cache unreadable; building the snapshot of %s", line.code)
        return None
    if not found:
        return None
    built, messages = found
    max_age = timedelta(seconds=settings.LIVE_SNAPSHOT_MAX_AGE)
    return messages if now - max_age <= built <= now else None


def _keep(line: Line, built: datetime, messages: list[dict]) -> None:
    try:
        cache.set(_cache_key(line), (built, messages), timeout=settings.LIVE_SNAPSHOT_MAX_AGE)
    except Exception:  # noqa: BLE001 - the messages were built and sent; only the snapshot is not kept
        logger.warning("live cache unwritable; the snapshot of %s is built again next time", line.code)


def line_snapshot(line: Line, now: datetime | None = None) -> list[dict]:
    """The latest messages of every enabled machine of the line: cached ones while fresh, else built now."""
    now = now or timezone.now()
    messages = _cached(line, now)
    if messages is None:
        messages = line_messages(line, now)
        _keep(line, now, messages)
    return messages


# --- publishing -----------------------------------------------------------------------------------

async def _send_all(layer, sends: list[tuple[str, dict]]) -> None:
    for group, event in sends:
        await layer.group_send(group, event)


def publish_lines(lines: list[Line], changed: set[int] | None = None) -> None:
    """Build each line's messages, keep them for snapshots, and send those of `changed` machines (all if None)."""
    layer = get_channel_layer()
    now = timezone.now()
    sends: list[tuple[str, dict]] = []
    for line in lines:
        try:
            messages = line_messages(line, now)
        except Exception:
            logger.exception("live messages of line %s could not be built", line.code)
            continue
        _keep(line, now, messages)
        codes = None if changed is None else set(line.machines.filter(pk__in=changed).values_list("code", flat=True))
        for message in messages:
            if codes is not None and message["machine"] not in codes:
                continue
            event = {"type": UPDATE_EVENT, "message": message}
            for group in (machine_group(message["machine"]), line_group(line.code), PLANT_GROUP):
                sends.append((group, event))
    if not sends or layer is None:
        return
    try:
        async_to_sync(_send_all)(layer, sends)
    except Exception:
        logger.exception("live updates of %d machine(s) not sent", len(sends) // 3)


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
    """Builds and sends live messages off the caller's thread, coalescing machines that change often.

    A collector commits a batch every scan; building a line's messages costs a few queries per
    machine. Here each machine that changed is published at most once per LIVE_MIN_INTERVAL,
    with its latest state, and the collector's loop never waits for it.
    """

    def __init__(self, min_interval: float) -> None:
        super().__init__(name="live-publisher", daemon=True)
        self.min_interval = min_interval
        self.pending: set[int] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()

    def add(self, machine_ids: set[int]) -> None:
        with self.lock:
            self.pending |= machine_ids
        self.wake.set()

    def run(self) -> None:
        while True:
            self.wake.wait()
            started = time.monotonic()
            with self.lock:
                machine_ids, self.pending = self.pending, set()
                self.wake.clear()
            try:
                _publish(machine_ids)
            except Exception:
                logger.exception("live publishing failed")
            finally:
                close_old_connections()
            time.sleep(max(self.min_interval - (time.monotonic() - started), 0))


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
