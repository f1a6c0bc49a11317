"""`manage.py demo_users`: three demo log-ins with their roles, idempotent."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from planning.models import Area, Line, Site
from planning.permissions import ADMINS, MANAGERS, OPERATORS, role_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def debug_on(settings) -> None:
    """The demo runs with DEBUG on (`make run` sets it); pytest-django runs tests with it off."""
    settings.DEBUG = True


@pytest.fixture
def lines() -> list[Line]:
    site = Site.objects.create(code="demo", name="Demo plant")
    area = Area.objects.create(site=site, code="pack", name="Packing")
    return [Line.objects.create(area=area, code=code, name=code) for code in ("L1", "L2")]


def demo_users() -> str:
    out = StringIO()
    call_command("demo_users", stdout=out)
    return out.getvalue()


def printed_passwords(output: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(admin|manager|operator)\s+(\S+)", output, re.MULTILINE))


def test_it_creates_three_users_with_their_roles(lines: list[Line], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OEE_DEMO_PASSWORD", raising=False)
    demo_users()

    admin, manager, operator = (User.objects.get(username=name) for name in ("admin", "manager", "operator"))
    assert admin.is_superuser and admin.is_staff
    assert not manager.is_superuser and not manager.is_staff
    assert not operator.is_superuser and not operator.is_staff
    assert [group.name for group in admin.groups.all()] == [ADMINS]
    assert [group.name for group in manager.groups.all()] == [MANAGERS]
    assert [group.name for group in operator.groups.all()] == [OPERATORS]
    assert (role_of(admin), role_of(manager), role_of(operator)) == ("admin", "manager", "operator")
    assert set(operator.operated_lines.all()) == set(lines)
    assert not manager.operated_lines.exists()


def test_running_it_twice_keeps_three_users(lines: list[Line], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OEE_DEMO_PASSWORD", raising=False)
    demo_users()
    demo_users()

    assert sorted(User.objects.values_list("username", flat=True)) == ["admin", "manager", "operator"]
    operator = User.objects.get(username="operator")
    assert operator.groups.count() == 1
    assert all(line.operators.filter(pk=operator.pk).count() == 1 for line in lines)


def test_it_restores_a_role_someone_changed(lines: list[Line], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OEE_DEMO_PASSWORD", raising=False)
    demo_users()
    manager = User.objects.get(username="manager")
    manager.is_superuser = True
    manager.save()
    lines[0].operators.remove(User.objects.get(username="operator"))

    demo_users()

    assert not User.objects.get(username="manager").is_superuser
    assert lines[0].operators.filter(username="operator").exists()


def test_it_prints_random_passwords_that_work_and_change_each_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OEE_DEMO_PASSWORD", raising=False)
    first = printed_passwords(demo_users())
    second = printed_passwords(demo_users())

    assert set(first) == set(second) == {"admin", "manager", "operator"}
    for username, password in second.items():
        user = User.objects.get(username=username)
        assert user.check_password(password)
        assert not user.check_password(first[username])
        assert len(password) >= 12


def test_it_uses_oee_demo_password_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OEE_DEMO_PASSWORD", "line-side-demo")
    output = demo_users()
    demo_users()

    for username in ("admin", "manager", "operator"):
        assert User.objects.get(username=username).check_password("line-side-demo")
    assert "line-side-demo" not in output
    assert "OEE_DEMO_PASSWORD" in output


def test_it_refuses_to_run_with_debug_off(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OEE_DEMO_PASSWORD", raising=False)
    User.objects.create_superuser("admin", password="the-real-admins-password")
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG=1"):
        demo_users()

    assert User.objects.get(username="admin").check_password("the-real-admins-password")
    assert not User.objects.filter(username__in=["manager", "operator"]).exists()
