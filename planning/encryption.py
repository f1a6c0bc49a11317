"""Secrets encrypted at rest: a model field whose column holds a Fernet token, never the clear text.

The keys are `settings.FIELD_ENCRYPTION_KEYS` (the environment's FIELD_ENCRYPTION_KEY): the first
encrypts, every one decrypts. A key is rotated by putting the new one first and running
`manage.py reencrypt_secrets`, after which the old one can go.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.functional import cached_property


class UnreadableSecret(ImproperlyConfigured):
    """A stored secret that none of the keys decrypts: the key that encrypted it is no longer configured."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    """The configured keys, the first one encrypting."""
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(text: str) -> str:
    return fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str, where: str = "a secret") -> str:
    """The clear text of `token`; UnreadableSecret naming `where` when no configured key opens it."""
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeEncodeError):
        raise UnreadableSecret(
            f"{where} cannot be decrypted with FIELD_ENCRYPTION_KEY: set the key it was encrypted with "
            "(after the new one, when rotating keys)."
        ) from None


def is_encrypted(value: str) -> bool:
    """True for a token one of the configured keys opens (what the field stores)."""
    try:
        decrypt(value)
    except UnreadableSecret:
        return False
    return True


class EncryptedTextField(models.TextField):
    """Text kept encrypted in its column and read back in clear. An empty value stays empty, so whether
    a secret is set shows without the key; `filter(field="")` finds the unset ones and nothing else
    can be looked up (each encryption differs)."""

    @cached_property
    def validators(self) -> list:
        # A TextField checks max_length only in forms; a secret's limit holds for every writer.
        limit = [MaxLengthValidator(self.max_length)] if self.max_length is not None else []
        return [*super().validators, *limit]

    def from_db_value(self, value: str | None, expression: Any, connection: BaseDatabaseWrapper) -> str | None:
        if not value:
            return value
        return decrypt(value, where=f"{self.model._meta.db_table}.{self.column}")

    def get_db_prep_save(self, value: Any, connection: BaseDatabaseWrapper) -> Any:
        value = super().get_db_prep_save(value, connection)
        return encrypt(value) if isinstance(value, str) and value else value


def encrypt_columns(connection: BaseDatabaseWrapper, table: str, columns: list[str]) -> None:
    """Encrypt the values of `columns` stored in clear (a data migration's step); tokens are left alone."""
    _rewrite(connection, table, columns, lambda value, where: None if is_encrypted(value) else encrypt(value))


def decrypt_columns(connection: BaseDatabaseWrapper, table: str, columns: list[str]) -> None:
    """Put the values of `columns` back in clear (the reverse of `encrypt_columns`)."""
    _rewrite(connection, table, columns, lambda value, where: decrypt(value, where) if is_encrypted(value) else None)


def _rewrite(connection: BaseDatabaseWrapper, table: str, columns: list[str],
             change: Callable[[str, str], str | None]) -> None:
    """Write `change(value, where)` over each non-empty value of `columns` for which it is not None.

    Raw SQL: the model's own field would try to decrypt what is still in clear.
    """
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for column in columns:
            cursor.execute(f"SELECT id, {quote(column)} FROM {quote(table)}")  # noqa: S608 — names, not data
            for pk, value in cursor.fetchall():
                new = change(value, f"{table}.{column}") if value else None
                if new is not None:
                    cursor.execute(f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE id = %s",  # noqa: S608
                                   [new, pk])
