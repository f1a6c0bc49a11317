"""Secrets are write-only in the admin: never in a page's HTML, kept when left empty, cleared on request."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from monitoring.models import OpcUaEndpoint
from planning.models import WebhookSubscription

pytestmark = pytest.mark.django_db

PASSWORD = "opc-pw-Zq81x"
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC\n-----END PRIVATE KEY-----"
WEBHOOK_SECRET = "whsec-Kd93mfQ0"


@pytest.fixture
def endpoint() -> OpcUaEndpoint:
    return OpcUaEndpoint.objects.create(code="opc-sim", url="opc.tcp://127.0.0.1:14840/oee/", username="oee",
                                        password=PASSWORD, client_private_key=PRIVATE_KEY)


@pytest.fixture
def subscription() -> WebhookSubscription:
    return WebhookSubscription.objects.create(name="ERP", url="https://erp.example.com/hook", secret=WEBHOOK_SECRET,
                                              event_types=["shift.closed"])


@pytest.fixture
def viewer_client(client: Client) -> Client:
    """A staff user who may only view OPC UA endpoints and webhook subscriptions."""
    viewer = User.objects.create_user("viewer", password="pw-viewer-12345", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(
        codename__in=["view_opcuaendpoint", "view_webhooksubscription"]))
    client.force_login(viewer)
    return client


def endpoint_url(endpoint: OpcUaEndpoint) -> str:
    return reverse("admin:monitoring_opcuaendpoint_change", args=[endpoint.pk])


def subscription_url(subscription: WebhookSubscription) -> str:
    return reverse("admin:planning_webhooksubscription_change", args=[subscription.pk])


def endpoint_form(endpoint: OpcUaEndpoint, **changes: str) -> dict:
    """The change form as the browser sends it back untouched: the secrets' fields empty."""
    return {
        "code": endpoint.code, "name": "", "enabled": "on", "url": endpoint.url, "security_mode": "None",
        "security_policy": "None", "username": endpoint.username, "password": "", "client_certificate": "",
        "client_private_key": "", "server_certificate": "", "publishing_interval": "0.5", "sampling_interval": "0.25",
        "scan_interval": "1.0", "timeout": "2.0", "reconnect_backoff": "1.0",
        "bindings-TOTAL_FORMS": 0, "bindings-INITIAL_FORMS": 0, "bindings-MIN_NUM_FORMS": 0,
        "bindings-MAX_NUM_FORMS": 1000, **changes,
    }


def subscription_form(subscription: WebhookSubscription, **changes: str) -> dict:
    return {
        "name": subscription.name, "url": subscription.url, "secret": "", "event_types": subscription.event_types,
        "enabled": "on", "deliveries-TOTAL_FORMS": 0, "deliveries-INITIAL_FORMS": 0,
        "deliveries-MIN_NUM_FORMS": 0, "deliveries-MAX_NUM_FORMS": 0, **changes,
    }


def assert_no_secret_in(html: str, *secrets: str) -> None:
    for secret in secrets:
        for line in secret.splitlines():
            if len(line) > 8:
                assert line not in html


def test_the_endpoint_page_never_shows_the_password_or_private_key(admin_client: Client, endpoint: OpcUaEndpoint):
    page = admin_client.get(endpoint_url(endpoint))

    html = page.content.decode()
    assert page.status_code == 200
    assert_no_secret_in(html, PASSWORD, PRIVATE_KEY)
    assert html.count("Set: leave empty to keep it") == 2
    assert 'name="clear_password"' in html and 'name="clear_client_private_key"' in html


def test_a_view_only_user_sees_whether_the_secrets_are_set_but_not_them(viewer_client: Client,
                                                                        endpoint: OpcUaEndpoint):
    page = viewer_client.get(endpoint_url(endpoint))

    html = page.content.decode()
    assert page.status_code == 200
    assert_no_secret_in(html, PASSWORD, PRIVATE_KEY)
    assert "oee" in html  # the other fields are shown
    assert html.count('<div class="readonly">set</div>') == 2
    assert "clear_password" not in html


