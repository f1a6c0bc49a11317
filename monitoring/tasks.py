"""Celery tasks of the OT side: the long-running collector process, and its supervision.

`run_collector` turns one worker process into a collector host (an asyncio loop reading
many devices) until the worker goes away; it is routed to the `collect` queue, and started
on each worker that consumes that queue as soon as the worker is ready, through the worker's
own direct queue. `supervise`, scheduled by beat every 10 s, restarts a collector on any
collect worker that lost its own, and reports devices nobody owns. Ownership of devices
itself is settled by the collectors through leases in Redis (`monitoring.collectors.leases`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from billiard.process import current_process
from celery import current_app, shared_task
from celery.signals import worker_ready, worker_shutting_down
from celery.utils.nodenames import worker_direct
from celery.worker import state
from django.conf import settings
from django.utils import timezone

from monitoring import live, partitions, retention, rollups, stops
from monitoring.collectors.leases import LeaseBook, default_owner_id, run_collector_process
from monitoring.collectors.wiring import device_specs
from planning.models import Machine

logger = logging.getLogger(__name__)

COLLECT_QUEUE = "collect"
# How long a start request for one worker is allowed to wait before supervise sends another.
SPAWN_GUARD_MS = 60_000

_running_here = False


def _book(owner: str = "supervisor") -> LeaseBook:
    return LeaseBook.from_url(settings.REDIS_URL, owner, ttl=settings.COLLECTOR_LEASE_TTL)


@shared_task(name="monitoring.tasks.run_collector", bind=True, ignore_result=True, acks_late=False)
def run_collector(self) -> str:
    """Host the collector loop in this worker process until the worker (its parent) goes away."""
    global _running_here
    if _running_here:
        return "a collector already runs in this process"
    worker = self.request.hostname or ""
    parent = os.getppid()
    in_pool_child = current_process().name != "MainProcess"

    async def collect() -> None:
        stop = asyncio.Event()
        if in_pool_child:
            # The worker's warm shutdown sends us SIGTERM (see below): give the devices back.
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await run_collector_process(
            settings.REDIS_URL,
            owner=default_owner_id(worker.split("@")[0] or "collector"),
            info={"worker": worker, "pid": os.getpid()},
            ttl=settings.COLLECTOR_LEASE_TTL,
            stop=stop,
            # A prefork child outlives a killed parent: stop then, so the leases expire.
            keep_running=(lambda: os.getppid() == parent) if in_pool_child else None,
        )

    _running_here = True
    # Live messages are built off the collector's sink thread, coalesced per machine.
    live.publish_in_background()
    try:
        asyncio.run(collect())
    finally:
        _running_here = False
        try:
            _book().redis.delete(_spawn_key(worker))  # supervise may start a new one at once
        except Exception:  # noqa: BLE001 - the guard expires by itself
            logger.warning("could not clear the start guard of %s", worker)
    return "stopped"


def _spawn_key(worker: str) -> str:
    return f"oee:collect:spawn:{worker}"


def start_collector_on(worker: str, *, force: bool = False) -> bool:
    """Send `run_collector` to one worker's direct queue, unless a start is already on its way."""
    if not _book().redis.set(_spawn_key(worker), "1", nx=not force, px=SPAWN_GUARD_MS):
        return False
    run_collector.apply_async(queue=worker_direct(worker))
    return True


def _collect_workers(timeout: float) -> list[str]:
    """Names of the live workers that consume the collect queue."""
    replies = current_app.control.inspect(timeout=timeout).active_queues() or {}
    return sorted(name for name, queues in replies.items() if any(q.get("name") == COLLECT_QUEUE for q in queues))


@shared_task(name="monitoring.tasks.supervise", ignore_result=True)
def supervise(inspect_timeout: float = 1.0) -> dict:
    """Make sure every collect worker hosts a collector and every enabled device has an owner.

    Returns what it found, for the log: live collectors, devices, unowned ones, starts sent.
    """
    book = _book()
    hosts = book.live_hosts()
    hosted_workers = {info.get("worker") for info in hosts.values()}
    started = [w for w in _collect_workers(inspect_timeout) if w not in hosted_workers and start_collector_on(w)]

    keys = [spec.key for spec in device_specs()]
    owners = book.owners(keys)
    unowned = sorted(k for k, owner in owners.items() if owner is None)
    if unowned and not hosts and not started:
        # No worker answered the inspection (e.g. a solo pool busy running its collector):
        # put one start on the shared queue; whichever collect worker is free takes it.
        if book.redis.set(_spawn_key("any"), "1", nx=True, px=SPAWN_GUARD_MS):
            run_collector.apply_async(queue=COLLECT_QUEUE)
            started.append("any")
    if unowned and hosts:
        logger.info("supervise: %d devices not owned yet (collectors claim them within a lease round): %s",
                    len(unowned), ", ".join(unowned[:10]))
    return {"collectors": sorted(hosts), "devices": len(keys), "unowned": unowned, "started": started}


@worker_shutting_down.connect
def _stop_collector_on_shutdown(sender, **kwargs) -> None:
    """A warm shutdown waits for running tasks; the collector never ends by itself, so ask it to."""
    for request in list(state.active_requests):
        if request.name == run_collector.name and request.worker_pid and request.worker_pid != os.getpid():
            try:
                os.kill(request.worker_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


@worker_ready.connect
def _start_collector_when_ready(sender, **kwargs) -> None:
    """A worker that consumes the collect queue starts its collector at once, not at the next beat."""
    try:
        queues = sender.app.amqp.queues.consume_from or {}
        if COLLECT_QUEUE in queues:
            start_collector_on(sender.hostname, force=True)
    except Exception:  # noqa: BLE001 - supervise retries within 10 s
        logger.exception("could not start the collector of %s", getattr(sender, "hostname", "?"))


@shared_task(name="monitoring.tasks.refresh_live_screens", ignore_result=True)
def refresh_live_screens() -> int:
    """Send every line's live messages: a shift's figures, timelines and open stops move on by themselves."""
    return live.publish_all()


@shared_task(name="monitoring.tasks.announce", ignore_result=True)
def announce() -> dict:
    """Tell the IT systems of stops that went on long enough without an observation, and of closed shifts."""
    return stops.announce()


@shared_task(name="monitoring.tasks.roll_up", ignore_result=True)
def roll_up() -> int:
    """Roll up each machine's hours closed since the last run (`monitoring.rollups`); return how many."""
    now = timezone.now()
    return sum(rollups.roll_up(machine, now) for machine in Machine.objects.with_plant())


@shared_task(name="monitoring.tasks.prune_observations", ignore_result=True)
def prune_observations() -> int:
    """Delete raw observations older than OBSERVATIONS_KEEP_DAYS (`monitoring.retention`); return how many.

    On PostgreSQL the observation table's coming months are made here too (`monitoring.partitions`).
    """
    partitions.ensure_around(timezone.now())
    return retention.prune_all()


@shared_task(name="monitoring.tasks.evaluate_alerts", ignore_result=True)
def evaluate_alerts() -> dict:
    """Open, send, escalate and end alerts (`monitoring.alerts`); return how many of each."""
    from monitoring import alerts

    return alerts.evaluate()
