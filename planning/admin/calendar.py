"""Admin for shift patterns, breaks and calendar exceptions.

A pattern is valid only as a whole (no two shifts overlap, every break lies inside its
shift), so it is checked where the whole is known: the pattern's shift formset, and on a
shift's own page its form (against the sibling shifts) and its break formset.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from planning.admin.relations import ModelAdmin, TabularInline
from planning.lib.calendar import BreakSpec, ShiftSpec
from planning.models import Break, CalendarException, Shift, ShiftPattern
from planning.models.calendar import validate_pattern


def _live_forms(formset: forms.BaseInlineFormSet) -> list[forms.ModelForm]:
    """The forms of a valid formset that will be saved: filled in and not marked for deletion."""
    return [form for form in formset.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")]


def _stored_breaks(shift: Shift) -> tuple[BreakSpec, ...]:
    return tuple(b.spec() for b in shift.breaks.all()) if shift.pk else ()


def _shift_spec(data: dict, breaks: tuple[BreakSpec, ...]) -> ShiftSpec | None:
    """The spec of a shift from a form's cleaned data, or None while a field of it is missing."""
    if any(data.get(name) is None for name in ("weekday", "start", "end")):
        return None
    return ShiftSpec(name=data.get("name") or "", weekday=int(data["weekday"]), start=data["start"],
                     end=data["end"], breaks=breaks)


class ShiftFormSet(forms.BaseInlineFormSet):
    """Refuses a pattern whose shifts overlap, or whose shifts' stored breaks fall outside them."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        specs = []
        for form in _live_forms(self):
            spec = _shift_spec(form.cleaned_data, _stored_breaks(form.instance))
            if spec is not None:
                specs.append(spec)
        validate_pattern(specs)


class ShiftInline(TabularInline):
    model = Shift
    formset = ShiftFormSet
    fields = ["name", "weekday", "start", "end", "break_summary"]
    readonly_fields = ["break_summary"]
    extra = 0
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("breaks")

    @admin.display(description="breaks (edit on the shift's page)")
    def break_summary(self, shift: Shift) -> str:
        return ", ".join(str(b) for b in shift.breaks.all()) if shift.pk else "—"


@admin.register(ShiftPattern)
class ShiftPatternAdmin(ModelAdmin):
    list_display = ["line", "name", "shift_count"]
    search_fields = ["name", "line__code", "line__name"]
    list_select_related = ["line"]
    autocomplete_fields = ["line"]
    inlines = [ShiftInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(shift_count=Count("shifts"))

    @admin.display(description="shifts per week", ordering="shift_count")
    def shift_count(self, pattern: ShiftPattern) -> int:
        return pattern.shift_count


class ShiftForm(forms.ModelForm):
    """Refuses a shift that overlaps another shift of its pattern."""

    class Meta:
        model = Shift
        fields = "__all__"

    def clean(self) -> dict:
        data = super().clean()
        pattern = data.get("pattern")
        spec = _shift_spec(data, ())
        if pattern is None or spec is None:
            return data
        siblings = pattern.shifts.exclude(pk=self.instance.pk).prefetch_related("breaks")
        validate_pattern([sibling.spec() for sibling in siblings] + [spec])
        return data


class BreakFormSet(forms.BaseInlineFormSet):
    """Refuses a break that is not wholly inside the shift being saved (with its new times)."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        shift = self.instance
        breaks = tuple(
            BreakSpec(name=form.cleaned_data.get("name") or "Break", start=form.cleaned_data["start"],
                      end=form.cleaned_data["end"])
            for form in _live_forms(self)
            if form.cleaned_data.get("start") is not None and form.cleaned_data.get("end") is not None
        )
        spec = _shift_spec({"name": shift.name, "weekday": shift.weekday, "start": shift.start, "end": shift.end},
                           breaks)
        if spec is not None:
            validate_pattern([spec])


class BreakInline(TabularInline):
    model = Break
    formset = BreakFormSet
    fields = ["name", "start", "end"]
    extra = 0


@admin.register(Shift)
class ShiftAdmin(ModelAdmin):
    form = ShiftForm
    list_display = ["pattern", "weekday", "name", "start", "end"]
    list_filter = ["pattern__line", "weekday", "name"]
    search_fields = ["name", "pattern__name", "pattern__line__code"]
    list_select_related = ["pattern__line"]
    autocomplete_fields = ["pattern"]
    inlines = [BreakInline]


@admin.register(CalendarException)
class CalendarExceptionAdmin(ModelAdmin):
    list_display = ["line", "kind", "name", "start", "end"]
    list_filter = ["kind", "line"]
    search_fields = ["name", "line__code"]
    list_select_related = ["line"]
    autocomplete_fields = ["line"]
    date_hierarchy = "start"
