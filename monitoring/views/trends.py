"""The managers' proof of improvement: the trend page, and period against period as a page and as CSV.

`monitoring.trend` makes the numbers; these views read the request, check who may see the line, and
lay the numbers out.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from monitoring import trend
from monitoring.views.base import chrome, friendly_not_found, visible_line
from planning.lib.instants import EARLIEST, LATEST
from planning.models import Line

COMPARISON_COLUMNS = ("Kind", "Loss or reason", "Before h", "After h", "Change %")


class TrendRequestError(ValueError):
    pass


def _line(request: HttpRequest) -> tuple[Line | None, list[Line]]:
    """The line asked for (403 when the user may not see it), else the first the user may see."""
    lines = list(Line.objects.visible_to(request.user).select_related("area__site", "constraint_machine"))
    code = request.GET.get("line")
    return (visible_line(request, code) if code else (lines[0] if lines else None)), lines


def _days(request: HttpRequest, first_name: str, last_name: str, default: tuple[date, date],
          longest: int) -> tuple[date, date]:
    """Local days [first, last] from the query, each YYYY-MM-DD, at most `longest` days."""
    try:
        first = date.fromisoformat(request.GET[first_name]) if request.GET.get(first_name) else default[0]
        last = date.fromisoformat(request.GET[last_name]) if request.GET.get(last_name) else default[1]
    except ValueError:
        raise TrendRequestError(f"{first_name} and {last_name} must be dates given as YYYY-MM-DD.") from None
    if not all(EARLIEST.date() <= day < LATEST.date() for day in (first, last)):
        raise TrendRequestError(f"Dates must lie between {EARLIEST.year} and {LATEST.year - 1}.")
    if last < first:
        raise TrendRequestError(f"{last_name} must not be before {first_name}.")
    if (last - first).days >= longest:
        raise TrendRequestError(f"Choose at most {longest} days from {first_name} to {last_name}.")
    return first, last


def _today(line: Line | None):
    zone = line.area.site.zone if line else timezone.get_default_timezone()
    return timezone.now().astimezone(zone).date()


def _months_back(day: date, months: int) -> date:
    """The first of the month `months` before `day`'s."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _error_page(request: HttpRequest, template: str, context: dict, error: str) -> HttpResponse:
    context.update(error=error, lines=list(Line.objects.visible_to(request.user)))
    return render(request, template, context, status=400)


@require_safe
@login_required
@friendly_not_found
def trend_page(request: HttpRequest) -> HttpResponse:
    """Downtime per reason group and machine, OEE and its factors, MTBF and MTTR per week or month."""
    context = {**chrome(request), "nav": "trend", "groupings": trend.GROUPINGS, "max_days": trend.MAX_TREND_DAYS}
    line, lines = _line(request)
    today = _today(line)
    grouping = request.GET.get("group", trend.WEEK)
    context.update(start_value=request.GET.get("start", ""), end_value=request.GET.get("end", ""), grouping=grouping)
    try:
        if grouping not in trend.GROUPINGS:
            raise TrendRequestError(f"group must be one of {', '.join(trend.GROUPINGS)}.")
        # By default the last twelve whole weeks and this one.
        default = (today - timedelta(days=today.weekday() + 7 * 12), today)
        first, last = _days(request, "start", "end", default, trend.MAX_TREND_DAYS)
    except TrendRequestError as error:
        return _error_page(request, "monitoring/trend.html", context, str(error))
    context.update(lines=lines, line=line, start_value=first.isoformat(), end_value=last.isoformat())
    if line is not None:
        report = trend.build_trend(line, first, last, grouping)
        context.update(report=report, site_tz=line.area.site.time_zone, thresholds=line.thresholds,
                       chart_data=_chart_data(report))
    return render(request, "monitoring/trend.html", context)


def _chart_data(report: trend.Trend) -> dict:
    started = [b for b in report.buckets if b.machines]
    groups = report.reason_groups
    return {
        "labels": [b.label for b in started],
        "reason_groups": [{"name": g, "hours": [b.reason_groups.get(g, 0.0) / 3600 for b in started]} for g in groups],
        "machines": [
            {"name": m.code, "hours": [b.machines[m.code].times.unplanned_stop / 3600 for b in started],
             "mtbf_h": [_h(b.reliability[m.code].mtbf_s) for b in started],
             "mttr_h": [_h(b.reliability[m.code].mttr_s) for b in started]}
            for m in report.machines
        ],
        "figures": {name: [getattr(b.line_result.figures, name) for b in started]
                    for name in ("oee", "availability", "performance", "quality")},
        "target": report.line.thresholds["target_oee"],
    }


def _h(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


# --- period against period -----------------------------------------------------------------------

def _comparison_request(request: HttpRequest) -> tuple[Line | None, list[Line], tuple[date, date], tuple[date, date]]:
    """The line and the before and after periods asked for (defaults: last month against this one)."""
    line, lines = _line(request)
    today = _today(line)
    this_month = today.replace(day=1)
    last_month = _months_back(today, 1)
    longest = settings.API_MAX_PERIOD_DAYS
    before = _days(request, "before_start", "before_end", (last_month, this_month - timedelta(days=1)), longest)
    after = _days(request, "after_start", "after_end", (this_month, today), longest)
    return line, lines, before, after


@require_safe
@login_required
@friendly_not_found
def comparison_page(request: HttpRequest) -> HttpResponse:
    """Hours lost per loss and per reason before and after, and the change in percent."""
    context = {**chrome(request), "nav": "trend", "max_days": settings.API_MAX_PERIOD_DAYS,
               **{name: request.GET.get(name, "") for name in ("before_start", "before_end", "after_start", "after_end")}}
    try:
        line, lines, before, after = _comparison_request(request)
    except TrendRequestError as error:
        return _error_page(request, "monitoring/trend_compare.html", context, str(error))
    context.update(lines=lines, line=line, before_start=before[0].isoformat(), before_end=before[1].isoformat(),
                   after_start=after[0].isoformat(), after_end=after[1].isoformat())
    if line is not None:
        comparison = trend.build_comparison(line, before, after)
        context.update(comparison=comparison, site_tz=line.area.site.time_zone, rows=[
            {"kind": row.kind, "cells": comparison_cells(row), "change": row.change} for row in comparison.rows
        ], chart_rows={"compare": [
            # A reason may share its name with a loss ("Small stops"): the chart's rows must differ.
            {"name": row.name if row.kind == "loss" else f"{row.name} (reason)", "before": row.before_s / 3600,
             "after": row.after_s / 3600} for row in comparison.rows
            if row.before_s or row.after_s
        ]})
    return render(request, "monitoring/trend_compare.html", context)


def comparison_cells(row: trend.LossRow) -> list[str]:
    """A comparison row as the page and the CSV show it."""
    change = "" if row.change is None else f"{row.change:.1f}"
    return [row.kind, row.name, f"{row.before_s / 3600:.2f}", f"{row.after_s / 3600:.2f}", change]


@require_safe
@login_required
@friendly_not_found
def comparison_csv(request: HttpRequest) -> HttpResponse:
    """The comparison's rows as CSV: the numbers of the page."""
    try:
        line, _, before, after = _comparison_request(request)
    except TrendRequestError as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    if line is None:
        return HttpResponse("No line to compare.", status=404, content_type="text/plain; charset=utf-8")
    comparison = trend.build_comparison(line, before, after)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="downtime-{line.code}-{before[0]}-{before[1]}-vs-{after[0]}-{after[1]}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(COMPARISON_COLUMNS)
    for row in comparison.rows:
        writer.writerow(comparison_cells(row))
    return response
