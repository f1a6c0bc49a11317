"""The andon banner of the line screen and the overview: the one renderer of a screen's open alerts.

Pages include its HTML in their first paint, and the screens ask for it again every
ALERTS_BANNER_POLL_S (`monitoring.views.alerts.banner`); who may acknowledge which alert is
decided here, the browser only shows the buttons it is given.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import F, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from monitoring.models import Alert
from planning.models import Line
from planning.permissions import can_acknowledge_alerts


def open_alerts(lines: QuerySet[Line]) -> list[Alert]:
    """The open alerts of the lines: those nobody acknowledged first, newest first."""
    return list(
        Alert.objects.open().on_lines(lines).select_related("rule", "line__area__site", "machine", "acknowledged_by")
        .order_by(F("acknowledged_at").asc(nulls_first=True), "-opened_at", "-id")
    )


def render(user: User | AnonymousUser, lines: QuerySet[Line], line: Line | None = None) -> str:
    """The banner of one line's screen (`line`), or of the overview of `lines`, for `user`."""
    alerts = open_alerts(lines)
    may: dict[int, bool] = {}
    items = []
    for alert in alerts:
        if alert.line_id not in may:
            may[alert.line_id] = can_acknowledge_alerts(user, alert.line)
        items.append({"alert": alert, "can_acknowledge": may[alert.line_id] and alert.acknowledged_at is None})
    url = reverse("alert-banner") + (f"?{urlencode({'line': line.code})}" if line else "")
    zone = line.area.site.zone if line else (alerts[0].line.area.site.zone if alerts else timezone.get_current_timezone())
    with timezone.override(zone):
        return render_to_string("monitoring/_alert_banner.html", {
            "items": items, "url": url, "poll_s": settings.ALERTS_BANNER_POLL_S, "show_line": line is None,
        })
