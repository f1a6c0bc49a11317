"""Telling people and IT systems of an alert: its e-mail, and the JSON the API and webhooks carry."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from monitoring.models import Alert, AlertEscalation, AlertRule
from planning.lib.instants import iso


def alert_json(alert: Alert) -> dict:
    """An alert as `/api/v1/alerts/` and the `alert.*` webhooks show it."""
    return {
        "id": alert.pk,
        "rule": {"id": alert.rule_id, "name": alert.rule.name, "kind": alert.rule.kind},
        "line": alert.line.code,
        "machine": alert.machine.code if alert.machine_id else None,
        "title": alert.title,
        "since": iso(alert.since),
        "opened_at": iso(alert.opened_at),
        "sent_at": iso(alert.sent_at),
        "escalation_level": alert.escalation_level,
        "acknowledged_at": iso(alert.acknowledged_at),
        "acknowledged_by": alert.acknowledged_by.get_username() if alert.acknowledged_by_id else None,
        "ended_at": iso(alert.ended_at),
        "detail": alert.detail,
    }


def recipients(of: AlertRule | AlertEscalation) -> list[str]:
    """The addresses of a rule (or an escalation step) and of its users who have one, each once."""
    addresses = [*of.email_list(), *(user.email for user in of.users.all() if user.email)]
    return list(dict.fromkeys(address.strip() for address in addresses))


def mail(alert: Alert, to: list[str], step: AlertEscalation | None = None) -> None:
    """Send the alert's e-mail to `to` (nothing without recipients); raises what the mail server says."""
    if not to:
        return
    link = settings.ALERTS_BASE_URL.rstrip("/") + reverse("line-screen", args=[alert.line.code]) \
        if settings.ALERTS_BASE_URL else ""
    with timezone.override(alert.line.area.site.zone):
        body = render_to_string("monitoring/email/alert.txt", {"alert": alert, "step": step, "link": link})
    subject = gettext("Escalated: %(title)s") % {"title": alert.title} if step else alert.title
    EmailMessage(f"[OEE Live] {subject}"[:250], body, settings.DEFAULT_FROM_EMAIL, to).send()
