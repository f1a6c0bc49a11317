"""Admin for the equipment hierarchy (site → area → line → machine), downtime reasons and fault codes.

The machine's page is extended by `monitoring.admin` with the machine's signal map.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from planning.admin.relations import ModelAdmin, TabularInline
from planning.models import Area, DowntimeReason, FaultCode, Line, Machine, Site

CYCLE_TIME_MUST_BE_POSITIVE = "The ideal cycle time must be positive (seconds per part)."


class AreaInline(TabularInline):
    model = Area
    fields = ["code", "name"]
    extra = 0
    show_change_link = True


@admin.register(Site)
class SiteAdmin(ModelAdmin):
    list_display = ["name", "code", "time_zone", "area_count"]
    search_fields = ["code", "name"]
    inlines = [AreaInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(area_count=Count("areas"))

    @admin.display(description="areas", ordering="area_count")
    def area_count(self, site: Site) -> int:
        return site.area_count


@admin.register(Area)
class AreaAdmin(ModelAdmin):
    list_display = ["name", "code", "site"]
    list_filter = ["site"]
    search_fields = ["code", "name", "site__name"]
    list_select_related = ["site"]


class MachineForm(forms.ModelForm):
    class Meta:
        model = Machine
        fields = "__all__"

    def clean_default_ideal_cycle_time(self) -> float | None:
        # Said in the plant's words rather than as the validator's "greater than or equal to 0.001".
        value = self.cleaned_data.get("default_ideal_cycle_time")
        if value is not None and value <= 0:
            raise forms.ValidationError(CYCLE_TIME_MUST_BE_POSITIVE)
        return value


class MachineInline(TabularInline):
    model = Machine
    form = MachineForm
    fields = ["code", "name", "position", "default_ideal_cycle_time", "micro_stop_threshold", "counter_bits", "enabled"]
    extra = 0
    show_change_link = True


@admin.register(Line)
class LineAdmin(ModelAdmin):
    list_display = ["code", "name", "area", "constraint_machine", "machine_count"]
    list_filter = ["area__site", "area"]
    search_fields = ["code", "name"]
    list_select_related = ["area__site", "constraint_machine"]
    autocomplete_fields = ["area"]
    filter_horizontal = ["operators"]
    inlines = [MachineInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(machine_count=Count("machines"))

    @admin.display(description="machines", ordering="machine_count")
    def machine_count(self, line: Line) -> int:
        return line.machine_count

    def get_form(self, request: HttpRequest, obj: Line | None = None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        field = form.base_fields.get("constraint_machine")
        if field is not None:
            # Only this line's own machines can be its constraint; a new line has none yet.
            field.queryset = Machine.objects.filter(line=obj) if obj else Machine.objects.none()
            if obj is None:
                field.help_text = "Save the line with its machines first, then choose its bottleneck machine."
        return form


class FaultCodeInline(TabularInline):
    model = FaultCode
    fields = ["code", "reason"]
    autocomplete_fields = ["reason"]
    extra = 0


@admin.register(Machine)
class MachineAdmin(ModelAdmin):
    form = MachineForm
    list_display = ["code", "name", "line", "position", "default_ideal_cycle_time", "micro_stop_threshold",
                    "counter_bits", "target_oee", "enabled"]
    list_filter = ["line", "enabled", "counter_bits", "quality_counter"]
    list_editable = ["enabled"]
    search_fields = ["code", "name", "line__code"]
    list_select_related = ["line"]
    autocomplete_fields = ["line"]
    inlines = [FaultCodeInline]
    fieldsets = [
        (None, {"fields": ["line", "code", "name", "position", "enabled"]}),
        ("Speed and counting", {"fields": ["default_ideal_cycle_time", "micro_stop_threshold", "counter_bits",
                                           "quality_counter", "startup_window"]}),
        ("Data supervision", {"fields": ["expected_interval", "in_service", "first_observation"]}),
        ("Targets", {"fields": ["target_oee", "warning_oee"]}),
    ]
    readonly_fields = ["first_observation"]


@admin.register(DowntimeReason)
class DowntimeReasonAdmin(ModelAdmin):
    list_display = ["code", "name", "parent", "loss_category", "planned"]
    list_filter = ["loss_category", "planned", ("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["code", "name"]
    list_select_related = ["parent"]
    autocomplete_fields = ["parent"]
    ordering = ["parent__code", "code"]
