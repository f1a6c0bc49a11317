"""Parts follow the run windows of work orders, whichever door changes an order, and the order's card says
how it is getting on (monitoring/orders.py)."""

from __future__ import annotations

import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from monitoring import live, orders
from monitoring.models import CountBucket, Event, StateInterval
from monitoring.pipeline import ObservationIn, record_observations
from planning.models import Product, ProductCycleTime, WorkOrder, WorkOrderStatus
from planning.workflow import move_order
from tests.histories import NOON, hour_of_b1
from tests.pages import find, one

pytestmark = pytest.mark.django_db


@pytest.fixture
def lid(plant) -> Product:
    product = Product.objects.create(code="P1", name="Lid")
    ProductCycleTime.objects.create(product=product, machine=plant.b1, ideal_cycle_time=1.0)
    return product


def order_on_b1(plant, product: Product, **fields) -> WorkOrder:
    return WorkOrder.objects.create(
        number="WO-1", product=product, quantity=3000, line=plant.line_b, machine=plant.b1,
        planned_start=NOON - timedelta(hours=2), planned_end=NOON + timedelta(hours=2), **fields,
    )


def parts_of(order: WorkOrder) -> int:
    return CountBucket.objects.filter(work_order=order).aggregate(parts=Sum("total_count"))["parts"] or 0


def history_of_b1() -> tuple[list, list]:
    """What else the projection holds: B1's intervals and derived events (none of them may change)."""
    intervals = list(StateInterval.objects.filter(machine__code="B1").values_list("start", "end", "state", "reason"))
    events = list(Event.objects.filter(machine__code="B1").values_list("ts", "kind", "detail"))
    return intervals, events


def admin_form(order: WorkOrder, **changes) -> dict:
    """The order's admin form as a browser posts it: times on the plant's wall clock (the admin's zone)."""
    zone = ZoneInfo(order.line.area.site.time_zone)
    planned_start, planned_end = order.planned_start.astimezone(zone), order.planned_end.astimezone(zone)
    data = {
        "number": order.number, "product": order.product_id, "quantity": order.quantity, "status": order.status,
        "line": order.line_id, "machine": order.machine_id or "",
        "planned_start_0": f"{planned_start:%Y-%m-%d}", "planned_start_1": f"{planned_start:%H:%M:%S}",
        "planned_end_0": f"{planned_end:%Y-%m-%d}", "planned_end_1": f"{planned_end:%H:%M:%S}",
        "actual_start_0": "", "actual_start_1": "", "actual_end_0": "", "actual_end_1": "",
    }
    for inline in ("pauses", "moves"):  # the read-only inlines of the order's page
        data |= {f"{inline}-TOTAL_FORMS": 0, f"{inline}-INITIAL_FORMS": 0, f"{inline}-MIN_NUM_FORMS": 0,
                 f"{inline}-MAX_NUM_FORMS": 1000}
    for name, value in changes.items():
        if name in ("actual_start", "actual_end"):
            value = value.astimezone(zone)
            data[f"{name}_0"], data[f"{name}_1"] = f"{value:%Y-%m-%d}", f"{value:%H:%M:%S}"
        else:
            data[name] = value
    return data


def test_back_dating_an_orders_start_in_the_admin_moves_the_parts_made_since_onto_it(admin_client, plant, lid):
    hour_of_b1()
    order = order_on_b1(plant, lid, status=WorkOrderStatus.RUNNING, actual_start=NOON)
    assert parts_of(order) == 0  # started after the hour of parts
    before = history_of_b1()

    response = admin_client.post(reverse("admin:planning_workorder_change", args=[order.pk]),
                                 admin_form(order, actual_start=NOON - timedelta(hours=1)))

    assert response.status_code == 302, response.content.decode()[:2000]
    assert parts_of(order) == 30 * 59  # every part the machine counted since
    assert CountBucket.objects.filter(machine=plant.b1).aggregate(parts=Sum("total_count"))["parts"] == 30 * 59
    assert history_of_b1() == before  # intervals and events are untouched
    assert live.machine_message(plant.b1, NOON)["work_order"]["produced"] == 30 * 59

    # And forward again: the parts before the new start are nobody's.
    order.refresh_from_db()
    admin_client.post(reverse("admin:planning_workorder_change", args=[order.pk]),
                      admin_form(order, actual_start=NOON - timedelta(minutes=30)))
    assert parts_of(order) == 30 * 30


def test_ending_an_order_earlier_gives_back_the_parts_after_its_end(admin_client, plant, lid):
    hour_of_b1()
    order = order_on_b1(plant, lid, status=WorkOrderStatus.COMPLETED,
                        actual_start=NOON - timedelta(hours=1), actual_end=NOON)
    assert parts_of(order) == 30 * 59
    admin_client.post(reverse("admin:planning_workorder_change", args=[order.pk]),
                      admin_form(order, actual_start=order.actual_start, actual_end=NOON - timedelta(minutes=20)))
    assert parts_of(order) == 30 * 39  # the readings of 09:01 to 09:39; the one at 09:40 is after the end


