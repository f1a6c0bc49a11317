"""manage.py import_observations FILE: load observations from CSV (`ts,machine,signal,value`, UTF-8)."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from monitoring.ingest import FileRejected, read_csv, rejections
from monitoring.pipeline import BatchRejected, check_observations, record_observations


class Command(BaseCommand):
    help = "Import observations from a CSV file with header ts,machine,signal,value ('-' reads stdin)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="CSV file, or - for standard input")
        parser.add_argument(
            "--skip-bad", action="store_true",
            help="apply the good rows even when some are bad (default: a bad row means nothing is applied)",
        )

    def handle(self, *args, file: str, skip_bad: bool, **options) -> None:
        try:
            if file == "-":
                read = read_csv(sys.stdin.buffer)
            else:
                with open(file, "rb") as stream:
                    read = read_csv(stream)
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error.strerror}") from None
        except FileRejected as error:
            raise CommandError(str(error)) from None

        if not skip_bad:
            rejected = rejections(read, check_observations(read.observations))
            if rejected:
                self._report(read.count, 0, 0, rejected)
                raise CommandError(
                    f"{len(rejected)} bad row(s): nothing applied (use --skip-bad to apply the good rows)"
                )
        try:
            with transaction.atomic():
                result = record_observations(read.observations, all_or_nothing=not skip_bad,
                                             refuse_excess_scrap=True)
        except BatchRejected as refused:  # what only storing can tell: scrap beyond the good parts there are
            self._report(read.count, 0, 0, rejections(read, refused.rejected))
            raise CommandError(
                f"{len(refused.rejected)} bad row(s): nothing applied (use --skip-bad to apply the good rows)"
            ) from None
        self._report(read.count, result.applied, result.duplicates, rejections(read, result.rejected))

    def _report(self, rows_read: int, applied: int, duplicates: int, rejected: list[tuple[int, str]]) -> None:
        self.stdout.write(f"rows read: {rows_read}")
        self.stdout.write(f"applied: {applied}")
        if duplicates:
            self.stdout.write(f"already stored (skipped): {duplicates}")
        self.stdout.write(f"rejected: {len(rejected)}")
        for line, message in sorted(rejected):
            self.stdout.write(f"  line {line}: {message}")
