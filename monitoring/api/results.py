"""The results API: OEE over a period, closed shifts, and downtime events with a cursor.

Every figure is `monitoring.kpi`'s, so the API equals the screens and the shift report.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring import kpi, plan
from monitoring.api.params import required_instant
from planning.api.access import ApiView, Caller
from planning.api.fields import Instant, whole_number
from planning.lib.instants import iso
from planning.models import Area, EventType, Line, Machine, OutboxEvent, Scope, Site
from planning.schedule import line_calendar

# A period's cost grows with its length (every shift of every line in it, every interval and
# bucket): /api/v1/oee/ takes up to API_MAX_PERIOD_DAYS (a year by default), the shifts up to a
# month, as each of their shifts is a result of its own.
LONGEST_SHIFT_QUERY_DAYS = 31
STOP_EVENTS = (EventType.STOP_STARTED, EventType.STOP_ENDED, EventType.STOP_LONG)


class FiguresSerializer(serializers.Serializer):
    availability = serializers.FloatField(allow_null=True)
    performance = serializers.FloatField(allow_null=True)
    quality = serializers.FloatField(allow_null=True)
    oee = serializers.FloatField(allow_null=True)
    teep = serializers.FloatField(allow_null=True)
    all_time_s = serializers.FloatField()
    scheduled_s = serializers.FloatField()
    planned_stop_s = serializers.FloatField()
    planned_production_s = serializers.FloatField()
    unplanned_stop_s = serializers.FloatField()
    run_s = serializers.FloatField()
    small_stop_s = serializers.FloatField()
    unexplained_s = serializers.FloatField()
    no_data_s = serializers.FloatField()
    total_count = serializers.IntegerField()
    good_count = serializers.IntegerField()
    reject_count = serializers.IntegerField()
    ideal_production_s = serializers.FloatField()
    losses = serializers.DictField(child=serializers.FloatField(), help_text="The six big losses, in seconds.")
    reject_parts = serializers.DictField(child=serializers.IntegerField())


class OeeSerializer(FiguresSerializer):
    machine = serializers.CharField(allow_null=True, required=False)
    line = serializers.CharField(allow_null=True, required=False)
    area = serializers.CharField(required=False)
    site = serializers.CharField(required=False)
    start = Instant()
    end = Instant()


class OeeView(ApiView):
    """GET /api/v1/oee/?machine=|line=|area=|site=CODE&start=…&end= → OEE figures, times, counts and losses.

    A line's figures are its subject machines' (its constraint machine, else all); an area's and
    a site's are the sums of their lines', each in its own site's calendar.
    """

    scopes = {"GET": Scope.RESULTS_READ}

    @extend_schema(
        parameters=[
            *[OpenApiParameter(name, OpenApiTypes.STR, description=f"The {name}'s code (give exactly one).")
              for name in ("machine", "line", "area", "site")],
            OpenApiParameter("start", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("end", OpenApiTypes.DATETIME, required=True),
        ],
        responses=OeeSerializer,
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        named = [name for name in ("machine", "line", "area", "site") if params.get(name)]
        if len(named) != 1:
            raise ValidationError({"machine": "Give exactly one of machine=, line=, area= or site= (a code)."})
        start, end = required_instant(params, "start"), required_instant(params, "end")
        if end <= start:
            raise ValidationError({"end": "end must be after start."})
        longest = settings.API_MAX_PERIOD_DAYS
        if end - start > timedelta(days=longest):
            raise ValidationError({"end": f"A period may last at most {longest} days: ask for a longer one in parts."})
        visible = Caller.of(request).lines().select_related("area__site", "constraint_machine")
        kind, code = named[0], params[named[0]]
        if kind == "machine":
            machine = Machine.objects.with_plant().filter(code=code, line__in=visible).first()
            if machine is None:
                raise ValidationError({"machine": f"No machine {code!r} that you may see."})
            result = kpi.machine_result(machine, start, end)
            subject = {"machine": machine.code, "line": machine.line.code}
        elif kind == "line":
            line = visible.filter(code=code).first()
            if line is None:
                raise ValidationError({"line": f"No line {code!r} that you may see."})
            result = kpi.line_result(line, start, end)
            subject = {"line": line.code, "machine": line.constraint_machine.code if line.constraint_machine else None}
        else:
            model = Area if kind == "area" else Site
            place = model.objects.filter(code=code).first()
            lines = list(visible.filter(**{"area" if kind == "area" else "area__site": place})) if place else []
            if not lines:
                raise ValidationError({kind: f"No {kind} {code!r} with a line that you may see."})
            result = sum((kpi.line_result(line, start, end) for line in lines), kpi.EMPTY)
            subject = {kind: place.code}
        return Response({**subject, "start": iso(start), "end": iso(end), **result.as_dict()})


class MachineShiftSerializer(FiguresSerializer):
    machine = serializers.CharField()


class OrderInShiftSerializer(serializers.Serializer):
    number = serializers.CharField()
    product = serializers.CharField()
    status = serializers.CharField()
    machine = serializers.CharField(allow_null=True)
    quantity = serializers.IntegerField(help_text="The order's whole planned quantity.")
    planned_start = Instant()
    planned_end = Instant()
    actual_start = Instant(allow_null=True)
    actual_end = Instant(allow_null=True)
    planned_quantity = serializers.FloatField(help_text="The part of its quantity planned in this shift.")
    good_count = serializers.IntegerField(help_text="Its good parts made in this shift.")
    schedule_adherence = serializers.FloatField(allow_null=True)


class ShiftPlanSerializer(serializers.Serializer):
    planned_quantity = serializers.FloatField()
    good_count = serializers.IntegerField()
    schedule_adherence = serializers.FloatField(
        allow_null=True, help_text="Σ min(good, planned) / Σ planned over the orders; null when none was planned.")
    orders = OrderInShiftSerializer(many=True)


class ShiftSerializer(serializers.Serializer):
    line = serializers.CharField()
    shift = serializers.CharField()
    local_date = serializers.DateField()
    start = Instant()
    end = Instant()
    line_results = FiguresSerializer()
    machines = MachineShiftSerializer(many=True)
    plan = ShiftPlanSerializer(help_text="Plan against actual of the orders planned or run in the shift.")


class ShiftsView(ApiView):
    """GET /api/v1/shifts/?line=L1&start=&end= → the line's closed shifts in the period, per machine.

    The figures of the shift report: each shift that started in [start, end) and has ended.
    """

    scopes = {"GET": Scope.RESULTS_READ}

    @extend_schema(
        parameters=[
            OpenApiParameter("line", OpenApiTypes.STR, required=True),
            OpenApiParameter("start", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("end", OpenApiTypes.DATETIME, required=True),
        ],
        responses=ShiftSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        line = Caller.of(request).lines().select_related("area__site", "constraint_machine").filter(
            code=params.get("line") or "").first()
        if line is None:
            raise ValidationError({"line": f"No line {params.get('line')!r} that you may see (line= is required)."})
        start, end = required_instant(params, "start"), required_instant(params, "end")
        if end <= start or (end - start).days > LONGEST_SHIFT_QUERY_DAYS:
            raise ValidationError({"end": f"end must be after start, at most {LONGEST_SHIFT_QUERY_DAYS} days later."})
        return Response(closed_shifts(line, start, end))


def closed_shifts(line: Line, start, end) -> list[dict]:
    """Each shift of the line that started in [start, end) and has ended: results per machine and the line's."""
    now = timezone.now()
    calendar = line_calendar(line, start, end)
    machines = {m.pk: m for m in [*line.machines_in_order(), *line.subject_machines()]}
    closed = [w for w in calendar.windows if start <= w.start < end and w.end <= now]
    orders = plan.orders_in(line, closed[0].start, closed[-1].end) if closed else []
    rows = []
    for window in closed:
        results = {pk: kpi.machine_result(m, window.start, window.end, now, calendar) for pk, m in machines.items()}
        rows.append({
            "line": line.code, "shift": window.name, "local_date": window.local_date.isoformat(),
            "start": iso(window.start), "end": iso(window.end),
            "line_results": sum((results[m.pk] for m in line.subject_machines()), kpi.EMPTY).as_dict(),
            "machines": [{"machine": m.code, **results[m.pk].as_dict()} for m in line.machines_in_order()],
            "plan": plan.period_plan(line, window.start, window.end, now, orders).as_dict(),
        })
    return rows


