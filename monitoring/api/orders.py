"""A work order with what it made: `GET /api/v1/work-orders/<number>/` (and planning's PUT).

Counts are the order's own parts (the buckets of its run windows); times and figures are those
of its run windows on its subject machines (its machine, else its line's); the pace, ETA and
lateness are those of the order's card on the line screen (`orders.order_progress`).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring import orders, plan
from planning.api.access import Caller
from planning.api.fields import Instant
from planning.api.orders import ProblemSerializer, WorkOrderSerializer, WorkOrderWriteView, order_or_404
from planning.lib.instants import iso
from planning.models import WorkOrder


class RunWindowSerializer(serializers.Serializer):
    start = Instant()
    end = Instant(allow_null=True)


class OrderPlanSerializer(serializers.Serializer):
    planned_quantity = serializers.IntegerField()
    planned_start = Instant()
    planned_end = Instant()
    good_count = serializers.IntegerField(help_text="Good parts made, whenever.")
    good_in_planned_window = serializers.IntegerField(help_text="Good parts made inside the planned window.")
    actual_start = Instant(allow_null=True)
    actual_end = Instant(allow_null=True)
    schedule_adherence = serializers.FloatField(
        allow_null=True, help_text="min(good_in_planned_window, planned_quantity) / planned_quantity; "
                                   "so far while the window is open; null for a cancelled order.")


class WorkOrderResultsSerializer(WorkOrderSerializer):
    run_windows = RunWindowSerializer(many=True)
    total_count = serializers.IntegerField()
    good_count = serializers.IntegerField()
    reject_count = serializers.IntegerField()
    scrap_by_reason = serializers.DictField(child=serializers.IntegerField(),
                                            help_text="Parts scrapped by hand, by reason code.")
    run_s = serializers.FloatField()
    unplanned_stop_s = serializers.FloatField()
    planned_production_s = serializers.FloatField()
    downtime_by_reason_s = serializers.DictField(child=serializers.FloatField())
    availability = serializers.FloatField(allow_null=True)
    performance = serializers.FloatField(allow_null=True)
    quality = serializers.FloatField(allow_null=True)
    oee = serializers.FloatField(allow_null=True)
    rate_per_min = serializers.FloatField(allow_null=True, help_text=(
        "Parts a minute over the last rate_minutes of the order's run windows, stops included; "
        "null before it ran a minute."))
    ideal_rate_per_min = serializers.FloatField(allow_null=True, help_text="Parts a minute at ideal cycle time.")
    rate_minutes = serializers.IntegerField(help_text="Minutes the pace is taken over (ORDER_RATE_MINUTES).")
    late_s = serializers.FloatField(allow_null=True, help_text=(
        "Seconds its end (actual, else the eta) lies after planned_end; negative: early. Without either, "
        "the time since planned_end once past it; else null."))
    eta = Instant(allow_null=True)
    plan = OrderPlanSerializer(help_text="Plan against actual (schedule adherence: README, What the numbers mean).")


class WorkOrderView(WorkOrderWriteView):
    """GET /api/v1/work-orders/<number>/ with its results; PUT creates or updates it."""

    def order_body(self, order: WorkOrder) -> dict:
        made = orders.results(order)
        return {
            **WorkOrderSerializer(order).data,
            "run_windows": [{"start": iso(start), "end": iso(end)} for start, end in order.run_windows()],
            **made.as_dict(),
            "plan": plan.order_plan(order, made.result.production.good),
        }

    @extend_schema(responses={200: WorkOrderResultsSerializer, 404: ProblemSerializer})
    def get(self, request: Request, number: str) -> Response:
        return Response(self.order_body(order_or_404(Caller.of(request), number)))
