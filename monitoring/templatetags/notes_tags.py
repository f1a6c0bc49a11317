"""Hand-over notes where a page shows them: the line screen (notes for this shift) and the shift report."""

from __future__ import annotations

from datetime import datetime

from django import template

from monitoring import notes
from planning.models import Line

register = template.Library()


@register.simple_tag
def screen_notes(line: Line) -> list:
    """The notes the line screen shows, newest first."""
    return list(notes.screen_notes(line))


@register.simple_tag
def report_notes(line: Line, start: datetime | None, end: datetime | None) -> list:
    """The notes written for the line in the report's period, oldest first."""
    return list(notes.notes_between(line, start, end)) if line and start and end else []


@register.simple_tag(takes_context=True)
def may_write_notes(context, line: Line) -> bool:
    request = context.get("request")
    return bool(request) and notes.can_write_notes(request.user, line)
