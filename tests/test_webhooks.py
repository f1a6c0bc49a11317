"""Webhooks (planning/outbox.py, planning/webhooks.py) to a real receiver on loopback: signed, retried, once."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from oee_site.celery import app as celery_app
from planning import webhooks
from planning.models import (
    DeliveryStatus,
    OutboxEvent,
    Product,
    WebhookDelivery,
    WebhookSubscription,
    WorkOrder,
)
from planning.workflow import move_order
from tests.receiver import Receiver

pytestmark = pytest.mark.django_db
SECRET = "whsec-test-0123456789"
DEADLINE = 30.0


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


def subscribe(url: str, *types: str) -> WebhookSubscription:
    return WebhookSubscription.objects.create(name="ERP", url=url, secret=SECRET, event_types=list(types))


def run_order(plant, number: str = "WO-1") -> WorkOrder:
    product = Product.objects.get_or_create(code="P-1", name="Lid")[0]
    order = WorkOrder.objects.create(number=number, product=product, quantity=10, line=plant.line_a, machine=plant.a1,
                                     planned_start=timezone.now(), planned_end=timezone.now() + timedelta(hours=1))
    for move in ("release", "start", "complete"):
        move_order(order, move, by="user:test")
    return order


def deliver_until(condition, what: str) -> None:
    """Run the delivery task's work (as Celery would) until `condition()` holds."""
    give_up = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < give_up, f"{what} did not happen within {DEADLINE:g} s"
        webhooks.deliver_due()
        time.sleep(0.05)


def test_a_completed_order_reaches_the_receiver_signed_and_once_though_it_answered_500_first(
    plant, receiver, settings,
):
    settings.WEBHOOK_FIRST_RETRY = 0
    receiver.answers = [500]
    subscribe(receiver.url, "work_order.completed")
    run_order(plant)
    deliver_until(lambda: receiver.accepted(), "a delivery the receiver took")
    webhooks.deliver_due()  # nothing is due any more: no third request

    first, second = receiver.received
    assert (first.answered, second.answered) == (500, 200)
    assert first.headers["X-OEE-Event-Id"] == second.headers["X-OEE-Event-Id"]  # the same event, retried
    (taken,) = receiver.accepted()
    assert taken.headers["X-OEE-Event"] == "work_order.completed"
    assert webhooks.verify(SECRET, taken.headers["X-OEE-Signature"], taken.body)
    event = taken.event
    assert event["type"] == "work_order.completed" and event["id"] == taken.headers["X-OEE-Event-Id"]
    assert event["data"]["work_order"]["number"] == "WO-1" and event["data"]["work_order"]["status"] == "completed"
    assert "good_count" in event["data"]["results"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 2, 200)


def test_a_receiver_that_is_down_for_a_while_gets_the_event_when_it_is_back(plant, settings):
    settings.WEBHOOK_FIRST_RETRY = 0
    down = Receiver().start()
    port = down.port
    down.stop()  # nobody listens on the port now
    subscribe(f"http://127.0.0.1:{port}/hooks/oee", "work_order.started")
    run_order(plant)
    webhooks.deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1 and delivery.last_error

    back = Receiver(port=port).start()
    try:
        deliver_until(lambda: back.accepted(), "the delivery after the receiver came back")
    finally:
        back.stop()
    assert back.accepted()[0].event["type"] == "work_order.started"
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED


def past_its_maximum_age() -> None:
    WebhookDelivery.objects.update(give_up_at=timezone.now() - timedelta(seconds=1))


def test_a_receiver_down_past_the_maximum_age_is_given_up_on(plant, settings):
    settings.WEBHOOK_FIRST_RETRY = 0
    down = Receiver().start()
    down.stop()
    subscribe(down.url, "work_order.started")
    run_order(plant)
    webhooks.deliver_due()
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING
    past_its_maximum_age()
    webhooks.deliver_due()
    assert WebhookDelivery.objects.get().status == DeliveryStatus.FAILED


