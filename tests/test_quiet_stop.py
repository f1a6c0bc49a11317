"""`make run`'s processes: the libraries' routine stays out of the log, and Ctrl-C stops them all without a traceback.

The Procfile's own commands under honcho, as `make run` runs them, on free ports with a private
Redis and a SQLite file of their own.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from oee_site.redis_server import free_port
from tests.processes import ROOT, kill

BIN = Path(sys.executable).parent


def wait_for(condition: Callable[[], object], timeout: float, what: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what()}")
        time.sleep(0.2)


def environment(tmp_path: Path, **more: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if name not in ("DATABASE_URL", "LOG_LEVEL", "OEE_THIRD_PARTY_LOG_LEVEL")}
    return env | {
        "DEBUG": "1", "OEE_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path / 'oee.sqlite3'}",
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "oee_site.settings",
    } | more


def set_up_plant(tmp_path: Path, env: dict[str, str]) -> tuple[int, int]:
    """Migrate, and import a line of two machines: one read over Modbus TCP, one over OPC UA.

    Returns the ports (Modbus, OPC UA) the simulator serves them on.
    """
    modbus_port, opcua_port = free_port(), free_port()
    document = {
        "sites": [{"code": "S", "name": "Site", "areas": [{"code": "A", "name": "Area"}]}],
        "lines": [{"code": "L1", "name": "Line 1", "area": "A", "machines": [
            {"code": "M-MB", "name": "Modbus machine", "default_ideal_cycle_time": 1.0, "expected_interval": 2},
            {"code": "M-UA", "name": "OPC UA machine", "default_ideal_cycle_time": 1.0, "expected_interval": 2},
        ]}],
        "modbus_devices": [{"code": "dev-mb", "host": "127.0.0.1", "port": modbus_port, "scan_interval": 0.5,
                            "signals": [
                                {"machine": "M-MB", "signal": "running", "table": "holding", "address": 0,
                                 "data_type": "uint16", "bit": 0},
                                {"machine": "M-MB", "signal": "total_count", "table": "holding", "address": 2,
                                 "data_type": "uint16"},
                            ]}],
        "opcua_endpoints": [{"code": "ua", "url": f"opc.tcp://127.0.0.1:{opcua_port}/oee/", "scan_interval": 0.5,
                             "signals": [
                                 {"machine": "M-UA", "signal": "running", "node_id": "ns=2;s=M-UA.Running"},
                                 {"machine": "M-UA", "signal": "total_count", "node_id": "ns=2;s=M-UA.TotalCount"},
                             ]}],
    }
    (tmp_path / "plant.yaml").write_text(yaml.safe_dump(document))
    (tmp_path / "var").mkdir(exist_ok=True)  # as scripts/run.sh makes it: beat keeps its schedule there
    for command in (["migrate", "--no-input", "-v", "0"], ["import_plant", str(tmp_path / "plant.yaml")]):
        subprocess.run([sys.executable, "manage.py", *command], env=env, cwd=ROOT, check=True, timeout=300,
                       capture_output=True)
    return modbus_port, opcua_port


def procfile(tmp_path: Path, redis_port: int, web_port: int) -> Path:
    """The project's Procfile, on this test's ports."""
    text = (ROOT / "Procfile").read_text()
    assert "-p 8000 " in text
    path = tmp_path / "Procfile"
    path.write_text(text.replace("${OEE_REDIS_PORT:-6390}", str(redis_port)).replace("-p 8000 ", f"-p {web_port} "))
    return path


def observations(tmp_path: Path, machine: str) -> int:
    with sqlite3.connect(tmp_path / "oee.sqlite3", timeout=30) as db:
        return db.execute(
            "SELECT count(*) FROM monitoring_observation o JOIN planning_machine m ON m.id = o.machine_id "
            "WHERE m.code = ? AND o.signal = 'total_count'", (machine,),
        ).fetchone()[0]


def test_ctrl_c_stops_every_process_without_a_traceback(tmp_path: Path) -> None:
    redis_port = free_port()
    env = environment(tmp_path, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")
    set_up_plant(tmp_path, env)
    log_path = tmp_path / "honcho.log"
    with log_path.open("wb") as log:
        honcho = subprocess.Popen(
            [str(BIN / "honcho"), "-f", str(procfile(tmp_path, redis_port, free_port())), "-d", str(ROOT), "start"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    output = lambda: log_path.read_text(errors="replace")  # noqa: E731
    try:
        # Collecting from both kinds of device, and beat has sent its first tasks (every 10 s).
        wait_for(lambda: observations(tmp_path, "M-MB") > 2 and observations(tmp_path, "M-UA") > 2, 240,
                 lambda: f"both machines collected; the log:\n{output()[-5000:]}")
        time.sleep(12)  # beat sends its first tasks 10 s after it starts: their routine must not show either
        assert honcho.poll() is None, output()[-5000:]

        honcho.send_signal(signal.SIGINT)  # Ctrl-C in make run's terminal
        honcho.wait(60)
    finally:
        kill(honcho)
    text = output()

    for name in ("redis", "web", "worker", "beat", "simulator"):
        assert f"{name}.1 stopped" in text, text[-5000:]
    stopping = text[text.index("SIGINT received"):]
    assert "Traceback" not in text, stopping
    assert " ERROR " not in stopping and "ERROR/" not in stopping, stopping
    assert "SIGKILL" not in stopping, stopping  # nobody had to be killed after honcho's 5 s
    # The libraries' routine stays out (it is INFO); the product's own INFO stays in.
    assert "collector process started" in text and "connected, subscribed" in text
    for routine in ("INFO asyncua", "INFO pymodbus", "INFO celery.app.trace", "INFO celery.worker.strategy",
                    "INFO celery.beat"):
        assert routine not in text, routine


@pytest.mark.parametrize("level, libraries_heard", [(None, False), ("INFO", True)])
def test_the_simulators_opc_ua_server_speaks_at_info_only_when_asked(
    tmp_path: Path, level: str | None, libraries_heard: bool
) -> None:
    env = environment(tmp_path, **({"OEE_THIRD_PARTY_LOG_LEVEL": level} if level else {}))
    set_up_plant(tmp_path, env)

    run = subprocess.run([sys.executable, "manage.py", "simulate_plant", "--duration", "3"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, run.stderr
    assert "serving ua over OPC UA" in run.stderr  # the product's own INFO, either way
    assert ("INFO asyncua" in run.stderr) is libraries_heard
    assert ("INFO pymodbus" in run.stderr) is libraries_heard


def test_a_log_level_that_is_not_one_stops_the_start_with_its_name(tmp_path: Path) -> None:
    env = environment(tmp_path, OEE_THIRD_PARTY_LOG_LEVEL="chatty")

    run = subprocess.run([sys.executable, "manage.py", "check"], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)

    assert run.returncode != 0
    assert "OEE_THIRD_PARTY_LOG_LEVEL='chatty' is not a log level" in run.stderr
