"""Template filters of the trend pages: a value by its key, and a change in percent as a reader says it."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict, key: str):
    """mapping[key], or None when it has none."""
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def change(value: float | None) -> str:
    """-22.04 → '−22.0 %', 5 → '+5.0 %'; None (from nothing to something) → 'new'."""
    if value is None:
        return "new"
    return f"{'−' if value < 0 else '+' if value > 0 else '±'}{abs(value):.1f} %"
