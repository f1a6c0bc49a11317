"""Admin for products with their ideal cycle times, and work orders."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from planning.models import Product, ProductCycleTime, WorkOrder


class ProductCycleTimeInline(admin.TabularInline):
    model = ProductCycleTime
    fields = ["machine", "ideal_cycle_time"]
    autocomplete_fields = ["machine"]
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "machine_count"]
    search_fields = ["code", "name"]
    inlines = [ProductCycleTimeInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(machine_count=Count("cycle_times"))

    @admin.display(description="machines with a cycle time", ordering="machine_count")
    def machine_count(self, product: Product) -> int:
        return product.machine_count


@admin.register(WorkOrder)
class WorkOrderAdmin(admin.ModelAdmin):
    list_display = ["number", "product", "quantity", "line", "machine", "status", "planned_start", "planned_end"]
    list_filter = ["status", "line"]
    search_fields = ["number", "product__code", "product__name"]
    list_select_related = ["product", "line", "machine"]
    autocomplete_fields = ["product", "line", "machine"]
    date_hierarchy = "planned_start"
    fieldsets = [
        (None, {"fields": ["number", "product", "quantity", "status"]}),
        ("Where", {"fields": ["line", "machine"]}),
        ("When", {"fields": ["planned_start", "planned_end", "actual_start", "actual_end"]}),
    ]

