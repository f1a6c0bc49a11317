"""The audit trail: every configuration change says who made it, when, and each field before and after."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring.models import OpcUaEndpoint
from planning.audit import actor_of
from planning.models import ApiKey, Line, LineDisplay, Machine, Product, WebhookSubscription, WorkOrder
from tests.api import bearer

pytestmark = pytest.mark.django_db

DEMO_PLANT = Path(__file__).resolve().parent.parent / "demo" / "plant.yaml"
PASSWORD = "opc-pw-Zq81x"
WEBHOOK_SECRET = "whsec-Kd93mfQ0"


def entries_of(instance) -> list[LogEntry]:
    """The trail of one object, oldest first."""
    return list(LogEntry.objects.get_for_object(instance).order_by("timestamp", "pk"))


def the_whole_trail() -> str:
    """Every entry as the database holds it, as one text to search."""
    return json.dumps(list(LogEntry.objects.values()), default=str)


def test_an_admin_change_is_recorded_with_its_user_before_and_after(admin_client: Client, line: Line) -> None:
    area = line.area
    response = admin_client.post(reverse("admin:planning_area_change", args=[area.pk]),
                                 {"site": area.site_id, "code": area.code, "name": "Packaging hall"})

    assert response.status_code == 302
    (entry,) = [e for e in entries_of(area) if e.action == LogEntry.Action.UPDATE]
    assert entry.actor == User.objects.get(username="admin")
    assert actor_of(entry) == "user:admin"
    assert entry.changes_dict == {"name": ["Packaging", "Packaging hall"]}
    assert entry.remote_addr == "127.0.0.1"
    assert entry.timestamp is not None


def test_an_import_plant_run_is_recorded_as_the_command(tmp_path: Path) -> None:
    call_command("import_plant", str(DEMO_PLANT), stdout=StringIO())
    machine = Machine.objects.get(code="L1-FILL")
    created = entries_of(machine)[0]
    assert created.action == LogEntry.Action.CREATE
    assert created.additional_data["actor"] == "import_plant"
    assert created.additional_data["file"] == str(DEMO_PLANT)
    assert "os_user" in created.additional_data

    changed = tmp_path / "plant.yaml"
    changed.write_text(DEMO_PLANT.read_text().replace("name: Filler", "name: Rotary filler", 1))
    call_command("import_plant", str(changed), stdout=StringIO())

    updated = entries_of(machine)[-1]
    assert updated.action == LogEntry.Action.UPDATE
    assert actor_of(updated) == "import_plant"
    assert updated.changes_dict == {"name": ["Filler", "Rotary filler"]}


def test_importing_the_same_file_again_leaves_no_entry() -> None:
    call_command("import_plant", str(DEMO_PLANT), stdout=StringIO())
    count = LogEntry.objects.count()

    call_command("import_plant", str(DEMO_PLANT), stdout=StringIO())

    assert LogEntry.objects.count() == count


def test_an_api_write_is_recorded_with_its_client_and_key(client: Client, plant, api_key) -> None:
    key = api_key("orders:write", name="SAP PP")
    headers = bearer(key)
    put = lambda path, body: client.put(path, body, content_type="application/json", headers=headers)  # noqa: E731
    assert put("/api/v1/products/P-330/", {"name": "Can 0.33 l", "cycle_times": {"A1": 0.9}}).status_code == 201
    assert put("/api/v1/products/P-330/", {"name": "Can 0.33 litre", "cycle_times": {"A1": 0.9}}).status_code == 200
    order = {"product": "P-330", "quantity": 5000, "line": "A", "machine": "A1",
             "planned_start": "2026-01-12T06:00:00+01:00", "planned_end": "2026-01-12T14:00:00+01:00"}
    assert put("/api/v1/work-orders/WO-1/", order).status_code == 201
    assert put("/api/v1/work-orders/WO-1/", {**order, "quantity": 6000}).status_code == 200

    created, renamed = entries_of(Product.objects.get(code="P-330"))
    assert renamed.changes_dict == {"name": ["Can 0.33 l", "Can 0.33 litre"]}
    resized = entries_of(WorkOrder.objects.get(number="WO-1"))[-1]
    assert resized.changes_dict == {"quantity": ["5000", "6000"]}
    for entry in (created, renamed, resized):
        assert entry.actor is None
        assert entry.additional_data == {"actor": "client:SAP PP", "api_client": "SAP PP", "key_prefix": key[:8]}
    assert key not in the_whole_trail()


def test_a_secret_change_is_recorded_without_the_secret(admin_client: Client) -> None:
    endpoint = OpcUaEndpoint.objects.create(code="opc-sim", url="opc.tcp://127.0.0.1:14840/oee/")
    form = {
        "code": endpoint.code, "name": "", "enabled": "on", "url": endpoint.url, "security_mode": "None",
        "security_policy": "None", "username": "oee", "password": PASSWORD, "client_certificate": "",
        "client_private_key": "", "server_certificate": "", "publishing_interval": "0.5", "sampling_interval": "0.25",
        "scan_interval": "1.0", "timeout": "2.0", "reconnect_backoff": "1.0",
        "bindings-TOTAL_FORMS": 0, "bindings-INITIAL_FORMS": 0, "bindings-MIN_NUM_FORMS": 0,
        "bindings-MAX_NUM_FORMS": 1000,
    }
    url = reverse("admin:monitoring_opcuaendpoint_change", args=[endpoint.pk])
    assert admin_client.post(url, form).status_code == 302
    assert admin_client.post(url, {**form, "password": "a-second-pw-9"}).status_code == 302
    assert admin_client.post(url, {**form, "password": "", "clear_password": "on"}).status_code == 302

    set_, replaced, cleared = [e for e in entries_of(endpoint) if e.action == LogEntry.Action.UPDATE]
    assert set_.changes_dict == {"username": ["", "oee"], "password": ["(not set)", "(set)"]}
    assert replaced.changes_dict == {"password": ["(set)", "(set)"]}
    assert cleared.changes_dict == {"password": ["(set)", "(not set)"]}
    assert actor_of(replaced) == "user:admin"
    trail = the_whole_trail()
    assert PASSWORD not in trail and "a-second-pw-9" not in trail
    page = admin_client.get(reverse("admin:auditlog_logentry_change", args=[replaced.pk]))
    assert page.status_code == 200 and "a-second-pw-9" not in page.content.decode()


def test_a_new_webhook_subscription_is_recorded_without_its_secret() -> None:
    subscription = WebhookSubscription.objects.create(name="ERP", url="https://erp.example.com/hook",
                                                      secret=WEBHOOK_SECRET, event_types=["shift.closed"])

    (created,) = entries_of(subscription)
    assert created.changes_dict["secret"] == ["(not set)", "(set)"]
    assert created.changes_dict["name"] == ["None", "ERP"]
    assert WEBHOOK_SECRET not in the_whole_trail()


def test_a_key_made_in_the_admin_is_recorded_by_its_prefix_never_with_the_key(admin_client: Client, api_key) -> None:
    api_key("results:read", name="MES")
    client_id = ApiKey.objects.get().client_id
    response = admin_client.post(reverse("admin:planning_apikey_add"), {"name": "second", "client": client_id},
                                 follow=True)
    key = next(str(m) for m in response.context["messages"]).split("The API key for second is: ")[1].split(". ")[0]

    made = ApiKey.objects.get(name="second")
    (entry,) = entries_of(made)
    assert entry.changes_dict["prefix"] == ["None", made.prefix]
    assert "hashed_key" not in entry.changes_dict and "id" not in entry.changes_dict
    # The key's id is its prefix and hash (djangorestframework-api-key's design, as in its admin URL).
    assert entry.object_pk == made.pk
    assert key not in the_whole_trail()


def test_the_trail_is_read_only_in_the_admin_and_names_who_acted(admin_client: Client, line: Line) -> None:
    call_command("import_plant", str(DEMO_PLANT), stdout=StringIO())
    entry = LogEntry.objects.filter(additional_data__actor="import_plant").first()

    listing = admin_client.get(reverse("admin:auditlog_logentry_changelist"))
    assert listing.status_code == 200 and "import_plant" in listing.content.decode()
    assert admin_client.get(reverse("admin:auditlog_logentry_add")).status_code == 403
    page = admin_client.get(reverse("admin:auditlog_logentry_change", args=[entry.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.post(reverse("admin:auditlog_logentry_delete", args=[entry.pk]), {"post": "yes"}
                             ).status_code == 403
    assert LogEntry.objects.filter(pk=entry.pk).exists()


def test_a_machines_first_observation_kept_by_the_pipeline_is_no_configuration_change(line: Line) -> None:
    machine = Machine.objects.create(line=line, code="L1-FILL", name="Filler", default_ideal_cycle_time=1.0)
    machine.first_observation = timezone.now()
    machine.save()

    assert [entry.action for entry in entries_of(machine)] == [LogEntry.Action.CREATE]


def test_accounts_and_their_roles_are_in_the_trail_without_password_hashes(admin_client: Client) -> None:
    user = User.objects.create_user("op-new", password="first-password-1")
    operators = Group.objects.get_or_create(name="Operators")[0]
    user.groups.add(operators)
    user.set_password("second-password-2")
    user.save()
    entries = entries_of(user)
    assert [e.action for e in entries][:1] == [LogEntry.Action.CREATE]
    recorded = str([(e.changes_dict, e.additional_data) for e in entries])
    assert "Operators" in recorded  # the role given
    assert "first-password" not in recorded and "pbkdf2" not in recorded and "md5" not in recorded
    assert any(e.changes_dict.get("password") == ["(set)", "(set)"] for e in entries)


def test_a_line_displays_link_made_renewed_and_revoked_in_the_admin_is_recorded_without_the_token(
        admin_client: Client, line: Line) -> None:
    made = admin_client.post(reverse("admin:planning_linedisplay_add"),
                             {"line": line.pk, "name": "TV at the end of L1", "language": ""}, follow=True)
    display = LineDisplay.objects.get()
    changelist = reverse("admin:planning_linedisplay_changelist")
    renewed = admin_client.post(changelist, {"action": "give_new_link", "_selected_action": [display.pk]},
                                follow=True)
    admin_client.post(changelist, {"action": "revoke", "_selected_action": [display.pk]})

    created, new_link, revoked = entries_of(display)
    assert created.action == LogEntry.Action.CREATE
    assert created.changes_dict["token_hash"] == ["(not set)", "(set)"]
    assert new_link.changes_dict == {"token_hash": ["(set)", "(set)"]}
    assert list(revoked.changes_dict) == ["revoked_at"]
    assert {actor_of(entry) for entry in (created, new_link, revoked)} == {"user:admin"}
    trail = the_whole_trail()
    for response in (made, renewed):
        token = next(str(m) for m in response.context["messages"]).split("/display/")[1].split("/")[0]
        assert token not in trail
    assert LineDisplay.objects.get().token_hash not in trail


def test_an_order_planned_and_moved_on_the_planning_board_is_recorded_with_the_manager(client: Client, plant) -> None:
    Product.objects.create(code="P-330", name="Can 0.33 l")
    client.force_login(plant.manager)
    planned = client.post("/planning/A/", {
        "number": "A-261207-01", "product": "P-330", "quantity": "4800", "machine": "A1",
        "planned_start": "2026-12-07 06:00", "planned_end": "2026-12-07 14:00"})
    released = client.post("/planning/A/orders/A-261207-01/release/")

    assert (planned.status_code, released.status_code) == (302, 302)
    order = WorkOrder.objects.get(number="A-261207-01")
    created, release = entries_of(order)
    assert created.action == LogEntry.Action.CREATE and created.changes_dict["quantity"] == ["None", "4800"]
    assert release.changes_dict["status"] == ["planned", "released"]
    assert actor_of(created) == actor_of(release) == "user:manager"
