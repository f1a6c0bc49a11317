"""The site's URLs: the admin, log-in, languages, the API's schema and docs, and each app's own."""

from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from monitoring.language import set_language

# The admin is the plant's set-up, under the product's name rather than Django's.
admin.site.site_header = "OEE Live"
admin.site.site_title = "OEE Live admin"
admin.site.index_title = "Plant set-up"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    # The pages' scripts take their words from this catalog (gettext() in static/oee/*.js).
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("planning.urls")),
    path("", include("monitoring.urls")),
]
