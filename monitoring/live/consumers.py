"""The websocket consumer of the live stream (DESIGN.md §7): subscribe, send a snapshot, forward updates.

Close codes after the handshake, so a browser can tell why: 4401 not logged in, 4403 not
allowed to watch that line, 4404 no such line or machine (or a line display's link unknown or revoked);
4503 Redis or the database unreachable (the page tries again). `/ws/displays/<token>/` is a line display's: no session.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import Error as DatabaseError
from django.utils import timezone
from redis.exceptions import RedisError

from monitoring import live
from monitoring.live import encode, tiles
from monitoring.live.hub import hub
from planning.lib.text import shown
from planning.models import Line, LineDisplay, Machine, code_validator
from planning.permissions import can_operate_line, can_view_line, role_of

NOT_LOGGED_IN = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404
TRY_AGAIN_LATER = 4503  # 1013 would say it, but autobahn (daphne) sends only 1000 and 3000-4999
DISPLAY_RECHECK_S = 30.0
"""How often a line display's open socket checks that its link still works: a revoked one is closed (4404)."""
# What a screen sends is {"type": "ping"}; anything much longer is not meant for us.
MAX_CLIENT_MESSAGE = 4096

logger = logging.getLogger(__name__)


def _asked_language(scope: dict) -> str | None:
    """The language the page asks its tiles in (`?lang=fr`, what the page was drawn in), if one is offered."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return tiles.language_of((query.get("lang") or [""])[0][:20])


class Refused(Exception):
    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(code)


@dataclass(frozen=True)
class Watch:
    """What one connection watches: the groups it joins, what its snapshot holds, what its page draws."""

    kind: str
    groups: tuple[str, ...]
    lines: tuple[int, ...]
    """Lines of the snapshot."""
    line_codes: frozenset[str] | None
    """Lines whose machines it may hear about; None for every line."""
    machine_code: str | None = None
    operates: bool = False
    """The user may give reasons and enter scrap on the line it watches: its panels offer them."""
    language: str | None = None
    """The language its page is drawn in (None: the default)."""

    @property
    def view(self) -> str:
        """What its page gets of each machine's message (`encode.VIEWS`)."""
        return encode.view_of(self.kind, self.operates, self.language)

    def text(self, texts: dict[str, str]) -> str:
        """Its text among a message's texts (one encoded before its language was drawn: the default's)."""
        return texts.get(self.view) or texts[encode.view_of(self.kind, self.operates)]

    def admits(self, message: dict) -> bool:
        """Whether the machine of a message (or of an update event, which names it the same way) is in view."""
        if self.machine_code is not None and message.get("machine") != self.machine_code:
            return False
        return self.line_codes is None or message.get("line") in self.line_codes


def watch_for(user, kind: str, code: str | None) -> Watch:
    """The watch of `user` on the plant, a line or a machine; Refused(close code) when not allowed."""
    if kind in ("machine", "line"):
        try:
            code_validator(code)
        except ValidationError:  # no such code can exist (and a NUL in it would reach the database)
            raise Refused(NOT_FOUND) from None
    if kind == "machine":
        machine = Machine.objects.with_plant().filter(code=code).first()
        if machine is None:
            raise Refused(NOT_FOUND)
        if not can_view_line(user, machine.line):
            raise Refused(FORBIDDEN)
        return Watch(kind, (live.machine_group(machine.code),), (machine.line_id,), frozenset({machine.line.code}),
                     machine.code)
    if kind == "line":
        line = Line.objects.filter(code=code).first()
        if line is None:
            raise Refused(NOT_FOUND)
        if not can_view_line(user, line):
            raise Refused(FORBIDDEN)
        return Watch(kind, (live.line_group(line.code),), (line.pk,), frozenset({line.code}),
                     operates=can_operate_line(user, line))
    role = role_of(user)
    if role is None:
        raise Refused(FORBIDDEN)
    visible = Line.objects.visible_to(user)
    lines = tuple(visible.values_list("pk", flat=True))
    if role in ("admin", "manager"):
        return Watch(kind, (live.PLANT_GROUP,), lines, None)
    # An operator's plant is their lines: listen to those, not to the whole plant.
    codes = frozenset(visible.values_list("code", flat=True))
    return Watch(kind, tuple(live.line_group(c) for c in sorted(codes)), lines, codes)


