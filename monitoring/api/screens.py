"""JSON the line screens use: a machine's stops, timeline and events, the reason tree, and operator actions.

Reading needs a line the user may see (`Line.objects.visible_to`; otherwise 404). Giving reasons and
entering scrap needs an operator of the machine's line or an admin (`can_operate_line`; otherwise 403).
Stops and intervals are folds over `kpi.MachinePeriod`, so the screens equal `/api/v1/oee/`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError as DomainError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring import actions, charts, kpi
from monitoring.api.params import parse_instant
from monitoring.models import Event
from planning.api.access import ApiView, Caller
from planning.api.fields import Instant, WholeNumber, whole_number
from planning.api.orders import domain_errors
from planning.lib.instants import iso
from planning.models import DowntimeReason, Machine, Scope
from planning.permissions import can_operate_line
from planning.schedule import current_shift

# The period a screen gets when it names none and the line has no shift running now.
FALLBACK_PERIOD = timedelta(hours=8)
LONGEST_PERIOD = timedelta(days=31)
MAX_EVENTS = 1000


# --- reading requests ---------------------------------------------------------------------------

def _period(machine: Machine, params, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) from the query, each defaulting to the current shift (else the last 8 hours)."""
    shift = current_shift(machine.line, now)
    default_start, default_end = (shift.start, shift.end) if shift else (now - FALLBACK_PERIOD, now)
    start = parse_instant(params["start"], "start") if params.get("start") else default_start
    end = parse_instant(params["end"], "end") if params.get("end") else default_end
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
    machine = Machine.objects.with_plant().filter(code=code, line__in=Caller.of(request).lines()).first()
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
        raise domain_errors(error) from None


# --- a machine's states around a period --------------------------------------------------------


def stops(machine: Machine, start: datetime, end: datetime, now: datetime) -> list[dict]:
    """The stops (stopped or no-data) that overlap [start, end), whole, oldest first."""
    return [
        {
            "start": iso(s.start), "end": None if s.still_going else iso(s.end), "duration_s": s.duration_s,
            "state": s.state, "reason": s.reason, "reason_name": s.reason_name, "fault_code": s.fault_code,
            "unplanned": s.unplanned, "unexplained": s.needs_reason,
        }
        for s in charts.stops(kpi.MachinePeriod(machine, start, end, now), asked_end=end)
    ]


def timeline(machine: Machine, start: datetime, end: datetime, now: datetime) -> list[dict]:
    """The machine's states clipped to [start, min(end, now))."""
    return [
        {"start": iso(row.start), "end": iso(row.end), "state": row.state, "reason": row.reason,
         "reason_name": row.reason_name}
        for row in charts.timeline(kpi.MachinePeriod(machine, start, end, now))
    ]


def _event_json(event: Event) -> dict:
    return {"ts": iso(event.ts), "kind": event.kind, "detail": event.detail,
            "user": event.user.get_username() if event.user else None}


def reason_tree(purpose: str | None = None) -> list[dict]:
    """Groups with their reasons (a reason with no group stands alone with no children).

    For `purpose` "stop", only what a stop may be given; for "scrap", the reasons scrap may be
    entered with, as a flat list. The screens show exactly this.
    """
    reasons = list(DowntimeReason.objects.order_by("code"))
    if purpose == "scrap":
        eligible = set(DowntimeReason.objects.for_scrap().values_list("pk", flat=True))
        parents = {r.parent_id for r in reasons}
        return [_reason_json(r, []) for r in reasons if r.pk in eligible and r.pk not in parents]
    eligible = set(DowntimeReason.objects.for_stops().values_list("pk", flat=True)) if purpose == "stop" else None
    children: dict[int, list[dict]] = {}
    has_children = set()
    for reason in reasons:
        if reason.parent_id is not None:
            has_children.add(reason.parent_id)
            if eligible is None or reason.pk in eligible:
                children.setdefault(reason.parent_id, []).append(_reason_json(reason, []))
    return [
        _reason_json(r, children.get(r.pk, []))
        for r in reasons
        if r.parent_id is None and (
            eligible is None or r.pk in children or (r.pk in eligible and r.pk not in has_children)
        )
    ]


