"""Template filters of the trend pages: a value by its key, and a change in percent as a reader says it."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext

register = template.Library()


@register.filter
def get_item(mapping: dict, key: str):
    """mapping[key], or None when it has none."""
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def change(value: float | None) -> str:
    """-22.04 → '−22.0 %', 5 → '+5.0 %' ('+5,0 %' in French and German); None (from nothing to something)
    → 'new' in the reader's language."""
    if value is None:
        return gettext("new")
    # Rounded here: number_format cuts a float's decimals (55.56 would read 55.5).
    return f"{'−' if value < 0 else '+' if value > 0 else '±'}{number_format(Decimal(f'{abs(value):.1f}'), 1)} %"
