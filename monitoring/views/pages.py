"""The live pages: plant overview, the operator's line screen and the machine detail page.

Each page is rendered with the numbers of `monitoring.kpi` (so it shows what `/api/v1/oee/`
returns for the same machine and period) and then kept live by its websocket.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from monitoring import charts, kpi, live
from monitoring.models import Event, Line, Machine, MachineStatus, Site
from monitoring.permissions import can_operate_line, can_view_line, lines_visible_to, role_of
from planning.lib.calendar import local_day_bounds
from planning.schedule import current_shift, line_calendar

EVENT_LOG_LIMIT = 200


def chrome(request: HttpRequest) -> dict:
    """What the base template shows around every page: the plant's name and the user's role."""
    sites = list(Site.objects.values_list("name", flat=True)[:2])
    return {
        "plant_name": sites[0] if len(sites) == 1 else "OEE Live",
        "role": role_of(request.user),
    }


def visible_line(request: HttpRequest, code: str) -> Line:
    """The line with this code, or 404; PermissionDenied (a 403 page) when the user may not see it."""
    line = get_object_or_404(Line.objects.select_related("area__site", "constraint_machine"), code=code)
    if not can_view_line(request.user, line):
        raise PermissionDenied(
            f"You are not allowed to see line {line.code} ({line.name}). "
            "An administrator can add you to the line's operators."
        )
    return line


def machines_of(line: Line) -> list[Machine]:
    """The line's enabled machines, its constraint machine first."""
    machines = list(line.machines.enabled().with_plant())
    machines.sort(key=lambda m: (m.pk != line.constraint_machine_id, m.position, m.code))
    return machines


def machine_status(machine: Machine, now: datetime) -> dict:
    """The machine's live message (as its websocket sends it) with the period its figures cover."""
    status = live.machine_message(machine, now)
    status["period_start"] = status["shift"]["start"] if status["shift"] else None
    status["period_end"] = live.iso(now)
    return status


def _figures(result: kpi.Result) -> dict:
    data = result.as_dict()
    return {key: data[key] for key in ("availability", "performance", "quality", "oee")}


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """Every line the user may see, a tile per line and per machine, live via /ws/plant/."""
    now = timezone.now()
    lines = lines_visible_to(request.user, Line.objects.all()).select_related("area__site", "constraint_machine")
    tiles = []
    for line in lines:
        shift = current_shift(line, now)
        machines = machines_of(line)
        statuses = [machine_status(machine, now) for machine in machines]
        line_figures = _figures(kpi.line_result(line, shift.start, now, now)) if shift else {}
        constraint = line.constraint_machine
        tiles.append({
            "line": line, "shift": shift, "machines": statuses, "figures": line_figures,
            "constraint": constraint.code if constraint else "",
            "target_oee": constraint.target_oee if constraint else 0.85,
            "warning_oee": constraint.warning_oee if constraint else 0.65,
            # The line's colour is its first machine's: the constraint machine when it has one.
            "state": statuses[0]["state"] if statuses else MachineStatus.NO_DATA,
        })
    zone = tiles[0]["line"].area.site.time_zone if tiles else "UTC"
    return render(request, "monitoring/overview.html", {
        **chrome(request), "tiles": tiles, "now": now, "site_tz": zone, "nav": "overview",
    })


@login_required
def line_screen(request: HttpRequest, code: str) -> HttpResponse:
    """The operator's full-screen view of one line, live via /ws/lines/<code>/."""
    line = visible_line(request, code)
    now = timezone.now()
    shift = current_shift(line, now)
    statuses = [machine_status(machine, now) for machine in machines_of(line)]
    return render(request, "monitoring/line_screen.html", {
        **chrome(request), "line": line, "shift": shift, "machines": statuses, "now": now,
        "site_tz": line.area.site.time_zone, "can_operate": can_operate_line(request.user, line),
        "nav": "line",
    })


PERIODS = {"shift": "Current shift", "today": "Today", "24h": "Last 24 h", "7d": "Last 7 days"}


