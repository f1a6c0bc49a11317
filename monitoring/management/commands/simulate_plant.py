"""`manage.py simulate_plant`: serve the configured plant's loopback devices with simulated machines."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from monitoring.simulator.plant import Injection, Plant, load_plant_spec

logger = logging.getLogger("monitoring.simulator")


class Command(BaseCommand):
    help = (
        "Serve every enabled Modbus TCP device and OPC UA endpoint on a loopback address with simulated "
        "machines (near ideal rate, micro-stops, faults, changeovers, scrap, 16-bit counters rolling over). "
        "Reproducible with --seed; the ground truth is written to --report-file every second."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seed", type=int, default=1, help="Seed of every machine's story (default 1).")
        parser.add_argument(
            "--time-scale", type=float, default=1.0,
            help="Run stops, faults and changeovers this many times faster than real time (parts still "
                 "come at each machine's ideal rate).",
        )
        parser.add_argument(
            "--report-file", type=Path, default=Path(settings.VAR_DIR) / "simulator.json",
            help="Where to write the ground truth (JSON, replaced every --report-every seconds).",
        )
        parser.add_argument("--report-every", type=float, default=1.0)
        parser.add_argument("--counter-start", type=int, default=0,
                            help="Initial part count of every machine (e.g. 65000 to see a 16-bit rollover soon).")
        parser.add_argument(
            "--inject", action="append", default=[], metavar="DEVICE:FAULT[=ARG][@AT][+FOR]",
            help="Inject a fault: drop, hang, exception[=CODE], garbage, stop or restart, AT seconds after "
                 "start, healed after FOR seconds. Repeatable. E.g. --inject dev-L1-CAP:hang@30+20",
        )
        parser.add_argument("--duration", type=float, default=0.0,
                            help="Stop after this many seconds (0: run until stopped).")
        parser.add_argument("--reload-every", type=float, default=10.0,
                            help="Re-read the configuration this often, serving devices added or changed in admin.")

    def handle(self, *args, **options) -> None:
        try:
            injections = [Injection.parse(text) for text in options["inject"]]
        except ValueError as error:
            raise CommandError(str(error)) from None
        if options["time_scale"] <= 0:
            raise CommandError("--time-scale must be positive")
        asyncio.run(self._simulate(injections, **options))

    async def _simulate(self, injections: list[Injection], **options) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if options["duration"]:
            loop.call_later(options["duration"], stop.set)

        spec = await asyncio.to_thread(load_plant_spec)
        while spec.empty and not stop.is_set():
            self.stderr.write(
                "No enabled Modbus device or OPC UA endpoint on a loopback address has bindings yet "
                "(load the demo with `manage.py import_plant demo/plant.yaml`); checking again in 5 s."
            )
            await _wait(stop, 5.0)
            spec = await asyncio.to_thread(load_plant_spec)
        if stop.is_set():
            return
        plant = Plant(spec, seed=options["seed"], time_scale=options["time_scale"],
                      counter_start=options["counter_start"])
        await plant.start()
        for device in plant.devices.values():
            self.stdout.write(f"{device.spec.code}: Modbus TCP on {device.spec.host}:{device.spec.port}")
        for code in plant.opcua:
            self.stdout.write(f"{code}: OPC UA")
        self.stdout.write(f"Simulating {len(plant.machines)} machines (seed {options['seed']}, "
                          f"time scale {options['time_scale']:g}); ground truth in {options['report_file']}")
        injector = asyncio.create_task(plant.run_injections(injections)) if injections else None
        report_file: Path = options["report_file"]
        last_reload = loop.time()
        try:
            while not stop.is_set():
                plant.write_report(report_file)
                await _wait(stop, options["report_every"])
                if options["reload_every"] and loop.time() - last_reload >= options["reload_every"]:
                    last_reload = loop.time()
                    try:
                        fresh = await asyncio.to_thread(load_plant_spec)
                    except Exception:  # noqa: BLE001 - keep serving what we have
                        logger.exception("re-reading the plant configuration failed")
                        continue
                    if fresh != plant.spec:
                        self.stdout.write("Configuration changed: serving the new one.")
                        await plant.reconfigure(fresh)
        finally:
            if injector is not None:
                injector.cancel()
            plant.write_report(report_file)
            await plant.stop()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout=seconds)
    except TimeoutError:
        pass
