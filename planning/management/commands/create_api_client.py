"""manage.py create_api_client NAME --scope results:read [--scope ...] [--line L1 ...]: a client and its key."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from planning.audit import command_run
from planning.models import ApiClient, ApiKey, Line, Scope


class Command(BaseCommand):
    help = "Create an API client (or give an existing one a new key) and print its key, once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the client, e.g. 'SAP PP'")
        parser.add_argument("--scope", action="append", choices=Scope.values, required=True, dest="scopes",
                            help="what its keys may do (repeat for several)")
        parser.add_argument("--line", action="append", default=[], dest="lines",
                            help="a line its keys may use (repeat for several); without it, a new client may use "
                                 "every line and an existing one keeps the lines it has")

    def handle(self, *args, name: str, scopes: list[str], lines: list[str], **options) -> None:
        found = {line.code: line for line in Line.objects.filter(code__in=lines)}
        unknown = [code for code in lines if code not in found]
        if unknown:
            known = ", ".join(Line.objects.values_list("code", flat=True))
            raise CommandError(f"no line {', '.join(unknown)} (lines: {known})")
        with transaction.atomic(), command_run("create_api_client"):
            client, created = ApiClient.objects.get_or_create(name=name, defaults={"scopes": sorted(set(scopes))})
            client.scopes = sorted(set(scopes))
            if lines:
                client.all_lines = False
                client.lines.set(found.values())
            client.save()
            _, key = ApiKey.objects.create_key(client=client, name=f"made by create_api_client for {name}")
        where = "every line" if client.all_lines else ", ".join(client.lines.values_list("code", flat=True))
        self.stdout.write(f"{'Created' if created else 'Updated'} API client {name}: "
                          f"{', '.join(client.scopes)}; lines: {where or 'none'}.")
        self.stdout.write("Its key (shown only now, stored only as a hash):")
        self.stdout.write(key)