def _period(request: HttpRequest, line: Line, now: datetime) -> tuple[datetime, datetime, str, str]:
    """(start, end, label, key) of the period asked for: ?start=&end= (ISO), else ?range= one of PERIODS."""
    start, end = (parse_datetime(request.GET.get(name, "").replace(" ", "+")) for name in ("start", "end"))
    if start and end and start.tzinfo and end.tzinfo and start < end:
        return start, end, "Chosen period", ""
    key = request.GET.get("range", "shift")
    zone = line.area.site.zone
    if key == "today":
        return *local_day_bounds(now.astimezone(zone).date(), zone), PERIODS[key], key
    if key == "24h":
        return now - timedelta(hours=24), now, PERIODS[key], key
    if key == "7d":
        return now - timedelta(days=7), now, PERIODS[key], key
    shift = current_shift(line, now)
    if shift is not None:
        return shift.start, shift.end, f"Current shift ({shift.name})", "shift"
    earlier = [w for w in line_calendar(line, now - timedelta(days=7), now).windows if w.end <= now]
    if earlier:
        return earlier[-1].start, earlier[-1].end, f"Last shift ({earlier[-1].name})", "shift"
    return now - timedelta(hours=8), now, "Last 8 hours", "shift"


@login_required
def machine_detail(request: HttpRequest, code: str) -> HttpResponse:
    """Timeline, parts per hour, downtime Pareto and event log of one machine over a period."""
    machine = get_object_or_404(Machine.objects.with_plant(), code=code)
    line = visible_line(request, machine.line.code)
    now = timezone.now()
    start, end, label, period_key = _period(request, line, now)
    result = kpi.machine_result(machine, start, end, now)
    events = event_log(machine, start, end, line.area.site.zone)
    chart_data = {
        "timeline": [s.as_dict() for s in charts.timeline(machine, start, end, now)],
        "parts_per_hour": charts.parts_per_hour(machine, start, end),
        "downtime": [
            {"reason": reason, "seconds": seconds}
            for reason, seconds in charts.downtime_by_reason([machine], start, end, now).items()
        ],
        "period": {"start": start.isoformat(), "end": end.isoformat()},
    }
    return render(request, "monitoring/machine_detail.html", {
        **chrome(request), "machine": machine, "line": line,
        "status": machine_status(machine, now),
        "machine_thresholds": {"target_oee": machine.target_oee, "warning_oee": machine.warning_oee},
        "result": result.as_dict(), "start": start, "end": min(end, now), "period_end": end,
        "period_label": label, "periods": [(key, name, key == period_key) for key, name in PERIODS.items()],
        "events": events, "event_limit": EVENT_LOG_LIMIT, "chart_data": chart_data,
        "site_tz": line.area.site.time_zone, "nav": "machine",
    })


def event_log(machine: Machine, start: datetime, end: datetime, zone: ZoneInfo) -> list[dict]:
    """The machine's events in [start, end), newest first, at most EVENT_LOG_LIMIT, each in one line."""
    events = (
        Event.objects.filter(machine=machine, ts__gte=start, ts__lt=end)
        .select_related("user").order_by("-ts", "-id")[:EVENT_LOG_LIMIT]
    )
    return [
        {"ts": event.ts, "kind": event.kind, "label": event.get_kind_display(),
         "text": _describe(event.kind, event.detail, zone), "user": event.user.get_username() if event.user else ""}
        for event in events
    ]


def _local_clock(text: str | None, zone: ZoneInfo) -> str:
    moment = parse_datetime(text) if text else None
    return moment.astimezone(zone).strftime("%H:%M") if moment else "?"


def _describe(kind: str, detail: dict, zone: ZoneInfo) -> str:
    """One line saying what an event's detail holds, for the event log."""
    if not isinstance(detail, dict):
        return str(detail)
    if kind == "state_change":
        text = f"{detail.get('from') or 'start'} → {detail.get('to')}"
        if detail.get("fault_code"):
            text += f", fault {detail['fault_code']}"
        if detail.get("reason"):
            text += f", reason {detail['reason']}"
        return text
    if kind in ("rollover", "reset", "rejected_jump") and "reading" in detail:
        return (f"{detail.get('signal')}: {detail.get('previous')} → {detail.get('reading')}, "
                f"counted {detail.get('counted')}")
    if kind == "no_data" and "gap_s" in detail:
        return f"no data for {round(detail['gap_s'])} s"
    if kind == "reason_given" and detail.get("reason"):
        text = f"{detail['reason']} for the stop at {_local_clock(detail.get('stop_start'), zone)}"
        if detail.get("split_at"):
            text += f", from {_local_clock(detail['split_at'], zone)} on"
        if detail.get("previous"):
            text += f" (was {detail['previous']})"
        return text
    if kind == "scrap_entered" and "quantity" in detail:
        return f"{detail['quantity']} parts" + (f", reason {detail['reason']}" if detail.get("reason") else "")
    return ", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in detail.items() if value not in (None, ""))
