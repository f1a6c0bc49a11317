"""`manage.py export_plant [-o FILE]`: write the plant configuration as a plant file."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.plantfile import export_plant


class Command(BaseCommand):
    help = "Write sites, lines, machines, reasons, shifts, devices and products as a YAML plant file " \
           "(docs/plant-config.md) that import_plant reads back. Secrets (OPC UA passwords and private keys) " \
           "are never written; an import without them keeps the stored ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-o", "--output", metavar="FILE", help="Write to FILE instead of standard output.")

    def handle(self, *args, output: str | None, **options) -> None:
        text = export_plant()
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error}") from None
        self.stderr.write(f"Wrote the plant configuration to {output}.")
