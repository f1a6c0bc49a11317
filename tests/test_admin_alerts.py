"""Admin for alert rules and their escalation steps (monitoring/admin/alerts.py): bad rules are refused, named."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import User
from django.urls import reverse

from monitoring.models import Alert, AlertKind, AlertRule

pytestmark = pytest.mark.django_db
ADD = "admin:monitoring_alertrule_add"


def rule_form(plant, **changes) -> dict:
    data = {"name": "Seamer stopped", "kind": AlertKind.LONG_STOP, "enabled": "on", "machine": plant.b1.pk,
            "threshold": "10", "emails": "shift-lead@plant.example", "escalations-TOTAL_FORMS": 0,
            "escalations-INITIAL_FORMS": 0, "escalations-MIN_NUM_FORMS": 0, "escalations-MAX_NUM_FORMS": 1000}
    return {key: value for key, value in {**data, **changes}.items() if value is not None}


def step(index: int, after: str, emails: str = "", users: list[int] | None = None) -> dict:
    return {"escalations-TOTAL_FORMS": index + 1, f"escalations-{index}-after_minutes": after,
            f"escalations-{index}-emails": emails, f"escalations-{index}-users": users or []}


def test_an_admin_makes_a_rule_with_users_and_an_escalation_step(admin_client, plant):
    lead = User.objects.create_user("lead", email="lead@plant.example")
    boss = User.objects.create_user("boss", email="boss@plant.example")
    response = admin_client.post(reverse(ADD), rule_form(plant, users=[lead.pk], **step(0, "15", users=[boss.pk])))
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AlertRule.objects.get()
    assert (rule.kind, rule.threshold, rule.machine, list(rule.users.all())) == ("long_stop", 10, plant.b1, [lead])
    (escalation,) = rule.escalations.all()
    assert escalation.after_minutes == 15 and list(escalation.users.all()) == [boss]
    assert LogEntry.objects.get_for_object(rule).exists()  # configuration: kept in the audit trail


@pytest.mark.parametrize(("changes", "message"), [
    ({"threshold": "0"}, "greater than 0"),
    ({"threshold": "-5"}, "greater than 0"),
    ({"threshold": None}, "Give N, in minutes"),
    ({"kind": AlertKind.SCRAP_RATE, "threshold": "150"}, "below 100 %"),
    ({"kind": AlertKind.LOW_OEE}, "leave N empty"),
    ({"machine": None}, "Give a line or a machine"),
    ({"emails": "lead@plant.example, lead at plant"}, "Not an e-mail address: lead"),
])
def test_the_admin_refuses_a_rule_that_makes_no_sense_and_says_why(admin_client, plant, changes, message):
    response = admin_client.post(reverse(ADD), rule_form(plant, **changes))
    assert response.status_code == 200 and message in response.content.decode()
    assert not AlertRule.objects.exists()


def test_the_admin_refuses_a_user_without_an_address(admin_client, plant):
    nobody = User.objects.create_user("nobody")
    response = admin_client.post(reverse(ADD), rule_form(plant, users=[nobody.pk]))
    assert "No e-mail address for nobody" in response.content.decode() and not AlertRule.objects.exists()


@pytest.mark.parametrize(("row", "message"), [
    (step(0, "0", emails="boss@plant.example"), "greater than 0"),
    (step(0, "15"), "needs someone to tell"),
])
def test_an_escalation_step_needs_m_above_zero_and_someone_to_tell(admin_client, plant, row, message):
    response = admin_client.post(reverse(ADD), rule_form(plant, **row))
    assert response.status_code == 200 and message in response.content.decode()
    assert not AlertRule.objects.exists()


def test_alerts_are_read_only_in_the_admin(admin_client, plant):
    assert admin_client.get(reverse("admin:monitoring_alert_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:monitoring_alert_add")).status_code == 403
    assert not Alert.objects.exists()
