"""The results API: OEE over a period (DESIGN.md §1, "ERP / IT systems")."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring import kpi
from monitoring.api.params import required_instant
from planning.models import Line, Machine


class OeeView(APIView):
    """GET /api/v1/oee/?machine=CODE|line=CODE&start=…&end=… → OEE figures, times, counts and losses."""

    def get(self, request: Request) -> Response:
        params = request.query_params
        machine_code, line_code = params.get("machine"), params.get("line")
        if bool(machine_code) == bool(line_code):
            raise ValidationError({"machine": "Give exactly one of machine=CODE or line=CODE."})
        start, end = required_instant(params, "start"), required_instant(params, "end")
        if end <= start:
            raise ValidationError({"end": "end must be after start."})
        visible = Line.objects.visible_to(request.user)
        if machine_code:
            machine = Machine.objects.with_plant().filter(code=machine_code, line__in=visible).first()
            if machine is None:
                raise ValidationError({"machine": f"No machine {machine_code!r} that you may see."})
            result = kpi.machine_result(machine, start, end)
            subject = {"machine": machine.code, "line": machine.line.code}
        else:
            line = visible.select_related("area__site", "constraint_machine").filter(code=line_code).first()
            if line is None:
                raise ValidationError({"line": f"No line {line_code!r} that you may see."})
            result = kpi.line_result(line, start, end)
            subject = {"line": line.code, "machine": line.constraint_machine.code if line.constraint_machine else None}
        return Response({
            **subject, "start": start.isoformat(), "end": end.isoformat(), **result.as_dict(),
        })
