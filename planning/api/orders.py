"""The ERP's order API: products and work orders in, orders moved through their state machine.

`PUT /api/v1/products/<code>/` and `PUT /api/v1/work-orders/<number>/` create or update (201
or 200; the same body twice changes nothing); `POST /api/v1/work-orders/<number>/<move>/` moves
an order (409 naming its status when it cannot). The order's results are added to its GET by
`monitoring.api.orders`, which builds on these views.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DomainError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from planning.api.access import ApiView, Caller
from planning.api.fields import Instant, Number, WholeNumber, whole_number
from planning.models import Line, Machine, Product, Scope, WorkOrder, WorkOrderStatus
from planning.workflow import (
    MOVES,
    MoveRefused,
    NotYours,
    OrderIn,
    allowed_moves,
    move_order,
    put_order,
    put_product,
)

CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class WorkOrderInSerializer(serializers.Serializer):
    product = serializers.RegexField(CODE, max_length=40, help_text="A product code (PUT /api/v1/products/ first).")
    quantity = WholeNumber(min_value=1, max_value=2**31 - 1)
    line = serializers.RegexField(CODE, max_length=40)
    machine = serializers.RegexField(CODE, max_length=40, required=False, allow_null=True,
                                     help_text="Leave out (or null) to run the order on the whole line.")
    planned_start = Instant()
    planned_end = Instant()


class WorkOrderSerializer(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=WorkOrderStatus.choices)
    product = serializers.CharField(source="product.code")
    quantity = serializers.IntegerField()
    line = serializers.CharField(source="line.code")
    machine = serializers.CharField(source="machine.code", allow_null=True)
    planned_start = Instant()
    planned_end = Instant()
    actual_start = Instant(allow_null=True)
    actual_end = Instant(allow_null=True)
    allowed_moves = serializers.SerializerMethodField()
    created = Instant()
    updated = Instant()

    def get_allowed_moves(self, order: WorkOrder) -> list[str]:
        return allowed_moves(order)


class WorkOrderPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page (null on the last).")
    previous = serializers.URLField(allow_null=True)
    results = WorkOrderSerializer(many=True)


class ProductSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(max_length=120)
    cycle_times = serializers.DictField(
        child=Number(), help_text="Ideal seconds per part, by machine code.",
    )


class ProblemSerializer(serializers.Serializer):
    detail = serializers.CharField()


def domain_errors(error: DomainError) -> ValidationError:
    """A model's ValidationError as a 400 naming the fields."""
    if hasattr(error, "error_dict"):
        return ValidationError(error.message_dict)
    return ValidationError({"non_field_errors": error.messages})


def order_or_404(caller: Caller, number: str) -> WorkOrder:
    order = (
        WorkOrder.objects.select_related("product", "line__area__site", "machine")
        .filter(number=number, line__in=caller.lines()).first()
    )
    if order is None:
        raise NotFound(f"No work order {number!r} that this caller may see.")
    return order


class OrderCursor(CursorPagination):
    ordering = ("planned_start", "id")
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        return self.page_size if raw in (None, "") else whole_number(raw, "limit", 1, self.max_page_size)


