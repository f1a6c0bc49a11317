"""Hand-over notes and stop comments: who may write them, the one door that writes them, and what a
screen shows of them."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from monitoring import charts
from monitoring.kpi import MachinePeriod
from monitoring.models import HandoverNote, MachineStatus, StateInterval, StopComment
from monitoring.models.notes import MAX_NOTE_LENGTH
from planning.lib.text import text_problem
from planning.models import Line, Machine
from planning.permissions import can_operate_line, role_of
from planning.schedule import line_calendar

# The line screen shows the notes written since the previous shift began; without shifts, this long.
NOTES_LOOK_BACK = timedelta(hours=24)
SCREEN_NOTES = 10


def can_write_notes(user: User | AnonymousUser, line: Line) -> bool:
    """Operators of the line, managers and admins write hand-over notes and comment on its stops."""
    return role_of(user) == "manager" or can_operate_line(user, line)


def _text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValidationError({"text": gettext("Write something: the note is empty.")})
    text = text.strip()
    problem = text_problem(text)
    if problem:  # PostgreSQL refuses a NUL in any text; the other control characters arrive by mistake
        raise ValidationError({"text": gettext("The text %(problem)s: remove it and write the note again.")
                               % {"problem": problem}})
    if len(text) > MAX_NOTE_LENGTH:
        raise ValidationError({"text": gettext("A note may hold at most %(most)s characters, not %(length)s.") % {
            "most": MAX_NOTE_LENGTH, "length": len(text)}})
    return text


def write_handover_note(user: User, line: Line, text: object) -> HandoverNote:
    """Store a hand-over note for the line's next shift."""
    if not can_write_notes(user, line):
        raise PermissionDenied(gettext("Only operators of line %(line)s and managers may write its hand-over notes.")
                               % {"line": line.code})
    with transaction.atomic():
        return HandoverNote.objects.create(line=line, author=user, text=_text(text))


def comment_on_stop(user: User, machine: Machine, stop_start: datetime, text: object) -> StopComment:
    """Store a comment on the machine's stop that began at `stop_start`."""
    if not can_write_notes(user, machine.line):
        raise PermissionDenied(gettext("Only operators of line %(line)s and managers may comment on its stops.")
                               % {"line": machine.line.code})
    text = _text(text)
    if not StateInterval.objects.filter(machine=machine, start=stop_start).exclude(
            state=MachineStatus.RUNNING).exists():
        raise ValidationError({"stop_start": gettext("%(machine)s has no stop that began at %(start)s.") % {
            "machine": machine.code, "start": stop_start.isoformat()}})
    with transaction.atomic():
        return StopComment.objects.create(machine=machine, stop_start=stop_start, author=user, text=text)


def notes_since(line: Line, now: datetime) -> datetime:
    """Where the notes a line screen shows begin: the start of the shift before the present one (or of the
    last one, between shifts), else NOTES_LOOK_BACK ago."""
    windows = [w for w in line_calendar(line, now - timedelta(days=3), now).windows if w.start <= now]
    running = bool(windows) and windows[-1].end > now
    previous = windows[-2] if running and len(windows) > 1 else (windows[-1] if windows and not running else None)
    return previous.start if previous else now - NOTES_LOOK_BACK


def screen_notes(line: Line, now: datetime | None = None) -> QuerySet[HandoverNote]:
    """The notes the line screen shows, newest first."""
    now = now or timezone.now()
    return (HandoverNote.objects.filter(line=line, written__gte=notes_since(line, now), written__lte=now)
            .select_related("author")[:SCREEN_NOTES])


def notes_between(line: Line, start: datetime, end: datetime) -> QuerySet[HandoverNote]:
    """The notes written for the line in [start, end), oldest first (the shift report's)."""
    return (HandoverNote.objects.filter(line=line, written__gte=start, written__lt=end)
            .select_related("author").order_by("written", "id"))


def comments_by_stop(machine: Machine, starts: list[datetime]) -> dict[datetime, list[StopComment]]:
    """The comments on the machine's stops that began at `starts`, oldest first, by stop start."""
    found: dict[datetime, list[StopComment]] = defaultdict(list)
    for comment in StopComment.objects.filter(machine=machine, stop_start__in=starts).select_related("author"):
        found[comment.stop_start].append(comment)
    return found


def stops_with_comments(period: MachinePeriod) -> list[dict]:
    """The stops of a machine's period (`charts.stops`), newest first, each with its comments."""
    stops = charts.stops(period)
    comments = comments_by_stop(period.machine, [stop.start for stop in stops])
    return [{"stop": stop, "comments": comments.get(stop.start, [])} for stop in reversed(stops)]
