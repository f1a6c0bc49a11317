"""Starting an order of another product opens a changeover: a setup stop until the machine runs again
(monitoring/changeover.py), through the operators' door for reasons and told to the ERP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitoring.changeover import changeover_reason
from monitoring.models import Event, EventKind, Observation, StateInterval
from monitoring.pipeline import ObservationIn, record_observations
from planning.models import DowntimeReason, OutboxEvent, Product, ProductCycleTime, WorkOrder
from planning.workflow import move_order
from tests.histories import NOON, api_oee

pytestmark = pytest.mark.django_db

# B1 (line B, scheduled around the clock) on Monday: WO-1 makes lids from 08:00 to 09:00.
EIGHT, NINE = NOON - timedelta(hours=2), NOON - timedelta(hours=1)


def minute(k: float):
    """k minutes after 09:00."""
    return NINE + timedelta(minutes=k)


@pytest.fixture
def products(plant):
    lid = Product.objects.create(code="P1", name="Lid")
    can = Product.objects.create(code="P2", name="Can")
    for product in (lid, can):
        ProductCycleTime.objects.create(product=product, machine=plant.b1, ideal_cycle_time=1.0)
        ProductCycleTime.objects.create(product=product, machine=plant.a1, ideal_cycle_time=1.0)
        ProductCycleTime.objects.create(product=product, machine=plant.a2, ideal_cycle_time=2.0)
    return lid, can


def order(plant, number: str, product: Product, line=None) -> WorkOrder:
    """A released order for B1, or for the whole of `line`."""
    return WorkOrder.objects.create(
        number=number, product=product, quantity=5000, line=line or plant.line_b,
        machine=None if line else plant.b1,
        planned_start=EIGHT, planned_end=NOON + timedelta(hours=2), status="released",
    )


def b1_readings(start, end, running_at: dict, rejects_at: dict | None = None, total: int = 0, rejects: int = 0):
    """B1's counters read each minute in [start, end), 30 parts a running minute; `running_at` says when it
    starts (True) or stops (False), `rejects_at` how many rejects a minute adds."""
    rows = [ObservationIn("B1", ts, "running", value) for ts, value in running_at.items()]
    running = None
    ts = start
    while ts < end:
        running = running_at.get(ts, running)
        if running:
            total += 30
        rejects += (rejects_at or {}).get(ts, 0)
        rows += [ObservationIn("B1", ts + timedelta(seconds=30), "total_count", total),
                 ObservationIn("B1", ts + timedelta(seconds=30), "reject_count", rejects)]
        ts += timedelta(minutes=1)
    assert not record_observations(rows).rejected
    return total, rejects


def lids_until_nine(plant, lid) -> tuple[int, int]:
    """B1 makes lids on WO-1 from 08:00; at 09:00 WO-1 completes and the machine stops."""
    first = order(plant, "WO-1", lid)
    move_order(first, "start", by="user:op-b", at=EIGHT)
    counters = b1_readings(EIGHT, NINE, {EIGHT: True})
    move_order(first, "complete", by="user:op-b", at=NINE)
    return counters


def intervals_of_b1(since) -> list[tuple]:
    return list(StateInterval.objects.filter(machine__code="B1", start__gte=since).order_by("start")
                .values_list("start", "end", "state", "reason__code"))


def started_event(number: str) -> dict:
    return OutboxEvent.objects.get(type="work_order.started", payload__work_order__number=number).payload


def test_another_product_makes_the_time_from_its_start_until_the_machine_runs_a_setup_stop(client, plant, products):
    lid, can = products
    total, rejects = lids_until_nine(plant, lid)
    total, rejects = b1_readings(NINE, minute(10), {NINE: False}, total=total, rejects=rejects)
    move_order(order(plant, "WO-2", can), "start", by="user:op-a", at=minute(10))
    # The machine runs again at 09:30; 4 rejects in its first minutes, one much later.
    b1_readings(minute(10), NOON, {minute(30): True}, {minute(31): 2, minute(32): 2, minute(50): 1},
                total=total, rejects=rejects)

    # The stop before the start keeps its own (no) reason; from the start on it is the changeover.
    assert intervals_of_b1(NINE) == [
        (NINE, minute(10), "stopped", None),
        (minute(10), minute(30), "stopped", "changeover"),
        (minute(30), None, "running", None),
    ]
    client.force_login(plant.manager)
    hour = api_oee(client, "B1", NINE, NOON)
    assert hour["losses"]["setup_adjustments"] == 20 * 60
    assert hour["losses"]["equipment_failure"] == 10 * 60 and hour["unexplained_s"] == 10 * 60
    # The startup window follows the changeover: its rejects are startup rejects, the later one is not.
    assert hour["reject_parts"] == {"startup_rejects": 4, "production_rejects": 1}

    # Given through the operators' door, by whoever started the order, saying why.
    given = Event.objects.get(machine=plant.b1, kind=EventKind.REASON_GIVEN)
    assert given.user == plant.operator
    assert given.detail["reason"] == "changeover" and given.detail["split_at"] is not None
    assert given.detail["origin"] == {"work_order": "WO-2", "changeover_from": "P1", "by": "user:op-a"}
    assert Observation.objects.filter(machine=plant.b1, signal="reason").count() == 1
    # The ERP hears of the start and of the changeover it opened.
    [changeover] = started_event("WO-2")["changeovers"]
    assert changeover == {"machine": "B1", "from_product": "P1", "to_product": "P2",
                          "at": "2026-01-12T09:10:00.000000+00:00", "reason": "changeover"}


def test_a_stop_that_begins_with_the_start_is_a_changeover_from_its_beginning(plant, products):
    lid, can = products
    total, rejects = lids_until_nine(plant, lid)
    b1_readings(NINE, minute(20), {NINE: False}, total=total, rejects=rejects)
    move_order(order(plant, "WO-2", can), "start", by="user:op-a", at=NINE)
    assert intervals_of_b1(NINE) == [(NINE, None, "stopped", "changeover")]
    assert Event.objects.get(kind=EventKind.REASON_GIVEN).detail["split_at"] is None


def test_the_same_product_again_is_no_changeover(plant, products):
    lid, _ = products
    total, rejects = lids_until_nine(plant, lid)
    b1_readings(NINE, minute(10), {NINE: False}, total=total, rejects=rejects)
    move_order(order(plant, "WO-2", lid), "start", by="user:op-a", at=minute(10))
    assert intervals_of_b1(NINE) == [(NINE, None, "stopped", None)]
    assert not Observation.objects.filter(signal="reason").exists()
    assert started_event("WO-2")["changeovers"] == []


def test_a_machine_running_at_the_start_records_no_changeover_time(plant, products):
    lid, can = products
    first = order(plant, "WO-1", lid)
    move_order(first, "start", by="user:op-b", at=EIGHT)
    b1_readings(EIGHT, NOON, {EIGHT: True})  # it never stops
    move_order(first, "complete", by="user:op-b", at=NINE)
    move_order(order(plant, "WO-2", can), "start", by="user:op-a", at=minute(1))

    assert not Observation.objects.filter(signal="reason").exists()
    assert [row[2:] for row in intervals_of_b1(EIGHT)] == [("running", None)]
    # The ERP still hears that the product changed, with no stop made a changeover.
    assert started_event("WO-2")["changeovers"] == [
        {"machine": "B1", "from_product": "P1", "to_product": "P2", "at": "2026-01-12T09:01:00.000000+00:00",
         "reason": None}]


def test_a_machine_that_ran_no_order_before_has_no_changeover(plant, products):
    _, can = products
    b1_readings(NINE, minute(10), {NINE: False})
    move_order(order(plant, "WO-2", can), "start", by="user:op-a", at=minute(5))
    assert not Observation.objects.filter(signal="reason").exists()
    assert started_event("WO-2")["changeovers"] == []


def test_a_paused_order_was_the_previous_one_and_its_resume_is_no_changeover(plant, products):
    lid, can = products
    first = order(plant, "WO-1", lid)
    move_order(first, "start", by="user:op-b", at=EIGHT)
    b1_readings(EIGHT, minute(30), {EIGHT: True, NINE: False})
    move_order(first, "pause", by="user:op-b", at=NINE)
    second = order(plant, "WO-2", can)
    move_order(second, "start", by="user:op-b", at=minute(5))
    assert intervals_of_b1(NINE)[1][2:] == ("stopped", "changeover")
    move_order(second, "complete", by="user:op-b", at=minute(10))
    move_order(WorkOrder.objects.get(number="WO-1"), "resume", by="user:op-b", at=minute(15))
    assert Observation.objects.filter(signal="reason").count() == 1  # the resume gave none


def test_a_line_order_changes_over_only_the_machines_that_stand(plant, products):
    lid, can = products
    first = order(plant, "WO-A", lid, line=plant.line_a)
    move_order(first, "start", by="user:op-a", at=EIGHT)
    readings = [ObservationIn(code, EIGHT, "running", True) for code in ("A1", "A2")]
    readings += [ObservationIn("A1", NINE, "running", False)]
    readings += [ObservationIn(code, EIGHT + timedelta(minutes=k), "total_count", 10 * k)
                 for code in ("A1", "A2") for k in range(0, 75)]
    assert not record_observations(readings).rejected
    move_order(first, "complete", by="user:op-a", at=NINE)
    move_order(order(plant, "WO-B", can, line=plant.line_a), "start", by="user:op-a", at=minute(5))

    reasons = dict(StateInterval.objects.filter(start=minute(5)).values_list("machine__code", "reason__code"))
    assert reasons == {"A1": "changeover"}
    assert [(c["machine"], c["reason"]) for c in started_event("WO-B")["changeovers"]] == [
        ("A1", "changeover"), ("A2", None)]


def test_the_changeover_reason_is_the_setting_s_setup_reason_else_the_first_setup_reason(plant, settings):
    setup = DowntimeReason.objects.get(code="setup")
    DowntimeReason.objects.create(code="adjust", name="Adjustment", parent=setup, loss_category="setup_adjustments")
    assert changeover_reason().code == "changeover"
    settings.CHANGEOVER_REASON = "adjust"
    assert changeover_reason().code == "adjust"
    settings.CHANGEOVER_REASON = "jam"  # not a setup reason: the plant's first one by code
    assert changeover_reason().code == "adjust"
    DowntimeReason.objects.filter(loss_category="setup_adjustments").update(loss_category="equipment_failure")
    assert changeover_reason() is None