class WorkOrderListView(ApiView):
    """GET /api/v1/work-orders/: the orders of the caller's lines, by planned start."""

    scopes = {"GET": Scope.RESULTS_READ}

    @extend_schema(
        operation_id="work_orders_list",
        parameters=[
            OpenApiParameter("line", OpenApiTypes.STR, description="Only this line's orders."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=WorkOrderStatus.values),
            OpenApiParameter("planned_from", OpenApiTypes.DATETIME, description="Planned to end after this."),
            OpenApiParameter("planned_to", OpenApiTypes.DATETIME, description="Planned to start before this."),
        ],
        responses={200: WorkOrderPageSerializer, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        orders = WorkOrder.objects.select_related("product", "line", "machine").filter(
            line__in=Caller.of(request).lines())
        if params.get("line"):
            orders = orders.filter(line__code=params["line"])
        if params.get("status"):
            if params["status"] not in WorkOrderStatus.values:
                raise ValidationError({"status": f"status must be one of {', '.join(WorkOrderStatus.values)}."})
            orders = orders.filter(status=params["status"])
        window = {}
        for name in ("planned_from", "planned_to"):
            if params.get(name):
                try:
                    window[name] = Instant().run_validation(params[name])
                except ValidationError as error:
                    raise ValidationError({name: error.detail}) from None
        if "planned_from" in window:
            orders = orders.filter(planned_end__gt=window["planned_from"])
        if "planned_to" in window:
            orders = orders.filter(planned_start__lt=window["planned_to"])
        paginator = OrderCursor()
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(WorkOrderSerializer(page, many=True).data)


class WorkOrderWriteView(ApiView):
    """PUT /api/v1/work-orders/<number>/ (the GET with results is `monitoring.api.orders`)."""

    scopes = {"GET": Scope.RESULTS_READ, "PUT": Scope.ORDERS_WRITE}

    def order_body(self, order: WorkOrder) -> dict:
        """The order as the API answers; `monitoring.api.orders` adds its results."""
        return WorkOrderSerializer(order).data

    @extend_schema(request=WorkOrderInSerializer, responses={200: WorkOrderSerializer, 201: WorkOrderSerializer,
                                                            400: OpenApiTypes.OBJECT, 409: ProblemSerializer})
    def put(self, request: Request, number: str) -> Response:
        caller = Caller.of(request)
        body = WorkOrderInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if Line.objects.filter(code=data["line"]).exists() and not caller.lines().filter(code=data["line"]).exists():
            raise PermissionDenied(f"This caller may not write orders of line {data['line']!r}.")
        existing = WorkOrder.objects.filter(number=number).select_related("line").first()
        if existing is not None and not caller.lines().filter(pk=existing.line_id).exists():
            raise PermissionDenied(f"Work order {number} is on a line this caller may not write.")
        try:
            order, created, changed = put_order(number, OrderIn(
                product=data["product"], quantity=data["quantity"], line=data["line"],
                machine=data.get("machine"), planned_start=data["planned_start"], planned_end=data["planned_end"],
            ), writable_lines=set(caller.lines().values_list("pk", flat=True)), by=caller.name)
        except DomainError as error:
            raise domain_errors(error) from None
        except MoveRefused as refused:
            raise Conflict(str(refused)) from None
        except NotYours as foreign:  # put on another line meanwhile, by a caller who may write there
            raise PermissionDenied(str(foreign)) from None
        request.write_summary = {"work_order": number, "created": created, "changed": changed}
        order = WorkOrder.objects.select_related("product", "line__area__site", "machine").get(pk=order.pk)
        return Response(self.order_body(order), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class WorkOrderMoveView(ApiView):
    """POST /api/v1/work-orders/<number>/<move>/: release, start, pause, resume, complete or cancel."""

    @extend_schema(request=None, responses={200: WorkOrderSerializer, 403: ProblemSerializer,
                                            404: ProblemSerializer, 409: ProblemSerializer})
    def post(self, request: Request, number: str, move: str) -> Response:
        if move not in MOVES:
            raise NotFound(f"No move {move!r}: one of {', '.join(MOVES)}.")
        caller = Caller.of(request)
        order = order_or_404(caller, number)
        if not caller.may_move(order, move):
            raise PermissionDenied(f"This caller may not {move} work order {number}.")
        try:
            order = move_order(order, move, by=caller.name)
        except MoveRefused as refused:
            raise Conflict(str(refused)) from None
        request.write_summary = {"work_order": number, "move": move, "status": order.status}
        return Response(WorkOrderSerializer(order).data)


def product_body(product: Product, caller: Caller) -> dict:
    """The product, with the cycle times of the machines the caller may see."""
    visible = product.cycle_times.filter(machine__line__in=caller.lines())
    return {"code": product.code, "name": product.name,
            "cycle_times": dict(visible.values_list("machine__code", "ideal_cycle_time"))}


class ProductListView(ApiView):
    """GET /api/v1/products/: every product with its ideal cycle times."""

    scopes = {"GET": Scope.RESULTS_READ}

    @extend_schema(operation_id="products_list", responses=ProductSerializer(many=True))
    def get(self, request: Request) -> Response:
        caller = Caller.of(request)
        return Response([product_body(p, caller) for p in Product.objects.all()])


class ProductView(ApiView):
    """GET or PUT /api/v1/products/<code>/ with {"name", "cycle_times": {machine code: seconds}}."""

    scopes = {"GET": Scope.RESULTS_READ, "PUT": Scope.ORDERS_WRITE}

    @extend_schema(responses={200: ProductSerializer, 404: ProblemSerializer})
    def get(self, request: Request, code: str) -> Response:
        product = Product.objects.filter(code=code).first()
        if product is None:
            raise NotFound(f"No product {code!r}.")
        return Response(product_body(product, Caller.of(request)))

    @extend_schema(request=ProductSerializer, responses={200: ProductSerializer, 201: ProductSerializer,
                                                         400: OpenApiTypes.OBJECT, 403: ProblemSerializer})
    def put(self, request: Request, code: str) -> Response:
        body = ProductSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cycle_times = body.validated_data["cycle_times"]
        caller = Caller.of(request)
        mine = set(Machine.objects.filter(line__in=caller.lines()).values_list("code", flat=True))
        foreign = sorted(Machine.objects.filter(code__in=cycle_times).exclude(code__in=mine)
                         .values_list("code", flat=True))
        if foreign:
            raise PermissionDenied(f"This caller may not write cycle times of {', '.join(foreign)}.")
        every_line = caller.lines().count() == Line.objects.count()
        try:
            product, created, changed = put_product(code, body.validated_data["name"], cycle_times,
                                                    only_machines=None if every_line else mine)
        except DomainError as error:
            raise domain_errors(error) from None
        request.write_summary = {"product": code, "created": created, "changed": changed}
        return Response(product_body(product, caller), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