def _reason_json(reason: DowntimeReason, children: list[dict]) -> dict:
    return {"code": reason.code, "name": reason.name, "loss_category": reason.loss_category,
            "planned": reason.planned, "children": children}


# --- what the screens' endpoints answer (for the OpenAPI schema) --------------------------------

PERIOD_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="Default: the current shift's start."),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="Default: the current shift's end."),
]


class StopSerializer(serializers.Serializer):
    start = Instant()
    end = Instant(allow_null=True, help_text="null while it goes on.")
    duration_s = serializers.FloatField()
    state = serializers.CharField()
    reason = serializers.CharField(allow_null=True)
    reason_name = serializers.CharField(allow_null=True)
    fault_code = serializers.IntegerField(allow_null=True)
    unplanned = serializers.BooleanField()
    unexplained = serializers.BooleanField(help_text="Unplanned and without a reason: the operator is asked why.")


class MachineStopsSerializer(serializers.Serializer):
    machine = serializers.CharField()
    start = Instant()
    end = Instant()
    stops = StopSerializer(many=True)


class IntervalSerializer(serializers.Serializer):
    start = Instant()
    end = Instant()
    state = serializers.CharField()
    reason = serializers.CharField(allow_null=True)
    reason_name = serializers.CharField(allow_null=True)


class MachineTimelineSerializer(serializers.Serializer):
    machine = serializers.CharField()
    start = Instant()
    end = Instant()
    intervals = IntervalSerializer(many=True)


class EventSerializer(serializers.Serializer):
    ts = Instant()
    kind = serializers.CharField()
    detail = serializers.DictField()
    user = serializers.CharField(allow_null=True)


class MachineEventsSerializer(serializers.Serializer):
    machine = serializers.CharField()
    events = EventSerializer(many=True)


class ReasonLeafSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    loss_category = serializers.CharField()
    planned = serializers.BooleanField()
    children = serializers.ListField(child=serializers.DictField(), max_length=0)


class ReasonSerializer(ReasonLeafSerializer):
    children = ReasonLeafSerializer(many=True)


class AssignReasonSerializer(serializers.Serializer):
    stop_start = Instant(help_text="The start of the stop, as listed.")
    reason = serializers.CharField(help_text="A reason code a stop may take (GET /api/v1/reasons/?for=stop).")
    split_at = Instant(required=False, allow_null=True,
                                         help_text="Give the reason from here on only (splits the stop).")


class ReasonGivenSerializer(serializers.Serializer):
    machine = serializers.CharField()
    event = EventSerializer()
    stops = StopSerializer(many=True)


class ScrapSerializer(serializers.Serializer):
    quantity = WholeNumber(min_value=1)
    reason = serializers.CharField(required=False, allow_null=True, help_text="A quality reason code.")


class ScrapEnteredSerializer(serializers.Serializer):
    machine = serializers.CharField()
    event = EventSerializer()


# --- views --------------------------------------------------------------------------------------

class StopsView(ApiView):
    """GET /api/v1/machines/<code>/stops/?start=&end= → {"stops": [...]} (default: the current shift)."""

    scopes = {"GET": Scope.RESULTS_READ}

    @extend_schema(parameters=PERIOD_PARAMETERS, responses={200: MachineStopsSerializer, 404: OpenApiTypes.OBJECT})
    def get(self, request: Request, code: str) -> Response:
        machine = _visible_machine(request, code)
        now = timezone.now()
        start, end = _period(machine, request.query_params, now)
        return Response({"machine": machine.code, "start": iso(start), "end": iso(end),
                         "stops": stops(machine, start, end, now)})


