"""What the live screens show of a line now: one message per machine, built once per line (DESIGN.md §7).

`line_messages` reads the line's calendar once and each machine's state intervals once
(`kpi.MachinePeriod`, so a screen equals `/api/v1/oee/`), and makes one message per machine:
its state, the figures of the shift so far, its work order's card (`orders.card`), the stops
that need a reason, its line's figures, and the HTML of every tile that shows it
(`monitoring.live.tiles`). A page's first paint and every update over its socket are this message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from monitoring import charts, kpi, orders
from monitoring.lib import oee
from monitoring.live import tiles, wording
from monitoring.models import DeviceHealth, MachineStatus, SignalBinding
from monitoring.stops import episode_start
from planning.lib.calendar import ShiftWindow
from planning.lib.instants import iso
from planning.models import Line, Machine, WorkOrder
from planning.schedule import calendar_around

STOPS_SHOWN = 4
"""Stops needing a reason listed per machine; the rest are counted."""
SPLIT_FROM = timedelta(minutes=5)
"""A stop at least this long may be split between two reasons."""


def _device_health(machines: list[Machine]) -> dict[int, tuple[bool, str | None]]:
    """Per machine, (connected, last error) of the devices its signals are read from; unbound is connected."""
    devices: dict[int, set[tuple[str, str]]] = {m.pk: set() for m in machines}
    for machine_id, modbus, opcua in SignalBinding.objects.filter(machine__in=machines).values_list(
        "machine_id", "modbus_device__code", "opcua_endpoint__code",
    ):
        devices[machine_id].add(("modbus", modbus) if modbus else ("opcua", opcua))
    wanted = set().union(*devices.values())
    query = Q(pk__in=[])
    for kind, code in wanted:
        query |= Q(device_kind=kind, device_code=code)
    health = {(h.device_kind, h.device_code): h for h in DeviceHealth.objects.filter(query)} if wanted else {}
    result = {}
    for machine_id, keys in devices.items():
        # A bound device no collector has reported on yet is not known to be connected.
        connected = all(key in health and health[key].connected for key in keys)
        errors = [health[key].last_error for key in sorted(keys)
                  if key in health and not health[key].connected and health[key].last_error]
        result[machine_id] = (connected, errors[0] if errors else None)
    return result


def _state(period: kpi.MachinePeriod, shift: ShiftWindow | None) -> dict:
    """State, since when, reason, fault code and kind of stop now (`wording`); a machine gone quiet is no-data
    from where its data stopped.

    A stop's time counts from where the whole stop began: a split (two reasons) or a change of
    fault inside it does not restart it.
    """
    span = oee.state_now(period.spans)
    if span is None:
        return {"state": MachineStatus.NO_DATA.value, "state_since": None, "reason": oee.NO_DATA_REASON,
                "reason_name": oee.NO_DATA_LABEL, "fault_code": None, "stop_kind": None}
    worth = next((s.kind for s in reversed(period.stretches()) if s.span.start == span.start
                  and s.span.state == span.state), None) if span.state == oee.STOPPED else None
    since = charts.instant(_whole_state_start(period.spans, span))
    if span.state == oee.STOPPED and period.spans and since == charts.instant(period.spans[0].start):
        since = episode_start(period.machine, since)  # it began before the spans read
    return {"state": span.state, "state_since": iso(since),
            "reason": span.reason, "reason_name": span.reason_name, "fault_code": span.fault_code,
            "stop_kind": wording.stop_kind(span.state, span.reason, worth, in_shift=shift is not None)}


def _whole_state_start(spans: list[oee.StateSpan], span: oee.StateSpan) -> float:
    """Where the state of `span` began: the start of the run of back-to-back spans of its state it ends."""
    start = span.start
    for earlier in reversed(spans):
        if earlier.start >= start:
            continue
        if earlier.state != span.state or earlier.end != start:
            break
        start = earlier.start
    return start


def _stops(period: kpi.MachinePeriod, shift: ShiftWindow | None) -> list[dict]:
    """The shift's stops that need a reason, newest first."""
    if shift is None:
        return []
    found = [s for s in charts.stops(period, asked_end=shift.end) if s.needs_reason]
    return [
        {"start": iso(s.start), "end": None if s.still_going else iso(s.end), "duration_s": s.duration_s,
         "fault_code": s.fault_code, "can_split": s.duration_s >= SPLIT_FROM.total_seconds()}
        for s in reversed(found)
    ]


def _figures(result: kpi.Result) -> dict:
    figures, production = result.figures, result.production
    return {
        "total_count": production.total, "good_count": production.good, "reject_count": production.reject,
        "availability": figures.availability, "performance": figures.performance,
        "quality": figures.quality, "oee": figures.oee,
    }


def line_messages(line: Line, now: datetime | None = None, only: set[int] | None = None) -> list[dict]:
    """The live message of each of the line's enabled machines (or of those in `only`), constraint first."""
    now = now or timezone.now()
    calendar = calendar_around(line, now)
    shift = calendar.shift_at(now)
    start = shift.start if shift else now
    in_order = line.machines_in_order()
    if only is None:
        shown = in_order
    else:
        shown = sorted(Machine.objects.with_plant().filter(pk__in=only, line=line),
                       key=lambda m: (m.pk != line.constraint_machine_id, m.position, m.code))
    subject = line.subject_machines()
    # The line shows the colour of its first machine: the constraint machine when it has one.
    first = in_order[:1]
    periods: dict[int, kpi.MachinePeriod] = {}
    for machine in [*shown, *subject, *first]:
        periods.setdefault(machine.pk, kpi.MachinePeriod(machine, start, now, now, calendar))
    results = {pk: periods[pk].result() for pk in {m.pk for m in [*shown, *subject]}}
    line_part = {
        "line_figures": {
            **_figures(sum((results[m.pk] for m in subject), kpi.EMPTY)),
            "state": _state(periods[first[0].pk], shift)["state"] if first else MachineStatus.NO_DATA.value,
        },
        "shift": {"name": shift.name, "start": iso(shift.start), "end": iso(shift.end)} if shift else None,
        "period_start": iso(shift.start) if shift else None,
        "period_end": iso(now),
    }
    health = _device_health(shown)
    running = WorkOrder.objects.running_at(shown, now)
    queues = WorkOrder.objects.queues_on(shown)

    messages = []
    for machine in shown:
        period = periods[machine.pk]
        figures = _figures(results[machine.pk])
        connected, device_error = health[machine.pk]
        stops = _stops(period, shift)
        message = {
            "type": "machine",
            "machine": machine.code,
            "line": line.code,
            "name": machine.name,
            "ts": iso(now),
            **_state(period, shift),
            **figures,
            "target_oee": machine.target_oee,
            "warning_oee": machine.warning_oee,
            "constraint": machine.pk == line.constraint_machine_id,
            **line_part,
            "work_order": orders.card(machine, running[machine.pk], queues[machine.pk], now),
            "connected": connected,
            "device_error": device_error,
            "stops": stops[:STOPS_SHOWN],
            "more_stops": max(len(stops) - STOPS_SHOWN, 0),
        }
        timeline = charts.timeline(period) if shift else []
        message["html"], message["html_in"] = tiles.render_languages(line, message, timeline, now)
        messages.append(message)
    return messages


def machine_message(machine: Machine, now: datetime | None = None) -> dict:
    """The live message of one machine (see `line_messages`)."""
    return line_messages(machine.line, now, only={machine.pk})[0]
