"""What every page shares: the frame around it, and the one check of who may see a line."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from planning.models import Line, Site
from planning.permissions import can_view_line, role_of


def chrome(request: HttpRequest) -> dict:
    """What the base template shows around every page: the plant's name and the user's role."""
    sites = list(Site.objects.values_list("name", flat=True)[:2])
    return {
        "plant_name": sites[0] if len(sites) == 1 else "OEE Live",
        "role": role_of(request.user),
    }


def visible_line(request: HttpRequest, code: str) -> Line:
    """The line with this code, or 404; PermissionDenied (a 403 page) when the user may not see it."""
    line = get_object_or_404(Line.objects.select_related("area__site", "constraint_machine"), code=code)
    if not can_view_line(request.user, line):
        raise PermissionDenied(
            f"You are not allowed to see line {line.code} ({line.name}). "
            "An administrator can add you to the line's operators."
        )
    return line
