"""What happens around every request: refusing what no database can store, and the site's time zone."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils import timezone

from planning.models import Site


class RejectNulCharacters:
    """A NUL character in the path or the query is a 400: PostgreSQL refuses it in any text."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any(
            "\x00" in key or "\x00" in value for key, values in request.GET.lists() for value in values
        ):
            return HttpResponseBadRequest("A NUL character (%00) is not allowed in a URL.",
                                          content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def site_time_zone() -> ZoneInfo | None:
    """The zone of the plant's only site, or None when there is no site or several."""
    zones = list(Site.objects.order_by().values_list("time_zone", flat=True).distinct()[:2])
    return ZoneInfo(zones[0]) if len(zones) == 1 else None


class SiteTimeZone:
    """Each page and the admin read and show times in the site's zone; stored times stay UTC.

    With several sites in different zones no zone is the plant's: TIME_ZONE (the server's) is kept,
    and pages of one line still show that line's site through `{% timezone site_tz %}`. The API is left
    alone: it reads and writes instants with their offsets (UTC out), and ingest should not pay a query.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return self.get_response(request)
        zone = site_time_zone()
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
