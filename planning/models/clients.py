"""The IT systems that use the API: clients with scopes and lines, their hashed keys, what they wrote."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey

from planning.models.plant import Line


class Scope(models.TextChoices):
    RESULTS_READ = "results:read", "results:read — read OEE, shift, stop and work-order results"
    ORDERS_WRITE = "orders:write", "orders:write — push products and work orders, move orders"
    OBSERVATIONS_WRITE = "observations:write", "observations:write — send observations"


class ApiClient(models.Model):
    """An IT system (an ERP, a MES) that calls the API with keys of its own."""

    name = models.CharField(max_length=80, unique=True)
    scopes = models.JSONField(default=list, blank=True, help_text="What its keys may do.")
    all_lines = models.BooleanField(default=True, help_text="Its keys may use every line, now and later.")
    lines = models.ManyToManyField(
        Line, blank=True, related_name="api_clients",
        help_text="Without 'all lines': the only lines its keys may read and write.",
    )
    enabled = models.BooleanField(default=True, help_text="A disabled client's keys are refused (401).")
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.scopes, list) or not all(scope in Scope.values for scope in self.scopes):
            raise ValidationError({"scopes": f"Scopes are a list of: {', '.join(Scope.values)}."})

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def visible_lines(self, lines: models.QuerySet) -> models.QuerySet:
        """The lines among `lines` its keys may use: every line, or only its own (none when it has none left)."""
        return lines if self.all_lines else lines.filter(pk__in=self.lines.values("pk"))


class ApiKey(AbstractAPIKey):
    """A key of a client: stored as a hash, shown once when made, revoked for good."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="keys")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"


class ApiWrite(models.Model):
    """A write through the API: who (a client's key, or a logged-in user), when, what, and the answer."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    client = models.ForeignKey(ApiClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="writes")
    key_prefix = models.CharField(max_length=8, blank=True)
    user = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    status_code = models.PositiveSmallIntegerField()
    summary = models.JSONField(default=dict, blank=True, help_text="What was asked and what came of it.")

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "API write"

    def __str__(self) -> str:
        who = self.client or self.user or "?"
        return f"{self.at:%Y-%m-%d %H:%M:%S} {who} {self.method} {self.path} → {self.status_code}"
