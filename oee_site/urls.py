"""The site's URLs: the admin, log-in, and each app's own."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("monitoring.urls")),
]
