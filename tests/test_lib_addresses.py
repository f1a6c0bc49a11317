"""Where a device is (monitoring/lib/addresses.py), and the doors it guards: the admin and the plant file.

The admin once saved an OPC UA URL of `1` and a Modbus host of `06:00`; both models' clean()
now refuse what no collector could connect to, and import_plant runs the same clean().
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from monitoring.lib.addresses import host_problem, opcua_url_problem
from monitoring.models import ModbusDevice, OpcUaEndpoint


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "localhost", "plc-1", "plc-1.plant.example",
                                  "plc_1", "plc.local.", "::1", "fd00::5", "fe80::1%eth0"])
def test_a_host_name_or_an_ip_address_is_a_host(host):
    assert host_problem(host) is None


@pytest.mark.parametrize("host, problem", [
    ("06:00", "is not an IPv6 address"),
    ("1", "is not an IPv4 address"),
    ("360", "is not an IPv4 address"),
    ("10.0.0.256", "is not an IPv4 address"),
    ("1.2.3", "is not an IPv4 address"),
    ("[::1]", "without brackets"),
    ("-plc", "is not a host name"),
    ("plc 1", "is not a host name"),
    ("plc\x00", "is not a host name"),
    ("a" * 64, "is not a host name"),
    ("plc.123", "its last label may not be a number"),
    ("", "give a host name"),
])
def test_anything_else_is_not_and_the_problem_says_why(host, problem):
    assert problem in host_problem(host)


@pytest.mark.parametrize("url", ["opc.tcp://127.0.0.1:14840/oee/", "opc.tcp://plc-1:4840", "opc.tcp://plc-1",
                                 "opc.tcp://[fd00::5]:4840/server", "OPC.TCP://PLC-1:4840/"])
def test_an_opc_tcp_url_with_a_host_and_a_port_is_an_endpoint(url):
    assert opcua_url_problem(url) is None


@pytest.mark.parametrize("url, problem", [
    ("1", "is not an OPC UA URL"),
    ("http://plc-1:4840/", "is not an OPC UA URL"),
    ("opc.tcp://", "is not an OPC UA URL"),
    ("opc.tcp://plc-1:0/", "a port is a number from 1 to 65535, not 0"),
    ("opc.tcp://plc-1:70000/", "Port out of range"),
    ("opc.tcp://plc-1:x/", "Port could not be cast"),
    ("opc.tcp://plc-1:/", "has a ':' but no port"),
    ("opc.tcp://06:00", "'06' is not an IPv4 address"),
    ("opc.tcp://1:4840/", "is not an IPv4 address"),
    ("opc.tcp://fd00::5:4840/", "is not an OPC UA URL"),
    ("opc.tcp://[plc-1]:4840/", "is not an OPC UA URL"),
    ("opc.tcp://user:secret@plc-1:4840/", "in their own fields"),
    ("opc.tcp://plc-1:4840/?x=1", "no ?query"),
    ("opc.tcp://plc 1:4840/", "spaces or control characters"),
    ("opc.tcp://plc-1:4840/\x00", "spaces or control characters"),
])
def test_an_endpoint_url_that_is_not_one_is_refused_with_why(url, problem):
    assert problem in opcua_url_problem(url)


# --- the models' clean(): the admin and the plant file -------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("fields, field", [({"host": "06:00"}, "host"), ({"port": 0}, "port"),
                                           ({"host": "1"}, "host")])
def test_a_modbus_device_with_a_bad_host_or_port_does_not_validate(fields, field):
    device = ModbusDevice(**{"code": "dev-1", "host": "127.0.0.1", "port": 502, **fields})
    with pytest.raises(ValidationError) as error:
        device.full_clean()
    assert field in error.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["1", "opc.tcp://plc-1:0/", "opc.tcp://06:00"])
def test_an_opcua_endpoint_with_a_bad_url_does_not_validate(url):
    with pytest.raises(ValidationError) as error:
        OpcUaEndpoint(code="opc-1", url=url).full_clean()
    assert "url" in error.value.message_dict


@pytest.mark.django_db
def test_the_admin_refuses_a_modbus_host_of_0600_and_saves_nothing(admin_client: Client):
    data = {"code": "dev-1", "name": "", "enabled": "on", "host": "06:00", "port": 502, "unit_id": 1,
            "word_order": "big", "byte_order": "big", "scan_interval": "1.0", "timeout": "1.0", "retries": 1,
            "reconnect_backoff": "1.0", "bindings-TOTAL_FORMS": 0, "bindings-INITIAL_FORMS": 0,
            "bindings-MIN_NUM_FORMS": 0, "bindings-MAX_NUM_FORMS": 1000}
    response = admin_client.post(reverse("admin:monitoring_modbusdevice_add"), data)
    assert response.status_code == 200
    assert "is not an IPv6 address" in response.content.decode()
    assert not ModbusDevice.objects.exists()
    response = admin_client.post(reverse("admin:monitoring_modbusdevice_add"), {**data, "host": "10.0.0.5"})
    assert response.status_code == 302 and ModbusDevice.objects.get().host == "10.0.0.5"


@pytest.mark.django_db
@pytest.mark.parametrize("url, fields", [
    ("admin:planning_site_add", {"code": "S1", "name": "Berlin\x00", "time_zone": "UTC", "areas-TOTAL_FORMS": 0,
                                 "areas-INITIAL_FORMS": 0}),
    ("admin:planning_product_add", {"code": "P\x00", "name": "Lid", "cycle_times-TOTAL_FORMS": 0,
                                    "cycle_times-INITIAL_FORMS": 0}),
])
def test_the_admin_refuses_a_nul_in_a_text_field_as_a_form_error(admin_client: Client, url, fields):
    response = admin_client.post(reverse(url), fields)
    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()


PLANT = """
version: 1
modbus_devices:
  - code: dev-1
    host: {host}
opcua_endpoints:
  - code: opc-1
    url: {url}
"""


@pytest.mark.django_db
def test_import_plant_runs_the_same_checks_and_writes_nothing(tmp_path):
    path = tmp_path / "plant.yaml"
    path.write_text(PLANT.format(host="06:00", url="1"))
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_plant", str(path), stdout=StringIO(), stderr=err)
    problems = err.getvalue()
    assert "modbus_devices[0].host: '06:00' is not an IPv6 address" in problems
    assert "opcua_endpoints[0].url: '1' is not an OPC UA URL" in problems
    assert not ModbusDevice.objects.exists() and not OpcUaEndpoint.objects.exists()


@pytest.mark.django_db
def test_import_plant_reports_a_nul_in_a_code_instead_of_a_traceback(tmp_path):
    path = tmp_path / "plant.yaml"
    path.write_text(PLANT.format(host='"plc\\0"', url='"opc.tcp://plc-1:4840/"').replace("code: dev-1",
                                                                                       'code: "dev\\0"'))
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_plant", str(path), stdout=StringIO(), stderr=err)
    assert "modbus_devices[0].code: must be text, but it holds a NUL character" in err.getvalue()
    assert "modbus_devices[0].host: must be text, but it holds a NUL character" in err.getvalue()
