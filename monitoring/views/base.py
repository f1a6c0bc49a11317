"""What every page shares: the frame around it, the one check of who may see a line, and finding
a line or machine by its code in a URL (any case; an unknown one is the product's 404 page)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy

from planning.models import Line, Site
from planning.permissions import can_view_line, role_of


def chrome(request: HttpRequest) -> dict:
    """What the base template shows around every page: the plant's name and the user's role."""
    sites = list(Site.objects.values_list("name", flat=True)[:2])
    return {
        "plant_name": sites[0] if len(sites) == 1 else "OEE Live",
        "role": role_of(request.user),
    }


def visible_line(request: HttpRequest, code: str) -> Line:
    """The line with this code, or 404; PermissionDenied (a 403 page) when the user may not see it."""
    line = by_code(Line.objects.select_related("area__site", "constraint_machine"), code, "line")
    if not can_view_line(request.user, line):
        raise PermissionDenied(
            f"You are not allowed to see line {line.code} ({line.name}). "
            "An administrator can add you to the line's operators."
        )
    return line


class UnknownCode(Http404):
    """No line, machine or order has the code in the URL; the message says which was looked for."""


NOT_FOUND = {
    "line": gettext_lazy("There is no line with the code “%(code)s”."),
    "machine": gettext_lazy("There is no machine with the code “%(code)s”."),
}


def by_code(queryset: QuerySet, code: str, noun: str) -> Model:
    """The object of `queryset` with this code, typed in any case (l1 finds L1); UnknownCode when none has it.

    A code that exists exactly as typed wins over one that differs only in case.
    """
    found = list(queryset.filter(code__iexact=code)[:10])
    exact = [item for item in found if item.code == code]
    if exact or len(found) == 1:
        return (exact or found)[0]
    raise UnknownCode(NOT_FOUND[noun] % {"code": code})


def canonical_redirect(request: HttpRequest, **codes: str) -> HttpResponseRedirect | None:
    """The same page under the codes as they are spelled (/lines/l1/ → /lines/L1/), or None when it already is.

    Only a GET or HEAD is sent on: a redirected form would lose what it posted.
    """
    match = request.resolver_match
    if request.method not in ("GET", "HEAD") or match is None:
        return None
    if all(match.kwargs.get(name) == code for name, code in codes.items()):
        return None
    url = reverse(match.view_name, kwargs={**match.kwargs, **codes})
    query = request.META.get("QUERY_STRING", "")
    return HttpResponseRedirect(f"{url}?{query}" if query else url)


def friendly_not_found(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The product's 404 page for an unknown line, machine or order, also with DEBUG on: the user typed
    a wrong code, and Django's debug page (a developer's list of URL patterns) tells them nothing."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Http404 as missing:
            reason = str(missing) if isinstance(missing, UnknownCode) else ""
            return render(request, "404.html", {**chrome(request), "reason": reason}, status=404)

    return wrapper
