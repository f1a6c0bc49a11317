"""The managers' shift report: OEE per machine and shift over local days, as a page and as CSV.

One function, `build_report`, makes the numbers; the page and the CSV only lay them out.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_safe

from monitoring import charts, kpi, plan
from monitoring.lib.oee import SIX_BIG_LOSSES
from monitoring.views.base import chrome, friendly_not_found, visible_line
from planning.lib.calendar import ShiftWindow, local_day_bounds
from planning.lib.instants import EARLIEST, LATEST
from planning.models import Line, LossCategory, Machine
from planning.schedule import LineCalendar, line_calendar

MAX_DAYS = 31
COLUMNS = (
    "Machine", "Date", "Shift", "From", "To", "Planned time h", "Run time h",
    "A %", "P %", "Q %", "OEE %", "TEEP %", "Total", "Good", "Reject",
)


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f}"


def figure_cells(result: kpi.Result) -> list[str]:
    """The numeric columns of one report row: PPT and run in hours, ratios in %, part counts."""
    f, t, p = result.figures, result.times, result.production
    return [
        hours(t.planned_production), hours(t.run),
        percent(f.availability), percent(f.performance), percent(f.quality), percent(f.oee), percent(f.teep),
        str(p.total), str(p.good), str(p.reject),
    ]


@dataclass(frozen=True)
class Row:
    machine: str
    day: str
    shift: str
    start: str
    end: str
    result: kpi.Result

    @property
    def cells(self) -> list[str]:
        return [self.machine, self.day, self.shift, self.start, self.end, *figure_cells(self.result)]


@dataclass
class MachineTable:
    machine: Machine
    rows: list[Row] = field(default_factory=list)
    total: Row | None = None


@dataclass
class ShiftReport:
    line: Line
    first_day: date
    last_day: date
    start: datetime | None = None
    end: datetime | None = None
    tables: list[MachineTable] = field(default_factory=list)
    line_total: kpi.Result = kpi.EMPTY
    trend: list[dict] = field(default_factory=list)
    """Per shift occurrence: its label, the line's OEE and each machine's."""
    downtime: dict[str, float] = field(default_factory=dict)
    plan_by_shift: list[tuple[ShiftWindow, plan.PeriodPlan]] = field(default_factory=list)
    """Per started shift occurrence: its orders' plan against actual (monitoring.plan)."""

    @property
    def plan_total(self) -> plan.PeriodPlan:
        return plan.total([shift_plan for _, shift_plan in self.plan_by_shift])

    @property
    def waterfall(self) -> list[dict]:
        """PPT, minus each of the six big losses, down to fully productive time (hours)."""
        times, figures = self.line_total.times, self.line_total.figures
        steps = [{"label": gettext("Planned production time"), "hours": times.planned_production / 3600,
                  "measure": "absolute"}]
        for loss in SIX_BIG_LOSSES:
            steps.append({
                "label": LossCategory(loss).label, "hours": -figures.losses[loss] / 3600, "measure": "relative",
            })
        steps.append({"label": gettext("Fully productive time"), "hours": 0, "measure": "total"})
        return steps


def _calendar(line: Line, first_day: date, last_day: date) -> tuple[LineCalendar, list[ShiftWindow]]:
    """The line's calendar over the local days, and its shift occurrences that start on them."""
    zone = line.area.site.zone
    start, _ = local_day_bounds(first_day, zone)
    _, end = local_day_bounds(last_day, zone)
    calendar = line_calendar(line, start, end)
    return calendar, [w for w in calendar.windows if first_day <= w.local_date <= last_day]


