"""Creating or updating the plant from a parsed plant file (see docs/plant-config.md).

Objects with a code are created or updated by code and never deleted. A list of things
without a code (fault codes, signal maps, shifts, breaks, calendar exceptions, cycle times)
is the whole truth for its parent when its key is present. Every object is checked with
its model's own validation; the caller runs this inside a transaction and rolls it back
when any problem was found, so problems in later sections are still all reported.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from django.db import models
from django.utils import timezone

from monitoring.models import ModbusDevice, OpcUaEndpoint, SignalBinding
from monitoring.plantfile.reading import (
    Field,
    Problems,
    check,
    fill,
    flag,
    mapping,
    number,
    optional_whole,
    positive,
    save,
    sequence,
    snapshot,
    text,
    whole,
)
from monitoring.plantfile.schedule import import_calendar_exceptions, import_shift_pattern
from planning.lib.text import text_problem
from planning.models import (
    Area,
    DowntimeReason,
    FaultCode,
    Line,
    LossCategory,
    Machine,
    Product,
    ProductCycleTime,
    Site,
)

CODE = Field("code", text, required=True)
NAME = Field("name", text, required=True)
SITE_FIELDS = [CODE, NAME, Field("time_zone", text)]
AREA_FIELDS = [CODE, NAME]
REASON_FIELDS = [CODE, NAME, Field("loss_category", text), Field("planned", flag)]
LINE_FIELDS = [CODE, NAME]
MACHINE_FIELDS = [
    CODE, NAME, Field("position", whole), Field("enabled", flag),
    Field("default_ideal_cycle_time", positive, required=True),
    Field("micro_stop_threshold", number), Field("counter_bits", whole), Field("quality_counter", text),
    Field("expected_interval", number), Field("startup_window", number), Field("target_oee", number),
    Field("warning_oee", number),
]
DEVICE_FIELDS = [
    CODE, Field("name", text), Field("enabled", flag), Field("scan_interval", number), Field("timeout", number),
    Field("reconnect_backoff", number),
]
MODBUS_FIELDS = [
    *DEVICE_FIELDS, Field("host", text, required=True), Field("port", whole), Field("unit_id", whole),
    Field("word_order", text), Field("byte_order", text), Field("retries", whole),
]
OPCUA_FIELDS = [
    *DEVICE_FIELDS, Field("url", text, required=True), Field("security_mode", text), Field("security_policy", text),
    Field("username", text), Field("password", text, keep_when_absent=True), Field("client_certificate", text),
    Field("client_private_key", text, keep_when_absent=True), Field("server_certificate", text),
    Field("publishing_interval", number), Field("sampling_interval", number),
]
BINDING_COMMON = [Field("signal", text, required=True), Field("scale", number), Field("offset", number)]
MODBUS_BINDING_FIELDS = [*BINDING_COMMON, Field("table", text, required=True), Field("address", whole, required=True),
                         Field("data_type", text, required=True), Field("bit", optional_whole)]
OPCUA_BINDING_FIELDS = [*BINDING_COMMON, Field("node_id", text, required=True), Field("bit", optional_whole)]
PRODUCT_FIELDS = [CODE, NAME]

TOP_KEYS = ["version", "sites", "reasons", "lines", "modbus_devices", "opcua_endpoints", "products"]


def keys_of(fields: list[Field], *more: str) -> list[str]:
    return [field.key for field in fields] + list(more)


class Tally:
    """How many objects of each kind were created, updated, unchanged or deleted."""

    def __init__(self) -> None:
        self.by_kind: dict[str, Counter] = defaultdict(Counter)

    def add(self, model: type[models.Model], outcome: str, count: int = 1) -> None:
        if count:
            self.by_kind[str(model._meta.verbose_name_plural)][outcome] += count

    def total(self, outcome: str) -> int:
        return sum(counts[outcome] for counts in self.by_kind.values())


class PlantImport:
    """One run of an import: walks the document, stores what is valid, collects every problem."""

    def __init__(self) -> None:
        self.problems = Problems()
        self.tally = Tally()
        # Codes defined in the file whose object could not be stored: references to them are not
        # reported again, the problem with the object itself already is.
        self.failed: dict[type[models.Model], set[str]] = defaultdict(set)
        self.defined: dict[type[models.Model], dict[str, str]] = defaultdict(dict)

    # --- the document -------------------------------------------------------------------------

    def run(self, document: Any) -> None:
        if document is None:
            self.problems.add("", f"the file is empty; expected a mapping with keys {', '.join(TOP_KEYS)}")
            return
        root = mapping(document, "", self.problems, TOP_KEYS)
        if root is None:
            return
        if root.get("version", 1) != 1:
            self.problems.add("version", "must be 1 (the only version of the plant file so far)")
        for index, node in enumerate(sequence(root.get("sites"), "sites", self.problems)):
            self.site(node, f"sites[{index}]")
        for index, node in enumerate(sequence(root.get("reasons"), "reasons", self.problems)):
            self.reason(node, f"reasons[{index}]", group=None)
        for index, node in enumerate(sequence(root.get("lines"), "lines", self.problems)):
            self.line(node, f"lines[{index}]")
        for key, model, fields, binding_fields in (
            ("modbus_devices", ModbusDevice, MODBUS_FIELDS, MODBUS_BINDING_FIELDS),
            ("opcua_endpoints", OpcUaEndpoint, OPCUA_FIELDS, OPCUA_BINDING_FIELDS),
        ):
            for index, node in enumerate(sequence(root.get(key), key, self.problems)):
                self.device(model, fields, binding_fields, node, f"{key}[{index}]")
        for index, node in enumerate(sequence(root.get("products"), "products", self.problems)):
            self.product(node, f"products[{index}]")

    # --- the plant ----------------------------------------------------------------------------

    def site(self, node: Any, path: str) -> None:
        node = mapping(node, path, self.problems, keys_of(SITE_FIELDS, "areas"))
        if node is None:
            return
        site = self.store_coded(Site, node, SITE_FIELDS, path)
        for index, area_node in enumerate(sequence(node.get("areas"), f"{path}.areas", self.problems)):
            area_path = f"{path}.areas[{index}]"
            area_node = mapping(area_node, area_path, self.problems, keys_of(AREA_FIELDS))
            if area_node is not None:
                self.store_coded(Area, area_node, AREA_FIELDS, area_path, parents={"site": site})

    def reason(self, node: Any, path: str, group: DowntimeReason | None) -> None:
        allowed = keys_of(REASON_FIELDS) if group else keys_of(REASON_FIELDS, "reasons")
        node = mapping(node, path, self.problems, allowed)
        if node is None:
            return
        if group is not None and "loss_category" not in node:
            node = {**node, "loss_category": group.loss_category}
        reason = self.store_coded(
            DowntimeReason, node, REASON_FIELDS, path, parents={"parent": group} if group else {},
            prepare=lambda reason: _settle_reason(reason, node, group),
        )
        if group is None:
            for index, child in enumerate(sequence(node.get("reasons"), f"{path}.reasons", self.problems)):
                self.reason(child, f"{path}.reasons[{index}]", group=reason)

    def line(self, node: Any, path: str) -> None:
        allowed = keys_of(LINE_FIELDS, "area", "constraint_machine", "machines", "shift_pattern", "calendar_exceptions")
        node = mapping(node, path, self.problems, allowed)
        if node is None:
            return
        area = self.ref(Area, node, "area", path)
        line, before = self.find_coded(Line, node, path)
        # Stored before its machines (they need it) with the constraint machine it has now; the one
        # from the file is set once the machines exist.
        stored = line is not None and self.store(line, before, node, LINE_FIELDS, path, refs={"area": area},
                                                 count=False)
        if line is None:
            line = Line()
        for index, machine_node in enumerate(sequence(node.get("machines"), f"{path}.machines", self.problems)):
            self.machine(machine_node, f"{path}.machines[{index}]", line, index)
        constraint = self.constraint_machine(node, path)
        if stored:
            saved = snapshot(line)
            line.constraint_machine = constraint
            refs = {"constraint_machine": constraint} if node.get("constraint_machine") is not None else {}
            if self.store(line, saved, {}, [], path, refs=refs, fill_fields=False, count=False):
                self.tally_change(line, before)
        elif "code" in node:
            self.failed[Line].add(str(node["code"]))
        if "shift_pattern" in node:
            import_shift_pattern(self, line, node["shift_pattern"], f"{path}.shift_pattern")
        if "calendar_exceptions" in node:
            zone = area.site.zone if area is not None else timezone.get_current_timezone()
            import_calendar_exceptions(self, line, node["calendar_exceptions"], f"{path}.calendar_exceptions", zone)

    def constraint_machine(self, node: dict, path: str) -> Machine | None:
        """The machine the line names as its constraint: one of the machines listed under it, if it lists any."""
        code = node.get("constraint_machine")
        machines = node.get("machines") if isinstance(node.get("machines"), list) else []
        listed = list(dict.fromkeys(str(m["code"]) for m in machines if isinstance(m, dict) and "code" in m))
        if code is not None and listed and str(code) not in listed:
            self.problems.add(f"{path}.constraint_machine", f"must be one of this line's machines: {', '.join(listed)}")
            return None
        return self.ref(Machine, node, "constraint_machine", path, required=False)

    def machine(self, node: Any, path: str, line: Line, index: int) -> None:
        node = mapping(node, path, self.problems, keys_of(MACHINE_FIELDS, "fault_codes"))
        if node is None:
            return
        node = {"position": index + 1, **node}
        machine = self.store_coded(Machine, node, MACHINE_FIELDS, path, parents={"line": line})
        if "fault_codes" not in node:
            return
        table = node["fault_codes"] or {}
        if not isinstance(table, dict):
            self.problems.add(f"{path}.fault_codes", "must be a mapping of fault codes to reason codes, e.g. 1: jam")
            return
        wanted = []
        for code, reason_code in table.items():
            where = f"{path}.fault_codes.{code}"
            if isinstance(code, bool) or not isinstance(code, int) or code < 0:
                self.problems.add(where, "a fault code must be a whole number, 0 or more")
                continue
            reason = self.ref_code(DowntimeReason, reason_code, where)
            wanted.append(code)
            existing = FaultCode.objects.filter(machine=machine, code=code).first() if machine.pk else None
            fault = existing or FaultCode(code=code)
            before = snapshot(existing) if existing else None
            self.store(fault, before, {}, [], where, parents={"machine": machine, "reason": reason})
        if machine.pk:
            self.delete(FaultCode.objects.filter(machine=machine).exclude(code__in=wanted))

    # --- devices and products -----------------------------------------------------------------

    def device(self, model: type[models.Model], fields: list[Field], binding_fields: list[Field], node: Any,
               path: str) -> None:
        node = mapping(node, path, self.problems, keys_of(fields, "signals"))
        if node is None:
            return
        device = self.store_coded(model, node, fields, path)
        if "signals" not in node:
            return
        wanted = []
        for index, binding_node in enumerate(sequence(node["signals"], f"{path}.signals", self.problems)):
            where = f"{path}.signals[{index}]"
            binding_node = mapping(binding_node, where, self.problems, keys_of(binding_fields, "machine"))
            if binding_node is not None:
                wanted.append(self.binding(device, binding_node, binding_fields, where))
        if device.pk:
            stale = SignalBinding.objects.filter(**{_device_field(model): device})
            for machine_id, signal in filter(None, wanted):
                stale = stale.exclude(machine_id=machine_id, signal=signal)
            self.delete(stale)

    def binding(self, device: models.Model, node: dict, fields: list[Field], path: str) -> tuple[int, str] | None:
        """Store one signal binding; returns its (machine id, signal) when both are known."""
        machine = self.ref(Machine, node, "machine", path)
        signal = node.get("signal")
        key = f"{node.get('machine')}.{signal}"
        if key in self.defined[SignalBinding]:
            self.problems.add(path, f"signal {signal!r} of machine {node.get('machine')!r} is already bound at "
                                    f"{self.defined[SignalBinding][key]}")
            return None
        self.defined[SignalBinding][key] = path
        existing = None
        if machine is not None and isinstance(signal, str) and text_problem(signal) is None:
            existing = SignalBinding.objects.filter(machine=machine, signal=signal).first()
        binding = existing or SignalBinding()
        before = snapshot(existing) if existing else None
        device_field = _device_field(type(device))
        for other in ("modbus_device", "opcua_endpoint"):
            if other != device_field:
                setattr(binding, other, None)
        if device_field == "opcua_endpoint":
            binding.table, binding.address, binding.data_type = "", None, ""
        else:
            binding.node_id = ""
        self.store(binding, before, node, fields, path, parents={device_field: device}, refs={"machine": machine})
        return (machine.pk, signal) if machine is not None and machine.pk else None

    def product(self, node: Any, path: str) -> None:
        node = mapping(node, path, self.problems, keys_of(PRODUCT_FIELDS, "cycle_times"))
        if node is None:
            return
        product = self.store_coded(Product, node, PRODUCT_FIELDS, path)
        if "cycle_times" not in node:
            return
        table = node["cycle_times"] or {}
        if not isinstance(table, dict):
            self.problems.add(f"{path}.cycle_times", "must be a mapping of machine codes to seconds, e.g. L1-FILL: 1.0")
            return
        wanted = []
        for machine_code, seconds in table.items():
            where = f"{path}.cycle_times.{machine_code}"
            machine = self.ref_code(Machine, machine_code, where)
            if machine is not None:
                wanted.append(machine.pk)
            existing = None
            if machine is not None and product.pk:
                existing = ProductCycleTime.objects.filter(product=product, machine=machine).first()
            cycle_time = existing or ProductCycleTime()
            before = snapshot(existing) if existing else None
            try:
                cycle_time.ideal_cycle_time = positive(seconds)
            except ValueError as error:
                self.problems.add(where, str(error))
                continue
            self.store(cycle_time, before, {}, [], where, parents={"product": product, "machine": machine})
        if product.pk:
            self.delete(ProductCycleTime.objects.filter(product=product).exclude(machine_id__in=wanted))

    # --- storing ------------------------------------------------------------------------------

    def find_coded(self, model: type[models.Model], node: dict, path: str) -> tuple[models.Model | None, dict | None]:
        """The object with the node's code (or a new one) and a snapshot of it as it was; None for a duplicate."""
        code = node.get("code")
        # A code the CODE field refuses (one with a NUL would even break the query) is reported by it.
        if isinstance(code, (str, int)) and not isinstance(code, bool) and text_problem(str(code)) is None:
            code = str(code)
            first = self.defined[model].get(code)
            if first is not None:
                self.problems.add(f"{path}.code", f"{code!r} is already defined at {first}")
                return None, None
            self.defined[model][code] = path
            existing = model.objects.filter(code=code).first()
            if existing is not None:
                return existing, snapshot(existing)
        return model(), None

    def store_coded(self, model: type[models.Model], node: dict, fields: list[Field], path: str,
                    parents: dict | None = None, prepare=None) -> models.Model:
        """Create or update the object with the node's code; returns it, unsaved when it is not valid."""
        instance, before = self.find_coded(model, node, path)
        if instance is None:
            return model()
        if not self.store(instance, before, node, fields, path, parents=parents or {}, prepare=prepare):
            if "code" in node:
                self.failed[model].add(str(node["code"]))
        return instance

    def store(self, instance: models.Model, before: dict | None, node: dict, fields: list[Field], path: str,
              parents: dict | None = None, refs: dict | None = None, prepare=None, fill_fields: bool = True,
              count: bool = True) -> bool:
        """Fill the instance from the node, check it, and save it when it is valid and what it needs is saved.

        `parents` are the objects it sits under in the file, `refs` the ones it names by code under
        a key of its own; None for one that could not be found (already reported).
        """
        related = {**(parents or {}), **(refs or {})}
        for name, value in related.items():
            if value is not None:
                setattr(instance, name, value)
        refused = fill(instance, node, fields, path, self.problems) if fill_fields else set()
        if prepare is not None:
            prepare(instance)
        missing = {name for name, value in related.items() if value is None or value.pk is None}
        keys = [*fields, *(Field(name, text) for name in refs or {})]
        valid = check(instance, path, self.problems, keys, refused | missing) and not refused
        if not valid or missing:
            return False
        if before is not None and snapshot(instance) == before:
            if count:
                self.tally.add(type(instance), "unchanged")
            return True
        if not save(instance, path, self.problems):
            return False
        if count:
            self.tally.add(type(instance), "created" if before is None else "updated")
        return True

    def tally_change(self, instance: models.Model, before: dict | None) -> None:
        outcome = "created" if before is None else "unchanged" if snapshot(instance) == before else "updated"
        self.tally.add(type(instance), outcome)

    def delete(self, queryset: models.QuerySet) -> None:
        count = queryset.count()
        if count:
            queryset.delete()
            self.tally.add(queryset.model, "deleted", count)

    def ref(self, model: type[models.Model], node: dict, key: str, path: str, required: bool = True):
        """The object the node names by code under `key`, or None (reported unless already reported)."""
        if node.get(key) is None:
            if required:
                self.problems.add(f"{path}.{key}", "is required")
            return None
        return self.ref_code(model, node[key], f"{path}.{key}")

    def ref_code(self, model: type[models.Model], code: Any, path: str):
        if isinstance(code, bool) or not isinstance(code, (str, int)):
            self.problems.add(path, f"must be the code of a {model._meta.verbose_name}")
            return None
        code = str(code)
        problem = text_problem(code)
        if problem:
            self.problems.add(path, f"must be the code of a {model._meta.verbose_name}, but it {problem}")
            return None
        if code in self.failed[model]:
            return None
        found = model.objects.filter(code=code).first()
        if found is None:
            self.problems.add(path, f"no {model._meta.verbose_name} with code {code!r} in the file or the database")
        return found


def _device_field(model: type[models.Model]) -> str:
    return "modbus_device" if model is ModbusDevice else "opcua_endpoint"


def _settle_reason(reason: DowntimeReason, node: dict, group: DowntimeReason | None) -> None:
    """A group has no parent (even one that used to sit under another); planned follows the category."""
    if group is None:
        reason.parent = None
    if "planned" not in node:
        reason.planned = reason.loss_category == LossCategory.PLANNED
