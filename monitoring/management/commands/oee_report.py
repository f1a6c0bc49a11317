"""manage.py oee_report --line CODE --date YYYY-MM-DD: the day's shifts per machine as a table."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from monitoring import kpi
from planning.lib.calendar import local_day_bounds
from planning.models import Line
from planning.schedule import line_calendar


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f}h"


class Command(BaseCommand):
    help = "Print OEE per shift and machine of one line for one local calendar day."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--line", required=True, help="line code")
        parser.add_argument("--date", required=True, help="local date at the site, YYYY-MM-DD")

    def handle(self, *args, line: str, date: str, **options) -> None:
        try:
            day = _parse_date(date)
        except ValueError:
            raise CommandError(f"--date {date!r} is not a date in the form YYYY-MM-DD") from None
        try:
            subject = Line.objects.select_related("area__site").get(code=line)
        except Line.DoesNotExist:
            raise CommandError(f"--line {line!r}: no such line") from None
        zone = subject.area.site.zone
        day_start, day_end = local_day_bounds(day, zone)
        calendar = line_calendar(subject, day_start, day_end)
        windows = [w for w in calendar.windows if w.local_date == day]
        if not windows:
            self.stdout.write(f"{subject.code}: no shift starts on {day.isoformat()}")
            return
        header = ("machine", "shift", "from", "to", "PPT", "run", "A", "P", "Q", "OEE", "total", "good")
        rows = [header]
        for machine in subject.machines.enabled().with_plant():
            for window in windows:
                result = kpi.machine_result(machine, window.start, window.end, calendar=calendar)
                f = result.figures
                rows.append((
                    machine.code, window.name,
                    window.start.astimezone(zone).strftime("%H:%M"), window.end.astimezone(zone).strftime("%H:%M"),
                    hours(result.times.planned_production), hours(result.times.run),
                    percent(f.availability), percent(f.performance), percent(f.quality), percent(f.oee),
                    str(result.production.total), str(result.production.good),
                ))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        self.stdout.write(f"{subject.code} {subject.name} — {day.isoformat()} ({subject.area.site.time_zone})")
        for index, row in enumerate(rows):
            self.stdout.write("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
            if index == 0:
                self.stdout.write("  ".join("-" * w for w in widths))


def _parse_date(text: str) -> date:
    return date.fromisoformat(text)
