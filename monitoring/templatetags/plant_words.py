"""The plant's words for codes the pages show: a work order's status and the moves a planner makes."""

from __future__ import annotations

import re

from django import template
from django.utils import formats
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

register = template.Library()

ORDER_STATUSES = {
    "planned": pgettext_lazy("work order status", "planned"),
    "released": pgettext_lazy("work order status", "released"),
    "running": pgettext_lazy("work order status", "running"),
    "paused": pgettext_lazy("work order status", "paused"),
    "completed": pgettext_lazy("work order status", "completed"),
    "cancelled": pgettext_lazy("work order status", "cancelled"),
}
ORDER_MOVES = {
    "release": _("Release"),
    "start": _("Start"),
    "pause": _("Pause"),
    "resume": _("Resume"),
    "complete": _("Complete"),
    "cancel": _("Cancel"),
}
ORDER_MOVES_IN_FULL = {
    "release": _("Release the order"),
    "start": _("Start the order"),
    "pause": _("Pause the order"),
    "resume": _("Resume the order"),
    "complete": _("Complete the order"),
    "cancel": _("Cancel the order"),
}


@register.filter
def order_status(status: str) -> str:
    """A work order's status in the reader's language (the code itself when it is not known)."""
    return ORDER_STATUSES.get(status, status)


@register.filter
def order_move(move: str, in_full: bool = False) -> str:
    """The button of a move ("Release"; with in_full, "Release the order"), in the reader's language."""
    words = ORDER_MOVES_IN_FULL if in_full else ORDER_MOVES
    return words.get(move, move.capitalize())


# The shift report's column headings (monitoring.views.reports.COLUMNS, which the CSV keeps in English).
REPORT_WORDS = {
    "Machine": _("Machine"), "Date": _("Date"), "Shift": _("Shift"), "From": _("From"), "To": _("To"),
    "Planned time h": _("Planned time h"), "Run time h": _("Run time h"), "PPT h": _("Planned time h"),
    "Run h": _("Run time h"), "A %": _("A %"), "P %": _("P %"), "Q %": _("Q %"), "OEE %": _("OEE %"),
    "TEEP %": _("TEEP %"), "Total": _("Total"), "Good": _("Good"), "Reject": _("Reject"),
}


@register.filter
def report_word(word: str) -> str:
    """A heading of the shift report (or its "Total" row's label) in the reader's language."""
    return REPORT_WORDS.get(word, word) if isinstance(word, str) else word


_DECIMAL_TEXT = re.compile(r"-?\d+\.\d+")


@register.filter
def local_number(text):
    """A figure the CSV writes as "82.5" with the page's decimal separator ("82,5" in French and German)."""
    if isinstance(text, str) and _DECIMAL_TEXT.fullmatch(text):
        return text.replace(".", formats.get_format("DECIMAL_SEPARATOR"))
    return text


_RATE_TEXT = re.compile(r"[\d,]+(\.\d+)?/\w+")


@register.filter
def local_rate(text):
    """A pace as `monitoring.lib.progress.rate_text` writes it ("1,234/h", "53.0/min") with the page's
    separators ("1 234/h", "53,0/min" in French); "—/min" and anything else unchanged."""
    if isinstance(text, str) and _RATE_TEXT.fullmatch(text):
        separators = {",": formats.get_format("THOUSAND_SEPARATOR"), ".": formats.get_format("DECIMAL_SEPARATOR")}
        return "".join(separators.get(char, char) for char in text)
    return text


ROLES = {"operator": _("operator"), "manager": _("manager"), "admin": _("admin")}


@register.filter
def role_name(role: str) -> str:
    """A person's role (planning.permissions.role_of) in the reader's language."""
    return ROLES.get(role, role)
