"""Alerts over the API (monitoring/api/alerts.py) and by webhook: who may list and acknowledge them."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from monitoring import alerts
from monitoring.models import Alert, AlertKind, AlertRule
from monitoring.pipeline import ObservationIn, record_observations
from planning import webhooks
from planning.models import WebhookSubscription
from tests.api import bearer
from tests.histories import b1_now
from tests.receiver import Receiver

pytestmark = pytest.mark.django_db
ACKNOWLEDGE = "/api/v1/alerts/{}/acknowledge/"


@pytest.fixture
def b1_alert(plant) -> Alert:
    """An open alert on line B: B1 has been stopped for 12 minutes, past its rule's 10."""
    AlertRule.objects.create(name="Seamer stopped", kind=AlertKind.LONG_STOP, threshold=10, machine=plant.b1)
    b1_now(stopped_minutes=12)
    alerts.evaluate()
    return Alert.objects.get()


def test_an_erp_key_lists_the_alerts_of_its_lines(client, plant, api_key, b1_alert):
    listed = client.get("/api/v1/alerts/", headers=bearer(api_key("results:read"))).json()["alerts"]
    assert [(a["id"], a["line"], a["machine"], a["ended_at"]) for a in listed] == [(b1_alert.pk, "B", "B1", None)]
    assert listed[0]["rule"]["kind"] == "long_stop" and listed[0]["acknowledged_by"] is None
    only_a = bearer(api_key("results:read", lines=[plant.line_a]))
    assert client.get("/api/v1/alerts/", headers=only_a).json()["alerts"] == []
    assert client.get(f"/api/v1/alerts/{b1_alert.pk}/", headers=only_a).status_code == 404
    assert client.get("/api/v1/alerts/", {"state": "ended"}, headers=bearer(api_key("results:read"))).json() == {
        "alerts": []}


def test_bad_list_parameters_are_a_400_naming_them(client, api_key, b1_alert):
    key = bearer(api_key("results:read"))
    assert "state" in client.get("/api/v1/alerts/", {"state": "closed"}, headers=key).json()
    assert "limit" in client.get("/api/v1/alerts/", {"limit": "0"}, headers=key).json()


def test_a_key_without_results_read_may_not_list(client, api_key, b1_alert):
    assert client.get("/api/v1/alerts/", headers=bearer(api_key("orders:write"))).status_code == 403


def test_an_operator_of_another_line_may_not_acknowledge(client, plant, b1_alert):
    client.force_login(plant.operator)  # operates line A; the alert is on line B
    response = client.post(ACKNOWLEDGE.format(b1_alert.pk), content_type="application/json")
    assert response.status_code == 403 and "line B" in response.json()["detail"]
    assert Alert.objects.get().acknowledged_at is None


def test_an_erp_key_and_a_user_without_a_role_may_not_acknowledge(client, plant, api_key, b1_alert):
    key = bearer(api_key("results:read", "orders:write", "observations:write"))
    assert client.post(ACKNOWLEDGE.format(b1_alert.pk), headers=key).status_code == 403
    client.force_login(plant.outsider)
    assert client.post(ACKNOWLEDGE.format(b1_alert.pk)).status_code == 403
    assert client.post(ACKNOWLEDGE.format(b1_alert.pk + 100)).status_code == 404
    assert Alert.objects.get().acknowledged_at is None


def test_an_operator_of_the_line_acknowledges_once_and_a_manager_sees_who(client, plant, b1_alert):
    plant.line_b.operators.add(plant.operator)
    client.force_login(plant.operator)
    first = client.post(ACKNOWLEDGE.format(b1_alert.pk))
    assert first.status_code == 200 and first.json()["acknowledged"] is True
    assert first.json()["alert"]["acknowledged_by"] == "op-a"
    client.force_login(plant.manager)
    again = client.post(ACKNOWLEDGE.format(b1_alert.pk)).json()
    assert again["acknowledged"] is False and again["alert"]["acknowledged_by"] == "op-a"
    alert = Alert.objects.get()
    assert alert.acknowledged_by == plant.operator and alert.acknowledged_at is not None


def test_a_manager_acknowledges_any_line(client, plant, b1_alert):
    client.force_login(plant.manager)
    assert client.post(ACKNOWLEDGE.format(b1_alert.pk)).json()["acknowledged"] is True


def test_the_it_systems_hear_of_an_alert_opening_being_acknowledged_and_ending_by_webhook(client, plant):
    receiver = Receiver().start()
    try:
        WebhookSubscription.objects.create(name="ERP", url=receiver.url, secret="whsec-alerts-0123456789",
                                           event_types=["alert.opened", "alert.acknowledged", "alert.ended"])
        AlertRule.objects.create(name="Seamer stopped", kind=AlertKind.LONG_STOP, threshold=10, machine=plant.b1)
        b1_now(stopped_minutes=12)
        alerts.evaluate()
        client.force_login(plant.manager)
        client.post(ACKNOWLEDGE.format(Alert.objects.get().pk))
        record_observations([ObservationIn("B1", timezone.now(), "running", True)])
        alerts.evaluate()
        deadline = time.monotonic() + 30
        while len(receiver.accepted()) < 3:
            assert time.monotonic() < deadline, f"only {len(receiver.accepted())} of 3 deliveries within 30 s"
            webhooks.deliver_due()
            time.sleep(0.05)
    finally:
        receiver.stop()
    delivered = {r.headers["X-OEE-Event"]: r.event["data"] for r in receiver.accepted()}
    assert set(delivered) == {"alert.opened", "alert.acknowledged", "alert.ended"}
    assert delivered["alert.opened"]["machine"] == "B1" and delivered["alert.opened"]["acknowledged_at"] is None
    assert delivered["alert.acknowledged"]["acknowledged_by"] == "manager"
    assert delivered["alert.ended"]["ended_at"] is not None
    assert len(receiver.accepted()) == 3
