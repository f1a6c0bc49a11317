"""Secrets at rest: OPC UA passwords and private keys and webhook secrets are encrypted in their columns."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from monitoring.models import OpcUaEndpoint
from planning.encryption import UnreadableSecret
from planning.models import WebhookSubscription

PASSWORD = "opc-password-in-clear"
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
WEBHOOK_SECRET = "whsec-in-clear-0123456789"


def raw(table: str, column: str, pk: int) -> str:
    """The column's value as the database holds it, past the model."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def endpoint(**secrets: str) -> OpcUaEndpoint:
    return OpcUaEndpoint.objects.create(code="opc-sim", url="opc.tcp://127.0.0.1:4840/", **secrets)


@pytest.mark.django_db
def test_opc_ua_secrets_are_stored_encrypted_and_read_back_in_clear() -> None:
    made = endpoint(username="oee", password=PASSWORD, client_private_key=PRIVATE_KEY)

    stored_password = raw("monitoring_opcuaendpoint", "password", made.pk)
    stored_key = raw("monitoring_opcuaendpoint", "client_private_key", made.pk)
    assert PASSWORD not in stored_password and stored_password
    assert "PRIVATE KEY" not in stored_key and "MIIEvQ" not in stored_key
    assert raw("monitoring_opcuaendpoint", "username", made.pk) == "oee"  # not a secret
    loaded = OpcUaEndpoint.objects.get(pk=made.pk)
    assert (loaded.password, loaded.client_private_key) == (PASSWORD, PRIVATE_KEY)


@pytest.mark.django_db
def test_a_webhook_secret_is_stored_encrypted_and_signs_with_the_clear_one() -> None:
    made = WebhookSubscription.objects.create(name="ERP", url="https://erp.example.com/hook", secret=WEBHOOK_SECRET)

    assert WEBHOOK_SECRET not in raw("planning_webhooksubscription", "secret", made.pk)
    assert WebhookSubscription.objects.get(pk=made.pk).secret == WEBHOOK_SECRET


@pytest.mark.django_db
def test_a_queryset_update_encrypts_too() -> None:
    made = endpoint()
    OpcUaEndpoint.objects.filter(pk=made.pk).update(password=PASSWORD)

    assert PASSWORD not in raw("monitoring_opcuaendpoint", "password", made.pk)
    assert OpcUaEndpoint.objects.get(pk=made.pk).password == PASSWORD


@pytest.mark.django_db
def test_an_unset_secret_stays_empty_and_can_be_found_as_unset() -> None:
    unset = endpoint()

    assert raw("monitoring_opcuaendpoint", "password", unset.pk) == ""
    assert list(OpcUaEndpoint.objects.filter(password="")) == [unset]


@pytest.mark.django_db
def test_a_password_longer_than_its_limit_is_refused() -> None:
    too_long = OpcUaEndpoint(code="opc-sim", url="opc.tcp://127.0.0.1:4840/", password="x" * 121)

    with pytest.raises(Exception, match="at most 120 characters"):
        too_long.full_clean()


@pytest.mark.django_db
def test_a_secret_no_configured_key_opens_fails_loudly(settings) -> None:
    made = endpoint(password=PASSWORD)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(UnreadableSecret, match="monitoring_opcuaendpoint.password cannot be decrypted"):
        OpcUaEndpoint.objects.get(pk=made.pk)


@pytest.mark.django_db
def test_a_rotated_key_reads_old_secrets_and_reencrypt_secrets_moves_them_to_the_new_key(settings) -> None:
    old_key, new_key = settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    made = endpoint(password=PASSWORD, client_private_key=PRIVATE_KEY)
    subscription = WebhookSubscription.objects.create(name="ERP", url="https://erp.example.com/", secret=WEBHOOK_SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert OpcUaEndpoint.objects.get(pk=made.pk).password == PASSWORD

    out = StringIO()
    call_command("reencrypt_secrets", stdout=out)

    assert "Encrypted 3 secret(s)" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    loaded = OpcUaEndpoint.objects.get(pk=made.pk)
    assert (loaded.password, loaded.client_private_key) == (PASSWORD, PRIVATE_KEY)
    assert WebhookSubscription.objects.get(pk=subscription.pk).secret == WEBHOOK_SECRET
    assert Fernet(new_key).decrypt(raw("monitoring_opcuaendpoint", "password", made.pk).encode()) == PASSWORD.encode()


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_secrets_stored_in_clear() -> None:
    before = [("monitoring", "0002_first_observations"), ("planning", "0002_machine_in_service")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO monitoring_opcuaendpoint (code, name, enabled, scan_interval, timeout, reconnect_backoff,"
                " updated, url, security_mode, security_policy, client_certificate, client_private_key,"
                " server_certificate, username, password, publishing_interval, sampling_interval)"
                " VALUES ('opc-old', '', %s, 1, 2, 1, CURRENT_TIMESTAMP, 'opc.tcp://h:4840/', 'None', 'None', '', %s,"
                " '', 'oee', %s, 0.5, 0.25)",
                [True, PRIVATE_KEY, PASSWORD],
            )
            cursor.execute(
                "INSERT INTO planning_webhooksubscription (name, url, secret, event_types, enabled, created)"
                " VALUES ('ERP', 'https://erp.example.com/', %s, '[]', %s, CURRENT_TIMESTAMP)",
                [WEBHOOK_SECRET, True],
            )
            cursor.execute(
                "INSERT INTO monitoring_opcuaendpoint (code, name, enabled, scan_interval, timeout, reconnect_backoff,"
                " updated, url, security_mode, security_policy, client_certificate, client_private_key,"
                " server_certificate, username, password, publishing_interval, sampling_interval)"
                " VALUES ('opc-open', '', %s, 1, 2, 1, CURRENT_TIMESTAMP, 'opc.tcp://h:4841/', 'None', 'None', '', '',"
                " '', '', '', 0.5, 0.25)",
                [True],
            )
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)

        with connection.cursor() as cursor:
            cursor.execute("SELECT code, password, client_private_key FROM monitoring_opcuaendpoint ORDER BY code")
            (_, password, key), (_, empty_password, empty_key) = cursor.fetchall()
            cursor.execute("SELECT secret FROM planning_webhooksubscription")
            (secret,) = cursor.fetchone()
        assert PASSWORD not in password and "PRIVATE KEY" not in key and WEBHOOK_SECRET not in secret
        assert (empty_password, empty_key) == ("", "")
        migrated = OpcUaEndpoint.objects.get(code="opc-old")
        assert (migrated.password, migrated.client_private_key) == (PASSWORD, PRIVATE_KEY)
        assert WebhookSubscription.objects.get().secret == WEBHOOK_SECRET
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)
