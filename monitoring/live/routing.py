"""Websocket URLs of the live stream (DESIGN.md §7), and the router that refuses every other path."""

from __future__ import annotations

from channels.routing import URLRouter
from django.urls import path

from monitoring.live.consumers import NOT_FOUND, LiveConsumer

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


async def refuse(receive, send, code: int) -> None:
    """Accept the handshake and close with `code`: a refused handshake reaches a browser as a bare 1006."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code})
