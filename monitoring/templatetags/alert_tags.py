"""`{% alert_banner line %}`: the andon banner in a page's first paint (`monitoring.alerts.banner`)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from monitoring.alerts import banner
from planning.models import Line

register = template.Library()


@register.simple_tag(takes_context=True)
def alert_banner(context: template.Context, line: Line | None = None) -> SafeString:
    """The banner of `line`'s screen, or of every line the user may see (the overview)."""
    user = context["request"].user
    lines = Line.objects.filter(pk=line.pk) if line is not None else Line.objects.visible_to(user)
    return mark_safe(banner.render(user, lines, line))  # noqa: S308 - rendered by a template, escaped there
