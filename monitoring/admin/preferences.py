"""A user's language, set on the user's own admin page."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model

from monitoring.models import UserPreferences
from planning.admin.relations import SafeRelations, StackedInline


class PreferencesInline(StackedInline):
    model = UserPreferences
    can_delete = False
    extra = 1
    max_num = 1


# The user admin registered so far (Django's, or one a helper app put in its place) gains the inline.
User = get_user_model()
_registered_user_admin = type(admin.site._registry[User])
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(SafeRelations, _registered_user_admin):
    inlines = [*_registered_user_admin.inlines, PreferencesInline]
