"""The managers' planning board (monitoring/views/planning_board.py): who may plan, and every change
through the workflow's one door, with its moves, audit trail and webhooks."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import orders
from planning import webhooks
from planning.models import OutboxEvent, Product, WebhookSubscription, WorkOrder, WorkOrderMove, WorkOrderStatus
from planning.workflow import OrderIn, move_order, put_order
from tests.fuzz.conftest import row_counts
from tests.histories import recent_b1
from tests.pages import find, one
from tests.receiver import Receiver

pytestmark = pytest.mark.django_db

# Monday 2026-12-07 in Berlin (UTC+1): 06:00 local is 05:00 UTC.
NEW = {"number": "A-261207-01", "product": "P-330", "quantity": "4800", "machine": "A1",
       "planned_start": "2026-12-07 06:00", "planned_end": "2026-12-07 14:00"}


@pytest.fixture
def product(plant):
    return Product.objects.create(code="P-330", name="Can 0.33 l")


@pytest.fixture
def manager(client, plant, product):
    client.force_login(plant.manager)
    return client


def planned_order(plant, product, number: str = "WO-1", line=None, machine=None, hours_from_now: float = 2) -> WorkOrder:
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(hours=hours_from_now)
    order, _, _ = put_order(number, OrderIn(product.code, 1000, (line or plant.line_a).code,
                                            machine.code if machine else None, start, start + timedelta(hours=3)))
    return order


def events(type: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type=type).order_by("pk"))


def test_only_managers_and_admins_may_open_the_board(client, plant, product):
    assert client.get("/planning/A/").status_code == 302  # to the log-in
    for user in (plant.operator, plant.outsider):
        client.force_login(user)
        assert client.get("/planning/A/").status_code == 403
        assert client.get("/planning/").status_code == 403
        before = row_counts()
        assert client.post("/planning/A/", NEW).status_code == 403
        assert row_counts() == before
    client.force_login(plant.manager)
    assert client.get("/planning/A/").status_code == 200
    assert client.get("/planning/").url == "/planning/A/"  # the first line's board
    assert client.get("/planning/Z/").status_code == 404


def test_the_board_is_in_the_managers_navigation_only(client, plant, product):
    client.force_login(plant.manager)
    overview = client.get("/").content
    assert one(overview, "a", href="/planning/") and one(overview, "a", href="/planning/A/")
    client.force_login(plant.operator)
    overview = client.get("/").content
    assert not find(overview, "a", href="/planning/") and not find(overview, "a", href="/planning/A/")


def test_a_manager_plans_an_order_with_the_form_in_the_sites_time(manager, plant):
    subscription = WebhookSubscription.objects.create(name="ERP", url="http://127.0.0.1:9/hooks", secret="s" * 20,
                                                      event_types=["work_order.planned"])
    response = manager.post("/planning/A/", NEW)
    assert response.status_code == 302 and response.url == "/planning/A/?day=2026-12-07"
    order = WorkOrder.objects.get(number="A-261207-01")
    assert (order.status, order.quantity, order.machine, order.line) == ("planned", 4800, plant.a1, plant.line_a)
    assert (order.planned_start, order.planned_end) == (datetime(2026, 12, 7, 5, tzinfo=UTC),
                                                        datetime(2026, 12, 7, 13, tzinfo=UTC))
    [event] = events("work_order.planned")
    assert event.payload["work_order"]["number"] == "A-261207-01" and event.payload["created"] is True
    assert event.payload["by"] == "user:manager" and event.line == plant.line_a
    assert event.deliveries.get().subscription == subscription  # queued for the ERP's webhook
    entry = LogEntry.objects.get_for_object(order).get()
    assert entry.actor == plant.manager
    # The board of that day shows it, its times on the site's wall clock.
    board = manager.get(response.url)
    planned = one(board.content, "td", within={"data_order": "A-261207-01"}, data_field="planned")
    assert planned.text == "Mon 06:00 – Mon 14:00"
    data = json.loads(one(board.content, "script", id="board-data").text)
    assert [o["number"] for o in data["orders"]] == ["A-261207-01"]
    assert data["orders"][0]["planned_start"].startswith("2026-12-07T05:00:00")


def test_release_reschedule_and_cancel_go_through_the_state_machine(manager, plant, product):
    order = planned_order(plant, product)
    assert manager.post("/planning/A/orders/WO-1/release/").status_code == 302
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.RELEASED
    assert WorkOrderMove.objects.get(order=order, move="release").by == "user:manager"
    assert [e.payload["by"] for e in events("work_order.released")] == ["user:manager"]

    form = manager.get("/planning/A/orders/WO-1/")
    assert form.status_code == 200
    assert one(form.content, "input", name="quantity").attrs["value"] == "1000"
    response = manager.post("/planning/A/orders/WO-1/", {
        "quantity": "1200", "machine": "A2", "planned_start": "2026-12-08 22:00", "planned_end": "2026-12-09 02:30"})
    assert response.status_code == 302 and response.url == "/planning/A/?day=2026-12-08"
    order.refresh_from_db()
    assert (order.quantity, order.machine, order.status) == (1200, plant.a2, WorkOrderStatus.RELEASED)
    assert (order.planned_start, order.planned_end) == (datetime(2026, 12, 8, 21, tzinfo=UTC),
                                                        datetime(2026, 12, 9, 1, 30, tzinfo=UTC))
    rescheduled = events("work_order.planned")[-1].payload
    assert rescheduled["created"] is False and rescheduled["by"] == "user:manager"
    assert rescheduled["changed"] == ["machine", "planned_end", "planned_start", "quantity"]

    assert manager.post("/planning/A/orders/WO-1/cancel/").status_code == 302
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.CANCELLED
    assert len(events("work_order.cancelled")) == 1
    again = manager.post("/planning/A/orders/WO-1/cancel/")
    assert again.status_code == 409 and "cancelled: it cannot cancel" in again.content.decode()
    assert manager.post("/planning/A/orders/WO-1/start/").status_code == 404  # the line starts orders
    assert len(events("work_order.cancelled")) == 1


@pytest.mark.parametrize(("change", "field"), [
    ({"number": "no spaces please"}, "number"),
    ({"number": "WO-1"}, "number"),  # exists already
    ({"product": "P-999"}, "product"),
    ({"quantity": "0"}, "quantity"),
    ({"quantity": "many"}, "quantity"),
    ({"machine": "B1"}, "machine"),  # of another line
    ({"planned_start": "tomorrow"}, "planned_start"),
    ({"planned_start": "2026-12-07 6:00 pm"}, "planned_start"),
    ({"planned_start": "2027-03-28 02:30", "planned_end": "2027-03-28 05:00"}, "planned_start"),  # clocks skip it
    ({"planned_end": "2026-12-07 05:00"}, "planned_end"),  # before the start
    ({"planned_start": "0001-01-01 00:00"}, "planned_start"),
    ({"planned_end": "9999-12-31 23:59"}, "planned_end"),
    ({"planned_end": ""}, "planned_end"),
])
def test_a_bad_new_order_is_a_400_naming_the_field_and_nothing_is_stored(manager, plant, product, change, field):
    planned_order(plant, product)
    before = row_counts()
    response = manager.post("/planning/A/", {**NEW, **change})
    assert response.status_code == 400
    errors = find(response.content, "span", data_field_error=field)
    assert errors and errors[0].text, response.content.decode()[-3000:]
    assert row_counts() == before


def test_a_bad_reschedule_is_a_400_and_a_finished_order_a_409_changing_nothing(manager, plant, product):
    order = planned_order(plant, product)
    before = row_counts()
    response = manager.post("/planning/A/orders/WO-1/", {
        "quantity": "-3", "planned_start": "2026-12-08 22:00", "planned_end": "2026-12-08 21:00"})
    assert response.status_code == 400
    assert find(response.content, "span", data_field_error="quantity")
    assert find(response.content, "span", data_field_error="planned_end")
    assert row_counts() == before
    for move in ("release", "start", "complete"):
        move_order(order, move, by="user:test")
    before = row_counts()
    response = manager.post("/planning/A/orders/WO-1/", {
        "quantity": "5", "planned_start": "2026-12-08 22:00", "planned_end": "2026-12-08 23:00"})
    assert response.status_code == 409 and "completed: it cannot change any more" in response.content.decode()
    assert row_counts() == before


def test_a_bad_day_is_a_400_naming_it(manager):
    for day in ("2026-02-30", "yesterday", "0001-01-01"):
        response = manager.get("/planning/A/", {"day": day})
        assert response.status_code == 400 and "day" in one(response.content, id="board-error").text


def test_the_board_shows_a_running_order_with_its_runs_and_the_eta_of_the_one_rule(manager, plant, product):
    now = timezone.now()
    order = WorkOrder.objects.create(
        number="WO-B", product=product, quantity=50_000, line=plant.line_b, machine=plant.b1,
        planned_start=now - timedelta(minutes=30), planned_end=now + timedelta(hours=1),
        status="running", actual_start=now - timedelta(minutes=21))
    other_line = planned_order(plant, product, "WO-A")
    recent_b1()
    board = manager.get("/planning/B/")
    data = json.loads(one(board.content, "script", id="board-data").text)
    [shown] = data["orders"]
    assert shown["number"] == "WO-B" and other_line.number not in board.content.decode()
    assert shown["runs"][0][0] == order.actual_start.isoformat(timespec="microseconds")
    expected = orders.results(order).eta
    assert expected is not None
    eta = datetime.fromisoformat(shown["eta"])
    assert abs((eta - expected).total_seconds()) < 60
    assert shown["good"] == orders.results(order).result.production.good > 0
    late = orders.results(order).progress.late_s
    marked = [e for e in find(board.content, "span", **{"class": "late"}) if e.within(data_order="WO-B")]
    assert bool(marked) == (late is not None and late > 0)


def test_a_plan_reaches_the_erp_by_webhook(manager, plant):
    receiver = Receiver().start()
    try:
        WebhookSubscription.objects.create(name="ERP", url=receiver.url, secret="whsec-test-0123456789",
                                           event_types=["work_order.planned", "work_order.released"])
        assert manager.post("/planning/A/", NEW).status_code == 302
        assert manager.post("/planning/A/orders/A-261207-01/release/").status_code == 302
        give_up = time.monotonic() + 30
        while len(receiver.accepted()) < 2:
            assert time.monotonic() < give_up, "the webhooks were not delivered within 30 s"
            webhooks.deliver_due()
            time.sleep(0.05)
        sent = [(r.event["type"], r.event["data"]["work_order"]["number"]) for r in receiver.accepted()]
        assert sent == [("work_order.planned", "A-261207-01"), ("work_order.released", "A-261207-01")]
    finally:
        receiver.stop()


def test_an_erp_put_is_told_as_planned_too_naming_the_client(client, plant, product, api_key):
    from tests.api import bearer

    body = {"product": "P-330", "quantity": 10, "line": "A", "planned_start": "2026-12-07T06:00:00+01:00",
            "planned_end": "2026-12-07T08:00:00+01:00"}
    headers = bearer(api_key("orders:write", name="SAP"))
    assert client.put("/api/v1/work-orders/E-1/", body, content_type="application/json", headers=headers
                      ).status_code == 201
    assert client.put("/api/v1/work-orders/E-1/", body, content_type="application/json", headers=headers
                      ).status_code == 200  # the same body: no change, no event
    [event] = events("work_order.planned")
    assert event.payload["by"] == "client:SAP" and event.payload["created"] is True


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fields=st.dictionaries(
    st.sampled_from(list(NEW)),
    st.one_of(st.sampled_from(["", "0", "-1", "٣", "²", "1e999", "2026-12-07 06:00", "2026-12-07T25:00",
                               "2026-03-29 02:30", "9999-12-31 23:59", "A1", "B1", "P-330", "WO-1"]),
              st.text(max_size=30)),
    max_size=6))
def test_no_form_of_the_board_gets_a_5xx_and_a_refused_one_stores_nothing(manager, plant, product, fields):
    WorkOrder.objects.filter(number=NEW["number"]).delete()  # a form that was accepted planned it
    for path in ("/planning/A/", "/planning/A/orders/WO-F/"):
        if not WorkOrder.objects.filter(number="WO-F").exists():
            planned_order(plant, product, "WO-F")
        before = row_counts()
        response = manager.post(path, {**NEW, **fields})
        assert response.status_code in (302, 400, 409), response.status_code
        if response.status_code != 302:
            assert row_counts() == before
