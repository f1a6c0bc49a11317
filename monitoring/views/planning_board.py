"""The managers' planning board: a line's orders as planned and as run, on one time axis.

Every change made here (a new order, a reschedule, a release, a cancellation) goes through
`planning.workflow` as the API's do, so the same state machine, audit trail and webhooks apply.
What it shows of an order's run (run windows, parts, ETA) is `monitoring.orders.results`'s.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DomainError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from monitoring import orders, plan
from monitoring.views.base import UnknownCode, by_code, canonical_redirect, chrome, friendly_not_found
from monitoring.views.planning_forms import NewOrderForm, PlanFields, RescheduleForm, wall_clock
from planning.lib.calendar import local_day_bounds
from planning.lib.instants import EARLIEST, LATEST, iso
from planning.models import OPEN_STATUSES, Line, WorkOrder, WorkOrderStatus
from planning.permissions import can_plan
from planning.workflow import MoveRefused, NotYours, OrderIn, allowed_moves, move_order, put_order

DAYS_SHOWN = 2
# The moves a planner makes on the board; the others are the line's (start, pause, resume, complete).
BOARD_MOVES = ("release", "cancel")


def planned_line(request: HttpRequest, code: str) -> Line:
    """The line with this code, or 404; PermissionDenied (403) for anyone but managers and admins."""
    line = by_code(Line.objects.select_related("area__site", "constraint_machine"), code, "line")
    if not can_plan(request.user):
        raise PermissionDenied(
            gettext("Only managers plan work orders. An administrator can give you the manager role."))
    return line


def _by(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


def _first_day(request: HttpRequest, line: Line) -> date:
    """The first local day shown (?day=YYYY-MM-DD, else today at the site); ValueError saying why."""
    text = request.GET.get("day", "")
    if not text:
        return timezone.now().astimezone(line.area.site.zone).date()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"day={text!r} is not a date: give it as YYYY-MM-DD.") from None
    if not EARLIEST.date() < day < LATEST.date() - timedelta(days=DAYS_SHOWN):
        raise ValueError(f"day must lie between {EARLIEST.year} and {LATEST.year - 1}.")
    return day


def _suggested_number(line: Line, day: date) -> str:
    """A free order number of the line and day for the new-order form: L1-261204-01, -02, …"""
    stem = f"{line.code}-{day:%y%m%d}-"
    taken = set(WorkOrder.objects.filter(number__startswith=stem).values_list("number", flat=True))
    return next(f"{stem}{n:02d}" for n in range(1, 1000) if f"{stem}{n:02d}" not in taken)


def _new_order_initial(line: Line, first_day: date, now: datetime) -> dict:
    zone = line.area.site.zone
    start = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    day_start, _ = local_day_bounds(first_day, zone)
    start = max(start, day_start + timedelta(hours=6))
    return {"number": _suggested_number(line, start.astimezone(zone).date()), "quantity": 1000,
            "planned_start": wall_clock(start, zone), "planned_end": wall_clock(start + timedelta(hours=4), zone)}


def board_orders(line: Line, start: datetime, end: datetime, now: datetime) -> list[dict]:
    """The line's orders planned or run in [start, end), each with its runs, parts, ETA and plan against actual."""
    zone = line.area.site.zone
    rows = []
    for order in plan.orders_in(line, start, end) + _cancelled_in(line, start, end):
        made = orders.results(order, now)
        good = made.result.production.good
        runs = order.run_windows()
        reschedulable = order.status in OPEN_STATUSES
        rows.append({
            "order": order, "good": good, "eta": made.eta,
            "late_s": made.progress.late_s if made.progress else None,  # the order card's rule
            "moves": [m for m in allowed_moves(order) if m in BOARD_MOVES],
            "reschedulable": reschedulable,
            "plan": plan.order_plan(order, good, now),
            "chart": {
                "number": order.number, "product": order.product.code, "status": order.status,
                "machine": order.machine.code if order.machine_id else None, "quantity": order.quantity,
                "good": good, "planned_start": iso(order.planned_start), "planned_end": iso(order.planned_end),
                "planned_label": f"{wall_clock(order.planned_start, zone)[11:]}–{wall_clock(order.planned_end, zone)[11:]}",
                "runs": [[iso(run_start), iso(run_end or now)] for run_start, run_end in runs],
                "eta": iso(made.eta),
                "reschedule": reverse("planning-order", args=[line.code, order.number]) if reschedulable else None,
            },
        })
    return rows


def _cancelled_in(line: Line, start: datetime, end: datetime) -> list[WorkOrder]:
    """Cancelled orders of the period: shown struck out on the board, though no longer part of the plan."""
    return list(WorkOrder.objects.filter(line=line, status=WorkOrderStatus.CANCELLED, planned_start__lt=end,
                                         planned_end__gt=start).select_related("product", "line", "machine"))


def _render_board(request: HttpRequest, line: Line, first_day: date | None, form: PlanFields | None = None,
                  status: int = 200, error: str = "") -> HttpResponse:
    now = timezone.now()
    zone = line.area.site.zone
    day = first_day or now.astimezone(zone).date()
    start, _ = local_day_bounds(day, zone)
    _, end = local_day_bounds(day + timedelta(days=DAYS_SHOWN - 1), zone)
    rows = board_orders(line, start, end, now)
    if form is None:
        form = NewOrderForm(line=line, initial=_new_order_initial(line, day, now))
    return render(request, "monitoring/planning_board.html", {
        **chrome(request), "nav": "planning", "line": line, "lines": Line.objects.order_by("code"),
        "day": day, "previous_day": day - timedelta(days=1), "next_day": day + timedelta(days=1),
        "start": start, "end": end, "rows": rows, "form": form, "error": error, "site_tz": line.area.site.time_zone,
        "chart_data": {"start": iso(start), "end": iso(end), "now": iso(now), "zone": line.area.site.time_zone,
                       "orders": [row["chart"] for row in rows]},
    }, status=status)


