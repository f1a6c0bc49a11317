"""Admin for shifts, products and work orders: invalid plans are refused in the form, nothing saved."""

from __future__ import annotations

from datetime import datetime, time

import pytest
from django.test import Client
from django.urls import reverse

from planning.models import (
    Break,
    Line,
    Machine,
    Product,
    ProductCycleTime,
    Shift,
    ShiftPattern,
    WorkOrder,
    WorkOrderStatus,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def filler(line: Line) -> Machine:
    return Machine.objects.create(line=line, code="L1-FILL", name="Filler", default_ideal_cycle_time=1.0)


@pytest.fixture
def pattern(line: Line) -> ShiftPattern:
    return ShiftPattern.objects.create(line=line, name="Two shifts")


def management(prefix: str, total: int = 0, initial: int = 0) -> dict[str, int]:
    return {f"{prefix}-TOTAL_FORMS": total, f"{prefix}-INITIAL_FORMS": initial,
            f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000}


def shift_rows(*shifts: tuple[str, int, str, str], ids: tuple[int, ...] = ()) -> dict:
    """Inline rows of the pattern page: (name, weekday, start, end); the first `ids` are stored shifts."""
    data = management("shifts", total=len(shifts), initial=len(ids))
    for index, (name, weekday, start, end) in enumerate(shifts):
        data |= {f"shifts-{index}-name": name, f"shifts-{index}-weekday": weekday,
                 f"shifts-{index}-start": start, f"shifts-{index}-end": end}
        if index < len(ids):
            data[f"shifts-{index}-id"] = ids[index]
    return data


def post_pattern(client: Client, line: Line, *shifts: tuple[str, int, str, str]):
    data = {"line": line.pk, "name": "Shifts", **shift_rows(*shifts)}
    return client.post(reverse("admin:planning_shiftpattern_add"), data)


def post_shift(client: Client, shift: Shift, *breaks: tuple[str, str], **changes) -> object:
    data = {"pattern": shift.pattern_id, "name": shift.name, "weekday": shift.weekday,
            "start": shift.start.strftime("%H:%M"), "end": shift.end.strftime("%H:%M"), **changes,
            **management("breaks", total=len(breaks))}
    for index, (start, end) in enumerate(breaks):
        data |= {f"breaks-{index}-name": "Break", f"breaks-{index}-start": start, f"breaks-{index}-end": end}
    return client.post(reverse("admin:planning_shift_change", args=[shift.pk]), data)


def test_a_pattern_with_a_night_shift_across_midnight_is_saved(admin_client: Client, line: Line) -> None:
    response = post_pattern(admin_client, line, ("Early", 0, "06:00", "14:00"), ("Late", 0, "14:00", "22:00"),
                            ("Night", 0, "22:00", "06:00"), ("Early", 1, "06:00", "14:00"))

    assert response.status_code == 302
    assert ShiftPattern.objects.get(line=line).shifts.count() == 4


def test_overlapping_shifts_are_refused_on_the_pattern_page(admin_client: Client, line: Line) -> None:
    response = post_pattern(admin_client, line, ("Early", 0, "06:00", "14:00"), ("Late", 0, "12:00", "20:00"))

    assert response.status_code == 200
    assert "Shifts overlap: Monday Early 06:00–14:00 and Monday Late 12:00–20:00." in response.content.decode()
    assert not ShiftPattern.objects.exists() and not Shift.objects.exists()


def test_a_sunday_night_shift_overlapping_monday_morning_is_refused(admin_client: Client, line: Line) -> None:
    response = post_pattern(admin_client, line, ("Night", 6, "22:00", "06:00"), ("Early", 0, "05:00", "13:00"))

    assert "Shifts overlap: Sunday Night 22:00–06:00 and Monday Early 05:00–13:00." in response.content.decode()
    assert not Shift.objects.exists()


def test_moving_a_shift_away_from_its_stored_break_is_refused(admin_client: Client, pattern: ShiftPattern) -> None:
    early = Shift.objects.create(pattern=pattern, name="Early", weekday=0, start=time(6), end=time(14))
    Break.objects.create(shift=early, start=time(10), end=time(10, 30))
    data = {"line": pattern.line_id, "name": pattern.name,
            **shift_rows(("Early", 0, "11:00", "19:00"), ids=(early.pk,))}

    response = admin_client.post(reverse("admin:planning_shiftpattern_change", args=[pattern.pk]), data)

    assert "The break 10:00–10:30 must lie within its shift, Monday Early 11:00–19:00" in response.content.decode()
    early.refresh_from_db()
    assert early.start == time(6)


def test_a_break_outside_its_shift_is_refused_on_the_shift_page(admin_client: Client, pattern: ShiftPattern) -> None:
    early = Shift.objects.create(pattern=pattern, name="Early", weekday=0, start=time(6), end=time(14))

    response = post_shift(admin_client, early, ("10:00", "10:30"), ("13:45", "14:15"))

    assert response.status_code == 200
    assert "The break 13:45–14:15 must lie within its shift, Monday Early 06:00–14:00" in response.content.decode()
    assert not Break.objects.exists()


def test_a_break_after_midnight_in_a_night_shift_is_saved(admin_client: Client, pattern: ShiftPattern) -> None:
    night = Shift.objects.create(pattern=pattern, name="Night", weekday=4, start=time(22), end=time(6))

    response = post_shift(admin_client, night, ("02:00", "02:30"))

    assert response.status_code == 302
    assert [(b.start, b.end) for b in night.breaks.all()] == [(time(2), time(2, 30))]


def test_a_break_is_checked_against_the_shifts_new_times(admin_client: Client, pattern: ShiftPattern) -> None:
    early = Shift.objects.create(pattern=pattern, name="Early", weekday=0, start=time(6), end=time(14))

    response = post_shift(admin_client, early, ("10:00", "10:30"), start="11:00", end="19:00")

    assert "must lie within its shift, Monday Early 11:00–19:00" in response.content.decode()
    early.refresh_from_db()
    assert early.start == time(6) and not Break.objects.exists()


def test_a_shift_overlapping_its_sibling_is_refused_on_the_shift_page(
    admin_client: Client, pattern: ShiftPattern
) -> None:
    Shift.objects.create(pattern=pattern, name="Early", weekday=0, start=time(6), end=time(14))
    late = Shift.objects.create(pattern=pattern, name="Late", weekday=0, start=time(14), end=time(22))

    response = post_shift(admin_client, late, start="13:00")

    assert "Shifts overlap: Monday Early 06:00–14:00 and Monday Late 13:00–22:00." in response.content.decode()
    late.refresh_from_db()
    assert late.start == time(14)


@pytest.mark.parametrize("seconds", ["0", "-2"])
def test_a_non_positive_product_cycle_time_is_refused(admin_client: Client, filler: Machine, seconds: str) -> None:
    data = {"code": "BOT-05", "name": "Bottle 0.5 l", **management("cycle_times", total=1),
            "cycle_times-0-machine": filler.pk, "cycle_times-0-ideal_cycle_time": seconds}

    response = admin_client.post(reverse("admin:planning_product_add"), data)

    assert response.status_code == 200
    assert "The ideal cycle time must be positive." in response.content.decode()
    assert not Product.objects.exists() and not ProductCycleTime.objects.exists()


def work_order_data(line: Line, machine: Machine, number: str, status: str) -> dict:
    return {"number": number, "product": Product.objects.get_or_create(code="BOT-05", name="Bottle 0.5 l")[0].pk,
            "quantity": 1000, "status": status, "line": line.pk, "machine": machine.pk,
            "planned_start_0": "2026-03-02", "planned_start_1": "06:00:00",
            "planned_end_0": "2026-03-02", "planned_end_1": "14:00:00",
            "actual_start_0": "", "actual_start_1": "", "actual_end_0": "", "actual_end_1": ""}


def test_orders_are_moved_by_actions_and_a_second_running_order_on_a_machine_is_refused(
    admin_client: Client, line: Line, filler: Machine,
) -> None:
    for number in ("WO-1", "WO-2"):
        added = admin_client.post(reverse("admin:planning_workorder_add"),
                                  work_order_data(line, filler, number, WorkOrderStatus.RUNNING))
        assert added.status_code == 302
    # The status is the state machine's: the form cannot set it, the actions move it.
    assert set(WorkOrder.objects.values_list("status", flat=True)) == {"planned"}
    changelist = reverse("admin:planning_workorder_changelist")
    ids = {o.number: o.pk for o in WorkOrder.objects.all()}

    def act(action: str, number: str) -> list[str]:
        response = admin_client.post(changelist, {"action": action, "_selected_action": [ids[number]]}, follow=True)
        return [str(m) for m in response.context["messages"]]

    for number in ("WO-1", "WO-2"):
        act("release_orders", number)
    assert act("start_orders", "WO-1") == ["Work order WO-1: start done."]
    assert act("start_orders", "WO-2") == ["Work order WO-1 is running there: complete or pause it first."]
    assert dict(WorkOrder.objects.values_list("number", "status")) == {"WO-1": "running", "WO-2": "released"}
    assert act("complete_orders", "WO-2") == [
        "Work order WO-2 is released: it cannot complete (only a running or paused order can)."]


def test_the_work_order_list_filters_by_status_and_finds_by_number(admin_client: Client, line: Line,
                                                                   filler: Machine) -> None:
    product = Product.objects.create(code="BOT-05", name="Bottle 0.5 l")
    start, end = datetime.fromisoformat("2026-03-02T06:00+01:00"), datetime.fromisoformat("2026-03-02T14:00+01:00")
    for number, status in (("WO-100", "planned"), ("WO-200", "completed")):
        WorkOrder.objects.create(number=number, product=product, quantity=500, line=line, machine=filler,
                                 planned_start=start, planned_end=end, status=status)

    planned = admin_client.get(reverse("admin:planning_workorder_changelist"), {"status__exact": "planned"})
    found = admin_client.get(reverse("admin:planning_workorder_changelist"), {"q": "WO-200"})

    assert "WO-100" in planned.content.decode() and "WO-200" not in planned.content.decode()
    assert "WO-200" in found.content.decode() and "WO-100" not in found.content.decode()
