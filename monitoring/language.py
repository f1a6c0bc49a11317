"""The operator's language: a user's saved choice applies on every page, and the switcher saves it.

Django's LocaleMiddleware picks the language from the switcher's cookie or the browser's
Accept-Language; for a signed-in user who has chosen one, UserLanguageMiddleware puts theirs first.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from monitoring.models import UserPreferences

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


def saved_language(user) -> str:
    """The language user chose, or "" when they chose none (or are anonymous)."""
    if not user.is_authenticated:
        return ""
    language = UserPreferences.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    return language if language in LANGUAGE_CODES else ""


class UserLanguageMiddleware:
    """Activates a signed-in user's saved language for the request (after LocaleMiddleware and authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = saved_language(request.user) if hasattr(request, "user") else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's set_language (a cookie, then back to `next`); a signed-in user's choice is also saved."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in LANGUAGE_CODES:
        UserPreferences.objects.update_or_create(user=request.user, defaults={"language": language})
    return response
