"""API keys in `Authorization: Bearer <key>`: DRF's authentication of API clients.

Apart from the views (`planning.api.access`), since DRF loads authentication classes while its
own views module is still being imported.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from planning.models import ApiClient, ApiKey

# How often a client's "last used" is written: not on every request.
LAST_USED_EVERY = timedelta(minutes=1)


class ClientPrincipal:
    """`request.user` when a key is used: the client, which is no person."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, client: ApiClient, key: ApiKey) -> None:
        self.client, self.key = client, key

    def get_username(self) -> str:
        return f"client:{self.client.name}"

    def __str__(self) -> str:
        return self.get_username()


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>`: a usable key of an enabled client, or 401 saying which it is not."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[ClientPrincipal, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send the key as 'Authorization: Bearer <key>', with no spaces in the key.")
        try:
            key = ApiKey.objects.get_from_key(parts[1].decode("latin-1"))
        except ApiKey.DoesNotExist:
            raise AuthenticationFailed("Unknown or revoked key.") from None
        if key.has_expired:
            raise AuthenticationFailed("This key has expired.")
        if not key.client.enabled:
            raise AuthenticationFailed(f"Client {key.client.name} is disabled.")
        now = timezone.now()
        if key.client.last_used is None or key.client.last_used < now - LAST_USED_EVERY:
            ApiClient.objects.filter(pk=key.client_id).update(last_used=now)
        return ClientPrincipal(key.client, key), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="OEE Live API"'
