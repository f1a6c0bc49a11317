"""Writing events for the IT systems: once per fact, in the transaction of the change, in commit order.

`emit` is the one writer of `OutboxEvent`. It holds the outbox lock until the transaction
commits, so a later event always gets a higher id than an earlier one and a reader that
remembers the last id it saw (the stops API, a webhook receiver) never misses or repeats one.
It also queues a delivery for every enabled subscription that wants the event; after the
commit nothing else is needed for them to go out (`planning.webhooks`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from planning.models import DeliveryStatus, Line, OutboxEvent, OutboxLock, WebhookDelivery, WebhookSubscription
from planning.tasks import deliver_webhooks


def _lock() -> None:
    """Writers of events one at a time, until their transactions commit (the migration makes the row)."""
    if not OutboxLock.objects.select_for_update(no_key=True).filter(pk=1).exists():
        OutboxLock.objects.get_or_create(pk=1)  # a database emptied by hand, or by a test
        OutboxLock.objects.select_for_update(no_key=True).get(pk=1)


def emitted(key: str) -> bool:
    """Whether the event `key` was written already."""
    return OutboxEvent.objects.filter(key=key).exists()


def emit(type: str, key: str, occurred_at: datetime, payload: dict, line: Line | None = None) -> OutboxEvent | None:
    """Write the event `key` (of `type`) unless it was written before; the new event, or None.

    Call inside the transaction of the change it reports. The lock is taken only to write, so
    telling a fact again (a replay deriving the same stop) costs one read.
    """
    if emitted(key):
        return None
    with transaction.atomic():
        _lock()
        if emitted(key):
            return None
        event = OutboxEvent.objects.create(type=type, key=key, occurred_at=occurred_at, line=line, payload=payload)
        # An event older than a delivery may grow (history imported late) is kept, but not sent.
        fresh = timezone.now() - occurred_at <= timedelta(seconds=settings.WEBHOOK_MAX_AGE)
        subscriptions = [s for s in WebhookSubscription.objects.filter(enabled=True) if type in s.event_types]
        if fresh and subscriptions:
            now = timezone.now()
            WebhookDelivery.objects.bulk_create([
                WebhookDelivery(event=event, subscription=s, status=DeliveryStatus.PENDING, next_attempt_at=now,
                                give_up_at=now + timedelta(seconds=settings.WEBHOOK_MAX_AGE))
                for s in subscriptions
            ])
            transaction.on_commit(_deliver_soon)
    return event


def _deliver_soon() -> None:
    try:
        deliver_webhooks.delay()
    except Exception:  # noqa: BLE001 - the broker is down: beat's next round delivers them
        pass
