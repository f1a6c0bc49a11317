"""Admin for line displays: make a TV's link (shown once, to copy), give it a new one, revoke it."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from planning.admin.relations import ModelAdmin
from planning.models import LineDisplay


def _link(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("line-display", args=[token]))


def _show_link(request: HttpRequest, display: LineDisplay, token: str) -> None:
    messages.success(request, format_html(
        "The link of “{}” — copy it now into the screen's browser; it is not shown again "
        "(“Give a new link” makes another): <input type=\"text\" readonly size=\"90\" value=\"{}\" "
        "class=\"display-link\" onclick=\"this.select()\">", str(display), _link(request, token),
    ))


@admin.register(LineDisplay)
class LineDisplayAdmin(ModelAdmin):
    list_display = ["name", "line", "language", "status", "created", "last_seen"]
    list_filter = ["line", "language"]
    search_fields = ["name", "line__code", "line__name"]
    fields = ["line", "name", "language", "status", "created", "last_seen"]
    readonly_fields = ["status", "created", "last_seen"]
    actions = ["give_new_link", "revoke"]

    @admin.display(description="status")
    def status(self, display: LineDisplay) -> str:
        if display.revoked:
            return f"revoked {timezone.localtime(display.revoked_at):%Y-%m-%d %H:%M}"  # the site's zone
        return "active" if display.pk else "a link is made when you save"

    def save_model(self, request: HttpRequest, display: LineDisplay, form, change: bool) -> None:
        token = None if change else display.issue_token()
        super().save_model(request, display, form, change)
        if token:
            _show_link(request, display, token)

    # Only for those who may change displays: a user who may only view them makes and revokes no link.
    @admin.action(description="Give a new link (the old one stops working)", permissions=["change"])
    def give_new_link(self, request: HttpRequest, queryset: QuerySet[LineDisplay]) -> None:
        for display in queryset:
            token = display.issue_token()
            display.revoked_at = None
            display.save(update_fields=["token_hash", "revoked_at"])
            _show_link(request, display, token)

    @admin.action(description="Revoke the link (the screen shows that it is no longer connected)",
                  permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[LineDisplay]) -> None:
        count = 0
        for display in queryset.filter(revoked_at__isnull=True):
            display.revoke()
            count += 1
        self.message_user(request, f"{count} display link(s) revoked.")
