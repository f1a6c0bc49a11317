"""Admin for devices and signal maps: bad addresses, types and node ids refused; Read now; device health."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from monitoring.models import DeviceHealth, ModbusDevice, OpcUaEndpoint, SignalBinding
from monitoring.models.devices import is_opcua_node_id
from planning.models import Area, Line, Machine, Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def machine() -> Machine:
    site = Site.objects.create(code="demo", name="Demo Plant")
    area = Area.objects.create(site=site, code="packaging", name="Packaging")
    line = Line.objects.create(area=area, code="L1", name="Bottling line 1")
    return Machine.objects.create(line=line, code="L1-FILL", name="Filler", default_ideal_cycle_time=1.0)


@pytest.fixture
def modbus() -> ModbusDevice:
    return ModbusDevice.objects.create(code="dev-L1-FILL", host="127.0.0.1", port=15021)


@pytest.fixture
def opcua() -> OpcUaEndpoint:
    return OpcUaEndpoint.objects.create(code="opc-sim", url="opc.tcp://127.0.0.1:14840/oee/")


def management(prefix: str, total: int = 0, initial: int = 0) -> dict[str, int]:
    return {f"{prefix}-TOTAL_FORMS": total, f"{prefix}-INITIAL_FORMS": initial,
            f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000}


def modbus_device_data(device: ModbusDevice, bindings: list[dict]) -> dict:
    data = {
        "code": device.code, "name": "", "enabled": "on", "host": device.host, "port": device.port, "unit_id": 1,
        "word_order": "big", "byte_order": "big", "scan_interval": "1.0", "timeout": "1.0", "retries": 1,
        "reconnect_backoff": "1.0", **management("bindings", total=len(bindings)),
    }
    for index, binding in enumerate(bindings):
        data |= {f"bindings-{index}-{key}": value for key, value in {"scale": "1", "offset": "0", **binding}.items()}
    return data


def post_modbus_bindings(client: Client, device: ModbusDevice, *bindings: dict):
    return client.post(reverse("admin:monitoring_modbusdevice_change", args=[device.pk]),
                       modbus_device_data(device, list(bindings)))


def test_a_valid_modbus_signal_map_is_saved(admin_client: Client, machine: Machine, modbus: ModbusDevice) -> None:
    response = post_modbus_bindings(
        admin_client, modbus,
        {"machine": machine.pk, "signal": "running", "table": "holding", "address": 0, "data_type": "uint16", "bit": 0},
        {"machine": machine.pk, "signal": "total_count", "table": "holding", "address": 65534, "data_type": "uint32"},
    )

    assert response.status_code == 302
    assert sorted(modbus.bindings.values_list("signal", "address")) == [("running", 0), ("total_count", 65534)]


@pytest.mark.parametrize(
    ("binding", "message"),
    [
        ({"signal": "total_count", "table": "holding", "address": 65535, "data_type": "uint32"},
         "A uint32 takes 2 registers: starting at 65535 it runs past the last register"),
        ({"signal": "total_count", "table": "input", "address": 65533, "data_type": "uint64"},
         "A uint64 takes 4 registers"),
        ({"signal": "running", "table": "coil", "address": 3, "data_type": "uint16"},
         "Coils and discrete inputs hold single bits: the data type must be bool."),
        ({"signal": "running", "table": "holding", "address": 3, "data_type": "float32", "bit": 1},
         "A bit can only be read from an integer type, not from float32."),
        ({"signal": "running", "table": "holding", "address": 3, "data_type": "int16", "bit": 16},
         "A int16 has bits 0–15."),
        ({"signal": "total_count", "table": "holding", "address": 3, "data_type": "float32"},
         "total_count is a whole number: read it from an integer type"),
        ({"signal": "fault", "table": "input", "address": 3, "data_type": "float64"},
         "fault is on/off or a fault code: read it from bool or an integer type."),
        ({"signal": "running", "table": "holding", "address": 3},
         "A Modbus binding needs a register table, an address and a data type."),
        ({"signal": "running", "table": "holding", "address": 70000, "data_type": "uint16"},
         "Ensure this value is less than or equal to 65535."),
    ],
)
def test_a_modbus_binding_that_does_not_fit_is_refused(
    admin_client: Client, machine: Machine, modbus: ModbusDevice, binding: dict, message: str
) -> None:
    response = post_modbus_bindings(admin_client, modbus, {"machine": machine.pk, **binding})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not SignalBinding.objects.exists()


@pytest.mark.parametrize("node_id", ["Line1.Running", "ns=2;x=Line1", "ns=2;i=abc", "ns=70000;i=1", "ns=2;b=***",
                                     "ns=2;g=not-a-guid"])
def test_a_malformed_node_id_is_refused(admin_client: Client, machine: Machine, opcua: OpcUaEndpoint,
                                        node_id: str) -> None:
    data = {
        "code": opcua.code, "name": "", "enabled": "on", "url": opcua.url, "security_mode": "None",
        "security_policy": "None", "publishing_interval": "0.5", "sampling_interval": "0.25", "scan_interval": "1",
        "timeout": "2", "reconnect_backoff": "1", **management("bindings", total=1),
        "bindings-0-machine": machine.pk, "bindings-0-signal": "running", "bindings-0-node_id": node_id,
        "bindings-0-scale": "1", "bindings-0-offset": "0",
    }

    response = admin_client.post(reverse("admin:monitoring_opcuaendpoint_change", args=[opcua.pk]), data)

    assert response.status_code == 200
    assert "is not an OPC UA node id" in response.content.decode()
    assert not SignalBinding.objects.exists()


@pytest.mark.parametrize("node_id", ["ns=2;s=Line1.Filler.Running", "i=2258", "ns=0;i=2258",
                                     "ns=3;g=09087e75-8e5e-499b-954f-f2a9603db28a", "ns=1;b=M/RbKBsRVkePCePcx24oRA==",
                                     "nsu=http://example.com/UA/;s=Tank.Level", "ns=2;s=L1-LABEL.Running"])
def test_node_ids_in_opc_ua_syntax_are_accepted(node_id: str) -> None:
    assert is_opcua_node_id(node_id)


def test_a_binding_on_the_machine_page_needs_exactly_one_device(
    admin_client: Client, machine: Machine, modbus: ModbusDevice, opcua: OpcUaEndpoint
) -> None:
    data = {
        "line": machine.line.pk, "code": machine.code, "name": machine.name, "position": 0, "enabled": "on",
        "default_ideal_cycle_time": "1.0", "micro_stop_threshold": "120", "counter_bits": 16,
        "quality_counter": "reject_count", "startup_window": "600", "expected_interval": "60",
        "target_oee": "0.85", "warning_oee": "0.65", **management("fault_codes"),
        **management("signal_bindings", total=1),
        "signal_bindings-0-signal": "running", "signal_bindings-0-modbus_device": modbus.pk,
        "signal_bindings-0-opcua_endpoint": opcua.pk, "signal_bindings-0-table": "holding",
        "signal_bindings-0-address": 0, "signal_bindings-0-data_type": "uint16",
        "signal_bindings-0-node_id": "ns=2;s=X", "signal_bindings-0-scale": "1", "signal_bindings-0-offset": "0",
    }

    response = admin_client.post(reverse("admin:planning_machine_change", args=[machine.pk]), data)

    assert "Choose exactly one device" in response.content.decode()
    assert not SignalBinding.objects.exists()


def test_device_health_is_read_only_in_the_admin(admin_client: Client) -> None:
    health = DeviceHealth.objects.create(device_kind="modbus", device_code="dev-L1-FILL", consecutive_errors=3,
                                         last_error="timed out after 1.0 s", collector="worker-1")

    listing = admin_client.get(reverse("admin:monitoring_devicehealth_changelist"))
    detail = admin_client.get(reverse("admin:monitoring_devicehealth_change", args=[health.pk]))
    add = admin_client.get(reverse("admin:monitoring_devicehealth_add"))

    assert "timed out after 1.0 s" in listing.content.decode() and "worker-1" in listing.content.decode()
    assert detail.status_code == 200 and 'name="last_error"' not in detail.content.decode()
    assert add.status_code == 403


@dataclass
class FakeRow:
    machine_code: str
    signal: str
    raw: object
    value: object
    error: str | None = None


def test_read_now_shows_a_table_per_device(
    admin_client: Client, modbus: ModbusDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = ModbusDevice.objects.create(code="dev-L1-CAP", host="127.0.0.1", port=15022)

    def read_now(device):
        if device.code == "dev-L1-CAP":
            raise ConnectionRefusedError("connection refused")
        return [FakeRow("L1-FILL", "total_count", [0, 1234], 1234),
                FakeRow("L1-FILL", "running", [7], None, "illegal data address")]

    monkeypatch.setattr(ModbusDevice, "read_now", read_now)

    response = admin_client.post(reverse("admin:monitoring_modbusdevice_changelist"),
                                 {"action": "read_now", "_selected_action": [modbus.pk, other.pk]})

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="read-now-dev-L1-FILL"' in page and 'id="read-now-dev-L1-CAP"' in page
    assert "[0, 1234]" in page and "1234" in page and "illegal data address" in page
    assert "connection refused" in page


def test_read_now_reports_a_device_that_does_not_answer(
    admin_client: Client, machine: Machine, modbus: ModbusDevice
) -> None:
    with socket.socket() as probe_socket:  # a loopback port that nobody listens on once closed
        probe_socket.bind(("127.0.0.1", 0))
        modbus.port = probe_socket.getsockname()[1]
    modbus.timeout = 0.5
    modbus.save()
    SignalBinding.objects.create(machine=machine, signal="total_count", modbus_device=modbus, table="holding",
                                 address=2, data_type="uint16")

    response = admin_client.post(reverse("admin:monitoring_modbusdevice_changelist"),
                                 {"action": "read_now", "_selected_action": [modbus.pk]})

    page = response.content.decode()
    assert response.status_code == 200
    section = page[page.index('id="read-now-dev-L1-FILL"'):]
    assert "<td>total_count</td>" in section and "<td>L1-FILL</td>" in section
    assert f"cannot connect to 127.0.0.1:{modbus.port}" in section


def test_an_endpoints_secrets_stay_out_of_its_collector_settings_text_but_a_new_password_rebuilds_it(
    machine: Machine, opcua: OpcUaEndpoint,
) -> None:
    # The settings' text form may end up in a log; the spec's version must still see a new password.
    opcua.password, opcua.client_private_key = "s3cret-pass", "-----BEGIN PRIVATE KEY-----x"
    binding = SignalBinding.objects.create(machine=machine, signal="running", opcua_endpoint=opcua,
                                           node_id="ns=2;s=Run")
    settings = opcua.collector_settings([binding])
    assert "s3cret-pass" not in repr(settings) and "PRIVATE KEY" not in repr(settings)
    before = opcua.device_spec([binding]).version
    opcua.password = "another-pass"
    assert opcua.device_spec([binding]).version != before
