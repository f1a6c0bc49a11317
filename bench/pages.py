"""Pages under concurrent clients: p95 at 1 and 8 clients, one daphne against `python -m oee_site.serve`.

Usage: .venv/bin/python bench/pages.py [--seconds 15] [--processes N]

Sets up the demo plant with three hours of history in a fresh database (a temporary SQLite file,
or a new database on $DATABASE_URL's PostgreSQL server), logs a manager in, and lets 1 and then
8 clients ask for the overview, a line screen, a machine page and the shift report in turn, as
fast as answers come, for --seconds each. The bare figure is the same servers answering the login
page: Django rendering a template with no plant data, the floor under every page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchdb import served_database, served_settings  # noqa: E402

from oee_site import redis_server  # noqa: E402
from oee_site.redis_server import free_port  # noqa: E402

PAGES = ["/", "/lines/L1/", "/machines/L1-FILL/", "/reports/shift/?line=L1"]
BARE = ["/accounts/login/"]
TARGET_MS = 300

SETUP = """
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from planning.permissions import MANAGERS
call_command("import_plant", "demo/plant.yaml", verbosity=0)
user = User.objects.create_user("bench-manager", password="bench-pages-password-1")
user.groups.add(Group.objects.get_or_create(name=MANAGERS)[0])
session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY], session[HASH_SESSION_KEY] = str(user.pk), user.get_session_auth_hash()
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session.create()
print(session.session_key)
"""


def manage(env: dict, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True,
                          text=True, timeout=600)
    if done.returncode:
        sys.exit(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def serve(command: list[str], env: dict, port: int) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2).read()
            return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    sys.exit(f"{' '.join(command)} did not answer within 60 s")


def load(port: int, cookie: str, paths: list[str], clients: int, seconds: float) -> list[float]:
    """Latencies (s) of every answer while `clients` threads ask for `paths` in turn for `seconds`."""
    latencies: list[float] = []
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        index = offset
        while time.monotonic() < stop:
            path = paths[index % len(paths)]
            index += 1
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Cookie": cookie})
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    answer.read()
            except OSError as error:
                errors.append(f"{path}: {error}")
                continue
            latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        sys.exit(f"{len(errors)} requests failed, first: {errors[0]}")
    return latencies


def p(latencies: list[float], q: int) -> float:
    return statistics.quantiles(latencies, n=100)[q - 1] * 1000 if len(latencies) > 1 else latencies[0] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    url, drop = served_database("pages")
    private = None
    if not os.environ.get("REDIS_URL"):
        private, redis_url = redis_server.start()
    else:
        redis_url = os.environ["REDIS_URL"]
    env = served_settings(url, redis_url)
    try:
        manage(env, "migrate", "-v", "0")
        manage(env, "collectstatic", "--no-input", "-v", "0")
        session = manage(env, "shell", "-c", SETUP).split()[-1]
        from tests.browser.plant_data import history_csv

        now = datetime.now(UTC).replace(microsecond=0)
        manage(env, "import_observations", "-", stdin=history_csv(now - timedelta(hours=3), now))
        cookie = f"sessionid={session}"
        servers = [
            ("daphne, 1 process", lambda port: [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                                 "oee_site.asgi:application"]),
            (f"oee_site.serve, {args.processes} processes",
             lambda port: [sys.executable, "-m", "oee_site.serve", "--processes", str(args.processes),
                           "--port", str(port)]),
        ]
        results = {}
        print(f"pages {', '.join(PAGES)}; bare {BARE[0]}; {args.seconds:.0f} s per row; "
              f"{'PostgreSQL' if url.startswith('postgres') else 'SQLite'}")
        print(f"{'server':<30} {'clients':>7} {'pages p50':>10} {'p95':>8} {'req/s':>7} {'bare p50':>9} {'p95':>8}")
        for name, command in servers:
            port = free_port()
            process = serve(command(port), env, port)
            try:
                load(port, cookie, PAGES + BARE, 1, 2.0)  # warm every process a little
                for clients in (1, 8):
                    ours = load(port, cookie, PAGES, clients, args.seconds)
                    bare = load(port, cookie, BARE, clients, args.seconds / 3)
                    results[(name, clients)] = (p(ours, 95), p(bare, 95))
                    print(f"{name:<30} {clients:>7} {p(ours, 50):>8.0f}ms {p(ours, 95):>6.0f}ms "
                          f"{len(ours) / args.seconds:>7.1f} {p(bare, 50):>7.0f}ms {p(bare, 95):>6.0f}ms")
            finally:
                process.kill()
                process.wait()
    finally:
        drop()
        if private is not None:
            private.terminate()
    best = servers[1][0]
    ours8, bare8 = results[(best, 8)]
    ours1, _ = results[(best, 1)]
    verdict = "met" if ours8 <= TARGET_MS else "NOT met"
    print(f"pages p95 at 8 clients: {ours8:.0f} ms (target {TARGET_MS} ms, {verdict}; 1 client {ours1:.0f} ms; "
          f"one daphne {results[(servers[0][0], 8)][0]:.0f} ms; bare {bare8:.0f} ms; ratio {ours8 / bare8:.1f})")


if __name__ == "__main__":
    main()
