"""URLs of what the machines do: the pages, the reports, and the results, ingest and screens API."""

from __future__ import annotations

from django.urls import path

from monitoring.api import alerts as alert_api
from monitoring.api import ingest, orders, results, screens
from monitoring.api import trend as trend_api
from monitoring.views import alerts as alert_views
from monitoring.views import displays, pages, reports, trends
from monitoring.views import notes as trend_notes
from monitoring.views import planning_board as board

urlpatterns = [
    path("api/v1/oee/", results.OeeView.as_view(), name="api-oee"),
    path("api/v1/shifts/", results.ShiftsView.as_view(), name="api-shifts"),
    path("api/v1/stops/", results.StopsView.as_view(), name="api-stops"),
    path("api/v1/trend/", trend_api.TrendView.as_view(), name="api-trend"),
    path("api/v1/observations/", ingest.ObservationsView.as_view(), name="api-observations"),
    path("api/v1/work-orders/<str:number>/", orders.WorkOrderView.as_view(), name="api-work-order"),
    path("api/v1/reasons/", screens.ReasonsView.as_view(), name="api-reasons"),
    path("api/v1/machines/<str:code>/reasons/", screens.AssignReasonView.as_view(), name="api-machine-reasons"),
    path("api/v1/machines/<str:code>/scrap/", screens.ScrapView.as_view(), name="api-machine-scrap"),
    path("api/v1/machines/<str:code>/stops/", screens.StopsView.as_view(), name="api-machine-stops"),
    path("api/v1/machines/<str:code>/timeline/", screens.TimelineView.as_view(), name="api-machine-timeline"),
    path("api/v1/machines/<str:code>/events/", screens.EventsView.as_view(), name="api-machine-events"),
    path("api/v1/alerts/", alert_api.AlertsView.as_view(), name="api-alerts"),
    path("api/v1/alerts/<str:pk>/", alert_api.AlertView.as_view(), name="api-alert"),
    path("api/v1/alerts/<str:pk>/acknowledge/", alert_api.AcknowledgeView.as_view(), name="api-alert-acknowledge"),
    path("alerts/banner/", alert_views.banner, name="alert-banner"),
    path("", pages.overview, name="overview"),
    path("lines/<str:code>/", pages.line_screen, name="line-screen"),
    path("display/<str:token>/", displays.line_display, name="line-display"),
    path("display/<str:token>/jsi18n/", displays.display_catalog, name="line-display-catalog"),
    path("machines/<str:code>/", pages.machine_detail, name="machine-detail"),
    path("reports/shift/", reports.shift_report, name="shift-report"),
    path("reports/shift.csv", reports.shift_report_csv, name="shift-report-csv"),
    path("reports/trend/", trends.trend_page, name="trend"),
    path("reports/trend/compare/", trends.comparison_page, name="trend-compare"),
    path("reports/trend/compare.csv", trends.comparison_csv, name="trend-compare-csv"),
    path("lines/<str:code>/notes/", trend_notes.handover_note, name="handover-note"),
    path("machines/<str:code>/stop-comments/", trend_notes.stop_comment, name="stop-comment"),
    path("planning/", board.planning_index, name="planning"),
    path("planning/<str:code>/", board.planning_board, name="planning-board"),
    path("planning/<str:code>/orders/<str:number>/", board.reschedule_order, name="planning-order"),
    path("planning/<str:code>/orders/<str:number>/<str:move>/", board.move_board_order,
         name="planning-order-move"),
]
