"""Shared set-up of the benchmarks: production settings, a throw-away database, the product's processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


@contextmanager
def bench_database() -> Iterator[None]:
    """Django set up with DEBUG off on a fresh database (a temporary SQLite file, or $DATABASE_URL's server)."""
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='oee-bench-')}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oee_site.settings")
    # Production settings: with DEBUG on, Django records every query and both sides slow down.
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("FIELD_ENCRYPTION_KEY", "YmVuY2gtb25seS1maWVsZC1rZXktbm90LXNlY3JldCE=")
    import django

    django.setup()
    from django.db import connection

    creation = connection.creation
    creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield
    finally:
        creation.destroy_test_db(creation.connection.settings_dict["NAME"], verbosity=0)


def bench_line(time_zone: str = "UTC"):
    """A site, area and line to hang the benchmark's machines on."""
    from planning.models import Area, Line, Site

    site = Site.objects.create(code="bench", name="Bench", time_zone=time_zone)
    area = Area.objects.create(site=site, code="bench", name="Bench")
    return Line.objects.create(area=area, code="BENCH", name="Bench")


# --- benchmarks that run the product's own processes -------------------------------------------------

def served_database(prefix: str) -> tuple[str, Callable[[], None]]:
    """A fresh database other processes can open too (a temporary SQLite file, or a new database on
    $DATABASE_URL's PostgreSQL server): its URL, and how to drop it."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith("postgres"):
        return f"sqlite:///{tempfile.mkdtemp(prefix=f'oee-bench-{prefix}-')}/{prefix}.sqlite3", lambda: None
    import psycopg
    from psycopg import sql

    parts = urlsplit(configured)
    name = f"oee_bench_{prefix}_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return urlunsplit(parts._replace(path=f"/{name}")), drop


def served_settings(database_url: str, redis_url: str) -> dict[str, str]:
    """The environment of the product's processes under benchmark: production settings on these servers.

    Also set in this process's environment, so Django set up here reads the same.
    """
    env = {
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "oee_site.settings",
        "DEBUG": "0", "SECRET_KEY": "bench-only-not-secret", "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0", "FIELD_ENCRYPTION_KEY": "YmVuY2gtb25seS1maWVsZC1rZXktbm90LXNlY3JldCE=",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    return {**os.environ, **env}


def start_daphne(env: dict[str, str], port: int, application: str, log: Path) -> subprocess.Popen:
    """A daphne process serving `application` on loopback `port`, once it accepts connections."""
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), application],
                               cwd=root, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None:
                sys.exit(f"daphne ended: {log.read_text()[-2000:]}")
            time.sleep(0.2)
    process.kill()
    sys.exit("daphne did not start within 60 s")