def test_an_event_past_its_maximum_age_is_not_sent_even_to_a_receiver_that_is_up(plant, receiver):
    subscription = subscribe(receiver.url, "work_order.started")
    run_order(plant)
    WebhookSubscription.objects.filter(pk=subscription.pk).update(enabled=False)  # then off for days
    past_its_maximum_age()
    WebhookSubscription.objects.filter(pk=subscription.pk).update(enabled=True)
    webhooks.deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "maximum age" in delivery.last_error
    assert receiver.received == []


def test_only_subscribed_and_enabled_subscriptions_get_deliveries(plant, receiver):
    subscribe(receiver.url, "shift.closed")
    off = subscribe(receiver.url, "work_order.started")
    off.enabled = False
    off.save()
    run_order(plant)
    assert OutboxEvent.objects.filter(type="work_order.started").count() == 1
    assert not WebhookDelivery.objects.exists()


def test_the_waits_between_tries_double_up_to_an_hour(settings):
    settings.WEBHOOK_FIRST_RETRY = 10
    waits = [webhooks.retry_wait(attempt) for attempt in range(1, 12)]
    assert 7.5 <= waits[0] <= 12.5 and 15 <= waits[1] <= 25
    assert all(w <= 3600 * 1.25 for w in waits) and waits[-1] >= 3600 * 0.75


def test_a_signature_holds_only_for_its_body_secret_and_time():
    body = b'{"id":"1"}'
    header = webhooks.signature(SECRET, int(time.time()), body)
    assert webhooks.verify(SECRET, header, body)
    assert not webhooks.verify(SECRET, header, body + b" ")
    assert not webhooks.verify("another secret", header, body)
    assert not webhooks.verify(SECRET, webhooks.signature(SECRET, int(time.time()) - 3600, body), body)
    assert not webhooks.verify(SECRET, "t=abc,v1=00", body)


@pytest.mark.django_db(transaction=True)
def test_after_the_commit_nothing_else_is_needed_for_the_delivery(plant, receiver):
    celery_app.conf.task_always_eager = True  # the worker's task, run where the commit happens
    try:
        subscribe(receiver.url, "work_order.started")
        run_order(plant)
    finally:
        celery_app.conf.task_always_eager = False
    assert [r.event["type"] for r in receiver.accepted()] == ["work_order.started"]


def test_the_admin_shows_the_delivery_log_and_retries(admin_client, plant, settings):
    down = Receiver().start()
    down.stop()
    subscription = subscribe(down.url, "work_order.started")
    run_order(plant)
    past_its_maximum_age()
    webhooks.deliver_due()
    assert WebhookDelivery.objects.get().status == DeliveryStatus.FAILED
    page = admin_client.get(reverse("admin:planning_webhooksubscription_change", args=[subscription.pk]))
    assert "failed" in page.content.decode()
    admin_client.post(reverse("admin:planning_webhookdelivery_changelist"),
                      {"action": "retry_deliveries", "_selected_action": [WebhookDelivery.objects.get().pk]})
    retried = WebhookDelivery.objects.get()
    assert retried.status == DeliveryStatus.PENDING and retried.give_up_at > timezone.now()  # a new maximum age


def test_a_subscription_disabled_after_the_event_gets_nothing_until_enabled(plant, receiver):
    subscription = subscribe(receiver.url, "work_order.started")
    run_order(plant)
    WebhookSubscription.objects.filter(pk=subscription.pk).update(enabled=False)
    webhooks.deliver_due()
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING and receiver.received == []
    WebhookSubscription.objects.filter(pk=subscription.pk).update(enabled=True)
    deliver_until(lambda: WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED, "the delivery")
    assert len(receiver.received) == 1


def test_a_receiver_that_does_not_speak_http_is_a_failed_try_not_a_crash(plant):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(DEADLINE)

    def answer_garbage() -> None:
        with contextlib.suppress(OSError):
            peer, _ = server.accept()
            with peer:
                peer.recv(65536)
                peer.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    threading.Thread(target=answer_garbage, daemon=True).start()
    subscribe(f"http://127.0.0.1:{server.getsockname()[1]}/hooks/oee", "work_order.started")
    run_order(plant)
    try:
        assert webhooks.deliver_due() == 0
    finally:
        server.close()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1) and delivery.last_error
