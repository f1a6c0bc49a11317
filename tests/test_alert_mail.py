"""Alert e-mails through a real SMTP server on loopback: sent once, tried again, escalated once per step."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection

from monitoring import alerts
from monitoring.alerts.lifecycle import end_alert, escalate_due
from monitoring.models import Alert, AlertEscalation, AlertKind, AlertRule
from planning.models import OutboxEvent
from tests.histories import b1_now
from tests.smtp import MailServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def mail_server(settings):
    server = MailServer().start()
    server.use_in(settings)
    settings.DEFAULT_FROM_EMAIL = "OEE Live <oee@plant.example>"
    yield server
    server.stop()


def stop_rule(plant, **fields) -> AlertRule:
    made = AlertRule.objects.create(name="Seamer stopped", kind=AlertKind.LONG_STOP, threshold=10, machine=plant.b1,
                                    emails="shift-lead@plant.example", **fields)
    lead = User.objects.create_user("lead", email="lead@plant.example")
    made.users.add(lead, User.objects.create_user("no-mail"))  # a user without an address is left out
    return made


def test_an_alert_is_mailed_once_to_its_addresses_and_users(plant, mail_server, settings):
    settings.ALERTS_BASE_URL = "https://oee.plant.example/"
    stop_rule(plant)
    b1_now(stopped_minutes=12, reason="jam")
    assert alerts.evaluate()["sent"] == 1
    assert alerts.evaluate()["sent"] == 0
    ((recipients, message),) = mail_server.received
    assert sorted(recipients) == ["lead@plant.example", "shift-lead@plant.example"]
    assert message["From"] == "OEE Live <oee@plant.example>"
    assert message["Subject"].startswith("[OEE Live] B1 Seamer stopped for over 10 min (Jam)")
    body = message.get_payload(decode=True).decode()
    assert "Line:    B Line B" in body and "Machine: B1 Seamer" in body
    assert "https://oee.plant.example/lines/B/" in body
    assert Alert.objects.get().sent_at is not None


def test_a_mail_server_that_refuses_gets_the_alert_at_the_next_evaluation(plant, mail_server):
    stop_rule(plant)
    b1_now(stopped_minutes=12)
    mail_server.refuse_with = "451 4.3.0 Try again later"
    assert alerts.evaluate()["sent"] == 0
    alert = Alert.objects.get()
    assert alert.sent_at is None and "451" in alert.send_error
    mail_server.refuse_with = None
    assert alerts.evaluate()["sent"] == 1
    assert len(mail_server.received) == 1 and Alert.objects.get().send_error == ""


def escalating_rule(plant) -> AlertRule:
    made = stop_rule(plant)
    AlertEscalation.objects.create(rule=made, after_minutes=5, emails="supervisor@plant.example")
    second = AlertEscalation.objects.create(rule=made, after_minutes=15)
    second.users.add(User.objects.create_user("director", email="director@plant.example"))
    return made


def test_an_unacknowledged_alert_escalates_once_per_step(plant, mail_server):
    escalating_rule(plant)
    b1_now(stopped_minutes=12)
    alerts.evaluate()
    opened = Alert.objects.get().opened_at
    assert escalate_due(opened + timedelta(minutes=4)) == 0
    assert escalate_due(opened + timedelta(minutes=6)) == 1
    assert escalate_due(opened + timedelta(minutes=7)) == 0
    (escalated,) = mail_server.to("supervisor@plant.example")
    assert escalated["Subject"].startswith("[OEE Live] Escalated: B1 Seamer stopped")
    assert "Nobody has acknowledged this alert 5 min after it opened." in escalated.get_payload(decode=True).decode()
    assert mail_server.to("director@plant.example") == []
    assert escalate_due(opened + timedelta(minutes=16)) == 1
    assert escalate_due(opened + timedelta(minutes=30)) == 0
    assert len(mail_server.to("director@plant.example")) == 1
    assert len(mail_server.to("shift-lead@plant.example")) == 1  # the first recipients are not told again
    assert Alert.objects.get().escalation_level == 2
    assert [e.payload["escalation_level"] for e in OutboxEvent.objects.filter(type="alert.escalated")] == [1, 2]


def test_an_acknowledged_or_ended_alert_does_not_escalate(plant, mail_server):
    escalating_rule(plant)
    b1_now(stopped_minutes=12)
    alerts.evaluate()
    alert = Alert.objects.get()
    assert alerts.acknowledge(alert, plant.manager)
    assert escalate_due(alert.opened_at + timedelta(minutes=20)) == 0
    Alert.objects.filter(pk=alert.pk).update(acknowledged_at=None, acknowledged_by=None)
    assert end_alert(alert, alert.opened_at + timedelta(minutes=1))
    assert escalate_due(alert.opened_at + timedelta(minutes=20)) == 0
    assert mail_server.to("supervisor@plant.example") == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor == "sqlite", reason="two writers at once need PostgreSQL: SQLite's in-memory "
                    "test database admits one writing connection")
def test_two_workers_evaluating_at_once_send_one_e_mail(plant, mail_server):
    stop_rule(plant)
    b1_now(stopped_minutes=12)
    start = threading.Barrier(2)
    results, failures = [], []

    def worker() -> None:
        try:
            start.wait(timeout=30)
            results.append(alerts.evaluate())
        except BaseException as error:  # noqa: BLE001 - the test reports whatever went wrong
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert sorted(r["opened"] for r in results) == [0, 1] and sum(r["sent"] for r in results) == 1
    assert len(mail_server.received) == 1
    assert Alert.objects.count() == 1 and OutboxEvent.objects.filter(type="alert.opened").count() == 1
