"""What a stop asks of the operator, and the words every screen uses for it (the server decides, pages show).

A stop is one of: a short stop (under the machine's micro-stop threshold: run time, nobody is
asked why), a stop needing a reason, a stop with a reason, or a stop outside production time (a
break, no shift: nobody is asked either). The live message carries the kind (`stop_kind`) and
its text (`reason_text`); the line screen's list of stops needing a reason is the same rule.
"""

from __future__ import annotations

from django.utils.translation import gettext

from monitoring.lib import oee

SHORT = "short"
NEEDS_REASON = "needs_reason"
EXPLAINED = "explained"
OUTSIDE = "outside"
STOP_KINDS = (SHORT, NEEDS_REASON, EXPLAINED, OUTSIDE)


def stop_kind(state: str, reason: str | None, worth: str | None, in_shift: bool = True) -> str | None:
    """The kind of a stop from its state, reason and what its time is worth (`oee.Stretch.kind`); None unless stopped."""
    if state != oee.STOPPED:
        return None
    if reason:
        return EXPLAINED
    if worth == oee.SMALL_STOP:
        return SHORT
    if not in_shift or worth in (oee.OUTSIDE_PRODUCTION, oee.PLANNED_STOP):
        return OUTSIDE
    return NEEDS_REASON


def stop_words(kind: str | None, reason_name: str | None = None, fault_code: int | None = None) -> str:
    """The words for a stop of `kind`, in the active language; '' when it is not a stop."""
    if kind == EXPLAINED:
        return reason_name or ""
    if kind == SHORT:
        return gettext("Short stop — no reason needed")
    if kind == OUTSIDE:
        return gettext("Outside production time — no reason needed")
    if kind == NEEDS_REASON:
        if fault_code:
            return gettext("Fault %(code)s — needs a reason") % {"code": fault_code}
        return gettext("Stop needing a reason")
    return ""


def reason_text(message: dict) -> str:
    """Why a machine is where it is, from its live message, in the same words on every page."""
    if message.get("state") == oee.STOPPED:
        kind = message.get("stop_kind")
        if kind is None:  # a message from before the kinds (a cached snapshot): the old rule
            kind = EXPLAINED if message.get("reason_name") else NEEDS_REASON
        return stop_words(kind, message.get("reason_name"), message.get("fault_code"))
    if message.get("state") == oee.NO_DATA:
        return message.get("device_error") or ""
    return ""


def stop_text(stop) -> str:
    """The words for a stop of a machine's stop list (`charts.Stop`): its reason, or what it asks of the operator."""
    if stop.state == oee.NO_DATA:
        return gettext("No data")
    return stop_words(stop_kind(stop.state, stop.reason, stop.worth), stop.reason_name, stop.fault_code)
