"""A real plant server for the browser tests: daphne in a subprocess, a file SQLite database, Redis.

The demo plant (demo/plant.yaml) is loaded with the project's own commands, three hours of
history are imported as CSV, and Debian's Chromium is driven through Playwright's sync API.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.browser.plant_data import MACHINES, history_csv

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("OEE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PASSWORD = "browser-test-password-1"
SCREENSHOTS = ROOT / "screenshots"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PlantServer:
    """daphne serving the project against its own database; `manage` runs commands on the same one."""

    def __init__(self, workdir: Path, redis_url: str) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / "daphne.log", "ab")
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{workdir / 'plant.sqlite3'}",
            "REDIS_URL": redis_url,
            "OEE_VAR_DIR": str(workdir),
            "OEE_DEMO_PASSWORD": PASSWORD,
            "DJANGO_SETTINGS_MODULE": "oee_site.settings",
            "DEBUG": "1",
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen | None = None

    def manage(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, input=stdin,
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def import_csv(self, text: str) -> str:
        return self.manage("import_observations", "-", stdin=text)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "oee_site.asgi:application"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.process.returncode}; see {self.log.name}")
            try:
                urllib.request.urlopen(self.base_url + "/accounts/login/", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"daphne did not answer on {self.base_url} within 20 s; see {self.log.name}")

    def kill(self) -> None:
        """Stop daphne the hard way, as a crash or a pulled plug would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def heartbeat(self, machines: Iterable[str] = MACHINES) -> None:
        """A fresh `connected` reading of each machine: none has gone quiet (no-data), no state changes."""
        now = datetime.now(UTC).isoformat()
        self.import_csv("ts,machine,signal,value\n" + "".join(f"{now},{code},connected,true\n" for code in machines))


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium (make chromium) to run the browser tests")
    return CHROMIUM


@pytest.fixture(scope="package")
def plant_server(tmp_path_factory, redis_url, chromium_path) -> Iterator[PlantServer]:
    """The demo plant with three hours of history on a running daphne, shared by the browser tests."""
    server = PlantServer(tmp_path_factory.mktemp("plant"), redis_url)
    server.manage("migrate", "--verbosity", "0")
    # import_plant and demo_users in one process (each start of Django costs a second or two),
    # then running work orders before the history, so its parts count towards them.
    server.manage("shell", "--verbosity", "0", "-c", PLANT)
    now = datetime.now(UTC).replace(microsecond=0)
    server.import_csv(history_csv(now - timedelta(hours=3), now))
    server.start()
    yield server
    server.kill()
    server.log.close()


PLANT = """
from datetime import timedelta
from django.core.management import call_command
from django.utils import timezone
from planning.models import Break, Line
from planning.models import Product, WorkOrder
call_command("import_plant", "demo/plant.yaml")
# No breaks: a stop that falls in one is planned and needs no reason, so tests would pass or fail
# with the time of day they run at.
Break.objects.all().delete()
call_command("demo_users")
now = timezone.now()
for number, product, quantity, line in (("WO-4711", "BOT-05", 30000, "L1"), ("WO-4720", "CAN-33", 60000, "L2")):
    WorkOrder.objects.create(
        number=number, product=Product.objects.get(code=product), quantity=quantity,
        line=Line.objects.get(code=line), planned_start=now - timedelta(hours=4),
        planned_end=now + timedelta(hours=4), status="running", actual_start=now - timedelta(hours=4))
"""


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Chromium, per module: while Playwright's sync API is open it marks an asyncio loop as running in
    this thread, which the async tests of other modules (pytest-asyncio) must not find."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, plant_server):
    """open_page(user) → a page of a new browser context, logged in as that demo user."""
    contexts = []

    def open_page(username: str = "operator", viewport: dict | None = None):
        context = browser.new_context(viewport=viewport or {"width": 1920, "height": 1080})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.goto(plant_server.base_url + "/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(plant_server.base_url + "/")
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS

