"""Writing the plant configuration out as a plant file (the same keys the import reads)."""

from __future__ import annotations

from collections import defaultdict
from datetime import time
from typing import Any

import yaml
from django.db import models

from monitoring.models import ModbusDevice, OpcUaEndpoint
from monitoring.plantfile.importing import (
    AREA_FIELDS,
    LINE_FIELDS,
    MACHINE_FIELDS,
    MODBUS_FIELDS,
    OPCUA_FIELDS,
    PRODUCT_FIELDS,
    SITE_FIELDS,
)
from monitoring.plantfile.reading import Field
from planning.lib.calendar import WEEKDAYS
from planning.models import DowntimeReason, Line, Product, Site

HEADER = (
    "# OEE Live plant configuration (schema: docs/plant-config.md).\n"
    "# Load it with: python manage.py import_plant FILE\n"
)


class FlowMap(dict):
    """A mapping written on one line, e.g. a signal binding or a break."""


class FlowList(list):
    """A list written on one line, e.g. the days of a shift."""


class Clock(str):
    """A local time, always written in quotes: unquoted, YAML 1.1 reads 14:00 as the number 840."""


class PlantDumper(yaml.SafeDumper):
    pass


PlantDumper.add_representer(FlowMap, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, True))
PlantDumper.add_representer(FlowList, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, True))
PlantDumper.add_representer(Clock, lambda d, data: d.represent_scalar("tag:yaml.org,2002:str", data, style='"'))


def export_document() -> dict[str, Any]:
    """The whole plant configuration as plain data, in a stable order, without secrets."""
    return {
        "version": 1,
        "sites": [_site(site) for site in Site.objects.order_by("code").prefetch_related("areas")],
        "reasons": _reasons(),
        "lines": [_line(line) for line in Line.objects.order_by("code").select_related("area__site")],
        "modbus_devices": [_device(d, MODBUS_FIELDS) for d in ModbusDevice.objects.order_by("code")],
        "opcua_endpoints": [_device(d, OPCUA_FIELDS) for d in OpcUaEndpoint.objects.order_by("code")],
        "products": [_product(product) for product in Product.objects.order_by("code")],
    }


def dump(document: dict[str, Any]) -> str:
    return HEADER + yaml.dump(document, Dumper=PlantDumper, sort_keys=False, allow_unicode=True, width=200)


def export_plant() -> str:
    """The plant file of the current configuration, as YAML text."""
    return dump(export_document())


def _values(instance: models.Model, fields: list[Field]) -> dict[str, Any]:
    """The fields' values by key; never a secret (a field the import keeps when absent)."""
    return {field.key: _plain(getattr(instance, field.name)) for field in fields if not field.keep_when_absent}


def _plain(value: Any) -> Any:
    if isinstance(value, time):
        return _clock(value)
    return value


def _clock(value: time) -> Clock:
    return Clock(value.strftime("%H:%M:%S" if value.second else "%H:%M"))


def _site(site: Site) -> dict[str, Any]:
    areas = sorted(site.areas.all(), key=lambda area: area.code)
    return {**_values(site, SITE_FIELDS), "areas": [_values(area, AREA_FIELDS) for area in areas]}


def _reasons() -> list[dict[str, Any]]:
    children: dict[int, list[DowntimeReason]] = defaultdict(list)
    groups = []
    for reason in DowntimeReason.objects.order_by("code"):
        (children[reason.parent_id] if reason.parent_id else groups).append(reason)
    exported = []
    for group in groups:
        item = {"code": group.code, "name": group.name, "loss_category": group.loss_category}
        if children[group.pk]:
            item["reasons"] = [
                {"code": child.code, "name": child.name, "loss_category": child.loss_category}
                for child in children[group.pk]
            ]
        exported.append(item)
    return exported


def _line(line: Line) -> dict[str, Any]:
    machines = line.machines.order_by("position", "code").prefetch_related("fault_codes__reason")
    constraint = line.constraint_machine
    return {
        **_values(line, LINE_FIELDS),
        "area": line.area.code,
        "constraint_machine": constraint.code if constraint else None,
        "machines": [
            {
                **_values(machine, MACHINE_FIELDS),
                "fault_codes": FlowMap((fault.code, fault.reason.code) for fault in machine.fault_codes.all()),
            }
            for machine in machines
        ],
        "shift_pattern": _shift_pattern(line),
        "calendar_exceptions": [
            {
                "kind": exception.kind,
                "name": exception.name,
                "start": exception.start.astimezone(line.site.zone).isoformat(),
                "end": exception.end.astimezone(line.site.zone).isoformat(),
            }
            for exception in line.calendar_exceptions.order_by("start", "kind", "name")
        ],
    }


def _shift_pattern(line: Line) -> dict[str, Any] | None:
    pattern = getattr(line, "shift_pattern", None)
    if pattern is None:
        return None
    # One entry per shift that is the same on several days, as a person would write the template.
    entries: dict[tuple, list[int]] = {}
    for shift in pattern.shifts.prefetch_related("breaks"):
        breaks = tuple((b.name, b.start, b.end) for b in sorted(shift.breaks.all(), key=lambda b: b.start))
        entries.setdefault((shift.name, shift.start, shift.end, breaks), []).append(shift.weekday)
    ordered = sorted(entries.items(), key=lambda item: (min(item[1]), item[0][1], item[0][0]))
    return {
        "name": pattern.name,
        "shifts": [
            {
                "name": name,
                "days": FlowList(WEEKDAYS[day][:3].lower() for day in sorted(weekdays)),
                "start": _clock(start),
                "end": _clock(end),
                "breaks": [FlowMap(name=b_name, start=_clock(b_start), end=_clock(b_end))
                           for b_name, b_start, b_end in breaks],
            }
            for (name, start, end, breaks), weekdays in ordered
        ],
    }


def _device(device: ModbusDevice | OpcUaEndpoint, fields: list[Field]) -> dict[str, Any]:
    signals = []
    for binding in device.bindings.select_related("machine").order_by("machine__code", "signal"):
        item = FlowMap(machine=binding.machine.code, signal=binding.signal)
        if isinstance(device, ModbusDevice):
            item.update(table=binding.table, address=binding.address, data_type=binding.data_type)
        else:
            item["node_id"] = binding.node_id
        if binding.bit is not None:
            item["bit"] = binding.bit
        # Left out at their defaults to keep a signal map readable; the import reads absent as default.
        if binding.scale != 1.0:
            item["scale"] = binding.scale
        if binding.offset != 0.0:
            item["offset"] = binding.offset
        signals.append(item)
    return {**_values(device, fields), "signals": signals}


def _product(product: Product) -> dict[str, Any]:
    cycle_times = product.cycle_times.select_related("machine").order_by("machine__code")
    return {
        **_values(product, PRODUCT_FIELDS),
        "cycle_times": FlowMap((c.machine.code, c.ideal_cycle_time) for c in cycle_times),
    }
