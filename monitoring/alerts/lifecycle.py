"""The one door of alerts: open, send, escalate, acknowledge and end them, each once however many evaluate.

Beat runs `evaluate` every ALERTS_EVALUATE_S; two workers may run it at the same time. Each step
is claimed with a conditional write whose row count says who won (healthchecks' way): an alert
is opened by the insert that the unique constraints let through (one open alert per rule and
subject, one alert per episode), sent by the update that sets its `sent_at`, escalated by the
update that moves its `escalation_level` on, acknowledged and ended by the update that finds
those empty. The IT systems hear of each step through the outbox, in the same transaction.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone

from monitoring.alerts import notify
from monitoring.alerts.conditions import Finding, Watch, findings
from monitoring.models import Alert, AlertRule
from planning import outbox
from planning.lib.instants import iso
from planning.models import EventType

logger = logging.getLogger(__name__)

ALERT_RELATIONS = ("rule", "line__area__site", "machine", "acknowledged_by")


def _tell(alert: Alert, event_type: str, key: str, at: datetime) -> None:
    """Write the step into the outbox (inside the caller's transaction): the alert as it is now."""
    outbox.emit(event_type, key, at, notify.alert_json(alert), line=alert.line)


def open_alert(rule: AlertRule, finding: Finding, now: datetime) -> Alert | None:
    """Open the rule's alert for the finding; None when it is open already or its episode alerted before."""
    episode = finding.episode or iso(now)
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                rule=rule, line=finding.line, machine=finding.machine, subject=finding.subject,
                key=f"{rule.pk}:{finding.subject}:{episode}"[:200], title=finding.title[:300],
                detail={**finding.detail, "episode": finding.episode}, since=finding.since, opened_at=now,
            )
            _tell(alert, EventType.ALERT_OPENED, f"alert.opened:{alert.key}", now)
    except IntegrityError:
        return None
    return alert


def end_alert(alert: Alert, now: datetime) -> bool:
    """End the alert (its condition no longer holds); False when it had ended already."""
    with transaction.atomic():
        if not Alert.objects.filter(pk=alert.pk, ended_at__isnull=True).update(ended_at=now):
            return False
        alert.refresh_from_db()
        _tell(alert, EventType.ALERT_ENDED, f"alert.ended:{alert.key}", now)
    return True


def acknowledge(alert: Alert, user: User, now: datetime | None = None) -> bool:
    """Record that `user` has seen the alert (the caller checked they may); False when someone had already."""
    now = now or timezone.now()
    with transaction.atomic():
        if not Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
                acknowledged_at=now, acknowledged_by=user):
            alert.refresh_from_db()
            return False
        alert.refresh_from_db()
        _tell(alert, EventType.ALERT_ACKNOWLEDGED, f"alert.acknowledged:{alert.key}", now)
    return True


def send_due(now: datetime) -> int:
    """E-mail each open alert not sent yet to its rule's recipients; how many this call sent.

    A mail server that refuses gives the claim back, so the next evaluation tries again.
    """
    sent = 0
    for alert in Alert.objects.open().filter(sent_at__isnull=True).select_related(*ALERT_RELATIONS):
        if not Alert.objects.filter(pk=alert.pk, sent_at__isnull=True).update(sent_at=now):
            continue  # another evaluation is sending it
        try:
            notify.mail(alert, notify.recipients(alert.rule))
        except Exception as error:  # noqa: BLE001 - whatever the mail server says, try again next time
            logger.warning("alert %s: e-mail not sent (%s); trying again at the next evaluation", alert.pk, error)
            Alert.objects.filter(pk=alert.pk).update(sent_at=None, send_error=f"{iso(now)}: {error}"[:2000])
            continue
        Alert.objects.filter(pk=alert.pk).exclude(send_error="").update(send_error="")
        sent += 1
    return sent


def escalate_due(now: datetime) -> int:
    """Take each escalation step that is due on an open alert nobody acknowledged; how many steps were taken."""
    taken = 0
    due = (Alert.objects.open().filter(acknowledged_at__isnull=True, sent_at__isnull=False)
           .select_related(*ALERT_RELATIONS).prefetch_related(Prefetch("rule__escalations")))
    for alert in due:
        steps = list(alert.rule.escalations.all())
        while alert.escalation_level < len(steps):
            level, step = alert.escalation_level, steps[alert.escalation_level]
            if now < alert.opened_at + timedelta(minutes=step.after_minutes):
                break
            if not Alert.objects.filter(pk=alert.pk, escalation_level=level, acknowledged_at__isnull=True,
                                        ended_at__isnull=True).update(escalation_level=level + 1, escalated_at=now):
                break  # acknowledged, ended or escalated by another evaluation meanwhile
            try:
                notify.mail(alert, notify.recipients(step), step)
            except Exception as error:  # noqa: BLE001 - the step is given back and taken at the next evaluation
                logger.warning("alert %s: escalation e-mail not sent (%s)", alert.pk, error)
                Alert.objects.filter(pk=alert.pk, escalation_level=level + 1).update(
                    escalation_level=level, send_error=f"{iso(now)}: {error}"[:2000])
                break
            alert.escalation_level, alert.escalated_at = level + 1, now
            with transaction.atomic():
                _tell(alert, EventType.ALERT_ESCALATED, f"alert.escalated:{alert.key}:{level + 1}", now)
            taken += 1
    return taken


def evaluate(now: datetime | None = None) -> dict[str, int]:
    """Open the alerts whose conditions hold, end those whose conditions ended, send and escalate.

    Returns how many were opened, ended, sent and escalated by this call.
    """
    now = now or timezone.now()
    watch = Watch(now)
    done: Counter[str] = Counter()
    rules = AlertRule.objects.select_related(
        "line__area__site", "line__constraint_machine", "machine__line__area__site", "reason_group")
    for rule in rules:
        try:
            found = {f.subject: f for f in findings(rule, watch)} if rule.enabled else {}
        except Exception:  # noqa: BLE001 - one rule that cannot be read must not silence the others
            logger.exception("alert rule %s (%s) could not be evaluated", rule.pk, rule)
            continue
        for alert in rule.alerts.open().select_related(*ALERT_RELATIONS):
            finding = found.get(alert.subject)
            if finding is not None and finding.episode == alert.detail.get("episode", ""):
                del found[alert.subject]  # still holds: nothing new to say
            else:
                done["ended"] += end_alert(alert, now)
        for finding in found.values():
            done["opened"] += open_alert(rule, finding, now) is not None
    done["sent"] = send_due(now)
    done["escalated"] = escalate_due(now)
    return {name: done[name] for name in ("opened", "ended", "sent", "escalated")}
