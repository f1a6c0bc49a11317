"""Who calls the API and what they may do: an API client by its key's scopes, a person by their role.

Every API view builds on `ApiView`: keys in `Authorization: Bearer <key>` (hashed, revocable),
sessions for logged-in people, a scope per method (`scopes`), lines limited by client or role,
per-client throttling, and a row in the write log (`ApiWrite`) for every write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from planning.api.keys import ClientPrincipal
from planning.models import ApiClient, ApiWrite, Line, Scope, WorkOrder
from planning.permissions import can_operate_line, role_of
from planning.workflow import OPERATOR_MOVES

logger = logging.getLogger(__name__)

# What each role may do through the API when logged in.
ROLE_SCOPES = {
    "admin": {Scope.RESULTS_READ, Scope.ORDERS_WRITE, Scope.OBSERVATIONS_WRITE},
    "manager": {Scope.RESULTS_READ, Scope.ORDERS_WRITE},
    "operator": {Scope.RESULTS_READ},
}


@dataclass(frozen=True)
class Caller:
    """Who is asking: a client (by its key) or a logged-in person (by their role)."""

    client: ApiClient | None
    user: User | None

    @classmethod
    def of(cls, request: Request) -> Caller:
        principal = request.user
        if isinstance(principal, ClientPrincipal):
            return cls(principal.client, None)
        return cls(None, principal if isinstance(principal, User) and principal.is_authenticated else None)

    @property
    def name(self) -> str:
        if self.client is not None:
            return f"client:{self.client.name}"
        return f"user:{self.user.get_username()}" if self.user else "anonymous"

    def may(self, scope: str) -> bool:
        if self.client is not None:
            return self.client.has_scope(scope)
        if self.user is not None and scope == Scope.RESULTS_READ:
            return True  # what a person may read is decided by the lines they may see
        return scope in ROLE_SCOPES.get(role_of(self.user) if self.user else None, set())

    def lines(self, lines: QuerySet | None = None) -> QuerySet:
        """The lines among `lines` (all by default) this caller may read and write."""
        lines = Line.objects.all() if lines is None else lines
        if self.client is not None:
            return self.client.visible_lines(lines)
        return Line.objects.visible_to(self.user) & lines if self.user else lines.none()

    def may_move(self, order: WorkOrder, move: str) -> bool:
        """Orders are moved by clients with orders:write on the order's line, managers and admins, and
        by the line's operators for the moves of the line screen."""
        if not self.lines().filter(pk=order.line_id).exists():
            return False
        if self.may(Scope.ORDERS_WRITE):
            return True
        return self.user is not None and move in OPERATOR_MOVES and can_operate_line(self.user, order.line)


class BearerKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema names the key: HTTP bearer."""

    target_class = "planning.api.keys.ApiKeyAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "http", "scheme": "bearer",
                "description": "An API client's key: `Authorization: Bearer <key>` (manage.py create_api_client)."}


class HasScope(BasePermission):
    """The scope the view names for the request's method (`ApiView.scopes`)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        scope = getattr(view, "scopes", {}).get(method)
        if scope is None:
            return True
        caller = Caller.of(request)
        if caller.may(scope):
            return True
        self.message = (
            f"This key's client {caller.client.name} has no {scope} scope." if caller.client
            else f"Your role may not use {scope}."
        )
        return False


class ClientRateThrottle(SimpleRateThrottle):
    """Requests per client over time (`API_CLIENT_RATE`, e.g. 600/min); people are not throttled here."""

    scope = "client"

    def get_rate(self) -> str:
        return settings.API_CLIENT_RATE

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if isinstance(request.user, ClientPrincipal):
            return f"throttle:client:{request.user.client.pk}"
        return None

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as error:  # noqa: BLE001 - the counts live in Redis: without it, serve unthrottled
            # An ERP's writes (observations, orders) must not stop because Redis is away.
            logger.warning("API throttle unavailable (%s): serving unthrottled", error)
            return True


class ApiView(APIView):
    """An API view: who may call it (`scopes` per method), throttled per client, its writes logged."""

    permission_classes = [IsAuthenticated, HasScope]
    throttle_classes = [ClientRateThrottle]
    scopes: dict[str, str] = {}

    def finalize_response(self, request: Request, response: Response, *args, **kwargs) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            self._log_write(request, response)
        return response

    def _log_write(self, request: Request, response: Response) -> None:
        caller = Caller.of(request)
        if caller.client is None and caller.user is None:
            return
        key = request.user.key if isinstance(request.user, ClientPrincipal) else None
        summary = getattr(request, "write_summary", None)
        if summary is None and response.status_code >= 400 and isinstance(getattr(response, "data", None), dict):
            summary = {"refused": response.data}
        ApiWrite.objects.create(
            client=caller.client, key_prefix=key.prefix if key else "", user=caller.user,
            method=request.method, path=request.path[:300], status_code=response.status_code,
            summary=summary or {},
        )
