"""The audit trail of configuration changes: who changed what, when, and each field before and after.

django-auditlog writes one `LogEntry` per create, update or delete of a tracked model (`track`),
with the changed fields as [before, after]. Who acted is in the entry's `additional_data["actor"]`:

- `user:<name>` for a person in the admin or the pages (auditlog's `actor` is that user too);
- `client:<name>` for an API client, with `api_client` and the `key_prefix` of the key it used;
- the command's name (`import_plant`, `create_api_client`) with the OS user who ran it;
- none ("system") for anything else, such as a migration.

Secrets (every `EncryptedTextField`) are masked: an entry says whether a secret was set before and
after, never what it was.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from auditlog.context import set_extra_data
from auditlog.middleware import AuditlogMiddleware
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.db import models
from django.http import HttpRequest

from planning.api.keys import ClientPrincipal
from planning.encryption import EncryptedTextField

SET, NOT_SET = "(set)", "(not set)"


def track(
    model: type[models.Model], exclude: Iterable[str] = (), m2m: Iterable[str] = (), masked: Iterable[str] = (),
) -> None:
    """Keep an audit trail of the model's changes, without the fields in `exclude`, with its secrets
    (and the fields in `masked`) recorded only as set or not set."""
    secrets = [field.name for field in model._meta.concrete_fields if isinstance(field, EncryptedTextField)]
    secrets += list(masked)
    auditlog.register(
        model, exclude_fields=list(exclude), m2m_fields=set(m2m),
        mask_fields=secrets, mask_callable="planning.audit.mask_secret",
    )


def mask_secret(value: str) -> str:
    """What the trail keeps of a secret: whether it is set. (auditlog hands over an absent value as "None".)"""
    return NOT_SET if value in ("", "None") else SET


def track_planning() -> None:
    """The configuration planning owns, and the work orders the API writes."""
    from planning.models import (
        ApiClient,
        ApiKey,
        Area,
        Break,
        CalendarException,
        DowntimeReason,
        FaultCode,
        Line,
        LineDisplay,
        Machine,
        Product,
        ProductCycleTime,
        Shift,
        ShiftPattern,
        Site,
        WebhookSubscription,
        WorkOrder,
    )

    for model in (Site, Area, DowntimeReason, FaultCode, ShiftPattern, Shift, Break, CalendarException, Product,
                  ProductCycleTime):
        track(model)
    track(Line, m2m=["operators"])
    track(Machine, exclude=["first_observation"])  # kept by the pipeline, not configured
    track(WorkOrder, exclude=["created", "updated"])
    track(ApiClient, exclude=["created", "last_used"], m2m=["lines"])
    # A key's hash is no secret, but nobody needs it in the trail; its prefix names it.
    track(ApiKey, exclude=["id", "hashed_key"])
    track(WebhookSubscription, exclude=["created"])
    # A TV's link: made, renewed and revoked in the admin. Its token's hash is recorded only as a change
    # (a new link); when the screen was last seen is no configuration.
    track(LineDisplay, exclude=["created", "last_seen"], masked=["token_hash"])
    # Who may do what is configuration too: accounts, their roles (groups) and flags. A password
    # change is recorded as a change, never its hash; logins are no configuration.
    from django.contrib.auth.models import Group, User
    track(User, exclude=["last_login"], m2m=["groups"], masked=["password"])
    track(Group, m2m=["permissions"])


def who_acted(request: HttpRequest) -> dict[str, str]:
    """The request's actor for an entry: a person, or an API client and its key."""
    user = getattr(request, "user", None)
    if isinstance(user, ClientPrincipal):
        return {"actor": user.get_username(), "api_client": user.client.name, "key_prefix": user.key.prefix}
    if user is not None and user.is_authenticated:
        return {"actor": f"user:{user.get_username()}"}
    return {"actor": "anonymous"}


class AuditMiddleware(AuditlogMiddleware):
    """auditlog's middleware (the user and address of each request's changes), naming API clients too."""

    def get_extra_data(self, request: HttpRequest) -> dict[str, Any]:
        data = super().get_extra_data(request)
        # Called when an entry is written: by then DRF has put a key's client on the request.
        data["additional_data"] = lambda: who_acted(request)
        return data


@contextmanager
def acting_as(actor: str, **details: Any) -> Iterator[None]:
    """Attribute every change made inside to `actor` (a command), with `details` beside it."""
    with set_extra_data({"actor": None, "additional_data": {"actor": actor, **details}}):
        yield


def command_run(command: str, **details: Any) -> AbstractContextManager[None]:
    """`acting_as` for a management command: its name, and the OS user who ran it."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        os_user = ""
    return acting_as(command, os_user=os_user, **details)


def actor_of(entry: LogEntry) -> str:
    """Who made the change, as the admin lists it."""
    data = entry.additional_data if isinstance(entry.additional_data, dict) else {}
    if data.get("actor"):
        return data["actor"]
    return f"user:{entry.actor.get_username()}" if entry.actor_id else "system"