class TimelineView(ApiView):
    """GET /api/v1/machines/<code>/timeline/?start=&end= → {"intervals": [...]} clipped to the period."""

    scopes = {"GET": Scope.RESULTS_READ}

    @extend_schema(parameters=PERIOD_PARAMETERS, responses={200: MachineTimelineSerializer, 404: OpenApiTypes.OBJECT})
    def get(self, request: Request, code: str) -> Response:
        machine = _visible_machine(request, code)
        now = timezone.now()
        start, end = _period(machine, request.query_params, now)
        return Response({"machine": machine.code, "start": iso(start), "end": iso(end),
                         "intervals": timeline(machine, start, end, now)})


class EventsView(ApiView):
    """GET /api/v1/machines/<code>/events/?limit=100 → {"events": [...]}, newest first."""

    scopes = {"GET": Scope.RESULTS_READ}

    @extend_schema(parameters=[OpenApiParameter("limit", OpenApiTypes.INT, description="1–1000, 100.")],
                   responses={200: MachineEventsSerializer, 404: OpenApiTypes.OBJECT})
    def get(self, request: Request, code: str) -> Response:
        machine = _visible_machine(request, code)
        limit = whole_number(request.query_params.get("limit", "100"), "limit", 1, MAX_EVENTS)
        events = Event.objects.filter(machine=machine).select_related("user").order_by("-ts", "-id")[:limit]
        return Response({"machine": machine.code, "events": [_event_json(e) for e in events]})


class ReasonsView(ApiView):
    """GET /api/v1/reasons/?for=stop|scrap → the reason tree (of what a stop, or scrap, may be given)."""

    @extend_schema(parameters=[OpenApiParameter("for", OpenApiTypes.STR, enum=["stop", "scrap"])],
                   responses=ReasonSerializer(many=True))
    def get(self, request: Request) -> Response:
        purpose = request.query_params.get("for")
        if purpose not in (None, "", "stop", "scrap"):
            raise ValidationError({"for": f"for={purpose!r}: give stop, scrap, or leave it out for every reason."})
        return Response(reason_tree(purpose or None))


class AssignReasonView(ApiView):
    """POST /api/v1/machines/<code>/reasons/ {"stop_start", "reason", "split_at"?} → 201 and the stops."""

    @extend_schema(request=AssignReasonSerializer, responses={201: ReasonGivenSerializer, 400: OpenApiTypes.OBJECT})
    def post(self, request: Request, code: str) -> Response:
        machine = _operable_machine(request, code)
        data = _object(request)
        if data.get("stop_start") in (None, ""):
            raise ValidationError({"stop_start": "stop_start is required: the start of the stop, as listed."})
        stop_start = parse_instant(data["stop_start"], "stop_start")
        reason = data.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError({"reason": "reason is required: a reason code."})
        split_at = data.get("split_at")
        split_at = parse_instant(split_at, "split_at") if split_at not in (None, "") else None
        event = _domain_call(actions.assign_reason, machine, stop_start, reason.strip(), request.user, split_at)
        now = timezone.now()
        start, end = _period(machine, {}, now)
        start = min(start, stop_start)
        end = min(end, start + LONGEST_PERIOD)  # a stop of last year costs a month of stops, not a year
        return Response(
            {"machine": machine.code, "event": _event_json(event), "stops": stops(machine, start, end, now)},
            status=status.HTTP_201_CREATED,
        )


class ScrapView(ApiView):
    """POST /api/v1/machines/<code>/scrap/ {"quantity", "reason"?} → 201 and the event."""

    @extend_schema(request=ScrapSerializer, responses={201: ScrapEnteredSerializer, 400: OpenApiTypes.OBJECT})
    def post(self, request: Request, code: str) -> Response:
        machine = _operable_machine(request, code)
        data = _object(request)
        quantity = whole_number(data.get("quantity"), "quantity", 1, actions.MAX_SCRAP)
        reason = data.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ValidationError({"reason": "reason must be a reason code or null."})
        event = _domain_call(actions.enter_scrap, machine, quantity, request.user, (reason or "").strip() or None)
        return Response({"machine": machine.code, "event": _event_json(event)}, status=status.HTTP_201_CREATED)
