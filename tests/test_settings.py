"""Settings read from the environment: production refuses unsafe values, deploy checks pass."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent
SETUP = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'oee_site.settings'); django.setup()"


def run_python(*args: str, **environment: str | None) -> subprocess.CompletedProcess[str]:
    """Run the venv's Python in the project root with the test's environment changed as given.

    It reads the project's settings, not the test run's (which turn DEBUG on when it is not set).
    """
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "oee_site.settings"}
    for name, value in environment.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )


def production(**environment: str | None) -> dict[str, str | None]:
    """A production environment: DEBUG off, every required secret set (unless `environment` says otherwise)."""
    return {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "example.com",
            "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(), **environment}


def test_debug_is_off_when_not_set() -> None:
    result = run_python("-c", SETUP + "; from django.conf import settings; print(settings.DEBUG)",
                        **production(DEBUG=None))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("debug", ["0", None])
def test_production_refuses_to_start_without_a_secret_key(debug: str | None) -> None:
    result = run_python("-c", SETUP, **production(DEBUG=debug, SECRET_KEY=None))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_a_field_encryption_key() -> None:
    result = run_python("-c", SETUP, **production(FIELD_ENCRYPTION_KEY=None))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "FIELD_ENCRYPTION_KEY is not set" in result.stderr


def test_a_field_encryption_key_that_is_not_a_fernet_key_fails_loudly_without_showing_it() -> None:
    good = Fernet.generate_key().decode()
    result = run_python("-c", SETUP, **production(FIELD_ENCRYPTION_KEY=f"{good},not-a-real-key-value"))

    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY: key 2 is not a Fernet key" in result.stderr
    assert "not-a-real-key-value" not in result.stderr


def test_production_settings_pass_the_deploy_checks() -> None:
    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", **production())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_development_settings_fail_the_deploy_checks() -> None:
    """The deploy check is not vacuous: DEBUG on and the built-in key are reported."""
    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", DEBUG="1", SECRET_KEY=None)

    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG on


@pytest.mark.parametrize("value", ["maybe", "2", "yes please"])
def test_a_debug_value_that_is_not_a_boolean_fails_loudly(value: str) -> None:
    result = run_python("-c", SETUP, DEBUG=value, SECRET_KEY="x" * 50)

    assert result.returncode != 0
    assert "DEBUG" in result.stderr
    assert repr(value) in result.stderr


def test_a_time_zone_that_does_not_exist_fails_loudly() -> None:
    result = run_python("-c", SETUP, TIME_ZONE="Mars/Olympus_Mons")

    assert result.returncode != 0
    assert "TIME_ZONE" in result.stderr


def test_the_default_sqlite_database_runs_in_wal_mode(tmp_path: Path) -> None:
    # The test database is in memory, where SQLite has no WAL, and may be PostgreSQL: check the
    # file database that `make run` gets without DATABASE_URL, under a var/ directory of its own.
    script = SETUP + (
        "; from django.db import connection; cursor = connection.cursor();"
        " cursor.execute('PRAGMA journal_mode'); print(cursor.fetchone()[0])"
    )
    result = run_python("-c", script, OEE_VAR_DIR=str(tmp_path), DATABASE_URL=None)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wal"
    assert (tmp_path / "oee.sqlite3").exists()


@pytest.mark.django_db
def test_the_test_database_uses_the_configured_engine() -> None:
    assert connection.vendor == ("postgresql" if "postgres" in os.environ.get("DATABASE_URL", "") else "sqlite")


@pytest.mark.parametrize(("environment", "named"), [
    ({"EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"}, "EMAIL_USE_TLS and EMAIL_USE_SSL"),
    ({"ALERTS_EVALUATE_S": "0"}, "ALERTS_EVALUATE_S=0"),
    ({"EMAIL_PORT": "many"}, "EMAIL_PORT"),
    ({"OBSERVATIONS_NOT_BEFORE": "1970-12-31"}, "OBSERVATIONS_NOT_BEFORE=1970-12-31 must be 1971-01-01 or later"),
    ({"OBSERVATIONS_NOT_BEFORE": "2000-02-30"}, "OBSERVATIONS_NOT_BEFORE='2000-02-30' is not a date"),
    ({"OBSERVATIONS_MAX_AHEAD_S": "-1"}, "OBSERVATIONS_MAX_AHEAD_S=-1"),
])
def test_settings_that_cannot_work_stop_the_start_naming_the_variable(environment, named) -> None:
    result = run_python("-c", SETUP, **production(**environment))
    assert result.returncode != 0 and named in result.stderr


def test_alert_mail_goes_to_the_smtp_server_named_else_to_the_log() -> None:
    show = SETUP + "; from django.conf import settings as s; print(s.EMAIL_BACKEND.rsplit('.', 2)[1], s.EMAIL_HOST)"
    assert run_python("-c", show, **production(EMAIL_HOST=None)).stdout.split() == ["console"]
    assert run_python("-c", show, **production(EMAIL_HOST="mail.plant.example")).stdout.split() == [
        "smtp", "mail.plant.example"]
