"""The admin in the site's time zone and the product's name: times are typed and shown as the plant's wall
clock (stored in UTC), and the API keeps UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from planning.models import Line, Machine, Product, Site, WorkOrder
from tests.pages import elements, find

pytestmark = pytest.mark.django_db


@pytest.fixture
def filler(line: Line) -> Machine:
    return Machine.objects.create(line=line, code="L1-FILL", name="Filler", default_ideal_cycle_time=1.0)


def order_data(line: Line, machine: Machine) -> dict:
    return {"number": "WO-1", "product": Product.objects.get_or_create(code="BOT-05", name="Bottle 0.5 l")[0].pk,
            "quantity": 1000, "line": line.pk, "machine": machine.pk,
            "planned_start_0": "2026-03-02", "planned_start_1": "06:00:00",
            "planned_end_0": "2026-07-06", "planned_end_1": "14:00:00",
            "actual_start_0": "", "actual_start_1": "", "actual_end_0": "", "actual_end_1": ""}


def test_a_work_order_typed_in_the_admin_is_the_sites_wall_clock_stored_in_utc(
    admin_client: Client, line: Line, filler: Machine,
) -> None:
    added = admin_client.post(reverse("admin:planning_workorder_add"), order_data(line, filler))

    assert added.status_code == 302, added.content.decode()[:2000]
    order = WorkOrder.objects.get(number="WO-1")
    # Berlin is UTC+1 in March and UTC+2 (summer time) in July.
    assert order.planned_start == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    assert order.planned_end == datetime(2026, 7, 6, 12, 0, tzinfo=UTC)


def test_the_admin_shows_stored_times_on_the_sites_wall_clock_and_names_the_zone(
    admin_client: Client, line: Line, filler: Machine,
) -> None:
    admin_client.post(reverse("admin:planning_workorder_add"), order_data(line, filler))
    order = WorkOrder.objects.get(number="WO-1")

    page = admin_client.get(reverse("admin:planning_workorder_change", args=[order.pk])).content.decode()

    shown = {field.attrs["name"]: field.attrs.get("value") for field in find(elements(page), "input")
             if field.attrs.get("name", "").startswith("planned_")}
    assert shown["planned_start_1"].startswith("06:00") and shown["planned_end_1"].startswith("14:00")
    assert "Plant time (Europe/Berlin)" in page


def test_with_no_site_the_admin_keeps_the_servers_zone(admin_client: Client, settings) -> None:
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert f"Plant time ({settings.TIME_ZONE})" in page


def test_with_sites_in_two_zones_the_admin_keeps_the_servers_zone(admin_client: Client, line: Line, settings) -> None:
    Site.objects.create(code="austin", name="Austin", time_zone="America/Chicago")
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert f"Plant time ({settings.TIME_ZONE})" in page and "Europe/Berlin" not in page


def test_the_admin_carries_the_products_name_and_a_way_back_to_the_screens(admin_client: Client) -> None:
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "<title>Plant set-up | OEE Live admin</title>" in page
    assert "Django administration" not in page
    back = [a for a in find(elements(page), "a") if "back-to-screens" in a.attrs.get("class", "")]
    assert back and back[0].attrs["href"] == reverse("overview")


def test_the_admin_log_in_page_is_branded_too(client: Client) -> None:
    page = client.get(reverse("admin:login")).content.decode()
    assert "OEE Live" in page and "Django administration" not in page

