"""JSON the line screens use: a machine's stops, timeline and events, the reason tree, and operator actions.

Reading needs a line the user may see (`lines_visible_to`; otherwise 404). Giving reasons and
entering scrap needs an operator of the machine's line or an admin (`can_operate_line`; otherwise 403).
Times of stops and intervals are those of `kpi.state_spans`, so the screens equal `/api/v1/oee/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError as DomainError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring import actions, kpi
from monitoring.lib import oee
from monitoring.live import NO_DATA_NAME, NO_DATA_REASON, iso
from monitoring.models import DowntimeReason, Event, Line, Machine, MachineStatus, StateInterval
from monitoring.permissions import can_operate_line, lines_visible_to
from planning.schedule import current_shift

# The period a screen gets when it names none and the line has no shift running now.
FALLBACK_PERIOD = timedelta(hours=8)
LONGEST_PERIOD = timedelta(days=31)
MAX_EVENTS = 1000


# --- reading requests ---------------------------------------------------------------------------

def _parse_instant(raw: object, name: str) -> datetime:
    if not isinstance(raw, str):
        raise ValidationError({name: f"{name} must be an ISO 8601 date-time string, got {raw!r}."})
    value = parse_datetime(raw.strip().replace(" ", "+"))
    if value is None:
        raise ValidationError({name: f"{name}={raw!r} is not an ISO 8601 date-time."})
    if value.tzinfo is None:
        raise ValidationError({name: f"{name}={raw!r} has no UTC offset (add Z or +01:00)."})
    return value.astimezone(UTC)


def _period(machine: Machine, params, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) from the query, each defaulting to the current shift (else the last 8 hours)."""
    shift = current_shift(machine.line, now)
    default_start, default_end = (shift.start, shift.end) if shift else (now - FALLBACK_PERIOD, now)
    start = _parse_instant(params["start"], "start") if params.get("start") else default_start
    end = _parse_instant(params["end"], "end") if params.get("end") else default_end
    if end <= start:
        raise ValidationError({"end": "end must be after start."})
    if end - start > LONGEST_PERIOD:
        raise ValidationError({"end": f"A period may last at most {LONGEST_PERIOD.days} days."})
    return start, end


