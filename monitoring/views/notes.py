"""Writing hand-over notes (line screen) and comments on stops (machine page): forms that post, then go back."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from monitoring import notes
from monitoring.views.base import by_code, friendly_not_found, visible_line
from planning.lib.instants import read_instant
from planning.models import Machine


def _refused(error: ValidationError) -> HttpResponse:
    text = " ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")


@login_required
@friendly_not_found
@require_http_methods(["GET", "POST"])
def handover_note(request: HttpRequest, code: str) -> HttpResponse:
    """GET: the line screen's list of notes (its partial). POST: store a hand-over note for the line
    (PermissionDenied: a 403 page), then show the line screen."""
    line = visible_line(request, code)
    if request.method == "GET":
        return render(request, "monitoring/_handover_list.html", {"handover": list(notes.screen_notes(line))})
    try:
        notes.write_handover_note(request.user, line, request.POST.get("text"))
    except ValidationError as error:
        return _refused(error)
    return redirect("line-screen", code=line.code)


@login_required
@friendly_not_found
@require_POST
def stop_comment(request: HttpRequest, code: str) -> HttpResponse:
    """Store a comment on one of the machine's stops, then show the machine page where it was written."""
    machine = by_code(Machine.objects.with_plant(), code, "machine")
    visible_line(request, machine.line.code)
    raw = request.POST.get("stop_start", "").replace(" ", "+")
    try:
        stop_start = read_instant(raw)
    except ValueError as why:
        return _refused(ValidationError({"stop_start": f"stop_start={why}."}))
    try:
        notes.comment_on_stop(request.user, machine, stop_start, request.POST.get("text"))
    except ValidationError as error:
        return _refused(error)
    back = request.POST.get("next", "")
    if back.startswith(f"/machines/{machine.code}/") and "//" not in back:
        return redirect(back)
    return redirect("machine-detail", code=machine.code)
