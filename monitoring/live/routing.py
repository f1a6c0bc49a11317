"""Websocket URLs of the live stream (DESIGN.md §7), and the router that refuses every other path."""

from __future__ import annotations

from channels.routing import URLRouter
from django.db import Error as DatabaseError
from django.urls import path
from redis.exceptions import RedisError

from monitoring.live.consumers import NOT_FOUND, TRY_AGAIN_LATER, LiveConsumer

websocket_urlpatterns = [
    path("ws/plant/", LiveConsumer.as_asgi(kind="plant")),
    path("ws/lines/<str:code>/", LiveConsumer.as_asgi(kind="line")),
    path("ws/machines/<str:code>/", LiveConsumer.as_asgi(kind="machine")),
    path("ws/displays/<str:token>/", LiveConsumer.as_asgi(kind="display")),
]


class LiveRouter(URLRouter):
    """The live stream's routes; a socket to any other path is accepted and closed with 4404.

    (Channels' router raises for a path it has no route for, which daphne answers with a 500.)
    """

    async def __call__(self, scope, receive, send) -> None:
        if not self._routes(scope):
            await refuse(receive, send, NOT_FOUND)
            return
        await super().__call__(scope, receive, send)

    def _routes(self, scope) -> bool:
        """Whether a route takes the scope's path (read as URLRouter reads it)."""
        route_path, root = scope.get("path", ""), scope.get("root_path", "")
        if root:
            if not route_path.startswith(root):
                return False
            route_path = route_path[len(root):]
        route_path = route_path.lstrip("/")
        return any(route.pattern.match(route_path) for route in self.routes)


class TryAgainLater:
    """Closes a socket with 4503 (the page tries again) when the database or Redis fails before it is open.

    Channels' AuthMiddlewareStack reads a signed-in screen's session and user before any consumer runs,
    so while the database is away its handshake failed with a 500 and a traceback per screen and retry.
    A failure after the socket is open is the consumer's to handle.
    """

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send) -> None:
        opened = False
        got_connect = False

        async def receiving():
            nonlocal got_connect
            message = await receive()
            got_connect = got_connect or message["type"] == "websocket.connect"
            return message

        async def sending(message) -> None:
            nonlocal opened
            opened = opened or message["type"] in ("websocket.accept", "websocket.close")
            await send(message)

        try:
            await self.inner(scope, receiving, sending)
        except (DatabaseError, RedisError, OSError):
            if opened:
                raise
            if got_connect:
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": TRY_AGAIN_LATER})
            else:
                await refuse(receive, send, TRY_AGAIN_LATER)


async def refuse(receive, send, code: int) -> None:
    """Accept the handshake and close with `code`: a refused handshake reaches a browser as a bare 1006."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code})
