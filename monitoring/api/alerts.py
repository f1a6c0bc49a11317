"""Alerts over the API: list them (people by the lines they see, ERP clients with results:read), and
acknowledge one (people who answer for its line: its operators, managers, admins).

Acknowledging goes through `monitoring.alerts.acknowledge`, the door the line screen's button uses.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring import alerts
from monitoring.models import Alert, AlertKind
from planning.api.access import ApiView, Caller
from planning.api.fields import Instant, whole_number
from planning.models import Scope
from planning.permissions import can_acknowledge_alerts

STATES = ("open", "ended", "all")
MAX_ALERTS = 500
LARGEST_ID = 2**63 - 1


def _alert_id(raw: str) -> int | None:
    """The id in the path; None for text that is no id the database could hold (a 404, like an unknown one)."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > LARGEST_ID:
        return None
    return int(text)


ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The alert's id.")


class AlertRuleRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=AlertKind.choices)


class AlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rule = AlertRuleRefSerializer()
    line = serializers.CharField()
    machine = serializers.CharField(allow_null=True, help_text="null for an alert on a whole line's OEE.")
    title = serializers.CharField()
    since = Instant(help_text="When the condition began: the stop's start, where the data stopped, the shift's start.")
    opened_at = Instant()
    sent_at = Instant(allow_null=True, help_text="When its e-mail went out; null until then.")
    escalation_level = serializers.IntegerField(help_text="Escalation steps taken (0: none).")
    acknowledged_at = Instant(allow_null=True)
    acknowledged_by = serializers.CharField(allow_null=True)
    ended_at = Instant(allow_null=True, help_text="null while its condition holds.")
    detail = serializers.DictField(help_text="What the condition found: minutes, reason, scrap percent, OEE …")


class AlertListSerializer(serializers.Serializer):
    alerts = AlertSerializer(many=True)


class AcknowledgedSerializer(serializers.Serializer):
    acknowledged = serializers.BooleanField(help_text="true when this call acknowledged it; false when someone "
                                                      "had already (see acknowledged_by).")
    alert = AlertSerializer()


def _visible(request: Request):
    return Alert.objects.filter(line__in=Caller.of(request).lines()).select_related(
        "rule", "line__area__site", "machine", "acknowledged_by")


class AlertsView(ApiView):
    """GET /api/v1/alerts/?line=&state=open|ended|all&limit= → {"alerts": [...]}, newest first."""

    scopes = {"GET": Scope.RESULTS_READ}

    @extend_schema(
        operation_id="alerts_list",
        parameters=[
            OpenApiParameter("line", OpenApiTypes.STR, description="A line's code; none: every line you may see."),
            OpenApiParameter("state", OpenApiTypes.STR, enum=list(STATES),
                             description="open (default): conditions that hold; ended; all."),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"At most this many (1–{MAX_ALERTS}, 100)."),
        ],
        responses={200: AlertListSerializer, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        state = params.get("state", "open") or "open"
        if state not in STATES:
            raise ValidationError({"state": f"state={state!r}: give open, ended or all."})
        limit = whole_number(params.get("limit", "100"), "limit", 1, MAX_ALERTS)
        found = _visible(request)
        if params.get("line"):
            found = found.filter(line__code=params["line"])
        if state == "open":
            found = found.filter(ended_at__isnull=True)
        elif state == "ended":
            found = found.filter(ended_at__isnull=False)
        return Response({"alerts": [alerts.alert_json(a) for a in found.order_by("-opened_at", "-id")[:limit]]})


class AlertView(ApiView):
    """GET /api/v1/alerts/<id>/ → the alert."""

    scopes = {"GET": Scope.RESULTS_READ}

    @extend_schema(parameters=[ID], responses={200: AlertSerializer, 404: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: str) -> Response:
        number = _alert_id(pk)
        alert = _visible(request).filter(pk=number).first() if number is not None else None
        if alert is None:
            raise NotFound(f"No alert {pk} that you may see.")
        return Response(alerts.alert_json(alert))


class AcknowledgeView(ApiView):
    """POST /api/v1/alerts/<id>/acknowledge/ → 200 and the alert: who acknowledged it, and when."""

    @extend_schema(parameters=[ID], request=None, responses={200: AcknowledgedSerializer, 403: OpenApiTypes.OBJECT,
                                            404: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: str) -> Response:
        number = _alert_id(pk)
        alert = Alert.objects.select_related("line").filter(pk=number).first() if number is not None else None
        if alert is None:
            raise NotFound(f"No alert {pk}.")
        user = Caller.of(request).user
        if user is None:
            raise PermissionDenied("Alerts are acknowledged by people who answer for the line, not by API clients.")
        if not can_acknowledge_alerts(user, alert.line):
            raise PermissionDenied(f"Only operators of line {alert.line.code} and managers may acknowledge its alerts.")
        done = alerts.acknowledge(alert, user)
        alert = _visible(request).get(pk=number)
        return Response({"acknowledged": done, "alert": alerts.alert_json(alert)})
