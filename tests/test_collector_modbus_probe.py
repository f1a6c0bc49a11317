"""The admin's "read now": a device model reads its map once through its collector and says what failed."""

from __future__ import annotations

import pytest

from monitoring.collectors.base import ProbeRow
from monitoring.models import ModbusDevice, OpcUaEndpoint, SignalBinding
from monitoring.simulator.plant import BackgroundPlant, Plant, load_plant_spec
from oee_site.redis_server import free_port
from planning.models import Area, Line, Machine, Site

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def machine() -> Machine:
    line = Line.objects.create(area=Area.objects.create(site=Site.objects.create(code="S", name="S"),
                                                        code="A", name="A"), code="L1", name="L1")
    return Machine.objects.create(line=line, code="L1-CAP", name="Capper", default_ideal_cycle_time=0.5)


def bind(machine: Machine, signal: str, device: ModbusDevice, address: int | None, **kwargs) -> SignalBinding:
    return SignalBinding.objects.create(machine=machine, signal=signal, modbus_device=device, table="holding",
                                        address=address, data_type=kwargs.pop("data_type", "uint16"), **kwargs)


def test_it_reads_every_binding_once(machine):
    device = ModbusDevice.objects.create(code="dev-L1-CAP", host="127.0.0.1", port=free_port(), timeout=0.5)
    bind(machine, "running", device, 0, bit=0)
    bind(machine, "total_count", device, 2)
    bind(machine, "packml_state", device, 4)
    plant = Plant(load_plant_spec(), seed=1, counter_start=65_540)
    plant.paused = True
    with BackgroundPlant(plant) as sim:
        rows = device.read_now()
        requests = sim.truth()["devices"]["dev-L1-CAP"]["function_codes"]
    assert rows == [
        ProbeRow("L1-CAP", "packml_state", 6, 6),
        ProbeRow("L1-CAP", "running", 1, True),
        ProbeRow("L1-CAP", "total_count", 4, 4),  # 65 540 wraps to 4 in a 16-bit register
    ]
    assert requests == {"3": 1}


def test_a_device_that_does_not_answer_gives_an_error_per_binding(machine):
    device = ModbusDevice.objects.create(code="dev-off", host="127.0.0.1", port=free_port(), timeout=0.3)
    bind(machine, "running", device, 0, bit=0)
    bind(machine, "total_count", device, 2)
    rows = device.read_now()
    assert [(r.signal, r.value) for r in rows] == [("running", None), ("total_count", None)]
    assert all("cannot connect" in r.error for r in rows)


def test_a_refused_block_does_not_hide_the_others(machine):
    device = ModbusDevice.objects.create(code="dev-L1-CAP", host="127.0.0.1", port=free_port(), timeout=0.5)
    bind(machine, "running", device, 0, bit=0)
    SignalBinding.objects.create(machine=machine, signal="total_count", modbus_device=device, table="input",
                                 address=2, data_type="uint16")
    with BackgroundPlant(Plant(load_plant_spec(), seed=1)) as sim:
        sim.call(sim.device("dev-L1-CAP").answer_exception, 2, {4})  # input registers refused
        rows = {r.signal: r for r in device.read_now()}
    assert rows["running"] == ProbeRow("L1-CAP", "running", 1, True)
    assert rows["total_count"].value is None and "exception code 2" in rows["total_count"].error


def test_a_binding_that_cannot_be_read_says_why(machine):
    device = ModbusDevice.objects.create(code="dev-bad", host="127.0.0.1", port=free_port())
    bind(machine, "total_count", device, None)
    (row,) = device.read_now()
    assert row.value is None and "address" in row.error


@pytest.mark.slow
def test_it_reads_an_opcua_endpoint_through_the_opcua_collector(machine):
    url = f"opc.tcp://127.0.0.1:{free_port()}/oee/"
    endpoint = OpcUaEndpoint.objects.create(code="ua-L1-CAP", url=url, timeout=2.0)
    for signal, name in (("running", "Running"), ("total_count", "TotalCount")):
        SignalBinding.objects.create(machine=machine, signal=signal, opcua_endpoint=endpoint,
                                     node_id=f"ns=2;s=L1-CAP.{name}")
    plant = Plant(load_plant_spec(), seed=1, counter_start=123)
    plant.paused = True
    with BackgroundPlant(plant) as sim:
        assert sim.truth()["opcua"] == ["ua-L1-CAP"]  # simulate_plant serves OPC UA endpoints too
        rows = endpoint.read_now()
    assert [(r.signal, r.value, r.error) for r in rows] == [("running", True, None), ("total_count", 123, None)]