def _object(request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": "Send a JSON object."})
    return request.data


def _visible_machine(request: Request, code: str) -> Machine:
    visible = lines_visible_to(request.user, Line.objects.all())
    machine = Machine.objects.with_plant().filter(code=code, line__in=visible).first()
    if machine is None:
        raise NotFound(f"No machine {code!r} that you may see.")
    return machine


def _operable_machine(request: Request, code: str) -> Machine:
    machine = Machine.objects.with_plant().filter(code=code).first()
    if machine is None:
        raise NotFound(f"No machine {code!r}.")
    if not can_operate_line(request.user, machine.line):
        raise PermissionDenied(
            f"Only operators of line {machine.line.code} may give reasons and enter scrap on {machine.code}."
        )
    return machine


def _domain_call(function, *args, **kwargs):
    """Call an action; its ValidationError becomes a 400 naming the field."""
    try:
        return function(*args, **kwargs)
    except DomainError as error:
        if hasattr(error, "error_dict"):
            raise ValidationError(error.message_dict) from None
        raise ValidationError({"non_field_errors": error.messages}) from None


# --- a machine's states around a period --------------------------------------------------------

@dataclass(frozen=True)
class Stretch:
    """A stretch of one state: a stored interval, or time no interval covers (no-data)."""

    start: datetime
    end: datetime
    """Where it ends as the figures count it: an open interval ends now, or where the data stopped."""
    open: bool
    state: str
    reason: DowntimeReason | None
    fault_code: int | None
    unplanned: bool

    @property
    def reason_fields(self) -> dict:
        if self.state == MachineStatus.NO_DATA:
            return {"reason": NO_DATA_REASON, "reason_name": NO_DATA_NAME}
        return {"reason": self.reason.code if self.reason else None,
                "reason_name": self.reason.name if self.reason else None}


def stretches(machine: Machine, start: datetime, end: datetime, now: datetime) -> list[Stretch]:
    """The machine's states around [start, end) in time order, with gaps inside it filled as no-data."""
    spans = kpi.state_spans(machine, start, end, now)
    by_start = {span.start: (span, length) for span, length in zip(spans, oee.stop_episode_lengths(spans))}
    margin = timedelta(seconds=machine.micro_stop_threshold)
    rows = (
        StateInterval.objects.overlapping(start - margin, end + margin)
        .filter(machine=machine).select_related("reason").order_by("start")
    )
    limit = min(end, now)
    result: list[Stretch] = []
    cursor = start

    def fill_gap(until: datetime) -> None:
        gap_start, gap_end = max(cursor, start), min(until, limit)
        if gap_start < gap_end:
            result.append(Stretch(gap_start, gap_end, gap_end >= now, MachineStatus.NO_DATA, None, None, True))

    for row in rows:
        span, length = by_start.get(row.start.timestamp(), (None, 0.0))
        if row.end is not None:
            row_end = row.end
        elif span is not None:
            row_end = datetime.fromtimestamp(span.end, UTC)
        else:
            row_end = now  # written after the spans were read: it is the newest
        fill_gap(row.start)
        if row.state == MachineStatus.RUNNING:
            unplanned = False
        elif row.state == MachineStatus.NO_DATA:
            unplanned = True
        else:
            unplanned = not (row.reason and row.reason.planned) and length >= machine.micro_stop_threshold
        result.append(Stretch(row.start, row_end, row.end is None and row_end >= now, row.state, row.reason,
                              row.fault_code, unplanned))
        cursor = max(cursor, row_end)
    fill_gap(limit)
    return result


def stops(machine: Machine, start: datetime, end: datetime, now: datetime) -> list[dict]:
    """The stops (stopped or no-data) that overlap [start, end), whole, oldest first."""
    rows = []
    for s in stretches(machine, start, end, now):
        if s.state == MachineStatus.RUNNING or s.start >= end or (s.end <= start and not s.open):
            continue
        rows.append({
            "start": iso(s.start), "end": None if s.open else iso(s.end),
            "duration_s": (s.end - s.start).total_seconds(), "state": s.state, **s.reason_fields,
            "fault_code": s.fault_code, "unplanned": s.unplanned,
            "unexplained": s.state == MachineStatus.STOPPED and s.reason is None and s.unplanned,
        })
    return rows


def timeline(machine: Machine, start: datetime, end: datetime, now: datetime) -> list[dict]:
    """The machine's states clipped to [start, min(end, now))."""
    limit = min(end, now)
    rows = []
    for s in stretches(machine, start, end, now):
        a, b = max(s.start, start), min(s.end, limit)
        if a < b:
            rows.append({"start": iso(a), "end": iso(b), "state": s.state, **s.reason_fields})
    return rows


def _event_json(event: Event) -> dict:
    return {"ts": iso(event.ts), "kind": event.kind, "detail": event.detail,
            "user": event.user.get_username() if event.user else None}


def reason_tree() -> list[dict]:
    """Groups with their reasons (a reason with no group stands alone with no children)."""
    reasons = list(DowntimeReason.objects.order_by("code"))
    children: dict[int, list[dict]] = {}
    for reason in reasons:
        if reason.parent_id is not None:
            children.setdefault(reason.parent_id, []).append(_reason_json(reason, []))
    return [_reason_json(r, children.get(r.pk, [])) for r in reasons if r.parent_id is None]


def _reason_json(reason: DowntimeReason, children: list[dict]) -> dict:
    return {"code": reason.code, "name": reason.name, "loss_category": reason.loss_category,
            "planned": reason.planned, "children": children}


# --- views --------------------------------------------------------------------------------------

class StopsView(APIView):
    """GET /api/v1/machines/<code>/stops/?start=&end= → {"stops": [...]} (default: the current shift)."""

    def get(self, request: Request, code: str) -> Response:
        machine = _visible_machine(request, code)
        now = timezone.now()
        start, end = _period(machine, request.query_params, now)
        return Response({"machine": machine.code, "start": iso(start), "end": iso(end),
                         "stops": stops(machine, start, end, now)})


class TimelineView(APIView):
    """GET /api/v1/machines/<code>/timeline/?start=&end= → {"intervals": [...]} clipped to the period."""

    def get(self, request: Request, code: str) -> Response:
        machine = _visible_machine(request, code)
        now = timezone.now()
        start, end = _period(machine, request.query_params, now)
        return Response({"machine": machine.code, "start": iso(start), "end": iso(end),
                         "intervals": timeline(machine, start, end, now)})


class EventsView(APIView):
    """GET /api/v1/machines/<code>/events/?limit=100 → {"events": [...]}, newest first."""

    def get(self, request: Request, code: str) -> Response:
        machine = _visible_machine(request, code)
        raw = request.query_params.get("limit", "100")
        try:
            limit = int(raw)
        except ValueError:
            raise ValidationError({"limit": f"limit={raw!r} is not a whole number."}) from None
        if not 1 <= limit <= MAX_EVENTS:
            raise ValidationError({"limit": f"limit must be between 1 and {MAX_EVENTS}."})
        events = Event.objects.filter(machine=machine).select_related("user").order_by("-ts", "-id")[:limit]
        return Response({"machine": machine.code, "events": [_event_json(e) for e in events]})


class ReasonsView(APIView):
    """GET /api/v1/reasons/ → the reason tree, for the screens' buttons."""

    def get(self, request: Request) -> Response:
        return Response(reason_tree())


class AssignReasonView(APIView):
    """POST /api/v1/machines/<code>/reasons/ {"stop_start", "reason", "split_at"?} → 201 and the stops."""

    def post(self, request: Request, code: str) -> Response:
        machine = _operable_machine(request, code)
        data = _object(request)
        if data.get("stop_start") in (None, ""):
            raise ValidationError({"stop_start": "stop_start is required: the start of the stop, as listed."})
        stop_start = _parse_instant(data["stop_start"], "stop_start")
        reason = data.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError({"reason": "reason is required: a reason code."})
        split_at = data.get("split_at")
        split_at = _parse_instant(split_at, "split_at") if split_at not in (None, "") else None
        event = _domain_call(actions.assign_reason, machine, stop_start, reason.strip(), request.user, split_at)
        now = timezone.now()
        start, end = _period(machine, {}, now)
        start = min(start, stop_start)
        return Response(
            {"machine": machine.code, "event": _event_json(event), "stops": stops(machine, start, end, now)},
            status=status.HTTP_201_CREATED,
        )


class ScrapView(APIView):
    """POST /api/v1/machines/<code>/scrap/ {"quantity", "reason"?} → 201 and the event."""

    def post(self, request: Request, code: str) -> Response:
        machine = _operable_machine(request, code)
        data = _object(request)
        quantity = data.get("quantity")
        if isinstance(quantity, str) and quantity.strip().isdigit():
            quantity = int(quantity)
        if quantity is None or isinstance(quantity, bool) or not isinstance(quantity, int):
            raise ValidationError({"quantity": f"quantity must be a whole number of parts, got {quantity!r}."})
        reason = data.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ValidationError({"reason": "reason must be a reason code or null."})
        event = _domain_call(actions.enter_scrap, machine, quantity, request.user, (reason or "").strip() or None)
        return Response({"machine": machine.code, "event": _event_json(event)}, status=status.HTTP_201_CREATED)