def test_an_order_set_running_without_a_start_starts_now_and_counts_what_follows(plant, lid):
    now = timezone.now()
    record_observations([ObservationIn("B1", now - timedelta(minutes=2), "running", True),
                         ObservationIn("B1", now - timedelta(minutes=2), "total_count", 100)])
    order = order_on_b1(plant, lid, status=WorkOrderStatus.RUNNING)
    assert order.actual_start is not None and order.actual_start >= now

    record_observations([ObservationIn("B1", order.actual_start + timedelta(milliseconds=1), "total_count", 160)])
    assert parts_of(order) == 60
    message = live.machine_message(plant.b1)
    assert (message["work_order"]["number"], message["work_order"]["produced"]) == ("WO-1", 60)


def test_an_order_that_is_not_running_has_no_actual_start(admin_client, plant, lid):
    order = order_on_b1(plant, lid, status=WorkOrderStatus.RELEASED)
    response = admin_client.post(reverse("admin:planning_workorder_change", args=[order.pk]),
                                 admin_form(order, actual_start=NOON))
    assert response.status_code == 200
    assert "A released order has not started: leave the actual start empty." in response.content.decode()
    order.refresh_from_db()
    assert order.actual_start is None


@pytest.mark.parametrize(("status", "start", "end", "field"), [
    (WorkOrderStatus.RUNNING, None, None, "actual_start"),
    (WorkOrderStatus.PAUSED, None, None, "actual_start"),
    (WorkOrderStatus.COMPLETED, NOON, None, "actual_end"),
])
def test_a_started_order_says_when_it_started_and_a_completed_one_when_it_ended(plant, status, start, end, field):
    order = WorkOrder(number="WO-X", product=Product.objects.create(code="P-X", name="X"), quantity=1,
                      line=plant.line_b, machine=plant.b1, planned_start=NOON, planned_end=NOON + timedelta(hours=1),
                      status=status, actual_start=start, actual_end=end)
    with pytest.raises(ValidationError) as refused:
        order.full_clean()
    assert field in refused.value.message_dict


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor == "sqlite", reason="row locks are PostgreSQL's; SQLite's in-memory test "
                    "database admits one writing connection (a file database serializes writers: IMMEDIATE)")
