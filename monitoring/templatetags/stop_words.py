"""The words for a stop in a stop list, as the live screens say them (`monitoring.live.wording`)."""

from __future__ import annotations

from django import template

from monitoring.live import wording

register = template.Library()


@register.filter
def stop_text(stop) -> str:
    """A `charts.Stop`'s reason, or 'Short stop — no reason needed', 'Stop needing a reason'…"""
    return wording.stop_text(stop)
