"""The live stream (DESIGN.md §7): one message per machine, shift to date, sent to the screens watching it.

`broadcast_machines` is what the pipeline calls after a commit; `machine_message` is also what
a consumer sends as its snapshot, so a screen shows the same thing whichever way it got it.
Every figure comes from `monitoring.kpi`, so a screen equals `/api/v1/oee/`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections
from django.db.models import F, Q, Sum
from django.utils import timezone

from monitoring import kpi
from monitoring.lib import oee
from monitoring.models import (
    CountBucket,
    DeviceHealth,
    Machine,
    MachineStatus,
    SignalBinding,
    StateInterval,
)
from planning.schedule import current_shift

logger = logging.getLogger(__name__)

PLANT_GROUP = "plant"
UPDATE_EVENT = "machine.update"
NO_DATA_REASON = "no-data"
NO_DATA_NAME = "No data"

# Channels accepts group names of ASCII letters, digits, '-', '_' and '.', shorter than 100.
# Plant codes are made of those; anything else is hashed behind a leading '_', which no code
# starts with, so a hashed name never equals a plain one.
_SAFE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


def _group_part(code: str) -> str:
    if _SAFE_CODE.match(code):
        return code
    return "_" + hashlib.sha256(code.encode()).hexdigest()[:40]


def machine_group(code: str) -> str:
    return f"machine.{_group_part(code)}"


def line_group(code: str) -> str:
    return f"line.{_group_part(code)}"


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with microseconds, so strings of the stream sort like the times they name."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _state(machine: Machine, now: datetime) -> dict:
    """State, since when, reason and fault code from the open interval; silence is no-data."""
    interval = (
        StateInterval.objects.filter(machine=machine, end__isnull=True)
        .select_related("reason").order_by("-start").first()
    )
    if interval is None:
        return {"state": MachineStatus.NO_DATA.value, "state_since": None, "reason": NO_DATA_REASON,
                "reason_name": NO_DATA_NAME, "fault_code": None}
    if interval.state != MachineStatus.NO_DATA:
        ends = kpi.data_ends_at(machine, now)
        if ends is not None and interval.start <= ends < now:
            # The device went quiet: the figures already count this as no-data, so does the screen.
            return {"state": MachineStatus.NO_DATA.value, "state_since": iso(ends), "reason": NO_DATA_REASON,
                    "reason_name": NO_DATA_NAME, "fault_code": None}
    if interval.state == MachineStatus.NO_DATA:
        reason, reason_name = NO_DATA_REASON, NO_DATA_NAME
    else:
        reason = interval.reason.code if interval.reason else None
        reason_name = interval.reason.name if interval.reason else None
    return {"state": interval.state, "state_since": iso(interval.start), "reason": reason,
            "reason_name": reason_name, "fault_code": interval.fault_code}


def _figures(result: kpi.Result) -> dict:
    figures, production = result.figures, result.production
    return {
        "total_count": production.total, "good_count": production.good, "reject_count": production.reject,
        "availability": figures.availability, "performance": figures.performance,
        "quality": figures.quality, "oee": figures.oee,
    }


def _order_parts(machine: Machine, work_order_id: int) -> dict[str, int]:
    """Parts counted on the machine for one work order so far."""
    sums = CountBucket.objects.filter(machine=machine, work_order_id=work_order_id).aggregate(
        total=Sum("total_count"), good=Sum("good_count"), reject=Sum("reject_count"), scrap=Sum("scrap_count"),
    )
    return {name: value or 0 for name, value in sums.items()}


def _work_order(machine: Machine, performance: float | None, now: datetime) -> dict | None:
    """The order running on the machine (its own before its line's), its progress and ETA."""
    from planning.models import ProductCycleTime, WorkOrder

    order = (
        WorkOrder.objects.running().on(machine).select_related("product")
        .order_by(F("machine_id").asc(nulls_last=True), "actual_start").first()
    )
    if order is None:
        return None
    sums = _order_parts(machine, order.pk)
    produced, _ = oee.resolve_quality(sums["total"], sums["good"], sums["reject"], sums["scrap"],
                                      machine.quality_counter)
    ideal_cycle_time = (
        ProductCycleTime.objects.filter(product=order.product, machine=machine)
        .values_list("ideal_cycle_time", flat=True).first()
        or machine.default_ideal_cycle_time
    )
    remaining = max(order.quantity - produced, 0)
    if remaining == 0:
        eta = now
    elif performance:
        eta = now + timedelta(seconds=remaining * ideal_cycle_time / performance)
    else:
        eta = None
    return {
        "number": order.number, "product": order.product.code, "product_name": order.product.name,
        "quantity": order.quantity, "produced": produced, "eta": iso(eta),
    }


def _device_health(machine: Machine) -> tuple[bool, str | None]:
    """(connected, last error) of the devices the machine's signals are read from; unbound is connected."""
    devices = set()
    for modbus, opcua in SignalBinding.objects.filter(machine=machine).values_list(
        "modbus_device__code", "opcua_endpoint__code",
    ):
        devices.add(("modbus", modbus) if modbus else ("opcua", opcua))
    if not devices:
        return True, None
    query = Q()
    for kind, code in devices:
        query |= Q(device_kind=kind, device_code=code)
    health = {(h.device_kind, h.device_code): h for h in DeviceHealth.objects.filter(query)}
    # A bound device no collector has reported on yet is not known to be connected.
    connected = all(key in health and health[key].connected for key in devices)
    errors = [h.last_error for key, h in sorted(health.items()) if not h.connected and h.last_error]
    return connected, (errors[0] if errors else None)


def machine_message(machine: Machine, now: datetime | None = None) -> dict:
    """The live message of DESIGN.md §7 for one machine, shift to date (figures over [shift start, now])."""
    now = now or timezone.now()
    shift = current_shift(machine.line, now)
    result = kpi.machine_result(machine, shift.start, now, now) if shift is not None else kpi.EMPTY
    figures = _figures(result)
    connected, device_error = _device_health(machine)
    return {
        "type": "machine",
        "machine": machine.code,
        "line": machine.line.code,
        "name": machine.name,
        "ts": iso(now),
        **_state(machine, now),
        **figures,
        "target_oee": machine.target_oee,
        "warning_oee": machine.warning_oee,
        "shift": {"name": shift.name, "start": iso(shift.start), "end": iso(shift.end)} if shift else None,
        "work_order": _work_order(machine, figures["performance"], now),
        "connected": connected,
        "device_error": device_error,
    }


def machine_messages(machines: Iterable[Machine], now: datetime | None = None) -> list[dict]:
    now = now or timezone.now()
    return [machine_message(machine, now) for machine in machines]


async def _send_all(layer, sends: list[tuple[str, dict]]) -> None:
    for group, event in sends:
        await layer.group_send(group, event)


def _publish(machine_ids: set[int]) -> None:
    layer = get_channel_layer()
    if layer is None or not machine_ids:
        return
    now = timezone.now()
    sends: list[tuple[str, dict]] = []
    for machine in Machine.objects.with_plant().filter(pk__in=machine_ids):
        try:
            message = machine_message(machine, now)
        except Exception:
            logger.exception("live message of machine %s could not be built", machine.code)
            continue
        event = {"type": UPDATE_EVENT, "message": message}
        for group in (machine_group(machine.code), line_group(machine.line.code), PLANT_GROUP):
            sends.append((group, event))
    if not sends:
        return
    try:
        async_to_sync(_send_all)(layer, sends)
    except Exception:
        logger.exception("live updates of %d machine(s) not sent", len(sends) // 3)


class _Publisher(threading.Thread):
    """Builds and sends live messages off the caller's thread, coalescing machines that change often.

    A collector commits a batch every scan; building a message costs a dozen queries. Here each
    machine that changed is published at most once per LIVE_MIN_INTERVAL, with its latest state,
    and the collector's loop never waits for it.
    """

    def __init__(self, min_interval: float) -> None:
        super().__init__(name="live-publisher", daemon=True)
        self.min_interval = min_interval
        self.pending: set[int] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()

    def add(self, machine_ids: set[int]) -> None:
        with self.lock:
            self.pending |= machine_ids
        self.wake.set()

    def run(self) -> None:
        while True:
            self.wake.wait()
            started = time.monotonic()
            with self.lock:
                machine_ids, self.pending = self.pending, set()
                self.wake.clear()
            try:
                _publish(machine_ids)
            except Exception:
                logger.exception("live publishing failed")
            finally:
                close_old_connections()
            time.sleep(max(self.min_interval - (time.monotonic() - started), 0))


_publisher: _Publisher | None = None


def publish_in_background() -> None:
    """From now on this process publishes from a background thread (collector hosts call this)."""
    global _publisher
    if _publisher is None:
        _publisher = _Publisher(getattr(settings, "LIVE_MIN_INTERVAL", 0.5))
        _publisher.start()


def broadcast_machines(machine_ids: set[int]) -> None:
    """Send a fresh live message for each machine to the screens watching it (after commit).

    One message per machine, computed once, goes to its machine, line and plant groups. A
    failure is logged, never raised: the observations are committed whatever the screens get.
    """
    if _publisher is not None:
        _publisher.add(set(machine_ids))
    else:
        _publish(set(machine_ids))
