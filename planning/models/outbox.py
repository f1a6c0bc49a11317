"""Events for IT systems, written in the same transaction as the change, and their webhook deliveries."""

from __future__ import annotations

import uuid

from django.db import models

from planning.encryption import EncryptedTextField


class EventType(models.TextChoices):
    WORK_ORDER_STARTED = "work_order.started", "work_order.started"
    WORK_ORDER_COMPLETED = "work_order.completed", "work_order.completed"
    WORK_ORDER_PLANNED = "work_order.planned", "work_order.planned"
    WORK_ORDER_RELEASED = "work_order.released", "work_order.released"
    WORK_ORDER_CANCELLED = "work_order.cancelled", "work_order.cancelled"
    SHIFT_CLOSED = "shift.closed", "shift.closed"
    STOP_STARTED = "stop.started", "stop.started"
    STOP_ENDED = "stop.ended", "stop.ended"
    STOP_LONG = "stop.long", "stop.long"
    DEVICE_DOWN = "device.down", "device.down"
    DEVICE_UP = "device.up", "device.up"
    ALERT_OPENED = "alert.opened", "alert.opened"
    ALERT_ESCALATED = "alert.escalated", "alert.escalated"
    ALERT_ACKNOWLEDGED = "alert.acknowledged", "alert.acknowledged"
    ALERT_ENDED = "alert.ended", "alert.ended"


class OutboxEvent(models.Model):
    """Something that happened, once: `key` makes the same fact learnt twice one event.

    Rows are written only through `planning.outbox.emit`, one writer at a time, so ids grow
    in the order the writing transactions commit: a reader that remembers the last id it saw
    never misses or repeats one.
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="The id receivers see.")
    type = models.CharField(max_length=32, choices=EventType.choices)
    key = models.CharField(max_length=200, unique=True, help_text="What makes it this event and no other.")
    occurred_at = models.DateTimeField(help_text="When it happened at the plant.")
    created = models.DateTimeField(auto_now_add=True, help_text="When the product learnt it.")
    line = models.ForeignKey("planning.Line", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["type", "id"], name="outbox_type_id")]
        verbose_name = "event"

    def __str__(self) -> str:
        return f"{self.pk} {self.type} {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class OutboxLock(models.Model):
    """The one row writers of events lock, so events get their ids in commit order."""

    class Meta:
        verbose_name = "outbox lock"


class WebhookSubscription(models.Model):
    name = models.CharField(max_length=80)
    url = models.URLField(max_length=500, help_text="Receives each event as a JSON POST.")
    secret = EncryptedTextField(
        max_length=200, help_text="Shared with the receiver: it signs each delivery (X-OEE-Signature). Stored encrypted.",
    )
    event_types = models.JSONField(default=list, help_text="The events it receives.")
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "webhook subscription"

    def __str__(self) -> str:
        return f"{self.name} → {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed", "failed (too old to retry)"


class WebhookDelivery(models.Model):
    """One event to one subscription: tried until the receiver says 2xx, or until it gives up."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    give_up_at = models.DateTimeField(
        help_text="Not sent after this: WEBHOOK_MAX_AGE after the event was written, or after an admin's retry.",
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-event_id", "subscription_id"]
        constraints = [models.UniqueConstraint(fields=["event", "subscription"], name="one_delivery_per_event")]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event.type} #{self.event_id} → {self.subscription.name}: {self.status}"
