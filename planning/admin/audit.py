"""The audit trail in the admin, read only: who changed which configuration, when, before and after."""

from __future__ import annotations

from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django.contrib import admin

from planning.audit import actor_of

# auditlog registers its own page; this one names API clients and commands as well as users.
admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class AuditEntryAdmin(LogEntryAdmin):
    list_display = ["created", "resource_url", "action", "msg_short", "who", "remote_addr"]
    list_select_related = ["content_type", "actor"]
    readonly_fields = [*LogEntryAdmin.readonly_fields, "who", "remote_addr"]
    fieldsets = [
        (None, {"fields": ["created", "who", "remote_addr", "resource_url", "cid"]}),
        ("Changes", {"fields": ["action", "msg"]}),
    ]

    @admin.display(description="who")
    def who(self, entry: LogEntry) -> str:
        return actor_of(entry)
