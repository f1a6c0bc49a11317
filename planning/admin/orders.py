"""Admin for products with their ideal cycle times, and work orders."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from planning.admin.relations import ModelAdmin, TabularInline
from planning.models import Product, ProductCycleTime, WorkOrder, WorkOrderMove, WorkOrderPause
from planning.workflow import MOVES, MoveRefused, move_order


class ProductCycleTimeInline(TabularInline):
    model = ProductCycleTime
    fields = ["machine", "ideal_cycle_time"]
    autocomplete_fields = ["machine"]
    extra = 0


@admin.register(Product)
class ProductAdmin(ModelAdmin):
    list_display = ["code", "name", "machine_count"]
    search_fields = ["code", "name"]
    inlines = [ProductCycleTimeInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(machine_count=Count("cycle_times"))

    @admin.display(description="machines with a cycle time", ordering="machine_count")
    def machine_count(self, product: Product) -> int:
        return product.machine_count


class WorkOrderPauseInline(TabularInline):
    model = WorkOrderPause
    fields = ["start", "end"]
    readonly_fields = ["start", "end"]
    extra = 0
    can_delete = False
    verbose_name_plural = "pauses (made by the pause and resume moves)"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class WorkOrderMoveInline(TabularInline):
    model = WorkOrderMove
    fields = ["at", "move", "from_status", "to_status", "by"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "moves"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _move_action(move: str):
    def act(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        for order in queryset:
            try:
                move_order(order, move, by=f"user:{request.user.get_username()}")
            except MoveRefused as refused:
                modeladmin.message_user(request, str(refused), messages.ERROR)
            else:
                modeladmin.message_user(request, f"Work order {order.number}: {move} done.", messages.SUCCESS)

    act.__name__ = f"{move}_orders"
    return admin.action(description=f"{move.capitalize()} the selected work orders")(act)


@admin.register(WorkOrder)
class WorkOrderAdmin(ModelAdmin):
    """Orders are moved (released, started, paused, …) by the actions, through the same door as the API."""

    list_display = ["number", "product", "quantity", "line", "machine", "status", "planned_start", "planned_end",
                    "actual_start", "actual_end"]
    list_filter = ["status", "line"]
    search_fields = ["number", "product__code", "product__name"]
    list_select_related = ["product", "line", "machine"]
    autocomplete_fields = ["product", "line", "machine"]
    date_hierarchy = "planned_start"
    readonly_fields = ["status", "created", "updated"]
    actions = [_move_action(move) for move in MOVES]
    inlines = [WorkOrderPauseInline, WorkOrderMoveInline]

    def get_inlines(self, request: HttpRequest, obj: WorkOrder | None) -> list:
        return self.inlines if obj is not None else []  # a new order has no moves yet

    fieldsets = [
        (None, {"fields": ["number", "product", "quantity", "status"]}),
        ("Where", {"fields": ["line", "machine"]}),
        ("When", {"fields": ["planned_start", "planned_end", "actual_start", "actual_end"],
                  "description": "Correcting the actual start or end moves the parts made in between "
                                 "onto (or off) this order."}),
        ("Record", {"fields": ["created", "updated"], "classes": ["collapse"]}),
    ]
