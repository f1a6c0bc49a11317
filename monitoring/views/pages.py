"""The live pages: plant overview, the operator's line screen and the machine detail page.

Their live tiles are the HTML of the live messages (`monitoring.live`), the same a socket sends
next; the machine detail's period figures and charts are folds over one `kpi.MachinePeriod`,
so every page shows what `/api/v1/oee/` returns for the same machine and period.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_safe

from monitoring import charts, kpi, live, notes
from monitoring.models import Event
from monitoring.views.base import by_code, canonical_redirect, chrome, friendly_not_found, visible_line
from planning.lib.calendar import local_day_bounds
from planning.lib.instants import read_instant
from planning.models import DowntimeReason, Line, Machine
from planning.permissions import can_operate_line
from planning.schedule import current_shift, line_calendar

EVENT_LOG_LIMIT = 200


@require_safe
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """Every line the user may see, its figures and a tile per machine, live via /ws/plant/."""
    now = timezone.now()
    lines = list(Line.objects.visible_to(request.user).select_related("area__site", "constraint_machine"))
    # The messages the screens were last sent, read for all lines at once; built only where none are fresh.
    snapshots = live.line_snapshots(lines, now)
    # Each message's tiles in the page's language.
    tiles = [{"line": line, "machines": [{**m, "html": live.tiles_in(m)} for m in snapshots[line.pk].messages]}
             for line in lines]
    zone = tiles[0]["line"].area.site.time_zone if tiles else "UTC"
    return render(request, "monitoring/overview.html", {
        **chrome(request), "tiles": tiles, "now": now, "site_tz": zone, "nav": "overview",
    })


@require_safe
@login_required
@friendly_not_found
def line_screen(request: HttpRequest, code: str) -> HttpResponse:
    """The operator's full-screen view of one line, live via /ws/lines/<code>/."""
    line = visible_line(request, code)
    if redirect_to := canonical_redirect(request, code=line.code):
        return redirect_to
    now = timezone.now()
    operates = can_operate_line(request.user, line)
    machines = live.line_snapshot(line, now)
    return render(request, "monitoring/line_screen.html", {
        **chrome(request), "line": line, "shift": machines[0]["shift"] if machines else None,
        "panels": [live.tiles_in(m)["panel_operate" if operates else "panel"] for m in machines],
        "first_wide": len(machines) > 1, "columns": len(machines), "now": now,
        "site_tz": line.area.site.time_zone, "can_operate": operates, "nav": "line",
    })


PERIODS = {"shift": gettext_lazy("Current shift"), "today": gettext_lazy("Today"), "24h": gettext_lazy("Last 24 h"),
           "7d": gettext_lazy("Last 7 days")}


# The longest period the machine detail page draws (its timeline holds every state change).
MAX_PERIOD = timedelta(days=31)


class PeriodError(ValueError):
    """A chosen period the page cannot show; the message says why."""


def _instant(request: HttpRequest, name: str) -> datetime | None:
    text = request.GET.get(name, "").replace(" ", "+")  # a '+' in a query string arrives as a space
    if not text:
        return None
    try:
        return read_instant(text)
    except ValueError as why:
        raise PeriodError(f"{name}={why}.") from None


def _period(request: HttpRequest, line: Line, now: datetime) -> tuple[datetime, datetime, str, str]:
    """(start, end, label, key) of the period asked for: ?start=&end= (ISO), else ?range= one of PERIODS.

    Raises PeriodError for a chosen period that is malformed, reversed or longer than MAX_PERIOD.
    """
    start, end = _instant(request, "start"), _instant(request, "end")
    if start or end:
        if not (start and end):
            raise PeriodError("Give both start and end, or neither.")
        if end <= start:
            raise PeriodError("The end must be after the start.")
        if end - start > MAX_PERIOD:
            raise PeriodError(f"Choose at most {MAX_PERIOD.days} days.")
        return start, end, gettext("Chosen period"), ""
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
        return shift.start, shift.end, gettext("Current shift (%(shift)s)") % {"shift": shift.name}, "shift"
    earlier = [w for w in line_calendar(line, now - timedelta(days=7), now).windows if w.end <= now]
    if earlier:
        return (earlier[-1].start, earlier[-1].end, gettext("Last shift (%(shift)s)") % {"shift": earlier[-1].name},
                "shift")
    return now - timedelta(hours=8), now, gettext("Last 8 hours"), "shift"


