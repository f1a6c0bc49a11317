"""`manage.py import_plant FILE`: create or update the plant from a plant file, all or nothing."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.plantfile import PlantFileError, import_plant, parse
from planning.audit import command_run


class Command(BaseCommand):
    help = "Create or update sites, lines, machines, reasons, shifts, devices and products from a YAML plant file " \
           "(docs/plant-config.md). The whole file is checked first; on any problem nothing is written."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The plant file (YAML); '-' reads standard input.")

    def handle(self, *args, file: str, **options) -> None:
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
