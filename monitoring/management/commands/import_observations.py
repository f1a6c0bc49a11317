"""manage.py import_observations FILE: load observations from CSV (`ts,machine,signal,value`)."""

from __future__ import annotations

import csv
import io
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from monitoring.pipeline import ObservationIn, check_observations, record_observations

HEADER = ["ts", "machine", "signal", "value"]


def read_rows(stream: io.TextIOBase) -> tuple[list[ObservationIn], list[int], list[tuple[int, str]]]:
    """Observations, the file line of each, and (line, message) for rows that are not even well-formed."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise CommandError("the file is empty: expected a header line ts,machine,signal,value")
    if [h.strip().lower() for h in header] != HEADER:
        raise CommandError(f"line 1: the header must be ts,machine,signal,value, got {','.join(header)}")
    observations: list[ObservationIn] = []
    lines: list[int] = []
    bad: list[tuple[int, str]] = []
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 4:
            bad.append((line, f"expected 4 fields (ts,machine,signal,value), got {len(row)}"))
            continue
        ts_text, machine, signal, value = (cell.strip() for cell in row)
        try:
            ts = parse_datetime(ts_text)
        except ValueError:
            ts = None
        if ts is None:
            bad.append((line, f"ts {ts_text!r} is not an ISO 8601 date-time"))
            continue
        if ts.tzinfo is None:
            bad.append((line, f"ts {ts_text!r} has no UTC offset (add Z or +01:00)"))
            continue
        observations.append(ObservationIn(machine, ts, signal, value))
        lines.append(line)
    return observations, lines, bad


class Command(BaseCommand):
    help = "Import observations from a CSV file with header ts,machine,signal,value ('-' reads stdin)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="CSV file, or - for standard input")
        parser.add_argument(
            "--skip-bad", action="store_true",
            help="apply the good rows even when some are bad (default: a bad row means nothing is applied)",
        )

    def handle(self, *args, file: str, skip_bad: bool, **options) -> None:
        if file == "-":
            stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
            observations, lines, bad = read_rows(stream)
        else:
            try:
                with open(file, encoding="utf-8-sig", newline="") as stream:
                    observations, lines, bad = read_rows(stream)
            except OSError as error:
                raise CommandError(f"cannot read {file}: {error.strerror}") from None

        rows_read = len(observations) + len(bad)
        if not skip_bad:
            rejected = bad + [(lines[r.index], r.message) for r in check_observations(observations)]
            if rejected:
                self._report(rows_read, 0, 0, rejected)
                raise CommandError(
                    f"{len(rejected)} bad row(s): nothing applied (use --skip-bad to apply the good rows)"
                )
        with transaction.atomic():
            result = record_observations(observations, all_or_nothing=not skip_bad)
        rejected = bad + [(lines[r.index], r.message) for r in result.rejected]
        self._report(rows_read, result.applied, result.duplicates, rejected)

    def _report(self, rows_read: int, applied: int, duplicates: int, rejected: list[tuple[int, str]]) -> None:
        self.stdout.write(f"rows read: {rows_read}")
        self.stdout.write(f"applied: {applied}")
        if duplicates:
            self.stdout.write(f"already stored (skipped): {duplicates}")
        self.stdout.write(f"rejected: {len(rejected)}")
        for line, message in sorted(rejected):
            self.stdout.write(f"  line {line}: {message}")