class StopEventSerializer(serializers.Serializer):
    cursor = serializers.CharField(help_text="Give it as since= to get what came after.")
    id = serializers.UUIDField(help_text="The event's id, as webhooks send it.")
    type = serializers.ChoiceField(choices=[t.value for t in STOP_EVENTS])
    occurred_at = Instant()
    machine = serializers.CharField()
    line = serializers.CharField()
    start = Instant()
    end = Instant(allow_null=True)
    duration_s = serializers.FloatField()
    reason = serializers.CharField(allow_null=True)
    reason_name = serializers.CharField(allow_null=True)
    fault_code = serializers.IntegerField(allow_null=True)


class StopPageSerializer(serializers.Serializer):
    events = StopEventSerializer(many=True)
    next = serializers.CharField(help_text="The cursor to ask with next time (the same when nothing came).")


class StopsView(ApiView):
    """GET /api/v1/stops/?since=<cursor>&limit=100 → downtime events after the cursor, oldest first.

    A stop is downtime once it lasts its machine's micro-stop threshold: `stop.started`, then
    `stop.ended`, and `stop.long` past the machine's limit. Events get their cursor in the order
    they are committed, so pulling with the last `next` never misses or repeats one.
    """

    scopes = {"GET": Scope.RESULTS_READ}

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.STR, description="The `next` of the last pull; none: from the start."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="At most this many events (1–1000, 100)."),
        ],
        responses=StopPageSerializer,
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        since = _cursor(params.get("since", "0") or "0")
        limit = whole_number(params.get("limit", "100"), "limit", 1, 1000)
        events = stop_events(Caller.of(request).lines(), since, limit)
        return Response({
            "events": [
                {"cursor": str(event.pk), "id": str(event.uid), "type": event.type,
                 "occurred_at": iso(event.occurred_at), **_stop_fields(event.payload)}
                for event in events
            ],
            "next": str(events[-1].pk if events else since),
        })


def stop_events(lines: QuerySet, since: int, limit: int) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type__in=STOP_EVENTS, pk__gt=since, line__in=lines).order_by("pk")[:limit])


def _stop_fields(payload: dict) -> dict:
    names = ("machine", "line", "start", "end", "duration_s", "reason", "reason_name", "fault_code")
    return {name: payload.get(name) for name in names}


def _cursor(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ValidationError({"since": f"since={raw!r} is not a cursor: give the `next` of the last answer."})
    return int(raw)
