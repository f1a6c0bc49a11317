"""The simulated plant: machines stepped on one clock, served over Modbus TCP and OPC UA on loopback.

`load_plant_spec()` reads the configured devices and bindings from the database (only devices
on loopback addresses: the simulator never pretends to be a real PLC on the network). `Plant`
runs it on an asyncio loop; `BackgroundPlant` runs a plant in a thread and gives tests a
synchronous handle for ground truth and fault injection.

Time scale: the plant's story (stops, faults, changeovers) runs `time_scale` times faster than
real time, while parts still come at the machine's ideal rate in real time (its simulated
cycle time is the configured one × `time_scale`), so what the collector reads stays physically
plausible to the pipeline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from monitoring.lib.registers import COIL, DISCRETE, RegisterBinding
from monitoring.simulator.behaviour import Profile, SimulatedMachine
from monitoring.simulator.modbus_server import ATTRIBUTE_FOR_SIGNAL, DeviceSpec, SimulatedModbusDevice

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MachineSpec:
    code: str
    ideal_cycle_time: float
    """Seconds per part at ideal speed, in real time."""
    packml: bool = False


@dataclass(frozen=True)
class OpcUaSpec:
    code: str
    url: str
    machines: tuple[str, ...]


@dataclass(frozen=True)
class PlantSpec:
    machines: tuple[MachineSpec, ...] = ()
    modbus: tuple[DeviceSpec, ...] = ()
    opcua: tuple[OpcUaSpec, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.modbus or self.opcua)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_plant_spec() -> PlantSpec:
    """The enabled loopback devices of the database, their bindings and machines."""
    from monitoring.models import ModbusDevice, OpcUaEndpoint, SignalBinding

    bindings = list(
        SignalBinding.objects.filter(machine__enabled=True)
        .select_related("machine", "modbus_device", "opcua_endpoint").order_by("pk")
    )
    machines: dict[str, MachineSpec] = {}
    modbus: dict[str, list[SignalBinding]] = {}
    opcua: dict[str, list[SignalBinding]] = {}
    for binding in bindings:
        if binding.signal not in ATTRIBUTE_FOR_SIGNAL:
            continue
        device = binding.modbus_device
        if device is not None and device.enabled and is_loopback(device.host):
            modbus.setdefault(device.code, []).append(binding)
        endpoint = binding.opcua_endpoint
        if endpoint is not None and endpoint.enabled and is_loopback(urlparse(endpoint.url).hostname or ""):
            opcua.setdefault(endpoint.code, []).append(binding)
        if (device is not None and device.code in modbus) or (endpoint is not None and endpoint.code in opcua):
            machine = binding.machine
            known = machines.get(machine.code)
            packml = (known is not None and known.packml) or binding.signal == "packml_state"
            machines[machine.code] = MachineSpec(machine.code, machine.default_ideal_cycle_time, packml)

    modbus_specs = []
    for device in ModbusDevice.objects.filter(code__in=modbus).order_by("code"):
        modbus_specs.append(DeviceSpec(
            code=device.code, host=device.host, port=device.port, unit_id=device.unit_id,
            word_order=device.word_order, byte_order=device.byte_order,
            bindings=tuple(
                RegisterBinding(
                    key=(b.machine.code, b.signal), table=b.table, address=b.address,
                    data_type=b.data_type or ("bool" if b.table in (COIL, DISCRETE) else "uint16"),
                    bit=b.bit, scale=b.scale, offset=b.offset,
                )
                for b in modbus[device.code]
            ),
        ))
    opcua_specs = [
        OpcUaSpec(endpoint.code, endpoint.url, tuple(dict.fromkeys(b.machine.code for b in opcua[endpoint.code])))
        for endpoint in OpcUaEndpoint.objects.filter(code__in=opcua).order_by("code")
    ]
    return PlantSpec(tuple(machines.values()), tuple(modbus_specs), tuple(opcua_specs))


@dataclass(frozen=True)
class Injection:
    """A fault to inject into one device at a time after start, optionally for a while."""

    device: str
    fault: str
    argument: int | None = None
    at: float = 0.0
    duration: float | None = None

    FAULTS = ("drop", "hang", "exception", "garbage", "stop", "restart")

    @classmethod
    def parse(cls, text: str) -> Injection:
        """`DEVICE:FAULT[=ARG][@SECONDS][+SECONDS]`, e.g. `dev-L1-CAP:hang@30+20` or `dev-L2-PACK:exception=4`."""
        try:
            device, rest = text.split(":", 1)
            duration = None
            if "+" in rest:
                rest, duration_text = rest.rsplit("+", 1)
                duration = float(duration_text)
            at = 0.0
            if "@" in rest:
                rest, at_text = rest.rsplit("@", 1)
                at = float(at_text)
            argument = None
            if "=" in rest:
                rest, argument_text = rest.split("=", 1)
                argument = int(argument_text)
        except ValueError:
            raise ValueError(f"{text!r}: expected DEVICE:FAULT[=ARG][@AT][+FOR], e.g. dev-L1-CAP:hang@30+20") from None
        if rest not in cls.FAULTS:
            raise ValueError(f"{text!r}: unknown fault {rest!r}; expected one of {', '.join(cls.FAULTS)}")
        return cls(device, rest, argument, at, duration)


class Plant:
    """Simulated machines and the devices that serve them, on the running event loop."""

    def __init__(
        self,
        spec: PlantSpec,
        *,
        seed: int = 0,
        time_scale: float = 1.0,
        step: float = 0.1,
        tick: float = 0.05,
        counter_start: int = 0,
        profile: Profile | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("the time scale must be positive")
        self.spec = PlantSpec()
        self.seed = seed
        self.time_scale = time_scale
        self.step = step
        self.tick = tick
        self.counter_start = counter_start
        self.profile = profile or Profile()
        self.machines: dict[str, SimulatedMachine] = {}
        self.devices: dict[str, SimulatedModbusDevice] = {}
        self.opcua: dict[str, object] = {}
        self.paused = False
        self.sim_seconds = 0.0
        self._pending = spec
        self._debt = 0.0
        self._task: asyncio.Task | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        await self.reconfigure(self._pending)
        self._task = asyncio.create_task(self._run_clock(), name="plant clock")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for device in self.devices.values():
            await device.stop()
        for server in self.opcua.values():
            await _stop_opcua(server)

    async def reconfigure(self, spec: PlantSpec) -> None:
        """Serve `spec`: machines keep their counts by code; changed devices are restarted."""
        for machine in spec.machines:
            if machine.code not in self.machines:
                self.machines[machine.code] = SimulatedMachine(
                    machine.code, ideal_cycle_time=machine.ideal_cycle_time * self.time_scale, seed=self.seed,
                    packml=machine.packml, total_count=self.counter_start, profile=self.profile,
                )
        old = {d.code: d for d in self.spec.modbus}
        new = {d.code: d for d in spec.modbus}
        for code, device_spec in old.items():
            if new.get(code) != device_spec:
                await self.devices.pop(code).stop()
        for code, device_spec in new.items():
            if code in self.devices:
                continue
            device = SimulatedModbusDevice(device_spec, self.machines, seed=self.seed)
            try:
                await device.start()
            except (OSError, RuntimeError) as error:
                logger.error("%s: cannot serve Modbus on %s:%s: %s", code, device_spec.host, device_spec.port, error)
            self.devices[code] = device
            logger.info("serving %s on %s:%s (%d signals)", code, device_spec.host, device_spec.port,
                        len(device_spec.bindings))
        old_ua = {e.code: e for e in self.spec.opcua}
        new_ua = {e.code: e for e in spec.opcua}
        for code, endpoint in old_ua.items():
            if new_ua.get(code) != endpoint and code in self.opcua:
                await _stop_opcua(self.opcua.pop(code))
        for code, endpoint in new_ua.items():
            if code not in self.opcua:
                server = await _start_opcua(endpoint, [self.machines[m] for m in endpoint.machines])
                if server is not None:
                    self.opcua[code] = server
        self.spec = spec

    async def _run_clock(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.tick)
            now = loop.time()
            if not self.paused:
                self.advance((now - last) * self.time_scale)
            last = now

    def advance(self, sim_seconds: float) -> None:
        """Step every machine by `sim_seconds`, in fixed steps so a seed always tells the same story."""
        self._debt += sim_seconds
        steps = int(self._debt / self.step + 1e-9)
        self._debt -= steps * self.step
        for _ in range(steps):
            for machine in self.machines.values():
                machine.step(self.step)
        self.sim_seconds += steps * self.step

    # -- reporting and faults ------------------------------------------------------------

    def truth(self) -> dict:
        """Ground truth: each machine's true counts and state, and each device's fault mode and requests."""
        return {
            "seed": self.seed,
            "time_scale": self.time_scale,
            "sim_seconds": round(self.sim_seconds, 3),
            "paused": self.paused,
            "machines": {code: m.truth() for code, m in sorted(self.machines.items())},
            "devices": {
                code: {
                    "port": d.spec.port, "serving": d.running, "mode": d.mode,
                    "function_codes": {str(k): v for k, v in sorted(d.function_codes.items())},
                }
                for code, d in sorted(self.devices.items())
            },
            "opcua": sorted(self.opcua),
        }

    def write_report(self, path: Path) -> None:
        """Write the ground truth as JSON, atomically (readers never see half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps({"written": time.time(), **self.truth()}, indent=1))
        temporary.replace(path)

    async def inject(self, injection: Injection) -> None:
        device = self.devices.get(injection.device)
        if device is None:
            raise KeyError(f"no simulated Modbus device {injection.device!r}; have {', '.join(self.devices)}")
        fault = injection.fault
        logger.info("injecting %s into %s", fault, injection.device)
        if fault == "drop":
            device.drop_connections()
        elif fault == "hang":
            device.hang()
        elif fault == "exception":
            device.answer_exception(injection.argument or 4)
        elif fault == "garbage":
            device.answer_garbage()
        elif fault == "stop":
            await device.stop()
        elif fault == "restart":
            await device.restart()

    async def heal(self, code: str) -> None:
        device = self.devices[code]
        device.heal()
        if not device.running:
            await device.start()

    async def run_injections(self, injections: Iterable[Injection]) -> None:
        """Apply scheduled injections (seconds of real time from now), healing each after its duration."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        events: list[tuple[float, str, Injection]] = []
        for injection in injections:
            events.append((injection.at, "inject", injection))
            if injection.duration is not None:
                events.append((injection.at + injection.duration, "heal", injection))
        for at, action, injection in sorted(events, key=lambda e: e[0]):
            await asyncio.sleep(max(0.0, started + at - loop.time()))
            try:
                if action == "inject":
                    await self.inject(injection)
                else:
                    logger.info("healing %s", injection.device)
                    await self.heal(injection.device)
            except KeyError as error:
                logger.error("%s", error)


async def _start_opcua(endpoint: OpcUaSpec, machines: list[SimulatedMachine]):
    try:
        from monitoring.simulator import opcua_server
    except ImportError as error:
        logger.warning("%s: OPC UA simulator unavailable (%s); not serving %s", endpoint.code, error, endpoint.url)
        return None
    try:
        if hasattr(opcua_server, "SimulatorOpcUaServer"):
            server = opcua_server.SimulatorOpcUaServer(machines, endpoint.url)
            await server.start()
            logger.info("serving %s over OPC UA at %s", endpoint.code, endpoint.url)
            return server
        return asyncio.create_task(opcua_server.serve_opcua(machines, endpoint.url), name=f"opcua {endpoint.code}")
    except Exception:  # noqa: BLE001 - one endpoint failing must not stop the plant
        logger.exception("%s: cannot serve OPC UA at %s", endpoint.code, endpoint.url)
        return None


async def _stop_opcua(server) -> None:
    if isinstance(server, asyncio.Task):
        server.cancel()
        return
    try:
        await server.stop()
    except Exception:  # noqa: BLE001
        logger.exception("stopping an OPC UA simulator failed")


class BackgroundPlant:
    """A `Plant` on its own event loop in a thread, with a synchronous handle for tests.

    with BackgroundPlant(Plant(spec, seed=1, time_scale=20)) as plant:
        plant.hang("dev-L1-CAP"); plant.truth()["machines"]["L1-CAP"]["total_count"]
    """

    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="plant", daemon=True)
        self._ready: Future = Future()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.plant.start())
        except BaseException as error:  # noqa: BLE001 - handed to the starting thread
            self._ready.set_exception(error)
            return
        self._ready.set_result(True)
        self.loop.run_forever()
        self.loop.run_until_complete(self.plant.stop())
        self.loop.close()

    def __enter__(self) -> BackgroundPlant:
        self._thread.start()
        self._ready.result(timeout=30)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)

    def call(self, fn: Callable, *args, timeout: float = 30):
        """Run `fn(*args)` (a function or coroutine function) on the plant's loop; return its result."""
        async def run():
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def truth(self) -> dict:
        return self.call(self.plant.truth)

    def machine(self, code: str) -> dict:
        return self.truth()["machines"][code]

    def device(self, code: str) -> SimulatedModbusDevice:
        return self.plant.devices[code]

    def pause(self) -> None:
        self.call(setattr, self.plant, "paused", True)

    def resume(self) -> None:
        self.call(setattr, self.plant, "paused", False)

    def inject(self, device: str, fault: str, argument: int | None = None) -> None:
        self.call(self.plant.inject, Injection(device, fault, argument))

    def heal(self, device: str) -> None:
        self.call(self.plant.heal, device)

    def stop_device(self, device: str) -> None:
        self.inject(device, "stop")

    def start_device(self, device: str) -> None:
        self.call(self.plant.devices[device].start)

    def hang(self, device: str) -> None:
        self.inject(device, "hang")

    def garbage(self, device: str) -> None:
        self.inject(device, "garbage")

    def answer_exception(self, device: str, code: int = 4) -> None:
        self.inject(device, "exception", code)

    def drop(self, device: str) -> None:
        self.inject(device, "drop")

    def restart(self, device: str) -> None:
        self.inject(device, "restart")

