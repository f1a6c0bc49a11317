"""Websocket consumers of the live stream (DESIGN.md §7): subscribe, send a snapshot, forward updates.

Close codes after the handshake, so a browser can tell why: 4401 not logged in, 4403 not
allowed to watch that line, 4404 no such line or machine.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from datetime import datetime

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from monitoring import live
from monitoring.models import Line, Machine
from monitoring.permissions import can_view_line, lines_visible_to, role_of

NOT_LOGGED_IN = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404


class Refused(Exception):
    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(code)


@dataclass(frozen=True)
class Watch:
    """What one connection watches: the groups it joins and the machines its messages may be about."""

    groups: tuple[str, ...]
    machine_ids: tuple[int, ...]
    """Machines of the snapshot."""
    line_codes: frozenset[str] | None
    """Lines whose machines it may hear about; None for every line."""
    machine_code: str | None = None

    def admits(self, message: dict) -> bool:
        if self.machine_code is not None and message.get("machine") != self.machine_code:
            return False
        return self.line_codes is None or message.get("line") in self.line_codes


def watch_for(user, kind: str, code: str | None) -> Watch:
    """The watch of `user` on the plant, a line or a machine; Refused(close code) when not allowed."""
    if kind == "machine":
        machine = Machine.objects.with_plant().filter(code=code).first()
        if machine is None:
            raise Refused(NOT_FOUND)
        if not can_view_line(user, machine.line):
            raise Refused(FORBIDDEN)
        return Watch((live.machine_group(machine.code),), (machine.pk,), frozenset({machine.line.code}), machine.code)
    if kind == "line":
        line = Line.objects.filter(code=code).first()
        if line is None:
            raise Refused(NOT_FOUND)
        if not can_view_line(user, line):
            raise Refused(FORBIDDEN)
        machines = tuple(line.machines.enabled().values_list("pk", flat=True))
        return Watch((live.line_group(line.code),), machines, frozenset({line.code}))
    role = role_of(user)
    if role is None:
        raise Refused(FORBIDDEN)
    machines = tuple(Machine.objects.enabled().filter(line__in=lines_visible_to(user, Line.objects.all()))
                     .values_list("pk", flat=True))
    if role in ("admin", "manager"):
        return Watch((live.PLANT_GROUP,), machines, None)
    # An operator's plant is their lines: listen to those, not to the whole plant.
    codes = frozenset(lines_visible_to(user, Line.objects.all()).values_list("code", flat=True))
    return Watch(tuple(live.line_group(c) for c in sorted(codes)), machines, codes)


def snapshot(machine_ids: tuple[int, ...]) -> list[dict]:
    machines = Machine.objects.with_plant().filter(pk__in=machine_ids)
    return live.machine_messages(machines)


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/plant/`, `/ws/lines/<code>/`, `/ws/machines/<code>/`: a snapshot, then coalesced updates.

    Per machine, the latest update wins and at most one is sent per `LIVE_MIN_INTERVAL`
    seconds; the last one is always sent, so a busy machine slows a screen's updates, never
    loses its final state.
    """

    def __init__(self, *args, kind: str = "plant", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if kind not in ("plant", "line", "machine"):
            raise ValueError(f"kind must be plant, line or machine, not {kind!r}")
        self.kind = kind

    async def connect(self) -> None:
        self.watch: Watch | None = None
        self.pending: dict[str, dict] = {}
        self.last_sent: dict[str, float] = {}
        self.newest: dict[str, datetime] = {}
        self.flushers: dict[str, asyncio.Task] = {}
        self.min_interval = float(getattr(settings, "LIVE_MIN_INTERVAL", 0.5))
        # Accept first, then close with a code: a refused handshake reaches the browser as a bare 1006.
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=NOT_LOGGED_IN)
            return
        code = self.scope.get("url_route", {}).get("kwargs", {}).get("code")
        try:
            self.watch = await database_sync_to_async(watch_for)(user, self.kind, code)
        except Refused as refused:
            await self.close(code=refused.code)
            return
        for group in self.watch.groups:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups.append(group)
        # Updates that arrive meanwhile wait in the channel: the snapshot always goes first.
        machines = await database_sync_to_async(snapshot)(self.watch.machine_ids)
        await self.send_json({"type": "snapshot", "machines": machines})

    async def disconnect(self, code: int) -> None:
        for task in getattr(self, "flushers", {}).values():
            task.cancel()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        if text_data is None:
            await self._error("binary frames are not understood: send JSON text such as {\"type\": \"ping\"}")
            return
        try:
            content = json.loads(text_data)
        except ValueError as error:
            await self._error(f"not valid JSON ({error})")
            return
        if not isinstance(content, dict) or "type" not in content:
            await self._error("a message must be a JSON object with a \"type\"")
        elif content["type"] == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self._error(f"unknown message type {content['type']!r}: only \"ping\" is understood")

    async def _error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})

    async def machine_update(self, event: dict) -> None:
        """A machine's new message from `live.broadcast_machines`: keep it as its latest, send when due."""
        message = event["message"]
        if self.watch is None or not self.watch.admits(message):
            return
        code = message["machine"]
        ts = datetime.fromisoformat(message["ts"])
        if code in self.newest and ts < self.newest[code]:
            return  # computed before one already here: it is older news
        self.newest[code] = ts
        self.pending[code] = message
        if code in self.flushers:
            return  # its flusher sends the latest when due
        if self._wait(code) <= 0:
            await self._send_pending(code)
        else:
            self.flushers[code] = asyncio.create_task(self._flush(code))

    def _wait(self, code: str) -> float:
        loop = asyncio.get_running_loop()
        return self.last_sent.get(code, -math.inf) + self.min_interval - loop.time()

    async def _flush(self, code: str) -> None:
        try:
            while code in self.pending:
                wait = self._wait(code)
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._send_pending(code)
        finally:
            self.flushers.pop(code, None)

    async def _send_pending(self, code: str) -> None:
        message = self.pending.pop(code, None)
        if message is None:
            return
        self.last_sent[code] = asyncio.get_running_loop().time()
        await self.send_json(message)