def test_an_operator_pausing_an_order_while_its_machine_sends_data_never_deadlocks(plant, lid):
    # On PostgreSQL the pipeline's foreign keys check the order's and the line's rows at commit:
    # a move that held them FOR UPDATE while waiting for the machine made a cycle.
    order = order_on_b1(plant, lid, status=WorkOrderStatus.RELEASED)
    move_order(order, "start", by="test")
    start = timezone.now()  # its parts are the order's
    failures: list[BaseException] = []

    def each(work) -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - the test reports whatever went wrong
            failures.append(error)
        finally:
            connection.close()

    def operator() -> None:
        for i in range(30):
            move_order(order, "pause" if i % 2 == 0 else "resume", by="test")

    def machine() -> None:
        for i in range(60):
            record_observations([ObservationIn("B1", start + timedelta(seconds=i), "running", i % 7 != 0),
                                 ObservationIn("B1", start + timedelta(seconds=i), "total_count", i)])

    threads = [threading.Thread(target=each, args=(work,)) for work in (operator, machine)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert WorkOrder.objects.get(pk=order.pk).pauses.count() == 15


# --- The order's card: made / planned, good / scrap, pace against ideal, ETA and lateness ---

def b1_making_lids(plant, lid: Product, stop_from: int | None = None) -> WorkOrder:
    """WO-1 (3,000 lids, 1 s each, due at 10:30) runs on B1 from 09:00; 30 parts a minute, one rejected at
    09:20 and two at 09:50; from 09:`stop_from` on the machine stands."""
    order = order_on_b1(plant, lid, status=WorkOrderStatus.RUNNING, actual_start=NOON - timedelta(hours=1))
    WorkOrder.objects.filter(pk=order.pk).update(planned_end=NOON + timedelta(minutes=30))
    order.refresh_from_db()
    start = NOON - timedelta(hours=1)
    rows = [ObservationIn("B1", start, "running", True)]
    if stop_from is not None:
        rows.append(ObservationIn("B1", start + timedelta(minutes=stop_from), "running", False))
    total = rejects = 0
    for k in range(60):
        if k and (stop_from is None or k <= stop_from):
            total += 30
        rejects += {20: 1, 50: 2}.get(k, 0)
        rows += [ObservationIn("B1", start + timedelta(minutes=k), "total_count", total),
                 ObservationIn("B1", start + timedelta(minutes=k), "reject_count", rejects)]
    assert not record_observations(rows).rejected
    return order


def test_the_card_says_made_of_planned_good_and_scrap_the_pace_the_eta_and_how_late(plant, lid):
    b1_making_lids(plant, lid)
    card = live.machine_message(plant.b1, NOON)["work_order"]
    assert (card["made"], card["quantity"], card["produced"], card["scrap"]) == (1770, 3000, 1767, 3)
    # The last 15 minutes: 450 parts (2 of them scrap) in 900 s of run; the ideal is one a second.
    assert card["rate_per_min"] == pytest.approx(30.0) and card["ideal_rate_per_min"] == pytest.approx(60.0)
    assert (card["rate_text"], card["ideal_rate_text"], card["rate_minutes"]) == ("30.0/min", "60.0/min", 15)
    # 1,233 good parts to go at 448 good ones in 900 s: 2,477 s, so 10:41, 11 minutes after its planned end.
    eta = NOON + timedelta(seconds=1233 * 900 / 448)
    assert card["eta"] == live.iso(eta)
    assert card["late_s"] == pytest.approx((eta - (NOON + timedelta(minutes=30))).total_seconds())
    assert card["late_text"] == "11 min late"

    html = live.machine_message(plant.b1, NOON)["html"]["panel"]
    assert one(html, data_field="wo-made").text == "1,770 / 3,000 made"
    assert (one(html, data_field="wo-good").text, one(html, data_field="wo-scrap").text) == ("1,767", "3")
    assert one(html, data_field="wo-rate").text == "30.0/min"
    assert one(html, data_field="wo-eta").text == "11:41"  # in Berlin
    assert one(html, data_field="wo-late").text == "11 min late"
    assert "late" in one(html, data_field="wo-late").attrs["class"].split()


def test_a_stop_in_the_last_minutes_slows_the_pace_and_the_forecast(plant, lid):
    b1_making_lids(plant, lid, stop_from=50)  # stood for the last 10 minutes
    card = live.machine_message(plant.b1, NOON)["work_order"]
    # The readings of 09:45 to 09:50 counted 30 parts each (2 rejected), in 15 minutes of the order's time.
    assert card["rate_per_min"] == pytest.approx(180 / 15)
    assert card["eta"] == live.iso(NOON + timedelta(seconds=(3000 - 1500 + 3) * 900 / (180 - 2)))


def test_the_api_result_has_the_pace_eta_and_lateness_of_the_card(client, plant, lid, api_key):
    order = b1_making_lids(plant, lid)
    card = live.machine_message(plant.b1, NOON)["work_order"]
    made = orders.results(order, NOON).as_dict()
    for name in ("rate_per_min", "ideal_rate_per_min", "rate_minutes", "eta", "late_s"):
        assert made[name] == card[name], name
    assert (made["total_count"], made["good_count"]) == (card["made"], card["produced"])

    # Once it is done, the API says how late it ended.
    move_order(order, "complete", by="test", at=NOON + timedelta(minutes=45))
    body = client.get("/api/v1/work-orders/WO-1/", headers={"Authorization": f"Bearer {api_key('results:read')}"})
    assert body.status_code == 200
    assert body.json()["late_s"] == 15 * 60
    assert body.json()["eta"] is None and body.json()["rate_minutes"] == 15


def test_the_pace_window_is_a_setting(plant, lid, settings):
    b1_making_lids(plant, lid, stop_from=50)
    settings.ORDER_RATE_MINUTES = 30
    card = live.machine_message(plant.b1, NOON)["work_order"]
    assert card["rate_per_min"] == pytest.approx(21 * 30 / 30)  # the readings of 09:30 to 09:50 in 30 minutes
    assert card["rate_minutes"] == 30


def test_the_next_released_order_shows_under_the_running_one_and_is_started_with_one_touch_when_it_is_paused(
    plant, lid,
):
    running = b1_making_lids(plant, lid)
    can = Product.objects.create(code="P2", name="Can")
    WorkOrder.objects.create(number="WO-2", product=can, quantity=500, line=plant.line_b, machine=plant.b1,
                             planned_start=NOON + timedelta(hours=1), planned_end=NOON + timedelta(hours=2),
                             status="released")
    message = live.machine_message(plant.b1, NOON)
    upcoming = message["work_order"]["next"]
    assert (upcoming["number"], upcoming["product"], upcoming["changeover"], upcoming["moves"]) == (
        "WO-2", "P2", True, [])
    assert one(message["html"]["panel_operate"], data_field="wo-next").text.startswith("Next WO-2 Can · 500 changeover")
    assert not find(message["html"]["panel_operate"], "button", data_order="WO-2")  # WO-1 runs

    move_order(running, "pause", by="test", at=NOON)
    message = live.machine_message(plant.b1, NOON)
    assert message["work_order"]["number"] == "WO-1" and message["work_order"]["moves"] == ["resume", "complete"]
    assert message["work_order"]["next"]["moves"] == ["start"]
    button = one(message["html"]["panel_operate"], "button", data_order="WO-2")
    assert (button.attrs["data-action"], button.attrs["data-move"]) == ("order", "start")
    assert not find(message["html"]["panel"], "button", data_order="WO-2")  # only for the line's operators
