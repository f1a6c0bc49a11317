"""The screens of one process share one channel: each live update leaves Redis once per process, not once per screen.

channels_redis hands each consumer its messages through a receive loop of its own (a lock, two
tasks and a wait per message and screen): with a thousand screens on a daphne that machinery
was a third of its time. Here the process's screens do not listen to the channel layer at all:
the hub joins every group some screen of the process watches, receives each event once, and
hands it to the screens of its group (`Screen.machine_update`) in turn.

When Redis is away the hub's receive fails: every screen is told (`Screen.redis_lost`, which
closes it with "try again later") and the hub starts afresh with the next screen that joins.
The hub also renews its groups every `RENEW_S`, so a Redis that came back empty (it keeps no
groups on disk) is listened to again, and a membership never reaches channels_redis's expiry.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Protocol

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

REDIS_WAIT_S = 10
"""Longest a join waits for Redis: a Redis that is restarting can leave a call hanging."""
RENEW_S = 30.0


class Screen(Protocol):
    async def machine_update(self, event: dict) -> None: ...

    async def redis_lost(self) -> None: ...


class Hub:
    """The live groups this process's screens watch, joined once on the channel layer by one channel."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.screens: dict[str, set[Screen]] = {}
        self.tasks: list[asyncio.Task] = []
        self.starting = asyncio.Lock()

    async def join(self, group: str, screen: Screen) -> None:
        """From now on `screen` gets the events of `group`. Raises when Redis does not answer in time."""
        async with self.starting:
            if not self.tasks:
                self.channel = await asyncio.wait_for(self.layer.new_channel(), REDIS_WAIT_S)
                self.tasks = [asyncio.create_task(self._receive(), name="live hub"),
                              asyncio.create_task(self._renew(), name="live hub renewal")]
        channel = self.channel
        if group not in self.screens:
            await asyncio.wait_for(self.layer.group_add(group, channel), REDIS_WAIT_S)
        if self.channel != channel:  # Redis went away meanwhile: the screens of the old channel are closed
            raise ConnectionError("the live hub lost Redis while a screen joined")
        self.screens.setdefault(group, set()).add(screen)

    def leave(self, screen: Screen) -> None:
        """`screen` gets no more events (its groups stay joined until the next renewal)."""
        for screens in self.screens.values():
            screens.discard(screen)

    async def _receive(self) -> None:
        try:
            while True:
                event = await self.layer.receive(self.channel)
                for screen in list(self.screens.get(event.get("group"), ())):
                    try:
                        await screen.machine_update(event)
                    except Exception:  # one screen's trouble is never another's
                        logger.exception("live update of a screen failed")
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - Redis away (or the layer broken): the screens reconnect
            logger.warning("live stream: Redis unreachable (%s); closing %d screen(s)", error,
                           len(set().union(*self.screens.values())) if self.screens else 0)
            await self._reset()

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(RENEW_S)
            # A group no screen watches is forgotten (a screen that comes for it joins it again) and
            # left to channels_redis's expiry: discarding it here could cross such a join.
            for group in [group for group, screens in self.screens.items() if not screens]:
                del self.screens[group]
            for group in list(self.screens):
                try:
                    await asyncio.wait_for(self.layer.group_add(group, self.channel), REDIS_WAIT_S)
                except Exception as error:  # noqa: BLE001 - the receive loop tells the screens; try again next round
                    logger.warning("live stream: renewing group %s failed (%s)", group, error)

    async def _reset(self) -> None:
        screens = set().union(*self.screens.values()) if self.screens else set()
        self.screens, self.channel = {}, None
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            if task is not asyncio.current_task():
                task.cancel()
        for screen in screens:
            try:
                await screen.redis_lost()
            except Exception:  # noqa: BLE001 - its socket may be gone already
                pass


_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """The hub of the running event loop for the default channel layer."""
    layer = get_channel_layer()
    hubs = _hubs.setdefault(asyncio.get_running_loop(), {})
    if id(layer) not in hubs or hubs[id(layer)].layer is not layer:
        hubs[id(layer)] = Hub(layer)
    return hubs[id(layer)]