@require_safe
@login_required
@friendly_not_found
def machine_detail(request: HttpRequest, code: str) -> HttpResponse:
    """Timeline, parts per hour, downtime Pareto and event log of one machine over a period."""
    machine = by_code(Machine.objects.with_plant(), code, "machine")
    if redirect_to := canonical_redirect(request, code=machine.code):
        return redirect_to
    line = visible_line(request, machine.line.code)
    now = timezone.now()
    try:
        start, end, label, period_key = _period(request, line, now)
    except PeriodError as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    period = kpi.MachinePeriod(machine, start, end, now)
    chart_data = {
        "timeline": [
            {"start": row.start.isoformat(), "end": row.end.isoformat(), "state": row.state, "reason": row.reason,
             "reason_name": row.reason_name, "fault_code": row.fault_code, "duration_s": row.duration_s}
            for row in charts.timeline(period)
        ],
        "parts_per_hour": charts.parts_per_hour(machine, start, end),
        "downtime": [
            {"reason": reason, "seconds": seconds}
            for reason, seconds in sorted(period.downtime().items(), key=lambda item: -item[1])
        ],
        "period": {"start": start.isoformat(), "end": end.isoformat()},
    }
    result = kpi.machine_result(machine, start, end, now).as_dict()
    now_message = next((m for m in live.line_snapshot(line, now) if m["machine"] == machine.code), None)
    now_message = now_message or live.machine_message(machine, now)
    return render(request, "monitoring/machine_detail.html", {
        **chrome(request), "machine": machine, "line": line, "now_card": live.tiles_in(now_message)["card"],
        "server_now": now_message["ts"],
        "machine_thresholds": {"target_oee": machine.target_oee, "warning_oee": machine.warning_oee},
        "result": result, "data_note": data_note(chart_data["timeline"], result),
        "start": start, "end": period.end, "period_end": end,
        "period_label": label, "periods": [(key, name, key == period_key) for key, name in PERIODS.items()],
        "events": event_log(machine, start, end, line.area.site.zone), "event_limit": EVENT_LOG_LIMIT,
        "chart_data": chart_data, "site_tz": line.area.site.time_zone, "nav": "machine",
        "stops": notes.stops_with_comments(period), "may_comment": notes.can_write_notes(request.user, line),
    })


def data_note(timeline: list[dict], result: dict) -> str:
    """What the page cannot know about the period, said plainly: a machine that counts parts but sends no
    running signal has no states, so its whole time is "No data" though it made parts."""
    if any(row["state"] != "no-data" for row in timeline):
        return ""
    if result.get("total_count"):
        return gettext("This machine counted parts but sent no running signal in this period, so when it ran or "
                       "stood is not known: its time shows as “No data”, availability and the stops cannot be "
                       "measured, and its OEE rests on the part counts alone. Map a running signal to its device "
                       "to measure them.")
    return gettext("No data from this machine in this period: neither a running signal nor part counts arrived. "
                   "Check that its device is connected and its signals are mapped.")


def event_log(machine: Machine, start: datetime, end: datetime, zone: ZoneInfo) -> list[dict]:
    """The machine's events in [start, end), newest first, at most EVENT_LOG_LIMIT, each in one line."""
    events = (
        Event.objects.filter(machine=machine, ts__gte=start, ts__lt=end)
        .select_related("user").order_by("-ts", "-id")[:EVENT_LOG_LIMIT]
    )
    events = list(events)
    codes = {event.detail.get(key) for event in events if isinstance(event.detail, dict)
             for key in ("reason", "previous")}
    # Events keep the reason's code (what the device or API sent); people read its name.
    names = dict(DowntimeReason.objects.filter(code__in=codes - {None}).values_list("code", "name"))
    return [
        {"ts": event.ts, "kind": event.kind, "label": event.get_kind_display(),
         "text": _describe(event.kind, event.detail, zone, names),
         "user": event.user.get_username() if event.user else ""}
        for event in events
    ]


# The states an event names, in the reader's language (the event keeps the code).
STATE_WORDS = {
    "running": pgettext_lazy("machine state", "running"), "stopped": pgettext_lazy("machine state", "stopped"),
    "no-data": pgettext_lazy("machine state", "no data"), "start": pgettext_lazy("machine state", "start"),
}


def _state_word(state: str | None) -> str:
    return str(STATE_WORDS.get(state, state))


def _local_clock(text: str | None, zone: ZoneInfo) -> str:
    try:
        moment = parse_datetime(text) if text else None
    except ValueError:
        moment = None
    return moment.astimezone(zone).strftime("%H:%M") if moment and moment.tzinfo else "?"


def _describe(kind: str, detail: dict, zone: ZoneInfo, names: dict[str, str]) -> str:
    """One line saying what an event's detail holds, for the event log; reasons by their names."""
    if not isinstance(detail, dict):
        return str(detail)
    detail = {key: names.get(value, value) if key in ("reason", "previous") and isinstance(value, str) else value
              for key, value in detail.items()}
    if kind == "state_change":
        text = f"{_state_word(detail.get('from') or 'start')} → {_state_word(detail.get('to'))}"
        if detail.get("fault_code"):
            text += gettext(", fault %(code)s") % {"code": detail["fault_code"]}
        if detail.get("reason"):
            text += gettext(", reason: %(reason)s") % {"reason": detail["reason"]}
        return text
    if kind in ("rollover", "reset", "rejected_jump") and "reading" in detail:
        return (f"{detail.get('signal')}: {detail.get('previous')} → {detail.get('reading')}, "
                f"counted {detail.get('counted')}")
    if kind == "no_data" and "gap_s" in detail:
        return gettext("no data for %(seconds)s s") % {"seconds": round(detail["gap_s"])}
    if kind == "reason_given" and detail.get("reason"):
        text = gettext("%(reason)s for the stop at %(time)s") % {
            "reason": detail["reason"], "time": _local_clock(detail.get("stop_start"), zone)}
        if detail.get("split_at"):
            text += gettext(", from %(time)s on") % {"time": _local_clock(detail["split_at"], zone)}
        if detail.get("previous"):
            text += gettext(" (was %(reason)s)") % {"reason": detail["previous"]}
        return text
    if kind == "scrap_entered" and "quantity" in detail:
        return gettext("%(quantity)s parts") % {"quantity": detail["quantity"]} + (
            gettext(", reason: %(reason)s") % {"reason": detail["reason"]} if detail.get("reason") else "")
    return ", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in detail.items() if value not in (None, ""))
