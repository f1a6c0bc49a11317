from django.contrib import admin
from django.urls import include, path

from planning.api import OeeView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/oee/", OeeView.as_view(), name="api-oee"),
]
