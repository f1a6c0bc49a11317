"""The fault suite's plant: the product's real processes, and a way to break each of them.

One stack per module: the simulator (Modbus devices on loopback, in a thread of this process),
a private Redis this suite may kill, the database (a SQLite file, or a fresh PostgreSQL
database when DATABASE_URL names one) reached by every process through a link this suite may
cut, one Celery worker that collects, and daphne serving the screens. Ground truth comes from
the simulator: each machine's part counter.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from monitoring.lib.registers import RegisterBinding
from monitoring.simulator.modbus_server import DeviceSpec
from monitoring.simulator.plant import BackgroundPlant, MachineSpec, Plant, PlantSpec
from oee_site import redis_server
from oee_site.redis_server import free_port
from tests.processes import ROOT, kill, set_up_plant, start_worker
from tests.proxy import CuttableLink

MACHINES = ("M0", "M1", "M2")
IDLE = "IDLE"  # a machine without a device: nothing changes on its screen unless we say so
PASSWORD = "fault-suite-password-1"
# How long each outage lasts (seconds): the figures, shorter only when asked for.
REDIS_OUTAGE_S = float(os.environ.get("FAULTS_REDIS_OUTAGE_S", 120))
DATABASE_OUTAGE_S = float(os.environ.get("FAULTS_DATABASE_OUTAGE_S", 60))
RESTARTS = int(os.environ.get("FAULTS_DEVICE_RESTARTS", 100))
# What the README's "what we survive" table reports: each fault and how long collection took to be back.
FIGURES: dict[str, str] = {}


def wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.2):
    """Poll until `condition()` is true; fail naming `what` after a generous `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(every)


class Database:
    """The stack's database, read with plain SQL (this test process has no Django database of its own)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.path = urlsplit(url).path[1:] if self.sqlite else None

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.sqlite:
            with sqlite3.connect(self.path, timeout=30) as db:
                return db.execute(sql.replace("%s", "?"), params).fetchall()
        import psycopg
        with psycopg.connect(self.url) as db:
            return db.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple = ()) -> None:
        """A change, committed (as an admin's edit would be)."""
        if self.sqlite:
            with sqlite3.connect(self.path, timeout=30) as db:
                db.execute(sql.replace("%s", "?"), params)
            return
        import psycopg
        with psycopg.connect(self.url) as db:
            db.execute(sql, params)

    def machine_id(self, code: str) -> int:
        return self.rows("SELECT id FROM planning_machine WHERE code = %s", (code,))[0][0]

    def latest(self, code: str, signal: str) -> tuple[datetime, str] | None:
        found = self.rows("SELECT ts, value FROM monitoring_observation WHERE machine_id = %s AND signal = %s "
                          "ORDER BY ts DESC, revision DESC LIMIT 1", (self.machine_id(code), signal))
        return (_aware(found[0][0]), found[0][1]) if found else None

    def parts(self, code: str) -> int:
        return self.rows("SELECT COALESCE(SUM(total_count), 0) FROM monitoring_countbucket WHERE machine_id = %s",
                         (self.machine_id(code),))[0][0]

    def no_data_between(self, code: str, start: datetime, end: datetime) -> list[tuple]:
        """No-data intervals of the machine that overlap [start, end)."""
        rows = self.rows("SELECT start, \"end\" FROM monitoring_stateinterval WHERE machine_id = %s "
                         "AND state = 'no-data'", (self.machine_id(code),))
        found = [(_aware(a), _aware(b) if b else None) for a, b in rows]
        return [(a, b) for a, b in found if a < end and (b is None or b > start)]


def _aware(value) -> datetime:
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Stack:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.redis_port = free_port()
        self.redis_process: subprocess.Popen | None = None
        self.ports = {code: free_port() for code in MACHINES}
        self.logs: list = []
        self.worker: subprocess.Popen | None = None
        self.workers_started = 0
        self.web: subprocess.Popen | None = None
        self.web_port = free_port()
        self.sim: BackgroundPlant | None = None
        self.db_link: CuttableLink | None = None
        self.pg_admin: str | None = None
        self.database_name: str | None = None

    # -- set-up -------------------------------------------------------------------------

    def start(self) -> None:
        self.start_redis()
        direct, via_link = self._database()
        self.env = {
            **os.environ, "DATABASE_URL": via_link, "REDIS_URL": self.redis_url,
            "DJANGO_SETTINGS_MODULE": "oee_site.settings", "DEBUG": "1", "LOG_LEVEL": "INFO",
            "OEE_VAR_DIR": str(self.workdir), "PYTHONUNBUFFERED": "1", "ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        self.db = Database(direct)
        set_up_plant({**self.env, "DATABASE_URL": direct}, self.ports, [IDLE])
        session = self.manage("shell", "-c", _OPERATOR.format(password=PASSWORD), direct=direct).split()[-1]
        self.cookie = f"sessionid={session}"
        created = self.manage("create_api_client", "fault-erp", "--scope", "results:read", "--scope",
                              "observations:write", direct=direct)
        self.api_key = created.split()[-1]
        spec = PlantSpec(
            machines=tuple(MachineSpec(code, 0.05) for code in MACHINES),
            modbus=tuple(DeviceSpec(f"dev-{code}", port, bindings=(
                RegisterBinding((code, "running"), "holding", 0, "uint16", bit=0),
                RegisterBinding((code, "total_count"), "holding", 2),
            )) for code, port in self.ports.items()),
        )
        plant = Plant(spec, seed=9)
        plant.paused = True  # the counters stand still until every first reading is stored
        self.sim = BackgroundPlant(plant).__enter__()
        self.start_worker()
        self.start_web()
        wait_for(lambda: all(self.db.latest(code, "total_count") for code in MACHINES), 90,
                 "the collector stores a first reading of every machine")
        self.first = {code: int(self.db.latest(code, "total_count")[1]) for code in MACHINES}
        self.sim.resume()

    def _database(self) -> tuple[str, str]:
        """(URL for this suite, URL through the cuttable link for the product's processes)."""
        configured = os.environ.get("DATABASE_URL", "")
        if configured.startswith("postgres"):
            import psycopg
            from psycopg import sql
            parts = urlsplit(configured)
            self.database_name = f"oee_faults_{uuid.uuid4().hex[:8]}"
            self.pg_admin = urlunsplit(parts._replace(path="/postgres"))
            with psycopg.connect(self.pg_admin, autocommit=True) as admin:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database_name)))
            direct = urlunsplit(parts._replace(path=f"/{self.database_name}"))
            self.db_link = CuttableLink(parts.hostname or "127.0.0.1", parts.port or 5432)
            netloc = f"{parts.username}@127.0.0.1:{self.db_link.port}" if parts.username else \
                f"127.0.0.1:{self.db_link.port}"
            return direct, urlunsplit(parts._replace(netloc=netloc, path=f"/{self.database_name}"))
        path = self.workdir / "plant.sqlite3"
        return f"sqlite:///{path}", f"sqlite:///{path}"

    def get(self, path: str, key: bool = False) -> int:
        """The status of a GET as an operator's browser (or, with `key`, the ERP) sends it."""
        return self.request("GET", path, key=key)

    def request(self, method: str, path: str, body: object = None, key: bool = False) -> int:
        headers = {"Authorization": f"Bearer {self.api_key}"} if key else {"Cookie": self.cookie}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        request = urllib.request.Request(f"http://127.0.0.1:{self.web_port}{path}", data=data, headers=headers,
                                         method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def screen(self, path: str) -> Screen:
        return Screen(f"ws://127.0.0.1:{self.web_port}{path}", self.cookie)

    def manage(self, *args: str, direct: str | None = None) -> str:
        env = {**self.env, "DATABASE_URL": direct or self.db.url}
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def log(self, name: str):
        log = open(self.workdir / f"{name}.log", "ab")
        self.logs.append(log)
        return log

    def start_redis(self) -> None:
        self.redis_process, self.redis_url = redis_server.start(self.redis_port, self.workdir / "redis")

    def kill_redis(self) -> None:
        kill(self.redis_process)

    def start_worker(self) -> None:
        self.workers_started += 1
        self.worker = start_worker(self.env, f"w{self.workers_started}", self.log("worker"))

    def start_web(self) -> None:
        self.web = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.web_port), "oee_site.asgi:application"],
            cwd=ROOT, env=self.env, stdout=self.log("daphne"), stderr=subprocess.STDOUT, start_new_session=True,
        )

    def stop(self) -> None:
        for process in (self.worker, self.web):
            if process is not None:
                kill(process)
        if self.sim is not None:
            self.sim.__exit__(None, None, None)
        if self.redis_process is not None:
            kill(self.redis_process)
        if self.db_link is not None:
            self.db_link.close()
        if self.database_name:
            import psycopg
            from psycopg import sql
            with psycopg.connect(self.pg_admin, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.database_name)))
        for log in self.logs:
            log.close()

    # -- faults -------------------------------------------------------------------------

    @contextmanager
    def database_away(self) -> Iterator[str]:
        """PostgreSQL refusing connections (the link cut), or the SQLite file locked by another writer."""
        if self.db_link is not None:
            self.db_link.cut()
            try:
                yield "PostgreSQL refusing connections"
            finally:
                self.db_link.restore()
            return
        locker = sqlite3.connect(self.db.path, timeout=60, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            yield "SQLite database locked by another writer"
        finally:
            locker.execute("ROLLBACK")
            locker.close()

    # -- ground truth -------------------------------------------------------------------

    def collecting_since(self, moment: datetime, timeout: float = 30) -> float:
        """Seconds until every machine has a stored reading taken after `moment` (fails after `timeout`)."""
        started = time.monotonic()
        wait_for(lambda: all((self.db.latest(code, "running") or (moment,))[0] > moment and
                             (self.db.latest(code, "total_count") or (moment,))[0] > moment for code in MACHINES),
                 timeout, f"every machine read and stored again within {timeout:.0f} s")
        return time.monotonic() - started

    def assert_counts_exact(self) -> None:
        """Freeze the plant, let the collector store what it shows, compare parts with the simulator's counters."""
        self.sim.pause()
        try:
            truth = {code: m["total_count"] for code, m in self.sim.truth()["machines"].items()}
            wait_for(lambda: all(int((self.db.latest(code, "total_count") or (None, -1))[1]) == truth[code] % 65_536
                                 for code in MACHINES), 90, f"the stored counters reach the simulator's {truth}")
            stored = {code: self.db.parts(code) for code in MACHINES}
            made = {code: truth[code] - self.first[code] for code in MACHINES}
            assert stored == made, f"parts stored {stored} != parts the simulator made {made}"
            assert all(made.values()), made
        finally:
            self.sim.resume()


_OPERATOR = """
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import Group, User
from planning.models import Line
from planning.permissions import OPERATORS
user = User.objects.create_user("fault-op", password="{password}")
user.groups.add(Group.objects.get_or_create(name=OPERATORS)[0])
Line.objects.get(code="L").operators.add(user)
session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY], session[HASH_SESSION_KEY] = str(user.pk), user.get_session_auth_hash()
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session.create()
print(session.session_key)
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("faults"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def write_figures() -> None:
    if FIGURES:
        (ROOT / "var").mkdir(exist_ok=True)
        (ROOT / "var" / "faults.json").write_text(json.dumps(FIGURES, indent=1))


class Screen:
    """A line screen's websocket, reconnecting as the page's script does (static/oee/common.js: a ping
    every 15 s, the socket dropped after 35 s without any message, then a new one); counts the messages."""

    PING_EVERY, SILENT_FOR = 15.0, 35.0

    def __init__(self, url: str, cookie: str) -> None:
        self.url, self.cookie = url, cookie
        self.messages: list[tuple[float, dict]] = []
        self.closes: list[int | None] = []
        self.connects = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="screen")
        self._thread.start()

    def received_after(self, moment: float, kinds: tuple[str, ...] = ("snapshot", "machine")) -> int:
        """Live messages (a snapshot or a machine's update; not pongs) received after `moment`."""
        return sum(1 for at, message in self.messages if at > moment and message.get("type") in kinds)

    def _run(self) -> None:
        from websockets.exceptions import ConnectionClosed, InvalidHandshake
        from websockets.sync.client import connect

        while not self._stop.is_set():
            try:
                with connect(self.url, additional_headers={"Cookie": self.cookie, "Origin": "http://127.0.0.1"},
                             open_timeout=10) as socket:
                    self.connects += 1
                    last_message = pinged = time.monotonic()
                    while not self._stop.is_set():
                        now = time.monotonic()
                        if now - last_message > self.SILENT_FOR:
                            self.closes.append("silent")
                            break
                        if now - pinged > self.PING_EVERY:
                            socket.send(json.dumps({"type": "ping"}))
                            pinged = now
                        try:
                            text = socket.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                        last_message = time.monotonic()
                        self.messages.append((last_message, json.loads(text)))
            except ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else None)
            except (OSError, InvalidHandshake, TimeoutError) as error:
                self.closes.append(type(error).__name__)
            except Exception as error:  # noqa: BLE001 - as the page would, try again; say what it was
                self.closes.append(repr(error))
            self._stop.wait(1.0)

    def __repr__(self) -> str:
        return f"{self.connects} connections, {len(self.messages)} messages, closes {self.closes[-5:]}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
