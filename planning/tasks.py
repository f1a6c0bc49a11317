"""Celery tasks of the IT side: delivering webhooks."""

from __future__ import annotations

from celery import shared_task

from planning import webhooks


@shared_task(name="planning.tasks.deliver_webhooks", ignore_result=True)
def deliver_webhooks() -> int:
    """Deliver what is due (queued after each event's commit, and by beat for the retries)."""
    return webhooks.deliver_due()
