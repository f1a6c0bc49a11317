"""What people write beside the figures: hand-over notes for a line's next shift, and comments on stops.

Both are written through `monitoring.notes` and kept in the audit trail. A comment names its stop
by the machine and the stop's start (as the stop list and the stop events do): the stop's rows are
a projection a replay rewrites, the instant it began is not.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from planning.models import Line, Machine

MAX_NOTE_LENGTH = 2000


class HandoverNote(models.Model):
    """A note for the line's next shift, shown on its line screen and in the shift report."""

    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    written = models.DateTimeField(default=timezone.now)
    text = models.TextField(max_length=MAX_NOTE_LENGTH)

    class Meta:
        ordering = ["-written", "-id"]
        indexes = [models.Index(fields=["line", "written"], name="handover_line_written")]

    def __str__(self) -> str:
        return f"{self.line_id} {self.written.isoformat()}"


class StopComment(models.Model):
    """A comment on one stop of a machine, shown beside the stop in its stop list."""

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="+")
    stop_start = models.DateTimeField(help_text="When the stop began: with the machine, it names the stop.")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    written = models.DateTimeField(default=timezone.now)
    text = models.TextField(max_length=MAX_NOTE_LENGTH)

    class Meta:
        ordering = ["stop_start", "written", "id"]
        indexes = [models.Index(fields=["machine", "stop_start"], name="stop_comment_machine_start")]

    def __str__(self) -> str:
        return f"{self.machine_id} {self.stop_start.isoformat()}"