def display_watch(token: str, language: str | None) -> Watch:
    """The read-only watch of a line display's token (`LineDisplay`), in its language; Refused(4404) when the
    token is unknown or revoked."""
    display = LineDisplay.objects.by_token(token)
    if display is None:
        raise Refused(NOT_FOUND)
    line = display.line
    return Watch("line", (live.line_group(line.code),), (line.pk,), frozenset({line.code}),
                 language=display.language or language)


def _seen_display(token: str) -> LineDisplay | None:
    """The active display of a token, its `last_seen` set to now; None once revoked."""
    display = LineDisplay.objects.by_token(token)
    if display is not None:
        LineDisplay.objects.filter(pk=display.pk).update(last_seen=timezone.now())
    return display


def snapshot(watch: Watch) -> tuple[str, dict[str, str]]:
    """The snapshot message of every machine the watch covers, as its page gets them (JSON text), and the
    time of each machine's message.

    The messages and their texts are the cached ones of the lines (`live.line_snapshots`): nothing is
    built or encoded again for a screen that connects while they are fresh.
    """
    lines = list(Line.objects.filter(pk__in=watch.lines).select_related("area__site", "constraint_machine"))
    entries = live.line_snapshots(lines)
    parts, times = [], {}
    for line in lines:
        entry = entries[line.pk]
        for message, texts in zip(entry.messages, entry.texts):
            if watch.admits(message):
                parts.append(watch.text(texts))
                times[message["machine"]] = message["ts"]
    return encode.snapshot_text(parts), times


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/plant/`, `/ws/lines/<code>/`, `/ws/machines/<code>/`: a snapshot, then coalesced updates.

    Per machine, the latest update wins and at most one is sent per `LIVE_MIN_INTERVAL`
    seconds; the last one is always sent, so a busy machine slows a screen's updates, never
    loses its final state. An update arrives encoded for each page (`encode.update_events`)
    and goes to the socket as it is. It comes from the process's `hub`, not from a channel of
    the consumer's own: the consumer has no channel layer.
    """

    channel_layer_alias = None

    def __init__(self, *args, kind: str = "plant", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if kind not in ("plant", "line", "machine", "display"):
            raise ValueError(f"kind must be plant, line, machine or display, not {kind!r}")
        self.kind = kind

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except (RedisError, OSError, TimeoutError, DatabaseError) as error:
            # Redis away: the screen cannot get updates; the database away: no watch, no snapshot.
            # Close with "try again later" (the page reconnects) rather than fail the socket (1011)
            # with a traceback per screen and retry.
            what = "the database" if isinstance(error, DatabaseError) else "Redis"
            logger.warning("live stream: %s unreachable (%s); closing the screen's socket", what, error)
            try:
                await send({"type": "websocket.close", "code": TRY_AGAIN_LATER})
            except Exception:  # noqa: BLE001 - the socket may be gone already
                pass

    async def dispatch(self, message: dict) -> None:
        """Hand a message to its handler, as channels does, but without its database hop.

        Channels closes stale database connections before every handler, in the thread of the
        synchronous code: a thread hop for each update of each screen. Every database access
        here goes through `database_sync_to_async`, which closes them itself.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.watch: Watch | None = None
        self.pending: dict[str, str] = {}
        self.last_sent: dict[str, float] = {}
        self.newest: dict[str, datetime] = {}
        self.flushers: dict[str, asyncio.Task] = {}
        self.min_interval = float(getattr(settings, "LIVE_MIN_INTERVAL", 0.5))
        # Accept first, then close with a code: a refused handshake reaches the browser as a bare 1006.
        await self.accept()
        kwargs = self.scope.get("url_route", {}).get("kwargs", {})
        language = _asked_language(self.scope)
        try:
            if self.kind == "display":  # a TV: its token is its permission, no user session
                self.watch = await database_sync_to_async(display_watch)(kwargs.get("token", ""), language)
            else:
                user = self.scope.get("user")
                if user is None or not user.is_authenticated:
                    await self.close(code=NOT_LOGGED_IN)
                    return
                watch = await database_sync_to_async(watch_for)(user, self.kind, kwargs.get("code"))
                self.watch = replace(watch, language=language)
        except Refused as refused:
            await self.close(code=refused.code)
            return
        # Updates that arrive meanwhile wait in `pending`: the snapshot always goes first.
        self.snapshot_sent = False
        self.hub = hub()
        try:
            for group in self.watch.groups:
                await self.hub.join(group, self)  # bounded: raises when Redis does not answer
            text, times = await database_sync_to_async(snapshot)(self.watch)
        except BaseException:
            self.hub.leave(self)
            raise
        for code, ts in times.items():
            at = datetime.fromisoformat(ts)
            if code in self.newest and self.newest[code] > at:
                continue  # an update newer than the snapshot's message came meanwhile: it follows
            # One computed before the snapshot's figures would take the screen back in time.
            self.newest[code] = at
            self.pending.pop(code, None)
        await self.send(text_data=text)
        self.snapshot_sent = True
        for code in list(self.pending):
            await self._schedule(code)
        if self.kind == "display":
            # Only once connected: a connect that fails (Redis down) gets no `disconnect` to cancel it.
            self.recheck = asyncio.create_task(self._recheck_display(kwargs.get("token", ""), self.watch.lines))

    async def disconnect(self, code: int) -> None:
        if getattr(self, "hub", None) is not None:
            self.hub.leave(self)
        if getattr(self, "recheck", None) is not None:
            self.recheck.cancel()
        for task in getattr(self, "flushers", {}).values():
            task.cancel()

    async def _recheck_display(self, token: str, lines: tuple[int, ...]) -> None:
        """Close a line display's socket once its link is revoked (or given anew), and when the display was
        moved to another line (the page then reloads into that line); note that the TV is on (`last_seen`).
        A failed check (the database restarting) is tried again at the next, so revoking keeps working."""
        while True:
            await asyncio.sleep(DISPLAY_RECHECK_S)
            try:
                display = await database_sync_to_async(_seen_display)(token)
            except Exception:  # noqa: BLE001 - the next check tries again
                logger.warning("could not check a line display's link; trying again in %d s", DISPLAY_RECHECK_S)
                continue
            if display is None or (display.line_id,) != tuple(lines):
                await self.close(code=NOT_FOUND)
                return

    async def redis_lost(self) -> None:
        """Redis went away: this screen gets no updates; close it with "try again later" (the page reconnects)."""
        await self.close(code=TRY_AGAIN_LATER)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        if text_data is None:
            await self._error("binary frames are not understood: send JSON text such as {\"type\": \"ping\"}")
            return
        if len(text_data) > MAX_CLIENT_MESSAGE:
            await self._error(f"a message may hold at most {MAX_CLIENT_MESSAGE:,} characters")
            return
        try:
            content = json.loads(text_data)
        except RecursionError:
            await self._error("not valid JSON (nested too deeply)")
            return
        except ValueError as error:
            await self._error(f"not valid JSON ({error})")
            return
        if not isinstance(content, dict) or "type" not in content:
            await self._error("a message must be a JSON object with a \"type\"")
        elif content["type"] == "ping":
            await self.send_json({"type": "pong"})
        else:
            kind = shown(content["type"]) if isinstance(content["type"], str) else f"of {type(content['type']).__name__}"
            await self._error(f"unknown message type {kind}: only \"ping\" is understood")

    async def _error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})

    async def machine_update(self, event: dict) -> None:
        """A machine's new message from `live.broadcast_machines`: keep it as its latest, send when due."""
        if self.watch is None or not self.watch.admits(event):
            return
        code = event["machine"]
        ts = datetime.fromisoformat(event["ts"])
        if code in self.newest and ts < self.newest[code]:
            return  # computed before one already here: it is older news
        self.newest[code] = ts
        self.pending[code] = self.watch.text(event["texts"])
        if self.snapshot_sent:
            await self._schedule(code)

    async def _schedule(self, code: str) -> None:
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
        text = self.pending.pop(code, None)
        if text is None:
            return
        self.last_sent[code] = asyncio.get_running_loop().time()
        await self.send(text_data=text)
