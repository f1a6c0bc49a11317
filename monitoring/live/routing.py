"""Websocket URLs of the live stream (DESIGN.md §7)."""

from __future__ import annotations

from django.urls import path

from monitoring.live.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/plant/", LiveConsumer.as_asgi(kind="plant")),
    path("ws/lines/<str:code>/", LiveConsumer.as_asgi(kind="line")),
    path("ws/machines/<str:code>/", LiveConsumer.as_asgi(kind="machine")),
]
