"""Products and work orders from the ERP (planning/api/orders.py, monitoring/api/orders.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from planning.models import Product, WorkOrder, WorkOrderMove
from planning.workflow import NotYours, OrderIn, put_order
from tests.api import bearer

pytestmark = pytest.mark.django_db

ORDER = {"product": "P-330", "quantity": 5000, "line": "A", "machine": "A1",
         "planned_start": "2026-01-12T06:00:00+01:00", "planned_end": "2026-01-12T14:00:00+01:00"}


@pytest.fixture
def erp(client, plant, api_key):
    """A client with every scope, and product P-330 on A1 and A2."""
    headers = bearer(api_key("results:read", "orders:write"))

    def call(method: str, path: str, body=None):
        return getattr(client, method)(path, body, content_type="application/json", headers=headers) \
            if body is not None else getattr(client, method)(path, headers=headers)

    assert call("put", "/api/v1/products/P-330/", {"name": "Can 0.33 l", "cycle_times": {"A1": 0.9, "A2": 1.2}}
                ).status_code == 201
    return call


def test_a_product_and_its_cycle_times_come_from_the_erp(erp):
    assert erp("get", "/api/v1/products/P-330/").json() == {
        "code": "P-330", "name": "Can 0.33 l", "cycle_times": {"A1": 0.9, "A2": 1.2}}
    again = erp("put", "/api/v1/products/P-330/", {"name": "Can 0.33 l", "cycle_times": {"A1": 0.9, "A2": 1.2}})
    assert again.status_code == 200
    changed = erp("put", "/api/v1/products/P-330/", {"name": "Can 0.33 l", "cycle_times": {"A1": 0.8}})
    assert changed.json()["cycle_times"] == {"A1": 0.8}  # exactly what was sent: A2's is gone


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "cycle_times": {"Z9": 1}}, "cycle_times.Z9"),
    ({"name": "x", "cycle_times": {"A1": 0}}, "cycle_times.A1"),
    ({"name": "x", "cycle_times": {"A1": "fast"}}, "cycle_times"),
    ({"cycle_times": {}}, "name"),
    (["not", "an", "object"], "non_field_errors"),
])
def test_a_bad_product_is_a_400_naming_what_is_wrong(erp, body, field):
    response = erp("put", "/api/v1/products/P-9/", body)
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not Product.objects.filter(code="P-9").exists()


def test_putting_an_order_creates_it_then_the_same_body_changes_nothing(erp):
    created = erp("put", "/api/v1/work-orders/WO-1/", ORDER)
    assert created.status_code == 201
    body = created.json()
    assert (body["number"], body["status"], body["product"], body["machine"], body["quantity"]) == (
        "WO-1", "planned", "P-330", "A1", 5000)
    assert body["allowed_moves"] == ["release", "cancel"]
    again = erp("put", "/api/v1/work-orders/WO-1/", ORDER)
    assert again.status_code == 200 and again.json()["updated"] == body["updated"]
    more = erp("put", "/api/v1/work-orders/WO-1/", {**ORDER, "quantity": 6000})
    assert more.status_code == 200 and more.json()["quantity"] == 6000 and more.json()["updated"] > body["updated"]


@pytest.mark.parametrize(("change", "field"), [
    ({"product": "P-999"}, "product"),
    ({"line": "Z"}, "line"),
    ({"machine": "B1"}, "machine"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": "many"}, "quantity"),
    ({"planned_start": "tomorrow"}, "planned_start"),
    ({"planned_start": "2026-01-12T06:00:00"}, "planned_start"),  # no offset
    ({"planned_end": "2026-01-12T05:00:00+01:00"}, "planned_end"),
])
def test_a_bad_order_is_a_400_naming_the_field_and_nothing_is_stored(erp, change, field):
    response = erp("put", "/api/v1/work-orders/WO-1/", {**ORDER, **change})
    assert response.status_code in (400, 403), response.json()
    assert field in response.json() or "line" in response.json().get("detail", ""), response.json()
    assert not WorkOrder.objects.exists()


def test_an_order_number_that_cannot_be_in_a_url_is_refused(erp):
    response = erp("put", "/api/v1/work-orders/WO%201/", ORDER)
    assert response.status_code == 400 and "number" in response.json()


def test_moves_follow_the_state_machine_and_a_bad_move_is_a_409_naming_the_status(erp):
    erp("put", "/api/v1/work-orders/WO-1/", ORDER)
    assert erp("post", "/api/v1/work-orders/WO-1/start/", {}).status_code == 409  # planned: release first
    for move, status in (("release", "released"), ("start", "running"), ("pause", "paused"),
                         ("resume", "running"), ("complete", "completed")):
        response = erp("post", f"/api/v1/work-orders/WO-1/{move}/", {})
        assert response.status_code == 200 and response.json()["status"] == status, response.json()
    twice = erp("post", "/api/v1/work-orders/WO-1/complete/", {})
    assert twice.status_code == 409 and "is completed" in twice.json()["detail"]
    assert erp("post", "/api/v1/work-orders/WO-1/dance/", {}).status_code == 404
    moves = WorkOrderMove.objects.filter(order__number="WO-1").values_list("move", "from_status", "to_status", "by")
    assert [m[:3] for m in moves] == [("release", "planned", "released"), ("start", "released", "running"),
                                      ("pause", "running", "paused"), ("resume", "paused", "running"),
                                      ("complete", "running", "completed")]
    assert all(by.startswith("client:") for *_, by in moves)
    order = erp("get", "/api/v1/work-orders/WO-1/").json()
    assert order["actual_start"] and order["actual_end"] and order["allowed_moves"] == []
    changed = erp("put", "/api/v1/work-orders/WO-1/", {**ORDER, "quantity": 1})
    assert changed.status_code == 409 and "completed" in changed.json()["detail"]


def test_a_second_order_cannot_start_on_a_machine_that_runs_one(erp):
    for number in ("WO-1", "WO-2"):
        erp("put", f"/api/v1/work-orders/{number}/", ORDER)
        erp("post", f"/api/v1/work-orders/{number}/release/", {})
    assert erp("post", "/api/v1/work-orders/WO-1/start/", {}).status_code == 200
    refused = erp("post", "/api/v1/work-orders/WO-2/start/", {})
    assert refused.status_code == 409 and "WO-1 is running there" in refused.json()["detail"]
    assert erp("post", "/api/v1/work-orders/WO-2/cancel/", {}).json()["status"] == "cancelled"


def test_the_list_filters_by_line_status_and_planned_window_and_pages_by_cursor(erp, plant):
    erp("put", "/api/v1/products/P-B/", {"name": "Lid", "cycle_times": {"B1": 0.5}})
    for day in range(1, 6):
        erp("put", f"/api/v1/work-orders/WO-{day}/", {
            **ORDER, "planned_start": f"2026-03-0{day}T06:00:00Z", "planned_end": f"2026-03-0{day}T14:00:00Z"})
    erp("put", "/api/v1/work-orders/WO-B/", {**ORDER, "product": "P-B", "line": "B", "machine": None})
    erp("post", "/api/v1/work-orders/WO-2/release/", {})
    numbers = [o["number"] for o in erp("get", "/api/v1/work-orders/?line=A").json()["results"]]
    assert numbers == ["WO-1", "WO-2", "WO-3", "WO-4", "WO-5"]
    assert [o["number"] for o in erp("get", "/api/v1/work-orders/?status=released").json()["results"]] == ["WO-2"]
    window = erp("get", "/api/v1/work-orders/?planned_from=2026-03-02T12:00:00Z&planned_to=2026-03-04T00:00:00Z")
    assert [o["number"] for o in window.json()["results"]] == ["WO-2", "WO-3"]
    pages, url = [], "/api/v1/work-orders/?line=A&limit=2"
    while url:
        page = erp("get", url).json()
        pages.append([o["number"] for o in page["results"]])
        url = page["next"]
    assert pages == [["WO-1", "WO-2"], ["WO-3", "WO-4"], ["WO-5"]]
    assert erp("get", "/api/v1/work-orders/?status=sleeping").status_code == 400


def test_an_operator_moves_orders_of_their_line_but_does_not_release_them(client, erp, plant):
    erp("put", "/api/v1/work-orders/WO-1/", ORDER)
    client.force_login(plant.operator)
    assert client.post("/api/v1/work-orders/WO-1/release/").status_code == 403
    erp("post", "/api/v1/work-orders/WO-1/release/", {})
    started = client.post("/api/v1/work-orders/WO-1/start/")
    assert started.status_code == 200 and started.json()["status"] == "running"
    assert WorkOrderMove.objects.get(move="start").by == "user:op-a"


@pytest.mark.parametrize("seconds", [0.0001, 86_401, 1e308])
def test_a_cycle_time_out_of_range_is_a_400_naming_the_machine(erp, seconds):
    response = erp("put", "/api/v1/products/P-9/", {"name": "x", "cycle_times": {"A1": seconds}})
    assert response.status_code == 400 and "cycle_times.A1" in response.json(), response.json()
    assert not Product.objects.filter(code="P-9").exists()


@pytest.mark.parametrize(("change", "field"), [
    ({"planned_start": "0001-01-01T00:00:00+01:00"}, "planned_start"),
    ({"planned_end": "9999-12-31T23:59:59-01:00"}, "planned_end"),
    ({"planned_start": "2026-02-30T06:00:00Z"}, "planned_start"),
])
def test_an_instant_no_plant_can_have_is_a_400_not_a_crash(erp, change, field):
    response = erp("put", "/api/v1/work-orders/WO-1/", {**ORDER, **change})
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not WorkOrder.objects.exists()


def test_an_order_of_an_unknown_line_is_a_400_naming_the_line(erp):
    response = erp("put", "/api/v1/work-orders/WO-1/", {**ORDER, "line": "Z", "machine": None})
    assert response.status_code == 400 and "line" in response.json(), response.json()


def test_a_nul_character_in_a_body_is_a_400(erp):
    response = erp("put", "/api/v1/products/P-1/", {"name": "Lid\u0000", "cycle_times": {"A1": 0.9}})
    assert response.status_code == 400 and "NUL" in str(response.json()), response.json()
    assert not Product.objects.filter(code="P-1").exists()


def test_an_order_put_on_another_line_meanwhile_is_not_taken_over(erp, plant):
    # What the view's check cannot see: the order arrived on line B between that check and the write.
    erp("put", "/api/v1/products/P-B/", {"name": "Lid", "cycle_times": {"B1": 0.5}})
    erp("put", "/api/v1/work-orders/WO-1/", {**ORDER, "product": "P-B", "line": "B", "machine": None})
    data = OrderIn(product="P-330", quantity=1, line="A", machine=None,
                   planned_start=timezone.now(), planned_end=timezone.now() + timedelta(hours=1))
    with pytest.raises(NotYours):
        put_order("WO-1", data, writable_lines={plant.line_a.pk})
    assert WorkOrder.objects.get(number="WO-1").line == plant.line_b


def test_an_offset_past_what_postgresql_takes_is_still_a_valid_time(erp):
    # ISO 8601 allows offsets up to 23:59; PostgreSQL only up to 15:59: times go to the database in UTC.
    created = erp("put", "/api/v1/work-orders/WO-1/", {**ORDER, "planned_start": "2026-01-12T06:00:00+23:30",
                                                       "planned_end": "2026-01-12T14:00:00-23:11"})
    assert created.status_code == 201, created.json()
    assert created.json()["planned_start"] == "2026-01-11T06:30:00.000000+00:00"
    listed = erp("get", "/api/v1/work-orders/?planned_to=2116-09-28T20:52:11.8-23:11")
    assert listed.status_code == 200 and [o["number"] for o in listed.json()["results"]] == ["WO-1"]
