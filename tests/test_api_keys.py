"""API clients and their keys (planning/api): hashed keys with scopes and lines, throttled, writes logged."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse

from planning.models import ApiClient, ApiKey, ApiWrite, Product
from tests.api import bearer

pytestmark = pytest.mark.django_db

PERIOD = {"start": "2026-01-12T06:00:00+01:00", "end": "2026-01-12T14:00:00+01:00"}


def test_a_key_is_stored_only_as_a_hash(plant, api_key):
    key = api_key("results:read")
    stored = ApiKey.objects.get()
    assert key.startswith(stored.prefix + ".")
    assert key.split(".", 1)[1] not in stored.hashed_key and stored.hashed_key.startswith("sha512$$")


def test_a_results_key_reads_but_may_not_write(client, plant, api_key):
    key = api_key("results:read")
    assert client.get("/api/v1/oee/", {"line": "A", **PERIOD}, headers=bearer(key)).status_code == 200
    response = client.put("/api/v1/products/P-1/", {"name": "Lid", "cycle_times": {}},
                          content_type="application/json", headers=bearer(key))
    assert response.status_code == 403
    assert "orders:write" in response.json()["detail"]
    assert not Product.objects.exists()


def test_a_revoked_key_an_unknown_key_and_a_disabled_client_get_401(client, plant, api_key):
    key = api_key("results:read")
    ok = client.get("/api/v1/oee/", {"line": "A", **PERIOD}, headers=bearer(key))
    assert ok.status_code == 200
    stored = ApiKey.objects.get()
    stored.revoked = True
    stored.save()
    revoked = client.get("/api/v1/oee/", {"line": "A", **PERIOD}, headers=bearer(key))
    assert revoked.status_code == 401 and revoked["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/oee/", {"line": "A", **PERIOD}, headers=bearer("nope.nope")).status_code == 401
    second = api_key("results:read")
    ApiClient.objects.filter(keys__prefix=second.split(".")[0]).update(enabled=False)
    disabled = client.get("/api/v1/oee/", {"line": "A", **PERIOD}, headers=bearer(second))
    assert disabled.status_code == 401 and "disabled" in disabled.json()["detail"]


def test_a_key_limited_to_a_line_sees_nothing_of_the_others(client, plant, api_key):
    key = api_key("results:read", "orders:write", lines=[plant.line_a])
    assert client.get("/api/v1/oee/", {"line": "A", **PERIOD}, headers=bearer(key)).status_code == 200
    other = client.get("/api/v1/oee/", {"line": "B", **PERIOD}, headers=bearer(key))
    assert other.status_code == 400 and "No line 'B' that you may see" in other.json()["line"]
    assert client.get("/api/v1/machines/B1/stops/", headers=bearer(key)).status_code == 404
    Product.objects.create(code="P-1", name="Lid")
    order = {"product": "P-1", "quantity": 10, "line": "B", "planned_start": "2026-01-12T06:00:00Z",
             "planned_end": "2026-01-12T14:00:00Z"}
    refused = client.put("/api/v1/work-orders/WO-B/", order, content_type="application/json", headers=bearer(key))
    assert refused.status_code == 403


def test_a_client_past_its_rate_gets_429_with_retry_after(client, plant, api_key, settings):
    settings.API_CLIENT_RATE = "3/min"
    key, other = api_key("results:read"), api_key("results:read")
    answers = [client.get("/api/v1/reasons/", headers=bearer(key)).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    throttled = client.get("/api/v1/reasons/", headers=bearer(key))
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert client.get("/api/v1/reasons/", headers=bearer(other)).status_code == 200  # per client


def test_every_write_is_logged_with_who_when_and_what(client, plant, api_key):
    key = api_key("orders:write", name="SAP")
    before = datetime.now().astimezone()
    client.put("/api/v1/products/P-1/", {"name": "Lid", "cycle_times": {"A1": 0.9}},
               content_type="application/json", headers=bearer(key))
    client.put("/api/v1/products/P-2/", {"name": "Cap", "cycle_times": {"Z9": 0.9}},
               content_type="application/json", headers=bearer(key))
    ok, refused = ApiWrite.objects.order_by("at", "pk")
    assert (ok.client.name, ok.key_prefix, ok.method, ok.path, ok.status_code) == (
        "SAP", key.split(".")[0], "PUT", "/api/v1/products/P-1/", 201)
    assert ok.summary == {"product": "P-1", "created": True, "changed": False} and ok.at >= before - timedelta(1)
    assert refused.status_code == 400 and "cycle_times.Z9" in refused.summary["refused"]
    assert ApiClient.objects.get(name="SAP").last_used is not None


def test_the_admin_shows_the_write_log_and_a_new_key_once(admin_client, plant):
    sap = ApiClient.objects.create(name="SAP", scopes=["results:read"])
    response = admin_client.post(reverse("admin:planning_apikey_add"), {"name": "second", "client": sap.pk},
                                 follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert any("The API key for second is:" in m for m in shown)
    assert admin_client.get(reverse("admin:planning_apiwrite_changelist")).status_code == 200


def test_create_api_client_prints_a_key_that_works(client, plant):
    out = io.StringIO()
    call_command("create_api_client", "MES", "--scope", "results:read", "--line", "A", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert client.get("/api/v1/oee/", {"line": "A", **PERIOD}, headers=bearer(key)).status_code == 200
    assert client.get("/api/v1/oee/", {"line": "B", **PERIOD}, headers=bearer(key)).status_code == 400
    client_row = ApiClient.objects.get(name="MES")
    assert client_row.scopes == ["results:read"] and list(client_row.lines.values_list("code", flat=True)) == ["A"]


def test_a_key_limited_to_a_line_answers_for_the_cycle_times_of_its_machines_only(client, plant, api_key):
    everyone = bearer(api_key("results:read", "orders:write"))
    line_a = bearer(api_key("results:read", "orders:write", lines=[plant.line_a]))
    client.put("/api/v1/products/P-1/", {"name": "Lid", "cycle_times": {"A1": 0.9, "B1": 0.5}},
               content_type="application/json", headers=everyone)
    assert client.get("/api/v1/products/P-1/", headers=line_a).json()["cycle_times"] == {"A1": 0.9}
    replaced = client.put("/api/v1/products/P-1/", {"name": "Lid", "cycle_times": {"A2": 1.1}},
                          content_type="application/json", headers=line_a)
    assert replaced.status_code == 200 and replaced.json()["cycle_times"] == {"A2": 1.1}
    # Line B's cycle time is not this key's to drop.
    assert client.get("/api/v1/products/P-1/", headers=everyone).json()["cycle_times"] == {"A2": 1.1, "B1": 0.5}
    foreign = client.put("/api/v1/products/P-1/", {"name": "Lid", "cycle_times": {"B1": 0.4}},
                         content_type="application/json", headers=line_a)
    assert foreign.status_code == 403 and "B1" in foreign.json()["detail"]


def test_a_client_whose_lines_are_all_gone_sees_no_line_not_every_line(client, plant, api_key):
    key = api_key("results:read", lines=[plant.line_b])
    ApiClient.objects.get(keys__prefix=key.split(".")[0]).lines.clear()  # as when line B is deleted
    answer = client.get("/api/v1/oee/", {"line": "A", **PERIOD}, headers=bearer(key))
    assert answer.status_code == 400 and "No line 'A' that you may see" in answer.json()["line"]


def test_the_admin_refuses_a_client_with_all_lines_and_chosen_lines(admin_client, plant):
    form = {"name": "MES", "scopes": ["results:read"], "lines": [plant.line_a.pk], "enabled": "on",
            "keys-TOTAL_FORMS": 0, "keys-INITIAL_FORMS": 0, "keys-MIN_NUM_FORMS": 0, "keys-MAX_NUM_FORMS": 1000}
    refused = admin_client.post(reverse("admin:planning_apiclient_add"), {**form, "all_lines": "on"})
    assert refused.status_code == 200 and "untick" in refused.content.decode()
    assert not ApiClient.objects.filter(name="MES").exists()
    saved = admin_client.post(reverse("admin:planning_apiclient_add"), form)
    assert saved.status_code == 302
    client = ApiClient.objects.get(name="MES")
    assert not client.all_lines and list(client.lines.all()) == [plant.line_a]
