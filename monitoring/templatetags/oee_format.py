"""Template filters that format OEE figures, times and reasons for every page and live tile."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django import template
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime

from monitoring.live import wording

register = template.Library()


@register.filter
def percent(value: float | None) -> str:
    """0.7234 → '72.3' ('72,3' in French and German); None (no time or no parts yet) → '—'."""
    return "—" if value in (None, "") else formats.number_format(Decimal(f"{value * 100:.1f}"), 1)


@register.filter
def hours(seconds: float | None) -> str:
    return "—" if seconds in (None, "") else formats.number_format(Decimal(f"{seconds / 3600:.2f}"), 2)


@register.filter
def hours_minutes(seconds: float | None) -> str:
    """A span of time for a person to read: 50 → '1 min', 27000 → '7 h 30 min'; None → '—'."""
    if seconds in (None, ""):
        return "—"
    minutes = round(max(0, seconds) / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


@register.filter
def oee_level(value: float | None, thresholds: dict | object) -> str:
    """'good' from the target OEE, 'warn' from the warning level, else 'bad'; 'none' without a value."""
    if value in (None, ""):
        return "none"
    if value >= _threshold(thresholds, "target_oee", 0.85):
        return "good"
    if value >= _threshold(thresholds, "warning_oee", 0.65):
        return "warn"
    return "bad"


def _threshold(source: dict | object, name: str, default: float) -> float:
    """A level from a dict (a live message) or an object (a Machine)."""
    value = source.get(name) if isinstance(source, dict) else getattr(source, name, None)
    return default if value in (None, "") else value


@register.filter
def iso(value: datetime | str | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.isoformat()


@register.filter
def thousands(value: int | None) -> str:
    """12345 → '12,345' in English, '12 345' in French, '12.345' in German (the page's language)."""
    return "—" if value in (None, "") else formats.number_format(value, force_grouping=True)


@register.filter
def clock(value: datetime | str | None) -> str:
    """An instant (or its ISO text) as HH:MM in the time zone of the page (the site's)."""
    if not value:
        return ""
    instant = parse_datetime(value) if isinstance(value, str) else value
    return timezone.localtime(instant).strftime("%H:%M") if instant else ""


@register.filter
def duration(seconds: float | None) -> str:
    """75 → '1:15', 3725 → '1:02:05': how long a stop lasted (common.js ticks open ones the same way)."""
    if seconds in (None, ""):
        return ""
    whole = max(0, int(seconds))
    h, m, s = whole // 3600, whole % 3600 // 60, whole % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@register.filter
def reason_text(message: dict) -> str:
    """Why a machine is where it is, from its live message, in the same words on every page (`live.wording`)."""
    return wording.reason_text(message)
