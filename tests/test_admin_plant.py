"""Admin for the plant hierarchy and reasons: lists a plant admin needs, and invalid configuration refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from monitoring.models import Alert, DeviceHealth
from monitoring.plantfile import import_plant, parse
from planning.models import (
    ApiWrite,
    DowntimeReason,
    FaultCode,
    Line,
    LossCategory,
    Machine,
    OutboxEvent,
    WebhookDelivery,
)

DEMO_PLANT = Path(__file__).resolve().parent.parent / "demo" / "plant.yaml"

pytestmark = pytest.mark.django_db


@pytest.fixture
def jam() -> DowntimeReason:
    mech = DowntimeReason.objects.create(code="mech", name="Mechanical")
    return DowntimeReason.objects.create(code="jam", name="Jam", parent=mech)


def management(prefix: str, total: int = 0, initial: int = 0) -> dict[str, int]:
    """The management form of an inline formset, as the admin page posts it."""
    return {f"{prefix}-TOTAL_FORMS": total, f"{prefix}-INITIAL_FORMS": initial,
            f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000}


def machine_data(line: Line, **overrides) -> dict:
    data = {
        "line": line.pk, "code": "L1-FILL", "name": "Filler", "position": 1, "enabled": "on",
        "default_ideal_cycle_time": "1.0", "micro_stop_threshold": "120", "counter_bits": 16,
        "quality_counter": "reject_count", "startup_window": "600", "expected_interval": "10",
        "target_oee": "0.85", "warning_oee": "0.65",
        **management("fault_codes"), **management("signal_bindings"),
    }
    return {**data, **overrides}


def test_a_valid_machine_is_saved_with_its_fault_codes(admin_client: Client, line: Line, jam: DowntimeReason) -> None:
    data = machine_data(line, **management("fault_codes", total=1), **{"fault_codes-0-code": 1,
                                                                      "fault_codes-0-reason": jam.pk})

    response = admin_client.post(reverse("admin:planning_machine_add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    machine = Machine.objects.get(code="L1-FILL")
    assert machine.default_ideal_cycle_time == 1.0
    assert [(f.code, f.reason.code) for f in FaultCode.objects.filter(machine=machine)] == [(1, "jam")]


@pytest.mark.parametrize("cycle_time", ["0", "-1.5"])
def test_a_non_positive_ideal_cycle_time_is_refused_on_the_machine_page(
    admin_client: Client, line: Line, cycle_time: str
) -> None:
    response = admin_client.post(reverse("admin:planning_machine_add"),
                                 machine_data(line, default_ideal_cycle_time=cycle_time))

    assert response.status_code == 200
    assert "The ideal cycle time must be positive" in response.content.decode()
    assert not Machine.objects.exists()


def test_a_non_positive_ideal_cycle_time_is_refused_in_the_lines_machine_list(admin_client: Client, line: Line) -> None:
    data = {
        "area": line.area.pk, "code": "L1", "name": "Bottling line 1", "constraint_machine": "",
        **management("machines", total=1),
        "machines-0-code": "L1-FILL", "machines-0-name": "Filler", "machines-0-position": 1,
        "machines-0-default_ideal_cycle_time": "0", "machines-0-micro_stop_threshold": "120",
        "machines-0-counter_bits": 16, "machines-0-enabled": "on",
    }

    response = admin_client.post(reverse("admin:planning_line_change", args=[line.pk]), data)

    assert response.status_code == 200
    assert "The ideal cycle time must be positive" in response.content.decode()
    assert not Machine.objects.exists()


def test_a_reason_loop_is_refused(admin_client: Client, jam: DowntimeReason) -> None:
    mech = jam.parent
    data = {"code": "mech", "name": "Mechanical", "parent": jam.pk, "loss_category": LossCategory.EQUIPMENT_FAILURE}

    response = admin_client.post(reverse("admin:planning_downtimereason_change", args=[mech.pk]), data)

    assert response.status_code == 200
    assert "This parent would make a loop of reasons." in response.content.decode()
    mech.refresh_from_db()
    assert mech.parent is None


def test_a_reason_cannot_be_its_own_parent(admin_client: Client, jam: DowntimeReason) -> None:
    data = {"code": "jam", "name": "Jam", "parent": jam.pk, "loss_category": LossCategory.EQUIPMENT_FAILURE}

    response = admin_client.post(reverse("admin:planning_downtimereason_change", args=[jam.pk]), data)

    assert "A reason cannot be its own parent." in response.content.decode()
    jam.refresh_from_db()
    assert jam.parent.code == "mech"


def test_the_constraint_machine_is_chosen_among_the_lines_own_machines(admin_client: Client, line: Line) -> None:
    filler = Machine.objects.create(line=line, code="L1-FILL", name="Filler", default_ideal_cycle_time=1.0)
    other_line = Line.objects.create(area=line.area, code="L2", name="Canning line 2")
    seamer = Machine.objects.create(line=other_line, code="L2-SEAM", name="Seamer", default_ideal_cycle_time=0.5)

    response = admin_client.get(reverse("admin:planning_line_change", args=[line.pk]))

    choices = list(response.context["adminform"].form.fields["constraint_machine"].queryset)
    assert choices == [filler] and seamer not in choices


def test_the_lists_show_what_a_plant_admin_looks_for(admin_client: Client, line: Line, jam: DowntimeReason) -> None:
    Machine.objects.create(line=line, code="L1-FILL", name="Filler", default_ideal_cycle_time=1.0)

    machines = admin_client.get(reverse("admin:planning_machine_changelist"), {"q": "fill"}).content.decode()
    lines = admin_client.get(reverse("admin:planning_line_changelist")).content.decode()
    reasons = admin_client.get(reverse("admin:planning_downtimereason_changelist"),
                               {"loss_category__exact": "equipment_failure"}).content.decode()
    sites = admin_client.get(reverse("admin:planning_site_change", args=[line.area.site.pk])).content.decode()

    assert "L1-FILL" in machines and "Filler" in machines
    assert "Bottling line 1" in lines and "Packaging" in lines
    assert "Jam" in reasons and "mech Mechanical" in reasons
    assert 'name="areas-0-code"' in sites and 'value="packaging"' in sites


def test_every_plant_and_planning_admin_page_renders_for_the_demo_plant(admin_client: Client) -> None:
    import_plant(parse(DEMO_PLANT.read_text()))

    for model in admin.site._registry:
        if model._meta.app_label not in ("monitoring", "planning"):
            continue
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert admin_client.get(reverse(f"{name}_changelist")).status_code == 200, name
        first = model.objects.first()
        if first is not None:
            assert admin_client.get(reverse(f"{name}_change", args=[first.pk])).status_code == 200, name
        # Device health is written by the collectors only; the write log, events, deliveries and alerts by the product.
        expected = 403 if model in (DeviceHealth, ApiWrite, OutboxEvent, WebhookDelivery, Alert) else 200
        assert admin_client.get(reverse(f"{name}_add")).status_code == expected, name
