"""The andon banner on its own, for the screens that ask for it again (`monitoring.alerts.banner`)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from monitoring.alerts import banner as alert_banner
from monitoring.views.base import visible_line
from planning.models import Line


@require_safe
@never_cache
@login_required
def banner(request: HttpRequest) -> HttpResponse:
    """GET /alerts/banner/?line=<code>: the banner of that line's screen; without `line`, of the overview."""
    code = request.GET.get("line", "")
    if code:
        line = visible_line(request, code)
        html = alert_banner.render(request.user, Line.objects.filter(pk=line.pk), line)
    else:
        html = alert_banner.render(request.user, Line.objects.visible_to(request.user))
    return HttpResponse(html, content_type="text/html; charset=utf-8")
