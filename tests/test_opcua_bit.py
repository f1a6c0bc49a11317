"""One bit of an OPC UA status word as a signal: in the plant file, in the admin, read by the collector."""

from __future__ import annotations

import asyncio
import socket
import time
from io import StringIO
from pathlib import Path

import pytest
import yaml
from asyncua import Server, ua
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from monitoring.collectors.base import CollectorError
from monitoring.collectors.opcua import OpcUaCollector
from monitoring.collectors.opcua_values import decode_value
from monitoring.models import OpcUaEndpoint, SignalBinding
from planning.models import Area, Line, Machine, Site

pytestmark = pytest.mark.django_db

STATUS_NODE = "ns=2;s=Filler.Status"
RUNNING_BIT = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def plant_file(tmp_path: Path, url: str, **signal: object) -> Path:
    """A plant of one machine whose running state is one bit of an OPC UA status word."""
    document = {
        "sites": [{"code": "S", "name": "Site", "areas": [{"code": "A", "name": "Area"}]}],
        "lines": [{"code": "L1", "name": "Line 1", "area": "A", "machines": [
            {"code": "L1-FILL", "name": "Filler", "default_ideal_cycle_time": 1.0},
        ]}],
        "opcua_endpoints": [{
            "code": "plc", "url": url, "publishing_interval": 0.05, "sampling_interval": 0.02, "timeout": 1.0,
            "signals": [
                {"machine": "L1-FILL", "signal": "running", "node_id": STATUS_NODE, "bit": RUNNING_BIT, **signal},
                {"machine": "L1-FILL", "signal": "total_count", "node_id": "ns=2;s=Filler.Count"},
            ],
        }],
    }
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def import_plant(path: Path) -> None:
    call_command("import_plant", str(path), stdout=StringIO(), stderr=StringIO())


def refused(path: Path) -> list[str]:
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_plant", str(path), stdout=StringIO(), stderr=err)
    return [line.removeprefix(f"{path}: ") for line in err.getvalue().splitlines()]


def test_import_plant_maps_a_bit_of_an_opc_ua_node_and_export_gives_it_back(tmp_path: Path) -> None:
    path = plant_file(tmp_path, "opc.tcp://127.0.0.1:4840/")

    import_plant(path)

    binding = SignalBinding.objects.get(machine__code="L1-FILL", signal="running")
    assert (binding.opcua_endpoint.code, binding.node_id, binding.bit) == ("plc", STATUS_NODE, RUNNING_BIT)
    assert SignalBinding.objects.get(signal="total_count").bit is None
    exported = yaml.safe_load(export())
    signals = {s["signal"]: s for s in exported["opcua_endpoints"][0]["signals"]}
    assert signals["running"] == {"machine": "L1-FILL", "signal": "running", "node_id": STATUS_NODE,
                                  "bit": RUNNING_BIT}
    assert "bit" not in signals["total_count"]
    # The export imported again changes nothing, and gives the same text.
    again = tmp_path / "again.yaml"
    again.write_text(export())
    out = StringIO()
    call_command("import_plant", str(again), stdout=out, stderr=StringIO())
    assert "0 created, 0 updated, 0 deleted" in out.getvalue()
    assert export() == again.read_text()


