"""Relation fields of the admin that answer a posted id that cannot be one with a form error, not a 500.

Django's autocomplete widget looks up the posted value to draw the form again (`line=abc` raised
ValueError), and a multiple choice looks up every posted id at once (a 20-digit id raised OverflowError
on SQLite): both before or after the form has said the value is not a choice. Every admin page of the
project uses these classes instead of `admin.ModelAdmin`, `admin.TabularInline` and `admin.StackedInline`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.http import HttpRequest


def is_key(field: models.Field, value: Any, using: str | None = None) -> bool:
    """Whether `value` can be a value of `field` in a query (right type, within its column's range)."""
    try:
        value = field.to_python(value)
    except ValidationError:
        return False
    if isinstance(value, int):
        low, high = connections[using or "default"].ops.integer_field_range(field.get_internal_type())
        return (low is None or value >= low) and (high is None or value <= high)
    return True


def _target(db_field: models.Field) -> models.Field:
    """The field a relation points at (the related model's primary key, or its to_field)."""
    return db_field.remote_field.model._meta.get_field(db_field.remote_field.field_name)


class _KeysOnly:
    """An autocomplete widget that draws only the posted values that can be keys (the rest are errors anyway)."""

    def optgroups(self, name: str, value: list, attr: dict | None = None) -> list:
        target = _target(self.field)
        return super().optgroups(name, [v for v in value if is_key(target, v, self.db)], attr)


class KeysOnlyAutocompleteSelect(_KeysOnly, AutocompleteSelect):
    pass


class KeysOnlyAutocompleteSelectMultiple(_KeysOnly, AutocompleteSelectMultiple):
    pass


class KeysOnlyMultipleChoiceField(forms.ModelMultipleChoiceField):
    """A multiple choice that refuses an id its column cannot hold as it refuses any other id that is no choice."""

    def _check_values(self, value: Any) -> Any:
        key = self.to_field_name or "pk"
        field = self.queryset.model._meta.get_field(key) if key != "pk" else self.queryset.model._meta.pk
        for pk in value:
            if isinstance(pk, str) and not is_key(field, pk, self.queryset.db):
                self.validate_no_null_characters(pk)
                raise ValidationError(self.error_messages["invalid_pk_value"], code="invalid_pk_value",
                                      params={"pk": pk})
        return super()._check_values(value)


class SafeRelations:
    """What every admin page of the project mixes in: relation fields that never fail on a posted value."""

    def formfield_for_foreignkey(self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KeysOnlyAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: models.ManyToManyField, request: HttpRequest, **kwargs: Any):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KeysOnlyAutocompleteSelectMultiple(db_field, self.admin_site,
                                                                  using=kwargs.get("using"))
        kwargs.setdefault("form_class", KeysOnlyMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ModelAdmin(SafeRelations, admin.ModelAdmin):
    pass


class TabularInline(SafeRelations, admin.TabularInline):
    pass


class StackedInline(SafeRelations, admin.StackedInline):
    pass
