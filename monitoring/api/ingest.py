"""`POST /api/v1/observations/`: observations from an IT system, through the one door of the collectors.

A JSON list of {ts, machine, signal, value}, or the CSV of `import_observations` (Content-Type
text/csv). Good items are applied and bad ones rejected, each with its index (or CSV line) and
what was wrong; items stored before are counted as duplicates, so the same body twice applies
nothing new. A client limited to lines may only send for their machines.
"""

from __future__ import annotations

import io

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring.ingest import FileRejected, read_csv, read_items, rejections
from monitoring.pipeline import record_observations
from planning.api.access import ApiView, Caller
from planning.api.fields import Instant
from planning.api.parsers import StrictJSONParser, read_body
from planning.models import Machine, Scope

MAX_ITEMS = 100_000


class CsvParser(BaseParser):
    """A text/csv body, as bytes: `read_csv` decodes it line by line, rejecting a line that is not UTF-8."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        return read_body(stream)


class ItemsParser(StrictJSONParser):
    """JSON whose bad text or number is not the whole body's fault: `read_items` rejects the item."""

    check_body = False


class ObservationSerializer(serializers.Serializer):
    ts = Instant(help_text="ISO 8601 with a UTC offset.")
    machine = serializers.CharField()
    signal = serializers.CharField(help_text="running, fault, reason, total_count, good_count, reject_count, "
                                             "packml_state, scrap or connected.")
    value = serializers.JSONField(help_text="A boolean, a number or a code, as the signal takes.")


class RejectionSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in the list (0-based), or the CSV line.")
    message = serializers.CharField()


class IngestSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    applied = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = RejectionSerializer(many=True)


class ObservationsView(ApiView):
    scopes = {"POST": Scope.OBSERVATIONS_WRITE}
    parser_classes = [ItemsParser, CsvParser]

    @extend_schema(
        request={"application/json": ObservationSerializer(many=True), "text/csv": OpenApiTypes.STR},
        responses={200: IngestSerializer, 400: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("two readings", request_only=True, value=[
            {"ts": "2026-12-03T06:00:00+01:00", "machine": "L1-FILL", "signal": "running", "value": True},
            {"ts": "2026-12-03T06:00:30+01:00", "machine": "L1-FILL", "signal": "total_count", "value": 120},
        ])],
    )
    def post(self, request: Request) -> Response:
        try:
            if isinstance(request.data, bytes):
                read = read_csv(io.BytesIO(request.data))
            else:
                read = read_items(request.data)
        except FileRejected as error:
            raise ValidationError({"non_field_errors": [str(error)]}) from None
        if read.count > MAX_ITEMS:
            raise ValidationError({"non_field_errors": [f"At most {MAX_ITEMS:,} observations per request."]})
        # Only the caller's lines: the others are refused item by item, never half-applied.
        allowed = set(Machine.objects.filter(line__in=Caller.of(request).lines()).values_list("code", flat=True))
        known = set(Machine.objects.filter(code__in={o.machine_code for o in read.observations})
                    .values_list("code", flat=True))
        kept, origins = [], []
        for observation, origin in zip(read.observations, read.origins):
            if observation.machine_code in known and observation.machine_code not in allowed:
                read.bad.append((origin, f"machine {observation.machine_code!r} is on a line this key may not write"))
                continue
            kept.append(observation)
            origins.append(origin)
        read.observations, read.origins = kept, origins
        result = record_observations(read.observations, refuse_excess_scrap=True)
        rejected = rejections(read, result.rejected)
        body = {
            "received": read.count, "applied": result.applied, "duplicates": result.duplicates,
            "rejected": [{"index": origin, "message": message} for origin, message in rejected],
        }
        request.write_summary = {key: value for key, value in body.items() if key != "rejected"} | {
            "rejected": len(rejected)}
        return Response(body)
