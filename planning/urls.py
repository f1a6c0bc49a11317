"""URLs of the ERP's order API: products, and work orders with their moves."""

from __future__ import annotations

from django.urls import path

from planning.api import orders

urlpatterns = [
    path("api/v1/products/", orders.ProductListView.as_view(), name="api-products"),
    path("api/v1/products/<str:code>/", orders.ProductView.as_view(), name="api-product"),
    path("api/v1/work-orders/", orders.WorkOrderListView.as_view(), name="api-work-orders"),
    path("api/v1/work-orders/<str:number>/<str:move>/", orders.WorkOrderMoveView.as_view(), name="api-work-order-move"),
]
