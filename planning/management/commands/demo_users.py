"""`manage.py demo_users`: create or update the demo log-ins admin, manager and operator."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from planning.models import Line
from planning.permissions import ADMINS, MANAGERS, OPERATORS

PASSWORD_VARIABLE = "OEE_DEMO_PASSWORD"


@dataclass(frozen=True)
class DemoUser:
    username: str
    group: str
    is_superuser: bool


DEMO_USERS = (
    DemoUser("admin", ADMINS, is_superuser=True),
    DemoUser("manager", MANAGERS, is_superuser=False),
    DemoUser("operator", OPERATORS, is_superuser=False),
)


class Command(BaseCommand):
    help = (
        f"Create or update the demo users admin, manager and operator and print their log-ins. "
        f"The password is ${PASSWORD_VARIABLE} when set, otherwise a new random one on every run. "
        f"Runs only with DEBUG on."
    )

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            # It would reset the password of any account named admin: never on a production database.
            raise CommandError(
                "demo_users resets the users admin, manager and operator and their passwords: it runs only with "
                "DEBUG=1 (a demo or development database). With DEBUG=0 create users with createsuperuser "
                "or in the admin."
            )
        shared_password = os.environ.get(PASSWORD_VARIABLE) or None
        with transaction.atomic():
            passwords = {demo.username: self.ensure_user(demo, shared_password) for demo in DEMO_USERS}
            lines = list(Line.objects.all())
            operator = User.objects.get(username="operator")
            # Only additions: lines keep any other operators an admin gave them.
            operator.operated_lines.add(*lines)

        if shared_password:
            self.stdout.write(f"Demo log-ins (password: the value of {PASSWORD_VARIABLE}):")
        else:
            self.stdout.write(f"Demo log-ins (new random passwords each run; set {PASSWORD_VARIABLE} to choose one):")
        line_codes = ", ".join(line.code for line in lines) or "none yet"
        roles = {
            "admin": "superuser: everything, and Django admin at /admin/",
            "manager": "reads every line, plans work orders",
            "operator": f"operates lines: {line_codes}",
        }
        for demo in DEMO_USERS:
            password = passwords[demo.username] or f"({PASSWORD_VARIABLE})"
            self.stdout.write(f"  {demo.username:<9} {password:<20} {roles[demo.username]}")

    def ensure_user(self, demo: DemoUser, shared_password: str | None) -> str | None:
        """Create or update one demo user with exactly its demo role.

        Returns the new random password, or None when the shared password is used.
        """
        user, _ = User.objects.get_or_create(username=demo.username)
        user.is_active = True
        user.is_superuser = demo.is_superuser
        user.is_staff = demo.is_superuser
        if shared_password:
            new_password = None
            # Hashing is slow on purpose: leave an unchanged password alone.
            if not user.check_password(shared_password):
                user.set_password(shared_password)
        else:
            new_password = secrets.token_urlsafe(9)
            user.set_password(new_password)
        user.save()
        user.groups.set([Group.objects.get_or_create(name=demo.group)[0]])
        return new_password
