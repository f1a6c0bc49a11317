"""`manage.py import_plant` / `export_plant`: the plant as a YAML file, all or nothing, idempotent."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, time
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import connections
from django.forms.models import model_to_dict

from monitoring.models import ModbusDevice, OpcUaEndpoint, SignalBinding
from planning.models import (
    Area,
    Break,
    CalendarException,
    DowntimeReason,
    FaultCode,
    Line,
    Machine,
    Product,
    ProductCycleTime,
    Shift,
    ShiftPattern,
    Site,
)

pytestmark = pytest.mark.django_db

DEMO_PLANT = Path(__file__).resolve().parent.parent / "demo" / "plant.yaml"
CONFIGURATION = [Site, Area, DowntimeReason, Line, Machine, FaultCode, ModbusDevice, OpcUaEndpoint, SignalBinding,
                 ShiftPattern, Shift, Break, CalendarException, Product, ProductCycleTime]


def import_plant(path: Path | str) -> str:
    out = StringIO()
    call_command("import_plant", str(path), stdout=out, stderr=StringIO())
    return out.getvalue()


def refused(path: Path | str) -> list[str]:
    """The problems import_plant prints for a file it refuses."""
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_plant", str(path), stdout=StringIO(), stderr=err)
    return [line.removeprefix(f"{path}: ") for line in err.getvalue().splitlines()]


def export_plant(*args: str) -> str:
    out = StringIO()
    call_command("export_plant", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def configuration() -> dict[str, list[dict]]:
    """Every configuration row, field by field (without the `updated` timestamps)."""
    return {
        model.__name__: [
            {k: v for k, v in model_to_dict(row).items() if k != "updated"} for row in model.objects.order_by("pk")
        ]
        for model in CONFIGURATION
    }


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in CONFIGURATION}


def write(tmp_path: Path, text: str, name: str = "plant.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def demo_document() -> dict:
    """The demo plant as data, each line with a shift pattern of its own (the file shares one by an alias)."""
    document = yaml.safe_load(DEMO_PLANT.read_text())
    for line in document["lines"]:
        line["shift_pattern"] = copy.deepcopy(line["shift_pattern"])
    return document


def test_the_demo_plant_is_wired_as_the_simulator_and_collectors_expect() -> None:
    import_plant(DEMO_PLANT)

    site = Site.objects.get(code="demo")
    assert (site.name, site.time_zone) == ("Demo Plant", "Europe/Berlin")
    assert [(line.code, line.constraint_machine.code) for line in Line.objects.order_by("code")] == [
        ("L1", "L1-FILL"), ("L2", "L2-SEAM")]
    machines = Machine.objects.all()
    assert {(m.code, m.default_ideal_cycle_time, m.counter_bits, m.expected_interval) for m in machines} == {
        ("L1-FILL", 1.0, 16, 10.0), ("L1-CAP", 0.9, 16, 10.0), ("L1-LABEL", 0.8, 32, 10.0),
        ("L2-SEAM", 0.5, 32, 10.0), ("L2-PACK", 0.45, 16, 10.0)}
    cap = ModbusDevice.objects.get(code="dev-L1-CAP")
    assert (cap.host, cap.port, cap.unit_id, cap.scan_interval, cap.timeout) == ("127.0.0.1", 15022, 1, 1.0, 1.0)
    assert {(b.signal, b.table, b.address, b.data_type, b.bit) for b in cap.bindings.all()} == {
        ("running", "holding", 0, "uint16", 0), ("fault", "holding", 1, "uint16", None),
        ("total_count", "holding", 2, "uint16", None), ("reject_count", "holding", 3, "uint16", None),
        ("packml_state", "holding", 4, "uint16", None)}
    opc = OpcUaEndpoint.objects.get(code="opc-sim")
    assert (opc.url, opc.security_mode, opc.publishing_interval, opc.sampling_interval) == (
        "opc.tcp://127.0.0.1:14840/oee/", "None", 0.5, 0.25)
    assert opc.bindings.get(machine__code="L1-LABEL", signal="running").node_id == "ns=2;s=L1-LABEL.Running"
    assert opc.bindings.get(machine__code="L2-SEAM", signal="total_count").node_id == "ns=2;s=L2-SEAM.TotalCount"
    assert {(f.code, f.reason.code) for f in FaultCode.objects.filter(machine__code="L2-PACK")} == {
        (1, "jam"), (2, "motor"), (3, "sensor"), (4, "no-material")}
    maintenance = DowntimeReason.objects.get(code="maintenance")
    assert (maintenance.parent.code, maintenance.loss_category, maintenance.planned) == ("plan", "planned", True)
    assert DowntimeReason.objects.get(code="scrap-startup").loss_category == "startup_rejects"
    assert DowntimeReason.objects.filter(code="no-data", parent=None, planned=False).exists()
    night = Shift.objects.get(pattern__line__code="L2", weekday=6, name="Night")
    assert (night.start, night.end) == (time(22), time(6))
    assert [(b.start, b.end) for b in night.breaks.all()] == [(time(2), time(2, 30))]
    assert Shift.objects.filter(pattern__line__code="L1").count() == 21
    assert ProductCycleTime.objects.get(product__code="BOT-10", machine__code="L1-CAP").ideal_cycle_time == 1.1


def test_importing_the_same_file_twice_changes_nothing() -> None:
    import_plant(DEMO_PLANT)
    first = configuration()

    output = import_plant(DEMO_PLANT)

    assert configuration() == first
    assert "0 created, 0 updated, 0 deleted" in output


def test_if_empty_imports_into_a_database_without_a_plant() -> None:
    out = StringIO()
    call_command("import_plant", "--if-empty", str(DEMO_PLANT), stdout=out, stderr=StringIO())

    assert "Imported" in out.getvalue()
    assert Machine.objects.count() == 5 and Product.objects.count() == 4


def test_if_empty_leaves_a_plant_an_admin_changed_alone() -> None:
    """`make run` imports with --if-empty at every start: a deleted fault code and a moved break stay so."""
    import_plant(DEMO_PLANT)
    FaultCode.objects.filter(machine__code="L1-FILL", code=4).delete()
    Break.objects.filter(shift__pattern__line__code="L2", shift__weekday=0, shift__name="Early").update(
        start=time(11), end=time(11, 20))
    changed = configuration()

    out = StringIO()
    call_command("import_plant", "--if-empty", str(DEMO_PLANT), stdout=out, stderr=StringIO())

    assert configuration() == changed
    assert "holds a plant already (1 site, 2 lines, 5 machines, 20 reasons)" in out.getvalue()
    assert "not imported" in out.getvalue()
    # Without the flag the file is imported over the changes, as asked.
    import_plant(DEMO_PLANT)
    assert FaultCode.objects.filter(machine__code="L1-FILL", code=4).exists()


def test_an_export_imported_into_an_empty_database_exports_the_same_text(tmp_path: Path) -> None:
    import_plant(DEMO_PLANT)
    exported = export_plant()
    before = counts()
    for model in reversed(CONFIGURATION):
        if model is DowntimeReason:
            model.objects.exclude(parent=None).delete()
        model.objects.all().delete()

    import_plant(write(tmp_path, exported))

    assert counts() == before
    assert export_plant() == exported


def test_an_export_imported_again_changes_nothing(tmp_path: Path) -> None:
    import_plant(DEMO_PLANT)
    exported = write(tmp_path, export_plant())
    first = configuration()

    import_plant(exported)

    assert configuration() == first


def test_export_writes_a_file_with_o(tmp_path: Path) -> None:
    import_plant(DEMO_PLANT)

    call_command("export_plant", "-o", str(tmp_path / "out.yaml"), stdout=StringIO(), stderr=StringIO())

    assert (tmp_path / "out.yaml").read_text() == export_plant()


def test_a_file_with_several_problems_lists_each_with_its_path_and_writes_nothing(tmp_path: Path) -> None:
    import_plant(DEMO_PLANT)
    before = configuration()
    document = demo_document()
    l1 = document["lines"][0]
    l1["name"] = "Renamed, but not written"
    l1["machines"][2]["default_ideal_cycle_time"] = 0
    l1["machines"].append({"code": "L1-NEW", "name": "New", "default_ideal_cycle_time": 1.0, "counter_bits": 12})
    l1["shift_pattern"]["shifts"][1]["start"] = "13:00"
    document["modbus_devices"][0]["signals"][0]["address"] = 65535
    document["modbus_devices"][0]["signals"][0]["data_type"] = "uint32"
    document["opcua_endpoints"][0]["signals"][0]["node_id"] = "L1-LABEL.Running"
    document["products"][0]["cycle_times"]["NOPE"] = 1.0
    document["sites"][0]["time_zone"] = "Europe/Atlantis"

    problems = refused(write(tmp_path, yaml.safe_dump(document)))

    assert "lines[0].machines[2].default_ideal_cycle_time: must be positive" in problems
    assert "lines[0].machines[3].counter_bits: Value 12 is not a valid choice." in problems
    assert any(p.startswith("lines[0].shift_pattern.shifts[1]: shifts overlap") for p in problems)
    assert any(p.startswith("modbus_devices[0].signals[0].address: A uint32 takes 2 registers") for p in problems)
    assert any(p.startswith("opcua_endpoints[0].signals[0].node_id: 'L1-LABEL.Running' is not an OPC UA node id")
               for p in problems)
    assert "products[0].cycle_times.NOPE: no machine with code 'NOPE' in the file or the database" in problems
    assert any(p.startswith("sites[0].time_zone: 'Europe/Atlantis' is not an IANA time zone") for p in problems)
    assert len(problems) == 7
    assert configuration() == before


@pytest.mark.parametrize("field", ["micro_stop_threshold", "startup_window", "expected_interval"])
def test_a_machine_duration_too_long_for_the_arithmetic_is_refused(tmp_path: Path, field: str) -> None:
    """A micro-stop threshold of 1e300 s was stored, and then every page answered 500 (OverflowError)."""
    document = demo_document()
    document["lines"][0]["machines"][0][field] = 1e300

    problems = refused(write(tmp_path, yaml.safe_dump(document)))

    assert problems == [f"lines[0].machines[0].{field}: Ensure this value is less than or equal to 86400."]
    assert not Machine.objects.exists()


def test_nothing_is_written_into_an_empty_database_either(tmp_path: Path) -> None:
    document = demo_document()
    document["products"][2]["cycle_times"]["L2-PACK"] = -2.0

    problems = refused(write(tmp_path, yaml.safe_dump(document)))

    assert problems == ["products[2].cycle_times.L2-PACK: must be positive"]
    assert set(counts().values()) == {0}


def test_the_command_exits_non_zero_on_a_refused_file(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "sites:\n  - {code: s1}\n")
    # A command run from argv closes the connections when it ends, which would end the test's transaction.
    monkeypatch.setattr(connections, "close_all", lambda: None)

    with pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(["manage.py", "import_plant", str(path)])

    assert exit_info.value.code != 0
    assert f"{path}: sites[0].name: is required" in capsys.readouterr().err
    assert not Site.objects.exists()


def test_broken_yaml_is_reported_with_its_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "sites:\n  - code: demo\n    name: Demo\n   time_zone: Europe/Berlin\n")

    problems = refused(path)

    assert len(problems) == 1
    assert problems[0].startswith("not valid YAML at line 4, column 4")


def test_a_key_written_twice_is_refused_rather_than_one_silently_winning(tmp_path: Path) -> None:
    path = write(tmp_path, "products:\n  - code: P1\n    name: One\n    name: Two\n")

    problems = refused(path)

    assert problems == ["not valid YAML at line 4, column 5: found the key 'name' twice (while reading a mapping)"]


def test_an_unquoted_time_is_explained(tmp_path: Path) -> None:
    text = DEMO_PLANT.read_text().replace('end: "14:00"', "end: 14:00", 1)

    problems = refused(write(tmp_path, text))

    # Both lines share the pattern through a YAML alias, so both report it.
    assert problems == [f'lines[{index}].shift_pattern.shifts[0].end: must be a time in quotes, such as "06:00" '
                        "(unquoted, YAML reads it as a number)" for index in (0, 1)]


def test_unknown_keys_and_wrong_types_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "sites: {code: demo}\nproducts:\n  - {code: P1, name: P, colour: red}\nmachines: []\n")

    problems = refused(path)

    assert problems == [
        "machines: unknown key (expected one of: version, sites, reasons, lines, modbus_devices, opcua_endpoints, "
        "products)",
        "sites: must be a list",
        "products[0].colour: unknown key (expected one of: code, name, cycle_times)",
    ]


def test_a_list_in_the_file_replaces_the_stored_one(tmp_path: Path) -> None:
    import_plant(DEMO_PLANT)
    document = demo_document()
    document["lines"][0]["machines"][0]["fault_codes"] = {1: "jam", 9: "motor"}
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    for shift in document["lines"][0]["shift_pattern"]["shifts"]:
        shift["days"] = weekdays
    document["modbus_devices"][1]["signals"] = document["modbus_devices"][1]["signals"][:4]
    del document["products"][0]["cycle_times"]["L1-LABEL"]

    import_plant(write(tmp_path, yaml.safe_dump(document)))

    assert {(f.code, f.reason.code) for f in FaultCode.objects.filter(machine__code="L1-FILL")} == {
        (1, "jam"), (9, "motor")}
    assert FaultCode.objects.filter(machine__code="L1-CAP").count() == 4
    assert Shift.objects.filter(pattern__line__code="L1").count() == 15
    assert Break.objects.filter(shift__pattern__line__code="L1").count() == 15
    assert Shift.objects.filter(pattern__line__code="L2").count() == 21
    assert not SignalBinding.objects.filter(machine__code="L1-CAP", signal="packml_state").exists()
    assert not ProductCycleTime.objects.filter(product__code="BOT-05", machine__code="L1-LABEL").exists()


def test_what_the_file_leaves_out_is_left_alone(tmp_path: Path) -> None:
    import_plant(DEMO_PLANT)
    path = write(tmp_path, "lines:\n  - {code: L1, name: Line one, area: packaging, constraint_machine: L1-FILL}\n")

    import_plant(path)

    assert Line.objects.get(code="L1").name == "Line one"
    assert Machine.objects.filter(line__code="L1").count() == 3
    assert Shift.objects.filter(pattern__line__code="L1").count() == 21
    assert Site.objects.count() == 1 and Product.objects.count() == 4


def test_secrets_are_never_exported_and_kept_by_the_import(tmp_path: Path) -> None:
    import_plant(DEMO_PLANT)
    OpcUaEndpoint.objects.filter(code="opc-sim").update(username="oee", password="s3cret",
                                                       client_private_key="-----BEGIN PRIVATE KEY-----\nMIIE\n")

    plain = export_plant()
    import_plant(write(tmp_path, plain))

    assert "s3cret" not in plain and "password" not in plain
    assert "PRIVATE KEY" not in plain and "client_private_key" not in plain
    endpoint = OpcUaEndpoint.objects.get(code="opc-sim")
    assert (endpoint.password, endpoint.client_private_key) == ("s3cret", "-----BEGIN PRIVATE KEY-----\nMIIE\n")


def test_the_export_has_no_option_to_include_secrets() -> None:
    with pytest.raises(CommandError, match="unrecognized arguments: --include-secrets"):
        export_plant("--include-secrets")


def test_calendar_exceptions_without_an_offset_are_in_the_sites_time_zone(tmp_path: Path) -> None:
    document = demo_document()
    document["lines"][1]["calendar_exceptions"] = [
        {"kind": "holiday", "name": "Christmas Eve", "start": "2026-12-24T14:00", "end": "2026-12-25T06:00"},
    ]

    import_plant(write(tmp_path, yaml.safe_dump(document)))

    holiday = CalendarException.objects.get(line__code="L2")
    assert holiday.start == datetime(2026, 12, 24, 13, 0, tzinfo=UTC)
    assert "start: '2026-12-24T14:00:00+01:00'" in export_plant()


def test_a_reason_under_a_group_cannot_have_reasons_of_its_own(tmp_path: Path) -> None:
    path = write(tmp_path, "reasons:\n  - code: g\n    name: G\n    reasons:\n"
                           "      - {code: r, name: R, reasons: [{code: x, name: X}]}\n")

    problems = refused(path)

    assert problems == ["reasons[0].reasons[0].reasons: unknown key (expected one of: code, name, loss_category, "
                        "planned)"]


@pytest.mark.parametrize(("kind", "field"), [("modbus_devices", "scan_interval"), ("opcua_endpoints", "publishing_interval")])
def test_a_device_interval_of_more_than_an_hour_is_refused(tmp_path: Path, kind: str, field: str) -> None:
    """A scan interval of 1e308 s was stored, and the device was then never read again."""
    document = demo_document()
    document[kind][0][field] = 1e308

    problems = refused(write(tmp_path, yaml.safe_dump(document)))

    assert len(problems) == 1 and problems[0].startswith(f"{kind}[0].{field}: ")
    assert "3600" in problems[0]
    assert not Machine.objects.exists()
