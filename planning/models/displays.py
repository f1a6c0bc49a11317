"""Line displays: a TV's read-only link to one line's screen, by a revocable token instead of a user session."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from planning.models.plant import Line

TOKEN_BYTES = 32
"""Random bytes of a token (43 URL-safe characters): not guessable, so a link may live for years."""


def token_hash(token: str) -> str:
    """The SHA-256 of a token, as stored: the database never holds a working link."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class LineDisplayQuerySet(models.QuerySet):
    def active(self) -> LineDisplayQuerySet:
        return self.filter(revoked_at__isnull=True)

    def by_token(self, token: str) -> LineDisplay | None:
        """The active display of this token, or None (unknown, revoked, or not a token at all)."""
        if not token or len(token) > 200:
            return None
        digest = token_hash(token)
        display = self.active().select_related("line__area__site").filter(token_hash=digest).first()
        # The lookup is by hash (a timing difference says nothing of the token); compare anyway, in constant time.
        if display is None or not hmac.compare_digest(display.token_hash, digest):
            return None
        return display


class LineDisplay(models.Model):
    """A screen on the shop floor that shows one line read-only, for as long as its link is not revoked.

    The link's token is shown once, when it is made (`issue_token`); only its hash is kept.
    """

    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="displays")
    name = models.CharField(max_length=80, help_text="Where the screen hangs, e.g. “TV at the end of L1”.")
    language = models.CharField(
        max_length=8, blank=True, choices=settings.LANGUAGES,
        help_text="The language of the screen; blank: the language its browser asks for.",
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_seen = models.DateTimeField(null=True, blank=True, editable=False)

    objects = LineDisplayQuerySet.as_manager()

    class Meta:
        ordering = ["line__code", "name"]
        verbose_name = "line display"

    def __str__(self) -> str:
        return f"{self.name} ({self.line.code})"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def issue_token(self) -> str:
        """Give the display a new token (the old link stops working) and return it; the caller saves."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self.token_hash = token_hash(token)
        return token

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
