"""Admin for the IT side: API clients and their keys, the write log, webhook subscriptions and deliveries."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.validators import URLValidator
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from planning import webhooks
from planning.admin.relations import ModelAdmin, SafeRelations, TabularInline
from planning.admin.secrets import SecretsAdmin, WriteOnlySecretsForm, secret_status_display
from planning.models import (
    ApiClient,
    ApiKey,
    ApiWrite,
    EventType,
    OutboxEvent,
    Scope,
    WebhookDelivery,
    WebhookSubscription,
)

# The library's own key model is not used: keys here belong to a client.
admin.site.unregister(APIKey)


class ApiClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple, required=False)

    class Meta:
        model = ApiClient
        fields = ["name", "scopes", "all_lines", "lines", "enabled"]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("all_lines") and data.get("lines"):
            # Ticked 'all lines' and chose lines: which was meant? Not a guess that opens every line.
            raise forms.ValidationError({"lines": "Choose lines only without 'all lines', or untick 'all lines'."})
        return data


class ApiKeyInline(TabularInline):
    model = ApiKey
    fields = ["prefix", "name", "created", "expiry_date", "revoked"]
    readonly_fields = ["prefix", "name", "created"]
    extra = 0
    can_delete = False
    verbose_name_plural = "keys (make a new one under API keys: it is shown once)"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ApiClient)
class ApiClientAdmin(ModelAdmin):
    form = ApiClientForm
    list_display = ["name", "scope_list", "line_list", "enabled", "last_used"]
    list_filter = ["enabled"]
    search_fields = ["name"]
    filter_horizontal = ["lines"]
    readonly_fields = ["created", "last_used"]
    inlines = [ApiKeyInline]

    @admin.display(description="scopes")
    def scope_list(self, client: ApiClient) -> str:
        return ", ".join(client.scopes) or "—"

    @admin.display(description="lines")
    def line_list(self, client: ApiClient) -> str:
        return "every line" if client.all_lines else ", ".join(client.lines.values_list("code", flat=True)) or "none"


@admin.register(ApiKey)
class ApiKeyAdmin(SafeRelations, APIKeyModelAdmin):
    """A new key is shown once, in the message after saving; a revoked key stays revoked."""

    list_display = ["prefix", "name", "client", "created", "expiry_date", "_has_expired", "revoked"]
    list_filter = ["client", "revoked"]
    search_fields = ["name", "prefix", "client__name"]
    list_select_related = ["client"]


@admin.register(ApiWrite)
class ApiWriteAdmin(ModelAdmin):
    """Every write through the API: read only."""

    list_display = ["at", "client", "key_prefix", "user", "method", "path", "status_code"]
    list_filter = ["client", "method", "status_code"]
    search_fields = ["path", "client__name", "user__username"]
    date_hierarchy = "at"
    list_select_related = ["client", "user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class WebhookSubscriptionForm(WriteOnlySecretsForm):
    # HTTP(S) only: Django's URL field also takes ftp://, and urllib would deliver an event there.
    url = forms.URLField(max_length=500, assume_scheme="https", help_text="Receives each event as a JSON POST.",
                         validators=[URLValidator(schemes=["http", "https"])])
    event_types = forms.MultipleChoiceField(choices=EventType.choices, widget=forms.CheckboxSelectMultiple)

    # No "clear" box: a subscription always signs with a secret; type a new one to replace it.
    secret_fields = {"secret": None}

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "secret", "event_types", "enabled"]
        widgets = {"secret": forms.PasswordInput(render_value=False)}


class DeliveryInline(TabularInline):
    model = WebhookDelivery
    fields = ["event", "status", "attempts", "last_attempt_at", "last_status_code", "last_error", "next_attempt_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0
    ordering = ["-event_id"]
    verbose_name_plural = "delivery log (newest first; retry from Webhook deliveries)"


@admin.action(description="Retry the selected deliveries now")
def retry_deliveries(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    count = webhooks.retry(queryset)
    modeladmin.message_user(request, f"{count} deliveries queued again.", messages.SUCCESS)


@admin.action(description="Retry every delivery of the selected subscriptions that has not gone through")
def retry_subscriptions(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    count = webhooks.retry(WebhookDelivery.objects.filter(subscription__in=queryset))
    modeladmin.message_user(request, f"{count} deliveries queued again.", messages.SUCCESS)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(SecretsAdmin):
    form = WebhookSubscriptionForm
    list_display = ["name", "url", "event_list", "enabled"]
    list_filter = ["enabled"]
    search_fields = ["name", "url"]
    actions = [retry_subscriptions]
    inlines = [DeliveryInline]
    secret_status = secret_status_display("secret")

    @admin.display(description="events")
    def event_list(self, subscription: WebhookSubscription) -> str:
        return ", ".join(subscription.event_types)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ModelAdmin):
    list_display = ["event", "subscription", "status", "attempts", "last_status_code", "last_error",
                    "next_attempt_at", "delivered_at"]
    list_filter = ["status", "subscription", "event__type"]
    list_select_related = ["event", "subscription"]
    actions = [retry_deliveries]
    readonly_fields = ["event", "subscription", "status", "attempts", "next_attempt_at", "last_attempt_at",
                       "last_status_code", "last_error", "delivered_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(ModelAdmin):
    """What the IT systems were told (and the stops API serves): read only."""

    list_display = ["id", "type", "occurred_at", "line", "created"]
    list_filter = ["type", "line"]
    search_fields = ["key", "uid"]
    date_hierarchy = "occurred_at"
    readonly_fields = ["uid", "type", "key", "occurred_at", "created", "line", "payload"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
