"""Admin for alert rules (with their escalation steps), and the alerts they opened, read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from monitoring.models import Alert, AlertEscalation, AlertRule
from planning.admin.relations import ModelAdmin, TabularInline


def _users_without_email(users: QuerySet[User] | None) -> list[str]:
    return sorted(user.get_username() for user in (users or []) if not user.email)


class AlertRuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        fields = "__all__"
        widgets = {"emails": forms.Textarea(attrs={"rows": 2})}

    def clean_users(self) -> QuerySet[User]:
        users = self.cleaned_data.get("users")
        missing = _users_without_email(users)
        if missing:
            raise ValidationError(f"No e-mail address for {', '.join(missing)}: give them one, or leave them out.")
        return users


class AlertEscalationForm(forms.ModelForm):
    class Meta:
        model = AlertEscalation
        fields = ["after_minutes", "emails", "users"]
        widgets = {"emails": forms.Textarea(attrs={"rows": 2})}

    def clean_users(self) -> QuerySet[User]:
        users = self.cleaned_data.get("users")
        missing = _users_without_email(users)
        if missing:
            raise ValidationError(f"No e-mail address for {', '.join(missing)}: give them one, or leave them out.")
        return users

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors and not data.get("DELETE") and data.get("after_minutes") is not None \
                and not (data.get("emails", "").strip() or data.get("users")):
            raise ValidationError("An escalation step needs someone to tell: e-mail addresses or users.")
        return data


class AlertEscalationInline(TabularInline):
    model = AlertEscalation
    form = AlertEscalationForm
    extra = 0
    filter_horizontal = ["users"]
    verbose_name = _("escalation step")
    verbose_name_plural = _("escalation: unacknowledged after M minutes, tell these too")


@admin.register(AlertRule)
class AlertRuleAdmin(ModelAdmin):
    form = AlertRuleForm
    list_display = ["name", "kind", "line", "machine", "threshold_label", "enabled"]
    list_filter = ["kind", "enabled", "line"]
    list_editable = ["enabled"]
    search_fields = ["name", "line__code", "machine__code"]
    list_select_related = ["line", "machine"]
    autocomplete_fields = ["line", "machine", "reason_group"]
    filter_horizontal = ["users"]
    inlines = [AlertEscalationInline]
    fieldsets = [
        (None, {"fields": ["name", "kind", "enabled"]}),
        (_("Where"), {"fields": ["line", "machine"]}),
        (_("When"), {"fields": ["threshold", "reason_group", "loss_category"]}),
        (_("Whom to tell"), {"fields": ["emails", "users"]}),
    ]

    @admin.display(description="N")
    def threshold_label(self, rule: AlertRule) -> str:
        return rule.threshold_label


@admin.register(Alert)
class AlertAdmin(ModelAdmin):
    """Alerts are opened, sent, escalated, acknowledged and ended by `monitoring.alerts`: the admin reads them."""

    list_display = ["title", "line", "opened_at", "sent_at", "escalation_level", "acknowledged_at",
                    "acknowledged_by", "ended_at"]
    list_filter = ["rule__kind", "line", ("ended_at", admin.EmptyFieldListFilter)]
    list_select_related = ["line", "acknowledged_by"]
    search_fields = ["title", "subject"]
    date_hierarchy = "opened_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False
