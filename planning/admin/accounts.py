"""Roles (groups) in the admin: Django's page, with relation fields that refuse an impossible id with a form error."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.models import Group

from planning.admin.relations import SafeRelations

_registered_group_admin = type(admin.site._registry[Group])
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(SafeRelations, _registered_group_admin):
    pass
