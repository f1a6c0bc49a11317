"""`manage.py reencrypt_secrets`: encrypt every stored secret again with the first FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from planning.encryption import EncryptedTextField


class Command(BaseCommand):
    help = ("Encrypt every secret stored in the database again with the first key of FIELD_ENCRYPTION_KEY, "
            "so that the keys after it can be removed (key rotation).")

    def handle(self, *args: object, **options: object) -> None:
        total = 0
        with transaction.atomic():
            for model in apps.get_models():
                for field in model._meta.concrete_fields:
                    if not isinstance(field, EncryptedTextField):
                        continue
                    rows = model._base_manager.exclude(**{field.name: ""}).exclude(**{f"{field.name}__isnull": True})
                    for pk, clear in rows.values_list("pk", field.name):
                        # An update, not a save: the secret is the same, so no audit entry and no signal.
                        model._base_manager.filter(pk=pk).update(**{field.name: clear})
                        total += 1
        self.stdout.write(f"Encrypted {total} secret(s) again with the first key of FIELD_ENCRYPTION_KEY.")
