from django.contrib import admin
from django.urls import include, path

from monitoring import api as monitoring_api
from monitoring import views as monitoring_views
from planning import views as planning_views
from planning.api import OeeView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/oee/", OeeView.as_view(), name="api-oee"),
    path("api/v1/reasons/", monitoring_api.ReasonsView.as_view(), name="api-reasons"),
    path("api/v1/machines/<str:code>/reasons/", monitoring_api.AssignReasonView.as_view(), name="api-machine-reasons"),
    path("api/v1/machines/<str:code>/scrap/", monitoring_api.ScrapView.as_view(), name="api-machine-scrap"),
    path("api/v1/machines/<str:code>/stops/", monitoring_api.StopsView.as_view(), name="api-machine-stops"),
    path("api/v1/machines/<str:code>/timeline/", monitoring_api.TimelineView.as_view(), name="api-machine-timeline"),
    path("api/v1/machines/<str:code>/events/", monitoring_api.EventsView.as_view(), name="api-machine-events"),
    path("", monitoring_views.overview, name="overview"),
    path("lines/<str:code>/", monitoring_views.line_screen, name="line-screen"),
    path("machines/<str:code>/", monitoring_views.machine_detail, name="machine-detail"),
    path("reports/shift/", planning_views.shift_report, name="shift-report"),
    path("reports/shift.csv", planning_views.shift_report_csv, name="shift-report-csv"),
]
