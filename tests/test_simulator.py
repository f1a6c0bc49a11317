"""The plant simulator: machine behaviour, reproducibility, serving over Modbus, fault injection, the command."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from django.core.management import call_command

from monitoring.collectors.modbus import ModbusCollector, ModbusSettings
from monitoring.lib.registers import RegisterBinding
from monitoring.simulator.behaviour import (
    CHANGEOVER,
    FAULT,
    MICRO_STOP,
    PACKML_ABORTED,
    PACKML_EXECUTE,
    RUNNING,
    SimulatedMachine,
)
from monitoring.simulator.modbus_server import DeviceSpec
from monitoring.simulator.plant import BackgroundPlant, Injection, MachineSpec, Plant, PlantSpec, load_plant_spec
from oee_site.redis_server import free_port

EIGHT_HOURS = 8 * 3600


def run(machine: SimulatedMachine, seconds: float, step: float = 1.0) -> SimulatedMachine:
    for _ in range(int(seconds / step)):
        machine.step(step)
    return machine


def test_the_same_seed_tells_the_same_story():
    a = run(SimulatedMachine("L1-FILL", ideal_cycle_time=1.2, seed=7), 3 * 3600)
    b = run(SimulatedMachine("L1-FILL", ideal_cycle_time=1.2, seed=7), 3 * 3600)
    c = run(SimulatedMachine("L1-FILL", ideal_cycle_time=1.2, seed=8), 3 * 3600)
    assert a.truth() == b.truth()
    assert a.truth() != c.truth()


def test_a_shift_has_production_near_ideal_rate_stops_faults_and_scrap():
    machine = run(SimulatedMachine("L1-FILL", ideal_cycle_time=1.0, seed=1), EIGHT_HOURS)
    truth = machine.truth()
    running = truth["seconds_in"][RUNNING]
    # Near but below the ideal rate while running.
    assert 0.85 * running <= machine.total_count <= running
    # Mostly running, yet every kind of loss shows up in a shift.
    assert 0.6 * EIGHT_HOURS < running < 0.98 * EIGHT_HOURS
    assert truth["stops"][MICRO_STOP] >= 50
    assert truth["stops"][FAULT] >= 3
    assert truth["stops"][CHANGEOVER] >= 1
    assert set(truth["faults_by_code"]) <= {"1", "2", "3", "4"}
    # Realistic durations: micro-stops under a minute, faults minutes long, changeovers 10-25 min.
    assert 5 <= truth["seconds_in"][MICRO_STOP] / truth["stops"][MICRO_STOP] <= 60
    assert 60 <= truth["seconds_in"][FAULT] / truth["stops"][FAULT] <= 1800
    assert 600 <= truth["seconds_in"][CHANGEOVER] / truth["stops"][CHANGEOVER] <= 1500
    assert 0.005 < machine.reject_count / machine.total_count < 0.05
    assert machine.good_count == machine.total_count - machine.reject_count


def test_a_stopped_machine_makes_no_parts_and_shows_why():
    machine = SimulatedMachine("L1-CAP", ideal_cycle_time=0.5, seed=2, packml=True)
    seen = {}
    for _ in range(EIGHT_HOURS):
        before = machine.total_count
        machine.step(1.0)
        seen.setdefault((machine.activity, machine.running, machine.fault_code > 0, machine.packml_state), 0)
        if machine.activity != RUNNING and before == machine.total_count:
            seen[(machine.activity, machine.running, machine.fault_code > 0, machine.packml_state)] += 1
    assert (RUNNING, True, False, PACKML_EXECUTE) in seen
    assert (FAULT, False, True, PACKML_ABORTED) in seen
    assert seen[(MICRO_STOP, False, False, 5)] > 0
    assert all(not running for (activity, running, _, _) in seen if activity != RUNNING)


def test_only_the_packml_machine_reports_packml():
    assert SimulatedMachine("A").packml_state is None
    assert SimulatedMachine("B", packml=True).packml_state == PACKML_EXECUTE


def test_a_plant_steps_in_fixed_steps_whatever_the_ticks():
    spec = PlantSpec(machines=(MachineSpec("M1", 0.5), MachineSpec("M2", 2.0)))
    a, b = Plant(spec, seed=3), Plant(spec, seed=3)
    a.machines = {m.code: SimulatedMachine(m.code, m.ideal_cycle_time, seed=3) for m in spec.machines}
    b.machines = {m.code: SimulatedMachine(m.code, m.ideal_cycle_time, seed=3) for m in spec.machines}
    for _ in range(3600):
        a.advance(1.0)
    for _ in range(1200):
        b.advance(3.0)
    assert a.truth()["machines"] == b.truth()["machines"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("dev-L1-CAP:hang@30+20", Injection("dev-L1-CAP", "hang", None, 30.0, 20.0)),
        ("dev-L2-PACK:exception=4", Injection("dev-L2-PACK", "exception", 4, 0.0, None)),
        ("dev-L1-FILL:stop@5", Injection("dev-L1-FILL", "stop", None, 5.0, None)),
    ],
)
def test_injections_parse(text, expected):
    assert Injection.parse(text) == expected


def test_a_bad_injection_says_what_is_wrong():
    with pytest.raises(ValueError, match="unknown fault 'explode'"):
        Injection.parse("dev-1:explode")


def demo_device(machine: str, port: int, packml: bool = False) -> DeviceSpec:
    bindings = [
        RegisterBinding((machine, "running"), "holding", 0, "uint16", bit=0),
        RegisterBinding((machine, "fault"), "holding", 1),
        RegisterBinding((machine, "total_count"), "holding", 2),
        RegisterBinding((machine, "reject_count"), "holding", 3),
    ]
    if packml:
        bindings.append(RegisterBinding((machine, "packml_state"), "holding", 4))
    return DeviceSpec(f"dev-{machine}", port, bindings=tuple(bindings))


async def read(spec: DeviceSpec) -> dict:
    collector = ModbusCollector(ModbusSettings(spec.code, spec.host, spec.port, timeout=0.5, retries=0,
                                               bindings=spec.bindings))
    await collector.connect()
    try:
        return {r.signal: r.value for r in await collector.read()}
    finally:
        await collector.close()


def test_served_counters_wrap_at_16_bits_while_the_truth_keeps_counting():
    device = demo_device("M1", free_port())
    spec = PlantSpec(machines=(MachineSpec("M1", 0.002),), modbus=(device,))
    with BackgroundPlant(Plant(spec, seed=1, counter_start=65_500)) as plant:
        time.sleep(0.5)
        plant.pause()
        truth = plant.machine("M1")
        served = plant.call(read, device)
    assert truth["total_count"] > 65_536
    assert served["total_count"] == truth["total_count"] % 65_536
    assert served["reject_count"] == truth["reject_count"] % 65_536
    assert served["running"] == truth["running"]


def test_faults_are_injected_per_device_and_healed():
    first, second = demo_device("M1", free_port()), demo_device("M2", free_port(), packml=True)
    spec = PlantSpec(machines=(MachineSpec("M1", 0.1), MachineSpec("M2", 0.1, packml=True)), modbus=(first, second))
    with BackgroundPlant(Plant(spec, seed=1)) as plant:
        assert plant.call(read, second)["packml_state"] == PACKML_EXECUTE
        plant.stop_device(first.code)
        with pytest.raises(Exception, match="cannot connect"):
            plant.call(read, first)
        assert plant.call(read, second)["running"] is True  # the other device is untouched
        plant.heal(first.code)
        assert plant.call(read, first)["running"] is True
        plant.answer_exception(first.code, 4)
        with pytest.raises(Exception, match="exception code 4"):
            plant.call(read, first)
        plant.heal(first.code)
        truth = plant.truth()
    assert truth["devices"][first.code]["mode"] == "healthy"
    assert truth["devices"][first.code]["function_codes"] == {"3": 2}  # one answered, one refused


async def test_scheduled_injections_fault_a_device_then_heal_it():
    device = demo_device("M1", free_port())
    plant = Plant(PlantSpec(machines=(MachineSpec("M1", 0.1),), modbus=(device,)), seed=1)
    await plant.start()
    try:
        served = plant.devices[device.code]
        schedule = asyncio.create_task(plant.run_injections([
            Injection.parse(f"{device.code}:hang@0.1+0.3"), Injection.parse(f"{device.code}:stop@0.5+0.2"),
        ]))
        await asyncio.sleep(0.25)
        assert served.mode == "hang"
        await asyncio.sleep(0.35)
        assert served.mode == "healthy" and not served.running
        await schedule
        assert served.running
        assert (await read(device))["running"] is True
    finally:
        await plant.stop()


@pytest.mark.django_db(transaction=True)
def test_simulate_plant_serves_the_configured_plant_and_reports_ground_truth(tmp_path):
    from monitoring.models import ModbusDevice, SignalBinding
    from planning.models import Area, Line, Machine, Site

    line = Line.objects.create(area=Area.objects.create(site=Site.objects.create(code="S", name="S"),
                                                        code="A", name="A"), code="L1", name="L1")
    port = free_port()
    filler = Machine.objects.create(line=line, code="L1-FILL", name="Filler", default_ideal_cycle_time=0.05)
    capper = Machine.objects.create(line=line, code="L1-CAP", name="Capper", default_ideal_cycle_time=0.05)
    device = ModbusDevice.objects.create(code="dev-L1", host="127.0.0.1", port=port)
    remote = ModbusDevice.objects.create(code="dev-remote", host="10.1.2.3", port=502)
    for machine, base in ((filler, 0), (capper, 10)):
        SignalBinding.objects.create(machine=machine, signal="running", modbus_device=device, table="holding",
                                     address=base, data_type="uint16", bit=0)
        SignalBinding.objects.create(machine=machine, signal="total_count", modbus_device=device, table="holding",
                                     address=base + 2, data_type="uint16")
    SignalBinding.objects.create(machine=capper, signal="packml_state", modbus_device=device, table="holding",
                                 address=14, data_type="uint16")
    SignalBinding.objects.create(machine=capper, signal="fault", modbus_device=remote, table="holding",
                                 address=1, data_type="uint16")

    spec = load_plant_spec()
    assert [d.code for d in spec.modbus] == ["dev-L1"]  # never pretends to be a device on the network
    assert {m.code: m.packml for m in spec.machines} == {"L1-FILL": False, "L1-CAP": True}

    report = tmp_path / "truth.json"
    call_command("simulate_plant", seed=5, duration=1.5, report_file=report, time_scale=10.0)
    truth = json.loads(report.read_text())
    assert truth["seed"] == 5
    assert set(truth["machines"]) == {"L1-FILL", "L1-CAP"}
    assert truth["machines"]["L1-FILL"]["total_count"] > 0
    assert truth["machines"]["L1-CAP"]["packml_state"] is not None
    assert truth["devices"]["dev-L1"]["port"] == port
