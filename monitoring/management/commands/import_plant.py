"""`manage.py import_plant FILE`: create or update the plant from a plant file, all or nothing."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.plantfile import PlantFileError, import_plant, parse
from planning.audit import command_run
from planning.models import DowntimeReason, Line, Machine, Site


def plant_held() -> str:
    """What of a plant the database holds, in words ("1 site, 5 machines"); empty when nothing."""
    counts = [(Site, "site"), (Line, "line"), (Machine, "machine"), (DowntimeReason, "reason")]
    held = [(model.objects.count(), name) for model, name in counts]
    return ", ".join(f"{n} {name}{'s' if n != 1 else ''}" for n, name in held if n)


class Command(BaseCommand):
    help = "Create or update sites, lines, machines, reasons, shifts, devices and products from a YAML plant file " \
           "(docs/plant-config.md). The whole file is checked first; on any problem nothing is written."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The plant file (YAML); '-' reads standard input.")
        parser.add_argument(
            "--if-empty", action="store_true",
            help="Import only into a database without a plant (no site, line, machine or reason yet): what "
                 "`make run` uses, so that what an admin changed since is not imported over.",
        )

    def handle(self, *args, file: str, if_empty: bool = False, **options) -> None:
        if if_empty:
            held = plant_held()
            if held:
                self.stdout.write(f"The database holds a plant already ({held}): {file} not imported, so that "
                                  "changes made since stay. Without --if-empty it is imported over them.")
                return
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {file}: {error}") from None
        try:
            # Each change the file makes goes into the audit trail as this command's, with the file.
            with command_run("import_plant", file=file):
                tally = import_plant(parse(text))
        except PlantFileError as error:
            for problem in error.problems:
                self.stderr.write(f"{file}: {problem}")
            raise CommandError(f"{len(error.problems)} problem(s) in {file}; nothing was written.") from None
        totals = ", ".join(f"{tally.total(outcome)} {outcome}" for outcome in ("created", "updated", "deleted",
                                                                               "unchanged"))
        self.stdout.write(self.style.SUCCESS(f"Imported {file}: {totals}."))
        for kind, counts in sorted(tally.by_kind.items()):
            changes = ", ".join(f"{counts[o]} {o}" for o in ("created", "updated", "deleted") if counts[o])
            if changes:
                self.stdout.write(f"  {kind}: {changes}")
