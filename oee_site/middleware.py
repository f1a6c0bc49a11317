"""Requests refused before any view: what no database can store."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


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