def export() -> str:
    out = StringIO()
    call_command("export_plant", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_leaving_the_bit_out_of_the_file_removes_it(tmp_path: Path) -> None:
    import_plant(plant_file(tmp_path, "opc.tcp://127.0.0.1:4840/"))
    document = yaml.safe_load((tmp_path / "plant.yaml").read_text())
    del document["opcua_endpoints"][0]["signals"][0]["bit"]
    (tmp_path / "plant.yaml").write_text(yaml.safe_dump(document))

    import_plant(tmp_path / "plant.yaml")

    assert SignalBinding.objects.get(signal="running").bit is None


@pytest.mark.parametrize(
    "signal, expected",
    [
        ({"bit": 2.5}, "opcua_endpoints[0].signals[0].bit: must be a whole number"),
        ({"bit": "3"}, "opcua_endpoints[0].signals[0].bit: must be a whole number"),
        ({"bit": 64}, "opcua_endpoints[0].signals[0].bit: Ensure this value is less than or equal to 63."),
        ({"bit": -1}, "opcua_endpoints[0].signals[0].bit: Ensure this value is greater than or equal to 0."),
        ({"bit": 0, "signal": "packml_state"},
         "opcua_endpoints[0].signals[0].bit: packml_state is not on/off: one bit can only carry running or fault."),
        ({"bit": 0, "scale": 2.0}, "opcua_endpoints[0].signals[0].bit: A bit is on or off: it takes no scale or offset."),
    ],
)
def test_import_plant_refuses_a_bit_that_cannot_be_read(tmp_path: Path, signal: dict, expected: str) -> None:
    problems = refused(plant_file(tmp_path, "opc.tcp://127.0.0.1:4840/", **signal))

    assert expected in problems
    assert not SignalBinding.objects.exists() and not OpcUaEndpoint.objects.exists()


def test_a_bit_on_a_counter_of_an_opc_ua_node_is_refused(tmp_path: Path) -> None:
    path = plant_file(tmp_path, "opc.tcp://127.0.0.1:4840/")
    document = yaml.safe_load(path.read_text())
    document["opcua_endpoints"][0]["signals"][1]["bit"] = 0
    path.write_text(yaml.safe_dump(document))

    assert ("opcua_endpoints[0].signals[1].bit: total_count is not on/off: one bit can only carry running or fault."
            in refused(path))


def test_a_bit_past_the_width_of_the_nodes_type_is_refused_when_read() -> None:
    assert decode_value("running", ua.Variant(1 << 15, ua.VariantType.UInt16), bit=15) is True
    assert decode_value("fault", ua.Variant(-(1 << 63), ua.VariantType.Int64), bit=63) is True
    with pytest.raises(CollectorError, match="bit 16 is not in a UInt16, which has bits 0–15"):
        decode_value("running", ua.Variant(1, ua.VariantType.UInt16), bit=16)
    with pytest.raises(CollectorError, match="bit 8 is not in a Byte"):
        decode_value("running", ua.Variant(1, ua.VariantType.Byte), bit=8)
    with pytest.raises(CollectorError, match="needs an integer value, got Double"):
        decode_value("running", ua.Variant(8.0, ua.VariantType.Double), bit=3)


async def read_running_states(url: str, settings, words: list[int]) -> list[bool]:
    """Serve a UInt16 status word at STATUS_NODE; set it to each of `words` in turn and collect what the
    collector, built from the stored map, reads as `running` after each."""
    server = Server()
    await server.init()
    server.set_endpoint(url)
    namespace = await server.register_namespace("urn:test:plc")
    assert namespace == 2
    filler = await server.nodes.objects.add_object(ua.NodeId("Filler", namespace), "Filler")
    status = await filler.add_variable(ua.NodeId("Filler.Status", namespace), "Status",
                                       ua.Variant(0, ua.VariantType.UInt16))
    await filler.add_variable(ua.NodeId("Filler.Count", namespace), "Count", ua.Variant(0, ua.VariantType.UInt32))
    seen = []
    async with server:
        collector = OpcUaCollector(settings)
        await collector.connect()
        try:
            for word in words:
                await status.write_value(ua.Variant(word, ua.VariantType.UInt16))
                expected = bool(word >> RUNNING_BIT & 1)
                deadline = time.monotonic() + 20
                value = None
                while value is not expected:
                    assert time.monotonic() < deadline, f"running never became {expected} for word {word:#06b}"
                    for reading in await collector.read():
                        if reading.signal == "running":
                            value = reading.value
                    await asyncio.sleep(0.02)
                seen.append(value)
        finally:
            await collector.close()
    return seen


def test_the_collector_reads_the_running_bit_of_a_status_word_from_a_real_server(tmp_path: Path) -> None:
    url = f"opc.tcp://127.0.0.1:{free_port()}/plc/"
    import_plant(plant_file(tmp_path, url))
    endpoint = OpcUaEndpoint.objects.get(code="plc")
    settings = endpoint.collector_settings(list(endpoint.bindings.select_related("machine")))
    assert [(b.signal, b.bit) for b in settings.bindings if b.signal == "running"] == [("running", RUNNING_BIT)]

    # Other bits of the word change too: only bit 3 says whether the filler runs.
    words = [0b0000_1000, 0b0111_0111, 0b1000_1001, 0b1111_0000_0000_0000]
    assert asyncio.run(read_running_states(url, settings, words)) == [True, False, True, False]


@pytest.fixture
def machine() -> Machine:
    area = Area.objects.create(site=Site.objects.create(code="S", name="Site"), code="A", name="Area")
    line = Line.objects.create(area=area, code="L1", name="Line 1")
    return Machine.objects.create(line=line, code="L1-FILL", name="Filler", default_ideal_cycle_time=1.0)


def post_opcua_binding(client: Client, endpoint: OpcUaEndpoint, machine: Machine, **binding: object):
    data = {
        "code": endpoint.code, "name": "", "enabled": "on", "url": endpoint.url, "security_mode": "None",
        "security_policy": "None", "publishing_interval": "0.5", "sampling_interval": "0.25", "scan_interval": "1",
        "timeout": "2", "reconnect_backoff": "1", "bindings-TOTAL_FORMS": 1, "bindings-INITIAL_FORMS": 0,
        "bindings-MIN_NUM_FORMS": 0, "bindings-MAX_NUM_FORMS": 1000,
    }
    data |= {f"bindings-0-{key}": value for key, value in {
        "machine": machine.pk, "signal": "running", "node_id": STATUS_NODE, "scale": "1", "offset": "0", **binding,
    }.items()}
    return client.post(reverse("admin:monitoring_opcuaendpoint_change", args=[endpoint.pk]), data)


def test_the_admin_maps_a_bit_of_an_opc_ua_node(admin_client: Client, machine: Machine) -> None:
    endpoint = OpcUaEndpoint.objects.create(code="plc", url="opc.tcp://127.0.0.1:4840/")
    page = admin_client.get(reverse("admin:monitoring_opcuaendpoint_change", args=[endpoint.pk])).content.decode()
    assert 'name="bindings-__prefix__-bit"' in page

    response = post_opcua_binding(admin_client, endpoint, machine, bit="3")

    assert response.status_code == 302, response.content.decode()[:2000]
    assert SignalBinding.objects.get(machine=machine, signal="running").bit == 3


@pytest.mark.parametrize(
    "binding, message",
    [
        ({"signal": "total_count", "bit": "0"}, "total_count is not on/off: one bit can only carry running or fault."),
        ({"bit": "64"}, "Ensure this value is less than or equal to 63."),
        ({"bit": "1.5"}, "Enter a whole number."),
        ({"bit": "2", "scale": "10"}, "A bit is on or off: it takes no scale or offset."),
    ],
)
def test_the_admin_refuses_a_bit_that_cannot_be_read(
    admin_client: Client, machine: Machine, binding: dict, message: str
) -> None:
    endpoint = OpcUaEndpoint.objects.create(code="plc", url="opc.tcp://127.0.0.1:4840/")

    response = post_opcua_binding(admin_client, endpoint, machine, **binding)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not SignalBinding.objects.exists()
