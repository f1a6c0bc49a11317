"""The product's own processes for tests that run them for real: a plant set up by a script, Celery workers.

Used by the supervision test (two workers, one killed) and the fault suite (tests/faults/).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent

# Machines read over Modbus every 0.5 s, expecting an observation at least every 2 s; argv[1] is
# {machine code: device port}, argv[2] (optional) the codes of machines without a device.
SETUP_SCRIPT = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from monitoring.models import ModbusDevice, SignalBinding
from planning.models import Area, Line, Machine, Site
line = Line.objects.create(area=Area.objects.create(site=Site.objects.create(code="S", name="S"),
                                                    code="A", name="A"), code="L", name="L")
for code, port in json.loads(sys.argv[1]).items():
    machine = Machine.objects.create(line=line, code=code, name=code, default_ideal_cycle_time=0.05,
                                     expected_interval=2.0)
    device = ModbusDevice.objects.create(code="dev-" + code, host="127.0.0.1", port=port, scan_interval=0.5,
                                         timeout=0.5, retries=0, reconnect_backoff=0.2)
    for signal, address, bit in (("running", 0, 0), ("total_count", 2, None)):
        SignalBinding.objects.create(machine=machine, signal=signal, modbus_device=device, table="holding",
                                     address=address, data_type="uint16", bit=bit)
for code in (json.loads(sys.argv[2]) if len(sys.argv) > 2 else []):
    Machine.objects.create(line=line, code=code, name=code, default_ideal_cycle_time=1.0, expected_interval=60)
"""


def set_up_plant(env: dict[str, str], ports: dict[str, int], without_device: list[str] = ()) -> None:
    subprocess.run([sys.executable, "-c", SETUP_SCRIPT, json.dumps(ports), json.dumps(list(without_device))],
                   env=env, cwd=ROOT, check=True, timeout=120)


def start_worker(env: dict[str, str], name: str, log: IO[bytes]) -> subprocess.Popen:
    """A Celery worker on the collect queue, as the Procfile runs it; it starts a collector when ready."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "oee_site", "worker", "-Q", "collect", "-c", "1",
         "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "-l", "info"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def kill(process: subprocess.Popen, how: int = signal.SIGKILL) -> None:
    """Send `how` to the process's whole group (a worker and its pool children) and wait for it."""
    if process.poll() is None:
        try:
            if os.getpgid(process.pid) == process.pid:
                os.killpg(process.pid, how)
            else:
                process.send_signal(how)
        except ProcessLookupError:
            pass
        process.wait(30)