def test_saving_the_endpoint_unchanged_keeps_its_secrets(admin_client: Client, endpoint: OpcUaEndpoint):
    response = admin_client.post(endpoint_url(endpoint), endpoint_form(endpoint, name="Oven line"))

    assert response.status_code == 302
    saved = OpcUaEndpoint.objects.get(pk=endpoint.pk)
    assert (saved.name, saved.password, saved.client_private_key) == ("Oven line", PASSWORD, PRIVATE_KEY)


def test_a_typed_password_replaces_the_stored_one(admin_client: Client, endpoint: OpcUaEndpoint):
    response = admin_client.post(endpoint_url(endpoint), endpoint_form(endpoint, password="new-pw-771"))

    assert response.status_code == 302
    saved = OpcUaEndpoint.objects.get(pk=endpoint.pk)
    assert (saved.password, saved.client_private_key) == ("new-pw-771", PRIVATE_KEY)


def test_ticking_clear_removes_a_secret(admin_client: Client, endpoint: OpcUaEndpoint):
    response = admin_client.post(endpoint_url(endpoint), endpoint_form(endpoint, clear_client_private_key="on"))

    assert response.status_code == 302
    saved = OpcUaEndpoint.objects.get(pk=endpoint.pk)
    assert (saved.password, saved.client_private_key) == (PASSWORD, "")
    assert "Not set." in admin_client.get(endpoint_url(endpoint)).content.decode()


def test_typing_a_secret_and_ticking_clear_is_refused(admin_client: Client, endpoint: OpcUaEndpoint):
    response = admin_client.post(endpoint_url(endpoint),
                                 endpoint_form(endpoint, password="new-pw-771", clear_password="on"))

    assert response.status_code == 200
    assert "Type a new value or clear the stored one, not both." in response.content.decode()
    assert_no_secret_in(response.content.decode(), PASSWORD, PRIVATE_KEY, "new-pw-771")
    assert OpcUaEndpoint.objects.get(pk=endpoint.pk).password == PASSWORD


def test_a_new_endpoint_gets_the_secrets_typed_in(admin_client: Client):
    form = endpoint_form(OpcUaEndpoint(code="opc-new", url="opc.tcp://10.0.0.5:4840/", username="oee"),
                         password=PASSWORD)

    response = admin_client.post(reverse("admin:monitoring_opcuaendpoint_add"), form)

    assert response.status_code == 302
    assert OpcUaEndpoint.objects.get(code="opc-new").password == PASSWORD


def test_the_webhook_page_never_shows_the_secret(admin_client: Client, viewer_client: Client,
                                                 subscription: WebhookSubscription):
    for client in (admin_client, viewer_client):
        page = client.get(subscription_url(subscription))
        assert page.status_code == 200
        assert WEBHOOK_SECRET not in page.content.decode()
    assert '<div class="readonly">set</div>' in page.content.decode()  # the viewer's


def test_saving_a_webhook_unchanged_keeps_its_secret_and_a_typed_one_replaces_it(
    admin_client: Client, subscription: WebhookSubscription,
):
    kept = admin_client.post(subscription_url(subscription), subscription_form(subscription, name="ERP prod"))
    assert kept.status_code == 302
    assert WebhookSubscription.objects.get(pk=subscription.pk).secret == WEBHOOK_SECRET

    replaced = admin_client.post(subscription_url(subscription), subscription_form(subscription, secret="whsec-new-1"))
    assert replaced.status_code == 302
    assert WebhookSubscription.objects.get(pk=subscription.pk).secret == "whsec-new-1"


def test_a_new_webhook_needs_a_secret(admin_client: Client):
    form = subscription_form(WebhookSubscription(name="MES", url="https://mes.example.com/", event_types=[]),
                             event_types=["shift.closed"])

    response = admin_client.post(reverse("admin:planning_webhooksubscription_add"), form)

    assert response.status_code == 200
    assert not WebhookSubscription.objects.exists()


def test_an_error_report_of_the_endpoint_form_shows_its_secrets_as_stars(admin_client: Client,
                                                                         endpoint: OpcUaEndpoint) -> None:
    from django.views.debug import SafeExceptionReporterFilter

    response = admin_client.post(endpoint_url(endpoint), endpoint_form(endpoint, password="typed-pw-55",
                                                                       client_private_key=PRIVATE_KEY))

    posted = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert posted["password"] == posted["client_private_key"] == "********************"
    assert posted["code"] == endpoint.code
