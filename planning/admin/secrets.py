"""Secrets in the admin are write-only: a form never sends a stored secret back to the browser.

An editor sees whether a secret is set, types a new one to replace it, leaves the field empty to
keep it, or ticks its "clear" box to remove it. A reader (view permission only) sees "set" or
"not set" in its place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest, HttpResponse

from planning.admin.relations import ModelAdmin


class WriteOnlyTextarea(forms.Textarea):
    """A textarea (for a PEM key) that renders empty, whatever it holds, as PasswordInput does."""

    def format_value(self, value: Any) -> None:
        return None


class WriteOnlySecretsForm(forms.ModelForm):
    """A model form whose `secret_fields` are write-only.

    `secret_fields` maps each secret to the name of its "clear" checkbox, a BooleanField the
    subclass declares, or to None when the secret cannot be removed (a required one). Give each
    secret a widget that renders no value in Meta.widgets: PasswordInput or WriteOnlyTextarea.
    """

    secret_fields: ClassVar[dict[str, str | None]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            field = self.fields.get(name)
            if field is None:
                continue
            self.initial[name] = ""  # so an empty field reads as "unchanged"
            if getattr(self.instance, name):
                field.required = False
                status = "Set: leave empty to keep it, type a new one to replace it."
            else:
                status = "Not set."
            field.help_text = f"{status} {field.help_text}".strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name, clear in self.secret_fields.items():
            if name not in self.fields:
                continue
            typed = data.get(name)
            if clear is not None and data.get(clear):
                if typed:
                    self.add_error(clear, "Type a new value or clear the stored one, not both.")
                data[name] = ""
            elif not typed:
                data[name] = getattr(self.instance, name)
        return data


def secret_status_display(name: str) -> Callable[[admin.ModelAdmin, models.Model], str]:
    """A read-only admin column saying whether the secret `name` is set, for `SecretsAdmin`."""

    @admin.display(description=name.replace("_", " "))
    def status(modeladmin: admin.ModelAdmin, obj: models.Model) -> str:
        return "set" if getattr(obj, name) else "not set"

    return status


class SecretsAdmin(ModelAdmin):
    """A model admin whose form is a `WriteOnlySecretsForm`: a reader sees `<secret>_status` instead of
    each secret (define it with `secret_status_display`), and no "clear" boxes."""

    form: type[WriteOnlySecretsForm]

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # An error report (a debug page, a logged request) shows a typed secret as stars, as Django's
        # own password forms do.
        request.sensitive_post_parameters = list(self.form.secret_fields)
        return super().changeform_view(request, *args, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: models.Model | None = None) -> list:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        # Read only, every field is shown with its stored value: the secrets must not be among them.
        secrets = self.form.secret_fields
        clears = {clear for clear in secrets.values() if clear}
        return [
            (title, {**options, "fields": [
                f"{field}_status" if field in secrets else field
                for field in options["fields"] if field not in clears
            ]})
            for title, options in fieldsets
        ]