def build_report(line: Line, first_day: date, last_day: date, now: datetime | None = None) -> ShiftReport:
    """Per machine a row per shift occurrence and a total row (sums of times and counts)."""
    now = now or timezone.now()
    zone = line.area.site.zone
    report = ShiftReport(line=line, first_day=first_day, last_day=last_day)
    calendar, windows = _calendar(line, first_day, last_day)
    if not windows:
        return report
    report.start, report.end = windows[0].start, max(w.end for w in windows)
    started = [w for w in windows if w.start < now]
    machines = line.machines_in_order()
    subject = line.subject_machines()
    results = {
        machine.code: [kpi.machine_result(machine, w.start, w.end, now, calendar) for w in started]
        for machine in {*machines, *subject}
    }
    for machine in machines:
        table = MachineTable(machine)
        for window, result in zip(started, results[machine.code]):
            table.rows.append(Row(
                machine.code, window.local_date.isoformat(), window.name,
                window.start.astimezone(zone).strftime("%H:%M"), window.end.astimezone(zone).strftime("%H:%M"),
                result,
            ))
        table.total = Row(machine.code, "", "Total", "", "", sum(results[machine.code], kpi.EMPTY))
        report.tables.append(table)

    # The line's figures are those of its subject machines (Line.subject_machines), summed.
    for index, window in enumerate(started):
        line_result = sum((results[m.code][index] for m in subject), kpi.EMPTY)
        report.line_total += line_result
        report.trend.append({
            "label": window.key, "start": window.start.isoformat(), "oee": line_result.figures.oee,
            "machines": {m.code: results[m.code][index].figures.oee for m in machines},
        })
    report.downtime = charts.downtime_by_reason(subject, report.start, report.end, now, calendar)
    report.plan_by_shift = plan.shift_plans(line, started, now)
    return report


class ReportRequestError(ValueError):
    pass


def _report_request(request: HttpRequest) -> tuple[Line | None, date, date, list[Line]]:
    """The line and local days asked for (defaults: the first line the user may see; yesterday and today)."""
    lines = list(Line.objects.visible_to(request.user).select_related("area__site"))
    code = request.GET.get("line")
    line = visible_line(request, code) if code else (lines[0] if lines else None)
    zone = line.area.site.zone if line else timezone.get_default_timezone()
    today = timezone.now().astimezone(zone).date()
    try:
        first = date.fromisoformat(request.GET["start"]) if request.GET.get("start") else today - timedelta(days=1)
        last = date.fromisoformat(request.GET["end"]) if request.GET.get("end") else max(first, today)
    except ValueError:
        raise ReportRequestError("Dates must be given as YYYY-MM-DD.") from None
    if not all(EARLIEST.date() <= day < LATEST.date() for day in (first, last)):
        raise ReportRequestError(f"Dates must lie between {EARLIEST.year} and {LATEST.year - 1}.")
    if last < first:
        raise ReportRequestError("The last day must not be before the first day.")
    if (last - first).days >= MAX_DAYS:
        raise ReportRequestError(f"Choose at most {MAX_DAYS} days.")
    return line, first, last, lines


@require_safe
@login_required
@friendly_not_found
def shift_report(request: HttpRequest) -> HttpResponse:
    """Tables, six big losses, downtime Pareto and OEE trend of one line over local days."""
    context = {
        **chrome(request), "nav": "report", "columns": COLUMNS,
        "start_value": request.GET.get("start", ""), "end_value": request.GET.get("end", ""),
    }
    try:
        line, first, last, lines = _report_request(request)
    except ReportRequestError as error:
        lines = list(Line.objects.visible_to(request.user))
        context.update(error=str(error), lines=lines)
        return render(request, "monitoring/shift_report.html", context, status=400)
    context.update(lines=lines, line=line, first_day=first, last_day=last,
                   start_value=first.isoformat(), end_value=last.isoformat())
    if line is not None:
        report = build_report(line, first, last)
        thresholds = line.thresholds
        context.update(
            report=report, site_tz=line.area.site.time_zone, thresholds=thresholds,
            chart_data={
                "waterfall": report.waterfall,
                "downtime": [{"reason": k, "hours": v / 3600} for k, v in report.downtime.items()],
                "trend": report.trend,
                "target": thresholds["target_oee"],
            },
        )
    return render(request, "monitoring/shift_report.html", context)


@require_safe
@login_required
@friendly_not_found
def shift_report_csv(request: HttpRequest) -> HttpResponse:
    """The shift report's table rows as CSV (the same numbers as the page)."""
    try:
        line, first, last, _ = _report_request(request)
    except ReportRequestError as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    if line is None:
        return HttpResponse("No line to report on.", status=404, content_type="text/plain; charset=utf-8")
    report = build_report(line, first, last)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="shift-report-{line.code}-{first.isoformat()}-{last.isoformat()}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(COLUMNS)
    for table in report.tables:
        for row in [*table.rows, table.total]:
            writer.writerow(row.cells)
    return response
