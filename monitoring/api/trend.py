"""GET /api/v1/trend/: the trend page's numbers for the IT systems and analysts (`monitoring.trend`)."""

from __future__ import annotations

from datetime import date

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring import trend
from monitoring.api.results import FiguresSerializer
from planning.api.access import ApiView, Caller
from planning.api.fields import Instant
from planning.lib.instants import EARLIEST, LATEST, iso
from planning.models import Scope


class ReliabilitySerializer(serializers.Serializer):
    machine = serializers.CharField()
    operating_s = serializers.FloatField(help_text="Run time: `run_s` of /api/v1/oee/ for the machine and period.")
    failures = serializers.IntegerField(help_text="Stops of an equipment-failure reason that began in the period "
                                                  "and have ended (as /api/v1/stops/ reports them).")
    repair_s = serializers.FloatField(help_text="The failures' summed length.")
    mtbf_s = serializers.FloatField(allow_null=True, help_text="ISO 22400-2: operating_s / (failures + 1).")
    mttr_s = serializers.FloatField(allow_null=True, help_text="ISO 22400-2: repair_s / failures.")


class MachineBucketSerializer(ReliabilitySerializer):
    unplanned_stop_s = serializers.FloatField()


class BucketSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="2026-W03 or 2026-01.")
    first_day = serializers.DateField()
    last_day = serializers.DateField()
    start = Instant()
    end = Instant()
    line_results = FiguresSerializer(help_text="The line's figures for the bucket: those of /api/v1/oee/?line=.")
    downtime_by_reason_group_s = serializers.DictField(child=serializers.FloatField())
    machines = MachineBucketSerializer(many=True)


class TrendSerializer(serializers.Serializer):
    line = serializers.CharField()
    group = serializers.ChoiceField(choices=list(trend.GROUPINGS))
    start = Instant()
    end = Instant()
    buckets = BucketSerializer(many=True)
    reliability = ReliabilitySerializer(many=True, help_text="Per machine over the whole period.")


def _reliability(code: str, r: trend.Reliability) -> dict:
    return {"machine": code, "operating_s": r.operating_s, "failures": r.failures, "repair_s": r.repair_s,
            "mtbf_s": r.mtbf_s, "mttr_s": r.mttr_s}


def _day(params, name: str) -> date:
    raw = params.get(name)
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        day = None
    if day is None or not EARLIEST.date() <= day < LATEST.date():
        raise ValidationError({name: f"{name} is required: a local day as YYYY-MM-DD, got {raw!r}."})
    return day


class TrendView(ApiView):
    """GET /api/v1/trend/?line=L1&start=2026-01-01&end=2026-06-30&group=week|month → per week or month of
    the line's local days: its figures, downtime per reason group and per machine, MTBF and MTTR."""

    scopes = {"GET": Scope.RESULTS_READ}

    @extend_schema(
        parameters=[
            OpenApiParameter("line", OpenApiTypes.STR, required=True),
            OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="First local day."),
            OpenApiParameter("end", OpenApiTypes.DATE, required=True,
                             description=f"Last local day; at most {trend.MAX_TREND_DAYS} days in all."),
            OpenApiParameter("group", OpenApiTypes.STR, enum=list(trend.GROUPINGS), description="week (default) or month."),
        ],
        responses=TrendSerializer,
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        line = Caller.of(request).lines().select_related("area__site", "constraint_machine").filter(
            code=params.get("line") or "").first()
        if line is None:
            raise ValidationError({"line": f"No line {params.get('line')!r} that you may see (line= is required)."})
        first, last = _day(params, "start"), _day(params, "end")
        if last < first or (last - first).days >= trend.MAX_TREND_DAYS:
            raise ValidationError({"end": f"end must not be before start, and at most {trend.MAX_TREND_DAYS} days in all."})
        group = params.get("group", trend.WEEK)
        if group not in trend.GROUPINGS:
            raise ValidationError({"group": f"group must be one of {', '.join(trend.GROUPINGS)}."})
        report = trend.build_trend(line, first, last, group)
        return Response({
            "line": line.code, "group": group, "start": iso(report.start), "end": iso(report.end),
            "buckets": [{
                "label": b.label, "first_day": b.first_day.isoformat(), "last_day": b.last_day.isoformat(),
                "start": iso(b.start), "end": iso(b.end), "line_results": b.line_result.as_dict(),
                "downtime_by_reason_group_s": b.reason_groups,
                "machines": [{**_reliability(m.code, b.reliability[m.code]),
                              "unplanned_stop_s": b.machines[m.code].times.unplanned_stop}
                             for m in report.machines if m.code in b.machines],
            } for b in report.buckets],
            "reliability": [_reliability(m.code, report.reliability[m.code]) for m in report.machines],
        })
