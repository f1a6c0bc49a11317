"""Delivering events to webhook subscriptions: signed, retried with back-off, given up when too old.

Each delivery is a JSON POST of the event with three headers: `X-OEE-Event` (its type),
`X-OEE-Event-Id` (its id, the same for every retry, so a receiver can drop duplicates) and
`X-OEE-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`.
A 2xx answer delivers it; anything else (an error status, no answer) is tried again later,
each wait twice the last, until the delivery's `give_up_at` (`WEBHOOK_MAX_AGE` after the event
was written, or after an admin's retry): past it, the event is not sent any more.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from planning.lib.instants import iso
from planning.models import DeliveryStatus, OutboxEvent, WebhookDelivery

logger = logging.getLogger(__name__)

LONGEST_WAIT = 3600.0  # seconds
# A delivery being tried is claimed for at least this long, and for ten times the receiver's
# timeout (a connect, a send and a read each have it); a worker that dies leaves it to the next.
CLAIM = timedelta(minutes=2)
USER_AGENT = "OEE-Live-Webhooks/1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-OEE-Signature header of a body sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: float | None = None, tolerance: float = 300) -> bool:
    """Whether `header` signs `body` with `secret` and was made within `tolerance` seconds (what receivers do)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def event_body(event: OutboxEvent) -> bytes:
    """What a receiver gets: the event's id, type, time and data."""
    return json.dumps({
        "id": str(event.uid), "type": event.type, "occurred_at": iso(event.occurred_at),
        "created": iso(event.created), "data": event.payload,
    }, separators=(",", ":"), sort_keys=True).encode()


def retry_wait(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling from WEBHOOK_FIRST_RETRY to an hour."""
    window = min(LONGEST_WAIT, settings.WEBHOOK_FIRST_RETRY * 2 ** max(attempts - 1, 0))
    return window * (0.75 + 0.5 * (rng or random).random())


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A receiver that redirects has not taken the event: urllib would re-send it as a GET without a body."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _claim_next(due_by: datetime) -> WebhookDelivery | None:
    """The next delivery due by `due_by` of an enabled subscription, now this worker's for a while
    (`_claim_length`): a conditional update whose row count says who won. None when nothing is due."""
    while True:
        due = (
            WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=due_by,
                                           subscription__enabled=True)
            .order_by("event_id").values_list("pk", "next_attempt_at").first()
        )
        if due is None:
            return None
        pk, due_at = due
        claim = timezone.now() + _claim_length()
        if WebhookDelivery.objects.filter(pk=pk, next_attempt_at=due_at, status=DeliveryStatus.PENDING).update(
            next_attempt_at=claim,
        ):
            delivery = WebhookDelivery.objects.select_related("event", "subscription").get(pk=pk)
            delivery.claimed_until = claim
            return delivery


def _claim_length() -> timedelta:
    return max(CLAIM, timedelta(seconds=10 * settings.WEBHOOK_TIMEOUT))


def deliver_due(limit: int = 200) -> int:
    """Try deliveries that are due, one claim at a time (at most `limit`); return how many were delivered.

    Each is tried once a run: one that fails is due again later, never within this run.
    """
    delivered = 0
    started = timezone.now()
    for _ in range(limit):
        delivery = _claim_next(started)
        if delivery is None:
            break
        delivered += attempt(delivery)
    return delivered


def attempt(delivery: WebhookDelivery) -> bool:
    """POST the delivery's event once and record the outcome (if the claim still holds); True when delivered."""
    event, subscription = delivery.event, delivery.subscription
    if timezone.now() > delivery.give_up_at:
        # Too old to be news (a subscription that was disabled for days): not sent, marked failed.
        _record(delivery, {"status": DeliveryStatus.FAILED,
                           "last_error": "not sent: past its maximum age (WEBHOOK_MAX_AGE_S); retry it by hand"})
        return False
    body = event_body(event)
    request = urllib.request.Request(subscription.url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": USER_AGENT,
        "X-OEE-Event": event.type, "X-OEE-Event-Id": str(event.uid),
        "X-OEE-Signature": signature(subscription.secret, int(time.time()), body),
    })
    status_code, error = None, ""
    try:
        with _OPENER.open(request, timeout=settings.WEBHOOK_TIMEOUT) as response:
            status_code = response.status
    except urllib.error.HTTPError as refused:
        status_code, error = refused.code, f"HTTP {refused.code} {refused.reason}"
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as failure:
        error = str(getattr(failure, "reason", failure)) or type(failure).__name__
    now = timezone.now()
    outcome = {"attempts": delivery.attempts + 1, "last_attempt_at": now, "last_status_code": status_code,
               "last_error": error[:2000]}
    if status_code is not None and 200 <= status_code < 300:
        outcome |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now, "last_error": ""}
    elif now > delivery.give_up_at:
        outcome["status"] = DeliveryStatus.FAILED
        logger.warning("webhook %s gave up on event %s after %d attempts: %s",
                       subscription.name, event.uid, outcome["attempts"], error)
    else:
        outcome["next_attempt_at"] = now + timedelta(seconds=retry_wait(outcome["attempts"]))
    _record(delivery, outcome)
    return outcome.get("status") == DeliveryStatus.DELIVERED


def _record(delivery: WebhookDelivery, outcome: dict) -> None:
    """Store an attempt's outcome, only while the claim holds: a worker that took too long must
    not overwrite another's."""
    WebhookDelivery.objects.filter(pk=delivery.pk, next_attempt_at=delivery.claimed_until).update(**outcome)


def retry(deliveries) -> int:
    """Queue deliveries again now (the admin's "retry"), failed ones included, each with a new
    maximum age; how many."""
    now = timezone.now()
    return deliveries.filter(~Q(status=DeliveryStatus.DELIVERED)).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now, give_up_at=now + timedelta(seconds=settings.WEBHOOK_MAX_AGE),
    )