@login_required
@require_GET
def planning_index(request: HttpRequest) -> HttpResponse:
    """The board of the first line."""
    if not can_plan(request.user):
        raise PermissionDenied(
            gettext("Only managers plan work orders. An administrator can give you the manager role."))
    line = Line.objects.order_by("code").first()
    if line is None:
        return render(request, "monitoring/planning_board.html", {**chrome(request), "nav": "planning", "line": None})
    return redirect("planning-board", code=line.code)


@login_required
@friendly_not_found
@require_http_methods(["GET", "HEAD", "POST"])
def planning_board(request: HttpRequest, code: str) -> HttpResponse:
    """GET: the board of two local days from ?day= (today by default). POST: a new order from the form."""
    line = planned_line(request, code)
    if redirect_to := canonical_redirect(request, code=line.code):
        return redirect_to
    if request.method != "POST":
        try:
            first_day = _first_day(request, line)
        except ValueError as why:
            return _render_board(request, line, None, status=400, error=str(why))
        return _render_board(request, line, first_day)
    form = NewOrderForm(request.POST, line=line)
    if not form.is_valid():
        return _render_board(request, line, None, form=form, status=400,
                             error=gettext("The order was not created: see the fields marked below."))
    data = form.cleaned_data
    try:
        order, _, _ = put_order(data["number"], OrderIn(
            product=data["product"].code, quantity=data["quantity"], line=line.code,
            machine=data["machine"].code if data["machine"] else None,
            planned_start=data["planned_start"], planned_end=data["planned_end"],
        ), writable_lines={line.pk}, by=_by(request))
    except DomainError as error:
        _form_errors(form, error)
        return _render_board(request, line, None, form=form, status=400,
                             error=gettext("The order was not created: see the fields marked below."))
    except (MoveRefused, NotYours) as refused:  # the same number was put at once by someone else
        return _render_board(request, line, None, form=form, status=409, error=str(refused))
    messages.success(request, gettext("Work order %(number)s planned for %(start)s.") % {
        "number": order.number, "start": wall_clock(order.planned_start, line.area.site.zone)})
    return _back_to_board(line, order)


def _form_errors(form: PlanFields, error: DomainError) -> None:
    """The workflow's refusal, on the fields it names (or the form's when it names none of them)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for name, problems in error.message_dict.items():
        form.add_error(name if name in form.fields else None, problems)


def _back_to_board(line: Line, order: WorkOrder) -> HttpResponseRedirect:
    day = order.planned_start.astimezone(line.area.site.zone).date()
    return HttpResponseRedirect(f"{reverse('planning-board', args=[line.code])}?day={day.isoformat()}")


def _board_order(line: Line, number: str) -> WorkOrder:
    order = WorkOrder.objects.select_related("product", "line__area__site", "machine").filter(
        line=line, number=number).first()
    if order is None:
        raise UnknownCode(gettext("Line %(line)s has no work order “%(number)s”.")
                          % {"line": line.code, "number": number})
    return order


@login_required
@friendly_not_found
@require_http_methods(["GET", "HEAD", "POST"])
def reschedule_order(request: HttpRequest, code: str, number: str) -> HttpResponse:
    """GET: the order's reschedule form. POST: its new quantity, machine and planned window, through put_order."""
    line = planned_line(request, code)
    order = _board_order(line, number)
    if redirect_to := canonical_redirect(request, code=line.code):
        return redirect_to
    form = RescheduleForm.of(order, request.POST if request.method == "POST" else None)
    status, error = 200, ""
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                order, _, changed = put_order(order.number, OrderIn(
                    product=order.product.code, quantity=data["quantity"], line=line.code,
                    machine=data["machine"].code if data["machine"] else None,
                    planned_start=data["planned_start"], planned_end=data["planned_end"],
                ), writable_lines={line.pk}, by=_by(request))
            except DomainError as refused:
                _form_errors(form, refused)
                status, error = 400, gettext("Nothing was changed: see the fields marked below.")
            except (MoveRefused, NotYours) as refused:
                status, error = 409, str(refused)
            else:
                done = (gettext("Work order %(number)s rescheduled.") if changed
                        else gettext("Work order %(number)s: nothing changed."))
                messages.success(request, done % {"number": order.number})
                return _back_to_board(line, order)
        else:
            status, error = 400, gettext("Nothing was changed: see the fields marked below.")
    return render(request, "monitoring/planning_order.html", {
        **chrome(request), "nav": "planning", "line": line, "order": order, "form": form, "error": error,
        "site_tz": line.area.site.time_zone, "moves": [m for m in allowed_moves(order) if m in BOARD_MOVES],
    }, status=status)


@login_required
@friendly_not_found
@require_POST
def move_board_order(request: HttpRequest, code: str, number: str, move: str) -> HttpResponse:
    """Release or cancel an order from the board, through the state machine."""
    line = planned_line(request, code)
    order = _board_order(line, number)
    if move not in BOARD_MOVES:
        raise Http404(f"The board releases and cancels orders; {move!r} is not one of them.")
    try:
        move_order(order, move, by=_by(request))
    except MoveRefused as refused:
        day = order.planned_start.astimezone(line.area.site.zone).date()
        return _render_board(request, line, day, status=409, error=str(refused))
    messages.success(request, (gettext("Work order %(number)s: released.") if move == "release"
                               else gettext("Work order %(number)s: cancelled.")) % {"number": order.number})
    return _back_to_board(line, order)
