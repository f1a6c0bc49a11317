"""A line's live messages (monitoring/live/build.py): what they say, built once per line, kept for snapshots."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from monitoring import live
from monitoring.pipeline import ObservationIn, record_observations
from tests.histories import NOON, hour_of_b1, recent_b1
from tests.pages import one

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_b1(plant):
    """B1 runs from 09:00 on order WO-1 (3000 parts, 1 s each), 30 parts a minute, read each minute."""
    from planning.models import Product, ProductCycleTime, WorkOrder

    product = Product.objects.create(code="P1", name="Lid")
    ProductCycleTime.objects.create(product=product, machine=plant.b1, ideal_cycle_time=1.0)
    WorkOrder.objects.create(
        number="WO-1", product=product, quantity=3000, line=plant.line_b, machine=plant.b1,
        planned_start=NOON - timedelta(hours=2), planned_end=NOON + timedelta(hours=2),
        status="running", actual_start=NOON - timedelta(hours=2),
    )
    hour_of_b1()
    return plant


def test_a_message_carries_state_shift_figures_order_and_device(busy_b1, client):
    from monitoring.models import DeviceHealth, ModbusDevice, SignalBinding

    device = ModbusDevice.objects.create(code="plc-b", host="127.0.0.1")
    SignalBinding.objects.create(machine=busy_b1.b1, signal="running", modbus_device=device, table="coil",
                                 address=0, data_type="bool")
    assert live.machine_message(busy_b1.b1, NOON)["connected"] is False  # no collector has reported yet
    DeviceHealth.objects.create(device_kind="modbus", device_code="plc-b", connected=False, last_error="timed out")

    message = live.machine_message(busy_b1.b1, NOON)
    assert (message["machine"], message["line"], message["name"]) == ("B1", "B", "Seamer")
    assert message["ts"] == live.iso(NOON)
    assert (message["state"], message["state_since"], message["reason"]) == (
        "running", live.iso(NOON - timedelta(hours=1)), None)
    assert message["shift"] == {"name": "All day", "start": "2026-01-11T23:00:00.000000+00:00",
                                "end": "2026-01-12T23:00:00.000000+00:00"}
    assert (message["connected"], message["device_error"]) == (False, "timed out")
    assert (message["target_oee"], message["warning_oee"]) == (0.85, 0.65)
    # The figures are those of the OEE API over the shift so far.
    client.force_login(busy_b1.manager)
    api = client.get("/api/v1/oee/", {"machine": "B1", "start": message["shift"]["start"],
                                      "end": message["ts"]}).json()
    for key in ("total_count", "good_count", "reject_count", "availability", "performance", "quality", "oee"):
        assert message[key] == api[key], key
    assert message["total_count"] == 30 * 59
    order = message["work_order"]
    assert (order["number"], order["product"], order["quantity"], order["produced"]) == ("WO-1", "P1", 3000, 1770)
    # 1230 parts to go at the pace of the last 15 minutes (450 good parts in 900 s of the order's run).
    expected = NOON + timedelta(seconds=1230 * 900 / 450)
    assert abs(datetime.fromisoformat(order["eta"]) - expected) < timedelta(milliseconds=1)
    assert live.machine_message(busy_b1.a1, NOON)["connected"] is True  # no device bound


def test_a_machine_gone_quiet_shows_no_data_since_its_data_stopped(busy_b1):
    message = live.machine_message(busy_b1.b1, NOON + timedelta(minutes=10))
    # The last reading was at 09:59; three expected intervals (3 × 60 s) later the data stops counting.
    assert (message["state"], message["state_since"], message["reason"]) == (
        "no-data", live.iso(NOON + timedelta(minutes=2)), "no-data")


def test_the_messages_of_a_line_cost_a_few_queries_per_machine_and_a_snapshot_none_while_fresh(
    plant, django_assert_max_num_queries,
):
    for code in ("A1", "A2"):
        record_observations([ObservationIn(code, NOON - timedelta(minutes=30), "running", True),
                             ObservationIn(code, NOON - timedelta(minutes=20), "running", False)])
    line = type(plant.line_a).objects.select_related("area__site", "constraint_machine").get(pk=plant.line_a.pk)
    # The calendar once for the line (4), then its machines, their health and orders (4), and for each
    # machine its intervals, where its data ends, its parts and their cycle times (4 or 5).
    with django_assert_max_num_queries(18):
        messages = live.line_snapshot(line, NOON)
    assert [m["machine"] for m in messages] == ["A1", "A2"]
    with django_assert_max_num_queries(0):
        assert live.line_snapshot(line, NOON + timedelta(seconds=1)) == messages


def test_every_tile_of_a_message_is_drawn_from_the_message(plant):
    recent_b1(minutes_ago_end=0.5, stop_reason="jam")
    message = live.machine_message(plant.b1)
    html = message["html"]
    assert set(html) == {"tile", "line", "panel", "panel_operate", "card"}
    for name in ("tile", "panel", "card"):
        shown = one(html[name], data_tile=name if name != "panel_operate" else "panel")
        assert shown.attrs["data-machine"] == "B1" and shown.attrs["data-ts"] == message["ts"]
        assert f"state-{message['state']}" in shown.attrs["class"].split()
    assert one(html["line"], data_tile="line").attrs["data-line"] == "B"
    # Only the operators' panel offers the scrap button; the reason buttons are the server's to offer.
    assert 'data-action="scrap"' in html["panel_operate"] and 'data-action="scrap"' not in html["panel"]
