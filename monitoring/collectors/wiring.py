"""The collector host's Django side: the devices to read, and where what they say goes.

`device_specs` asks each enabled device model for its spec (the model knows its collector);
`pipeline_sink` hands readings to `record_observations`; `health_sink` keeps `DeviceHealth`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection, connections, transaction
from django.utils import timezone

from monitoring import live
from monitoring.collectors.records import DeviceSpec, HealthRow, Sample
from monitoring.lib.registers import RegisterMapError
from monitoring.models import DeviceHealth, Event, EventKind, ModbusDevice, OpcUaEndpoint, SignalBinding
from monitoring.pipeline import ObservationIn, record_observations
from planning import outbox
from planning.lib.instants import iso
from planning.models import EventType, Machine

logger = logging.getLogger(__name__)


def close_db_connections() -> None:
    """Close the sink thread's database connections (the host's `thread_cleanup`)."""
    connections.close_all()


def pipeline_sink(batch: list[Sample]) -> None:
    """Hand a batch to `monitoring.pipeline.record_observations`; log what it rejects."""
    try:
        result = record_observations([ObservationIn(*sample) for sample in batch])
    except Exception:
        # The database may have gone away: reconnect on the next try instead of reusing a dead link.
        connection.close()
        raise
    if result.rejected:
        first = result.rejected[0]
        logger.warning("pipeline rejected %d of %d observations; first: %s (%s)",
                       len(result.rejected), len(batch), first.message, batch[first.index])


def health_sink(rows: list[HealthRow]) -> None:
    """Upsert `DeviceHealth` rows (one per device), log new errors as machine events, update screens."""
    objects = [
        DeviceHealth(
            device_kind=row.kind, device_code=row.code, connected=row.connected, last_good_read=row.last_good_read,
            consecutive_errors=row.consecutive_errors, last_error=row.last_error[:2000], collector=row.collector,
        )
        for row in rows
    ]
    changed = {code for row in rows if row.changed for code in row.machines}
    errors = [(row, ts, message) for row in rows for ts, message in row.errors]
    try:
        with transaction.atomic():
            _announce_flips(rows)
            DeviceHealth.objects.bulk_create(
                objects, update_conflicts=True, unique_fields=["device_kind", "device_code"],
                update_fields=["connected", "last_good_read", "consecutive_errors", "last_error", "collector",
                               "updated"],
            )
            if errors or changed:
                machine_ids = dict(Machine.objects.filter(
                    code__in=changed | {c for row, _, _ in errors for c in row.machines}).values_list("code", "pk"))
            if errors:
                Event.objects.bulk_create([
                    Event(machine_id=machine_ids[code], ts=ts, kind=EventKind.DEVICE_ERROR,
                          detail={"device": f"{row.kind}:{row.code}", "error": message[:500]})
                    for row, ts, message in errors for code in row.machines if code in machine_ids
                ])
            if changed:
                ids = {machine_ids[code] for code in changed if code in machine_ids}
                transaction.on_commit(lambda: live.broadcast_machines(ids))
    except Exception:
        connection.close()
        raise


def _announce_flips(rows: list[HealthRow]) -> None:
    """A device that stopped or started answering is an event for the IT systems (device.down, device.up)."""
    # What a collector last said of each device. Not known (None): nobody owns it (given back), or
    # its collector took it and has not yet read it or failed to.
    stored = {
        (kind, code): connected if collector and (connected or error or last_good_read) else None
        for kind, code, connected, collector, error, last_good_read in
        DeviceHealth.objects.filter(device_code__in={row.code for row in rows})
        .values_list("device_kind", "device_code", "connected", "collector", "last_error", "last_good_read")
    }
    now = timezone.now()
    for row in rows:
        if not row.collector:
            continue  # given back by its collector: nobody knows, which is no news
        if not (row.connected or row.last_error or row.last_good_read):
            continue  # just taken, not yet read: no news either
        was = stored.get((row.kind, row.code))
        if was is None and row.connected or was == row.connected:
            continue
        event_type = EventType.DEVICE_UP if row.connected else EventType.DEVICE_DOWN
        outbox.emit(event_type, f"{event_type}:{row.kind}:{row.code}:{iso(now)}", now, {
            "device": row.code, "kind": row.kind, "machines": list(row.machines), "error": row.last_error or None,
            "last_good_read": iso(row.last_good_read),
        })


def read_elsewhere(device_keys: list[str], owner: str, within: float) -> set[str]:
    """Of these devices ("kind:code"), those another collector wrote the health of in the last `within` seconds."""
    try:
        since = timezone.now() - timedelta(seconds=within)
        recent = (DeviceHealth.objects.filter(updated__gte=since, device_code__in={k.split(":", 1)[1] for k in device_keys})
                  .exclude(collector="").exclude(collector=owner).values_list("device_kind", "device_code"))
        return {f"{kind}:{code}" for kind, code in recent} & set(device_keys)
    except Exception:
        connection.close()  # the database may have gone away: reconnect next round
        raise


def device_specs() -> list[DeviceSpec]:
    """Every enabled device that has bindings on enabled machines, as the host runs it."""
    try:
        return _device_specs()
    except Exception:
        # The lease keeper's thread reads this every round: a connection the database dropped
        # must not be reused, or every round fails with "the connection is closed".
        connection.close()
        raise


def _device_specs() -> list[DeviceSpec]:
    specs = []
    for model in (ModbusDevice, OpcUaEndpoint):
        devices = list(model.objects.enabled())
        bindings: dict[int, list[SignalBinding]] = {}
        for binding in (
            SignalBinding.objects.filter(**{f"{model.binding_field}__in": devices, "machine__enabled": True})
            .select_related("machine").order_by("pk")
        ):
            bindings.setdefault(getattr(binding, f"{model.binding_field}_id"), []).append(binding)
        for device in devices:
            if device.pk not in bindings:
                continue
            try:
                specs.append(device.device_spec(bindings[device.pk]))
            except RegisterMapError as error:
                logger.error("%s:%s cannot be read as configured: %s", device.kind, device.code, error)
    return specs
