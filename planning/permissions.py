"""Roles and who may see or act on which line: the one place views and consumers ask."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

OPERATORS = "Operators"
MANAGERS = "Managers"
ADMINS = "Admins"


def role_of(user: User | AnonymousUser) -> str | None:
    """'admin', 'manager', 'operator', or None for a user with no role (and for an API client)."""
    if not isinstance(user, User) or not user.is_authenticated:
        return None
    if user.is_superuser:
        return "admin"
    names = {group.name for group in user.groups.all()}
    for group, role in ((ADMINS, "admin"), (MANAGERS, "manager"), (OPERATORS, "operator")):
        if group in names:
            return role
    return None


def lines_visible_to(user: User | AnonymousUser, lines: QuerySet) -> QuerySet:
    """The lines among `lines` that the user may watch: all for managers and admins, their own for operators."""
    role = role_of(user)
    if role in ("admin", "manager"):
        return lines
    if role == "operator":
        return lines.filter(operators=user)
    return lines.none()


def can_view_line(user: User | AnonymousUser, line) -> bool:
    return lines_visible_to(user, type(line).objects.filter(pk=line.pk)).exists()


def can_acknowledge_alerts(user: User | AnonymousUser, line) -> bool:
    """A line's alerts are acknowledged by its operators, managers and admins: whoever answers for it."""
    return role_of(user) in ("admin", "manager") or can_operate_line(user, line)


def can_operate_line(user: User | AnonymousUser, line) -> bool:
    """Operators give reasons and enter scrap on their own lines; admins anywhere; managers only read."""
    role = role_of(user)
    if role == "admin":
        return True
    return role == "operator" and line.operators.filter(pk=user.pk).exists()


def can_plan(user: User | AnonymousUser) -> bool:
    """Managers and admins plan: they create, release, reschedule and cancel work orders of any line."""
    return role_of(user) in ("admin", "manager")
