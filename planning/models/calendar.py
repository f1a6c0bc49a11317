"""Shift patterns (a weekly template per line), breaks and calendar exceptions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from planning.lib.calendar import WEEKDAYS, BreakSpec, ShiftSpec, break_outside_shift, overlapping_shifts


class ShiftPattern(models.Model):
    line = models.OneToOneField("planning.Line", on_delete=models.CASCADE, related_name="shift_pattern")
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["line__code"]

    def __str__(self) -> str:
        return f"{self.line.code}: {self.name}"

    def specs(self) -> list[ShiftSpec]:
        return [shift.spec() for shift in self.shifts.prefetch_related("breaks")]


class Shift(models.Model):
    """One shift of the weekly template: starts on `weekday` at `start` local time."""

    pattern = models.ForeignKey(ShiftPattern, on_delete=models.CASCADE, related_name="shifts")
    name = models.CharField(max_length=40, help_text=_("e.g. Early, Late, Night"))
    weekday = models.PositiveSmallIntegerField(choices=list(enumerate(WEEKDAYS)))
    start = models.TimeField(help_text=_("Local time at the site."))
    end = models.TimeField(help_text=_("Local time; at or before the start means the shift ends the next day."))

    class Meta:
        ordering = ["pattern", "weekday", "start"]

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.name} {self.start:%H:%M}–{self.end:%H:%M}"

    def spec(self, breaks: list[BreakSpec] | None = None) -> ShiftSpec:
        if breaks is None:
            breaks = [b.spec() for b in self.breaks.all()] if self.pk else []
        return ShiftSpec(name=self.name, weekday=self.weekday, start=self.start, end=self.end, breaks=tuple(breaks))


class Break(models.Model):
    """A planned stop inside a shift, in local time (a break after midnight belongs to a night shift)."""

    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="breaks")
    name = models.CharField(max_length=40, default="Break")
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["shift", "start"]

    def __str__(self) -> str:
        return f"{self.name} {self.start:%H:%M}–{self.end:%H:%M}"

    def spec(self) -> BreakSpec:
        return BreakSpec(name=self.name, start=self.start, end=self.end)


class ExceptionKind(models.TextChoices):
    HOLIDAY = "holiday", "Holiday / planned shutdown (planned stop)"
    EXTRA_SHIFT = "extra_shift", "Extra shift (scheduled time)"


class CalendarException(models.Model):
    """A one-off change to a line's calendar: a holiday inside shifts, or an extra shift."""

    line = models.ForeignKey("planning.Line", on_delete=models.CASCADE, related_name="calendar_exceptions")
    kind = models.CharField(max_length=16, choices=ExceptionKind.choices)
    name = models.CharField(max_length=120)
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        ordering = ["line", "start"]

    def __str__(self) -> str:
        return f"{self.line.code} {self.get_kind_display()} {self.name}"

    def clean(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": "The end must be after the start."})


def validate_pattern(shifts: list[ShiftSpec]) -> None:
    """Raise ValidationError naming the first overlap or misplaced break among `shifts`."""
    clash = overlapping_shifts(shifts)
    if clash:
        a, b = clash
        raise ValidationError(f"Shifts overlap: {a.label} and {b.label}.")
    for shift in shifts:
        for brk in shift.breaks:
            if break_outside_shift(shift, brk):
                # A break is mostly just called "Break"; "Break Break 10:00–10:30" read as a typo.
                if brk.name and brk.name.strip().lower() != "break":
                    message = _("The break “%(name)s” %(start)s–%(end)s must lie within its shift, %(shift)s: "
                                "change the break's times or the shift's.")
                else:
                    message = _("The break %(start)s–%(end)s must lie within its shift, %(shift)s: "
                                "change the break's times or the shift's.")
                raise ValidationError(message % {"name": brk.name, "start": f"{brk.start:%H:%M}",
                                                 "end": f"{brk.end:%H:%M}", "shift": shift.label})
