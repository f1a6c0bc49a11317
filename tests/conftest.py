"""Shared fixtures: a real Redis (the machine's when REDIS_URL is set, else a private one)."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
from hypothesis import settings as hypothesis_settings

hypothesis_settings.register_profile("default", max_examples=100, deadline=None)
# `HYPOTHESIS_PROFILE=thorough make test` searches much harder, for a change to the pipeline.
hypothesis_settings.register_profile("thorough", max_examples=2000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

_private_redis: subprocess.Popen | None = None

# The translations' .mo files are compiled from locale/*.po, not kept in git: a `pytest` run
# without `make` compiles the stale ones before any test reads a catalog.
from oee_site.catalogs import compile_all  # noqa: E402

compile_all()


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # A fast hasher: the named users of every test would otherwise spend seconds on PBKDF2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if not os.environ.get("REDIS_URL"):
    from django.conf import settings

    from oee_site import redis_server

    _private_redis, os.environ["REDIS_URL"] = redis_server.start()
    # pytest-django has read the settings already: point every Redis user at the private server.
    settings.REDIS_URL = settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"] = os.environ["REDIS_URL"]
    settings.CACHES["default"]["LOCATION"] = os.environ["REDIS_URL"]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _private_redis is not None:
        _private_redis.terminate()
        _private_redis.wait(timeout=10)


@pytest.fixture(autouse=True)
def own_cache(settings) -> None:
    """A cache of the test's own: what one test cached (a line's live snapshot) never shows in another."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a real Redis for this test run (database 0 of a private server, or $REDIS_URL)."""
    return os.environ["REDIS_URL"]


# --- a small plant and named users, shared by the tests of views, API and commands ----------

from datetime import time as _time  # noqa: E402

from django.contrib.auth.models import Group, User  # noqa: E402


@pytest.fixture
def line(db):
    """A bare line L1 of a demo site in Europe/Berlin, for the admin's tests."""
    from planning.models import Area, Line, Site

    site = Site.objects.create(code="demo", name="Demo Plant", time_zone="Europe/Berlin")
    area = Area.objects.create(site=site, code="packaging", name="Packaging")
    return Line.objects.create(area=area, code="L1", name="Bottling line 1")


@pytest.fixture
def plant(db):
    """Site in Europe/Berlin; line A (machines A1, A2) with two 8-hour shifts on weekdays; line B (B1)."""
    from types import SimpleNamespace

    from planning.models import Area, Break, DowntimeReason, FaultCode, Line, Machine, Shift, ShiftPattern, Site
    from planning.permissions import ADMINS, MANAGERS, OPERATORS

    site = Site.objects.create(code="berlin", name="Berlin plant", time_zone="Europe/Berlin")
    area = Area.objects.create(site=site, code="pack", name="Packaging")
    line_a = Line.objects.create(area=area, code="A", name="Line A")
    line_b = Line.objects.create(area=area, code="B", name="Line B")
    a1 = Machine.objects.create(line=line_a, code="A1", name="Filler", default_ideal_cycle_time=1.0,
                                expected_interval=60)
    a2 = Machine.objects.create(line=line_a, code="A2", name="Capper", default_ideal_cycle_time=2.0,
                                expected_interval=60, position=1)
    b1 = Machine.objects.create(line=line_b, code="B1", name="Seamer", default_ideal_cycle_time=0.5,
                                expected_interval=60, counter_bits=32)
    line_a.constraint_machine = a1
    line_a.save()
    mech = DowntimeReason.objects.create(code="mech", name="Mechanical")
    jam = DowntimeReason.objects.create(code="jam", name="Jam", parent=mech)
    setup = DowntimeReason.objects.create(code="setup", name="Setup")
    changeover = DowntimeReason.objects.create(
        code="changeover", name="Changeover", parent=setup, loss_category="setup_adjustments")
    plan = DowntimeReason.objects.create(code="plan", name="Planned", loss_category="planned", planned=True)
    meeting = DowntimeReason.objects.create(
        code="meeting", name="Meeting", parent=plan, loss_category="planned", planned=True)
    FaultCode.objects.create(machine=a1, code=7, reason=jam)
    pattern = ShiftPattern.objects.create(line=line_a, name="Two shifts")
    for weekday in range(5):
        early = Shift.objects.create(pattern=pattern, name="Early", weekday=weekday, start=_time(6), end=_time(14))
        Break.objects.create(shift=early, start=_time(10), end=_time(10, 30))
        Shift.objects.create(pattern=pattern, name="Late", weekday=weekday, start=_time(14), end=_time(22))
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in (OPERATORS, MANAGERS, ADMINS)}
    operator = User.objects.create_user("op-a", password="pw-op-a-12345")
    operator.groups.add(groups[OPERATORS])
    line_a.operators.add(operator)
    manager = User.objects.create_user("manager", password="pw-manager-12345")
    manager.groups.add(groups[MANAGERS])
    outsider = User.objects.create_user("outsider", password="pw-outsider-12345")
    return SimpleNamespace(
        site=site, area=area, line_a=line_a, line_b=line_b, a1=a1, a2=a2, b1=b1,
        jam=jam, changeover=changeover, meeting=meeting,
        operator=operator, manager=manager, outsider=outsider,
    )


@pytest.fixture
def api_key(db):
    """api_key("results:read", lines=[line]) → the key of a new API client with those scopes (and lines)."""
    from planning.models import ApiClient, ApiKey

    made = []

    def make(*scopes: str, lines=(), name: str | None = None) -> str:
        client = ApiClient.objects.create(name=name or f"ERP {len(made) + 1}", scopes=list(scopes),
                                          all_lines=not lines)
        client.lines.set(lines)
        _, key = ApiKey.objects.create_key(client=client, name="test key")
        made.append(client)
        return key

    return make
