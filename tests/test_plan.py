"""Plan against actual (monitoring/plan.py): per order and per shift, in the API and the shift report alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitoring import plan
from planning.models import Product, WorkOrder
from tests.histories import at, monday_of_a1
from tests.pages import one

pytestmark = pytest.mark.django_db


def test_an_orders_quantity_is_spread_evenly_over_its_planned_window():
    start = datetime(2026, 1, 12, 6, tzinfo=UTC)
    order = WorkOrder(quantity=800, planned_start=start, planned_end=start + timedelta(hours=8))
    assert plan.planned_quantity(order, start + timedelta(hours=2), start + timedelta(hours=4)) == 200
    assert plan.planned_quantity(order, start - timedelta(hours=4), start + timedelta(hours=1)) == 100
    assert plan.planned_quantity(order, start + timedelta(hours=8), start + timedelta(hours=9)) == 0
    assert plan.planned_quantity(order, start - timedelta(days=1), start + timedelta(days=1)) == 800


def test_adherence_counts_no_more_than_was_planned():
    assert plan.adherence(1500, 1000) == 1.0
    assert plan.adherence(250, 1000) == 0.25
    assert plan.adherence(10, 0) is None


@pytest.fixture
def monday(plant, client):
    """Line A's Monday (A1 is its constraint machine) with four orders, then A1's history.

    X: planned 05:00–09:00 UTC (the early shift) for 10,000, ran 06:00–08:00.
    Y: planned 12:00–14:00 across the change of shift for 4,000, ran 12:00–13:30.
    Z: planned 15:00–17:00 in the late shift for 500, never started.
    C: planned in the early shift, cancelled: no longer part of the plan.
    """
    product = Product.objects.create(code="P-330", name="Can")
    made = {}
    for number, quantity, planned, actual, status in (
        ("X", 10_000, (at(5), at(9)), (at(6), at(8)), "completed"),
        ("Y", 4_000, (at(12), at(14)), (at(12), at(13, 30)), "completed"),
        ("Z", 500, (at(15), at(17)), (None, None), "released"),
        ("C", 9_000, (at(5), at(13)), (None, None), "cancelled"),
    ):
        made[number] = WorkOrder.objects.create(
            number=number, product=product, quantity=quantity, line=plant.line_a,
            machine=plant.a1 if actual[0] else None, planned_start=planned[0], planned_end=planned[1],
            actual_start=actual[0], actual_end=actual[1], status=status)
    monday_of_a1()
    client.force_login(plant.manager)
    return made


def get(client, path: str, **params) -> dict | list:
    response = client.get(path, params)
    assert response.status_code == 200, response.content
    return response.json()


def test_an_orders_plan_against_actual_is_in_its_results(client, monday):
    x = get(client, "/api/v1/work-orders/X/")
    good_x = x["good_count"]
    assert 3_900 < good_x < 4_000  # 80 running minutes of 50 parts (a jam and a stop inside), a few rejects
    assert x["plan"] == {
        "planned_quantity": 10_000, "planned_start": "2026-01-12T05:00:00.000000+00:00",
        "planned_end": "2026-01-12T09:00:00.000000+00:00", "good_count": good_x, "good_in_planned_window": good_x,
        "actual_start": "2026-01-12T06:00:00.000000+00:00", "actual_end": "2026-01-12T08:00:00.000000+00:00",
        "schedule_adherence": good_x / 10_000,
    }
    y = get(client, "/api/v1/work-orders/Y/")
    assert y["plan"]["good_in_planned_window"] == y["good_count"] > 4_000
    assert y["plan"]["schedule_adherence"] == 1.0  # more than planned counts as the plan, no more
    z = get(client, "/api/v1/work-orders/Z/")
    assert (z["plan"]["good_in_planned_window"], z["plan"]["schedule_adherence"]) == (0, 0.0)
    assert get(client, "/api/v1/work-orders/C/")["plan"]["schedule_adherence"] is None


def test_each_closed_shift_has_its_orders_plan_against_actual(client, monday):
    shifts = get(client, "/api/v1/shifts/", line="A", start="2026-01-12T00:00:00Z", end="2026-01-13T00:00:00Z")
    early, late = ({row["shift"]: row["plan"] for row in shifts}[name] for name in ("Early", "Late"))
    x, y = get(client, "/api/v1/work-orders/X/"), get(client, "/api/v1/work-orders/Y/")

    assert [(o["number"], o["planned_quantity"]) for o in early["orders"]] == [("X", 10_000), ("Y", 2_000)]
    assert [(o["number"], o["planned_quantity"]) for o in late["orders"]] == [("Y", 2_000), ("Z", 500)]
    good = {(shift, o["number"]): o["good_count"] for shift, p in (("early", early), ("late", late))
            for o in p["orders"]}
    # The parts of an order in its shifts are all of its parts: no part lost or counted twice.
    assert good["early", "X"] == x["good_count"]
    assert good["early", "Y"] + good["late", "Y"] == y["good_count"]
    assert good["late", "Z"] == 0
    assert 2_000 < good["early", "Y"] and 0 < good["late", "Y"] < 2_000
    assert early["planned_quantity"] == 12_000 and late["planned_quantity"] == 2_500
    assert early["schedule_adherence"] == pytest.approx((good["early", "X"] + 2_000) / 12_000)
    assert late["schedule_adherence"] == pytest.approx(good["late", "Y"] / 2_500)
    by_order = {o["number"]: o for o in early["orders"]}
    assert by_order["Y"]["schedule_adherence"] == 1.0
    assert by_order["X"]["actual_start"] == "2026-01-12T06:00:00.000000+00:00"


def test_the_shift_report_shows_the_apis_plan_against_actual(client, monday):
    shifts = get(client, "/api/v1/shifts/", line="A", start="2026-01-12T00:00:00Z", end="2026-01-13T00:00:00Z")
    page = client.get("/reports/shift/", {"line": "A", "start": "2026-01-12", "end": "2026-01-12"})
    assert page.status_code == 200
    planned, made = 0.0, 0.0
    for row in shifts:
        key = f"{row['local_date']} {row['shift']}"
        shown = one(page.content, "td", within={"data_plan_shift": key, "data_order": ""},
                    data_field="shift-adherence").text
        assert shown == f"{row['plan']['schedule_adherence'] * 100:.1f}", key
        planned += row["plan"]["planned_quantity"]
        made += sum(min(o["good_count"], o["planned_quantity"]) for o in row["plan"]["orders"])
    total = one(page.content, "b", data_field="plan-adherence").text
    assert total == f"{made / planned * 100:.1f} %"
