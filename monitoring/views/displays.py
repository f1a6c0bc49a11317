"""A line display: a TV's read-only line screen, by the token of its link (`LineDisplay`), with no user session."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.http import require_safe
from django.views.i18n import JavaScriptCatalog

from monitoring import live
from monitoring.live import tiles
from monitoring.views.base import chrome
from planning.models import LineDisplay


@require_safe
def line_display(request: HttpRequest, token: str) -> HttpResponse:
    """The line screen of the display whose link this is, in its language (or the browser's), without actions.

    An unknown or revoked link is a page that says so (404), never the log-in page: a TV has no one to log in.
    """
    display = LineDisplay.objects.by_token(token)
    if display is None:
        response = render(request, "monitoring/display_gone.html", chrome(request), status=404)
    else:
        language = tiles.language_of(display.language) or translation.get_language_from_request(request)
        with translation.override(language):
            response = _screen(request, display, token)
        response["Content-Language"] = language
        LineDisplay.objects.filter(pk=display.pk).update(last_seen=timezone.now())
    # The token is the key: keep it out of other sites' logs and of search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    response["Cache-Control"] = "no-store"
    return response


def _screen(request: HttpRequest, display: LineDisplay, token: str) -> HttpResponse:
    line, now = display.line, timezone.now()
    machines = live.line_snapshot(line, now)
    return render(request, "monitoring/line_screen.html", {
        **chrome(request), "line": line, "shift": machines[0]["shift"] if machines else None,
        "panels": [tiles.in_language(m)["panel"] for m in machines],
        "first_wide": len(machines) > 1, "columns": len(machines), "now": now,
        "site_tz": line.area.site.time_zone, "can_operate": False, "nav": "line",
        "display": display, "display_token": token, "socket_path": f"/ws/displays/{token}/",
    })


@require_safe
def display_catalog(request: HttpRequest, token: str) -> HttpResponse:
    """The scripts' words in the display's language (the page's /jsi18n/ is in the browser's)."""
    display = LineDisplay.objects.by_token(token)
    language = (tiles.language_of(display.language) if display else None) or translation.get_language()
    with translation.override(language):
        response = JavaScriptCatalog.as_view()(request)
    response["Referrer-Policy"] = "no-referrer"
    return response
