"""ASGI entry point for daphne: HTTP to Django, websockets to the live consumers (DESIGN.md §2, §7)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oee_site.settings")

# Set Django up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from monitoring.live.routing import LiveRouter, TryAgainLater, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    # Websockets check the session (AuthMiddlewareStack) and the Origin against ALLOWED_HOSTS;
    # a path with no consumer is closed with 4404; with the database or Redis away before the socket is
    # open, 4503 (the page tries again).
    "websocket": AllowedHostsOriginValidator(TryAgainLater(AuthMiddlewareStack(LiveRouter(websocket_urlpatterns)))),
})
