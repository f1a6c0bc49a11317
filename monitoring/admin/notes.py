"""Admin for hand-over notes and stop comments: to find one, and to take back one that should not stand."""

from __future__ import annotations

from django.contrib import admin

from monitoring.models import HandoverNote, StopComment
from planning.admin.relations import ModelAdmin


@admin.register(HandoverNote)
class HandoverNoteAdmin(ModelAdmin):
    list_display = ("written", "line", "author", "text")
    list_filter = ("line",)
    search_fields = ("text", "author__username")
    date_hierarchy = "written"
    list_select_related = ("line", "author")


@admin.register(StopComment)
class StopCommentAdmin(ModelAdmin):
    list_display = ("stop_start", "machine", "author", "written", "text")
    list_filter = ("machine__line", "machine")
    search_fields = ("text", "author__username")
    date_hierarchy = "stop_start"
    list_select_related = ("machine", "author")
