"""Admin for the devices the collectors read, their signal maps, and their health."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from monitoring.models import DeviceHealth, ModbusDevice, OpcUaEndpoint, SignalBinding
from planning.admin.plant import MachineAdmin
from planning.admin.relations import ModelAdmin, TabularInline
from planning.admin.secrets import SecretsAdmin, WriteOnlySecretsForm, WriteOnlyTextarea, secret_status_display
from planning.models import Machine


class ModbusBindingInline(TabularInline):
    model = SignalBinding
    fk_name = "modbus_device"
    fields = ["machine", "signal", "table", "address", "data_type", "bit", "scale", "offset"]
    autocomplete_fields = ["machine"]
    extra = 0
    verbose_name = "signal binding"
    verbose_name_plural = "signal map"


class OpcUaBindingInline(TabularInline):
    model = SignalBinding
    fk_name = "opcua_endpoint"
    fields = ["machine", "signal", "node_id", "bit", "scale", "offset"]
    autocomplete_fields = ["machine"]
    extra = 0
    verbose_name = "signal binding"
    verbose_name_plural = "signal map"


@admin.action(description="Read now: read every bound signal once and show the values")
def read_now(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> TemplateResponse:
    """Read each selected device once and show a table per device; nothing is stored."""
    results = []
    for device in queryset:
        try:
            rows, error = device.read_now(), None
        except Exception as exc:  # noqa: BLE001 — one unreachable device must not hide the others' results
            rows, error = [], f"{type(exc).__name__}: {exc}"
        results.append({"device": device, "rows": rows, "error": error})
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Read now",
        "opts": modeladmin.model._meta,
        "results": results,
    }
    return TemplateResponse(request, "admin/monitoring/read_now.html", context)


class DeviceAdmin(ModelAdmin):
    """What Modbus devices and OPC UA endpoints share in the admin."""

    search_fields = ["code", "name"]
    list_filter = ["enabled"]
    actions = [read_now]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(binding_count=Count("bindings"))

    @admin.display(description="signals", ordering="binding_count")
    def binding_count(self, device: ModbusDevice | OpcUaEndpoint) -> int:
        return device.binding_count


@admin.register(ModbusDevice)
class ModbusDeviceAdmin(DeviceAdmin):
    list_display = ["code", "name", "host", "port", "unit_id", "scan_interval", "timeout", "enabled", "binding_count"]
    search_fields = ["code", "name", "host"]
    inlines = [ModbusBindingInline]
    fieldsets = [
        (None, {"fields": ["code", "name", "enabled"]}),
        ("Connection", {"fields": ["host", "port", "unit_id", "word_order", "byte_order"]}),
        ("Timing", {"fields": ["scan_interval", "timeout", "retries", "reconnect_backoff"]}),
    ]


class OpcUaEndpointForm(WriteOnlySecretsForm):
    clear_password = forms.BooleanField(required=False, label="Clear the password")
    clear_client_private_key = forms.BooleanField(required=False, label="Clear the client private key")

    secret_fields = {"password": "clear_password", "client_private_key": "clear_client_private_key"}

    class Meta:
        model = OpcUaEndpoint
        fields = "__all__"
        widgets = {"password": forms.PasswordInput(render_value=False), "client_private_key": WriteOnlyTextarea}


@admin.register(OpcUaEndpoint)
class OpcUaEndpointAdmin(SecretsAdmin, DeviceAdmin):
    form = OpcUaEndpointForm
    list_display = ["code", "name", "url", "security_mode", "publishing_interval", "enabled", "binding_count"]
    list_filter = ["enabled", "security_mode"]
    search_fields = ["code", "name", "url"]
    inlines = [OpcUaBindingInline]
    fieldsets = [
        (None, {"fields": ["code", "name", "enabled", "url"]}),
        ("Security", {"fields": ["security_mode", "security_policy", "username", "password", "clear_password",
                                 "client_certificate", "client_private_key", "clear_client_private_key",
                                 "server_certificate"]}),
        ("Timing", {"fields": ["publishing_interval", "sampling_interval", "scan_interval", "timeout",
                               "reconnect_backoff"]}),
    ]
    password_status = secret_status_display("password")
    client_private_key_status = secret_status_display("client_private_key")


@admin.register(DeviceHealth)
class DeviceHealthAdmin(ModelAdmin):
    """Written by the collectors only: the admin reads it."""

    list_display = ["device_kind", "device_code", "connected", "last_good_read", "consecutive_errors", "last_error",
                    "collector", "updated"]
    list_filter = ["device_kind", "connected", "collector"]
    search_fields = ["device_code", "last_error"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: DeviceHealth | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: DeviceHealth | None = None) -> bool:
        return False


class SignalBindingInline(TabularInline):
    model = SignalBinding
    fields = ["signal", "modbus_device", "table", "address", "data_type", "bit", "opcua_endpoint", "node_id",
              "scale", "offset"]
    autocomplete_fields = ["modbus_device", "opcua_endpoint"]
    extra = 0
    verbose_name = "signal binding"
    verbose_name_plural = "signal map (where each signal is read)"


class MachineWithSignalMapAdmin(MachineAdmin):
    """The machine's page as planning defines it, with where each of its signals is read."""

    inlines = [*MachineAdmin.inlines, SignalBindingInline]


admin.site.unregister(Machine)
admin.site.register(Machine, MachineWithSignalMapAdmin)
