"""`manage.py demo_history`: the demo plant's past, drawn and put in through the live doors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from monitoring import kpi
from monitoring.demo_history import backfill
from monitoring.models import (
    Event,
    EventKind,
    MachineHour,
    MachineStatus,
    Observation,
    StateInterval,
)
from monitoring.orders import results
from monitoring.period import MachinePeriod
from monitoring.simulator.history import LinePlan, MachinePlan, line_story
from planning.models import Line, Machine, WorkOrder, WorkOrderStatus
from planning.schedule import line_calendar

DEMO_PLANT = Path(__file__).resolve().parent.parent / "demo" / "plant.yaml"


def import_demo_plant() -> None:
    call_command("import_plant", str(DEMO_PLANT), stdout=StringIO())


@pytest.fixture
def past(db):
    """The demo plant with 30 hours behind it (seed 3)."""
    import_demo_plant()
    return backfill(1.25, seed=3, say=lambda text: None)


def last_whole_shifts(line: Line, now: datetime, count: int):
    windows = line_calendar(line, now - timedelta(days=2), now).windows
    return [w for w in windows if w.end <= now][-count:]


def test_the_last_days_shifts_read_as_a_working_plant(past) -> None:
    now = timezone.now()
    for line in Line.objects.all():
        shifts = last_whole_shifts(line, now, 3)
        figures = kpi.line_result(line, shifts[0].start, shifts[-1].end, now).figures
        assert 0.5 <= figures.oee <= 0.9, (line.code, figures)
        assert 0.6 <= figures.availability < 1 and 0.7 <= figures.performance < 1 and 0.95 <= figures.quality < 1
        for shift in shifts:  # and no shift of them red at a few per cent
            assert kpi.line_result(line, shift.start, shift.end, now).figures.oee > 0.35, shift.key


def test_the_unplanned_stops_mostly_have_a_reason(past) -> None:
    """Faults get theirs from the machine's fault code, other stops from an operator; a few recent ones wait."""
    unplanned = explained = 0
    for machine in Machine.objects.all():
        calendar = line_calendar(machine.line, past.start, past.end)
        breaks = [(b[0], b[1]) for w in calendar.windows for b in w.breaks]
        for stop in StateInterval.objects.filter(machine=machine, state=MachineStatus.STOPPED, end__isnull=False):
            in_break = any(start <= stop.start and stop.end <= end for start, end in breaks)
            if in_break or (stop.end - stop.start).total_seconds() < machine.micro_stop_threshold:
                continue
            unplanned += 1
            explained += stop.reason_id is not None
    assert unplanned > 50
    assert explained / unplanned > 0.9
    operator = Event.objects.filter(kind=EventKind.REASON_GIVEN)
    assert operator.count() >= 5
    assert StateInterval.objects.filter(reason__code="no-material").exists() or \
        StateInterval.objects.filter(reason__code="adjust").exists()
    assert not StateInterval.objects.filter(state=MachineStatus.NO_DATA).exists()


def test_orders_of_several_products_ran_and_were_completed_with_their_counts(past) -> None:
    now = timezone.now()
    for line in Line.objects.all():
        orders = WorkOrder.objects.filter(line=line)
        assert orders.values("product").distinct().count() >= 2
        completed = orders.filter(status=WorkOrderStatus.COMPLETED)
        assert completed.exists()
        for order in completed:
            made = results(order).as_dict()
            assert made["total_count"] >= order.quantity, order.number
            assert made["good_count"] > 0.9 * order.quantity, order.number
        running = orders.get(status=WorkOrderStatus.RUNNING)
        # The live simulator runs each machine at its default cycle time: so does the last order's product.
        assert all(ct.ideal_cycle_time == ct.machine.default_ideal_cycle_time
                   for ct in running.product.cycle_times.select_related("machine"))
        assert orders.filter(status=WorkOrderStatus.RELEASED, planned_start__gt=now).count() == 2
    # A start of another product made the stopped line's stop a changeover.
    assert StateInterval.objects.filter(reason__code="changeover").exists()
    assert Event.objects.filter(kind=EventKind.SCRAP_ENTERED).exists()


def test_rollups_hold_the_figures_the_pipeline_reads_directly(past) -> None:
    now = timezone.now()
    start = past.start.replace(minute=0) + timedelta(hours=2)
    end = start + timedelta(hours=24)
    for machine in Machine.objects.all():
        # 30 hours behind: the whole hours among them, less the one now running (29 or 30 by the clock).
        assert MachineHour.objects.filter(machine=machine).count() >= 29
        rolled = kpi.machine_result(machine, start, end, now)  # a long period: read from the rollups
        direct = MachinePeriod(machine, start, end, now).result()
        assert rolled.as_dict() == direct.as_dict()


def test_the_past_ends_now_so_the_live_plant_goes_on_from_it(past) -> None:
    now = timezone.now()
    for machine in Machine.objects.all():
        last = Observation.objects.filter(machine=machine).order_by("-ts").values_list("ts", flat=True).first()
        assert now - timedelta(seconds=60) < last <= now
        open_interval = StateInterval.objects.get(machine=machine, end__isnull=True)
        assert open_interval.state in (MachineStatus.RUNNING, MachineStatus.STOPPED)


def test_the_command_draws_a_past_only_into_a_database_without_one(db) -> None:
    import_demo_plant()
    out = StringIO()
    call_command("demo_history", "--days", "0.2", "--if-empty", stdout=out)
    stored = Observation.objects.count()
    assert stored > 1000 and "Demo history of 0.2 days" in out.getvalue()

    out = StringIO()
    call_command("demo_history", "--days", "0.2", "--if-empty", stdout=out)

    assert Observation.objects.count() == stored
    assert "no demo history drawn" in out.getvalue()


def test_without_simulated_machines_nothing_is_drawn(db) -> None:
    out = StringIO()
    call_command("demo_history", "--days", "1", stdout=out)
    assert not Observation.objects.exists()
    assert "No machine served by the plant simulator" in out.getvalue()


def story_plan() -> LinePlan:
    machines = (
        MachinePlan("M1", frozenset({"running", "fault", "total_count", "reject_count"}), 1 << 16, 120.0, 1.0,
                    {"P1": 1.0, "P2": 1.5}),
        MachinePlan("M2", frozenset({"running", "total_count"}), 1 << 32, 120.0, 2.0, {"P1": 2.0, "P2": 2.5}),
    )
    day = datetime(2026, 3, 2, tzinfo=UTC)
    breaks = tuple((day + timedelta(hours=h), day + timedelta(hours=h, minutes=30)) for h in (9, 17, 25, 33, 41))
    return LinePlan("L", machines, "M1", ("P1", "P2"), "P1", breaks, (day + timedelta(hours=13),),
                    ("no-material", "adjust"), "scrap-seal")


def test_a_seed_tells_the_same_story_every_time() -> None:
    start = datetime(2026, 3, 2, 5, tzinfo=UTC)
    first, again = (line_story(story_plan(), start, start + timedelta(days=2), seed=7) for _ in range(2))
    other = line_story(story_plan(), start, start + timedelta(days=2), seed=8)

    assert first.readings == again.readings and first.orders == again.orders and first.reasons == again.reasons
    assert first.readings != other.readings


def test_a_story_stops_for_breaks_and_reads_often_enough_never_to_look_silent() -> None:
    plan = story_plan()
    start = datetime(2026, 3, 2, 5, tzinfo=UTC)
    story = line_story(plan, start, start + timedelta(days=2), seed=7)

    for machine in ("M1", "M2"):
        times = [r.ts for r in story.readings if r.machine == machine and r.signal != "reason"]
        assert max((b - a).total_seconds() for a, b in zip(times, times[1:])) <= plan.read_every
        assert not {r.signal for r in story.readings if r.machine == machine} - plan.machines[0].signals - {"reason"}
    running = [r for r in story.readings if r.machine == "M1" and r.signal == "running"]
    for break_start, break_end in plan.breaks[:4]:
        at_start = [r for r in running if r.ts <= break_start][-1]
        assert at_start.value is False
        assert all(r.value is False for r in running if break_start <= r.ts < break_end)
        assert [r for r in running if r.ts >= break_end][0].ts == break_end
    assert {o.product for o in story.orders} == {"P1", "P2"}
    assert story.orders[-3].start is not None and story.orders[-3].end is None  # running at the end
    assert story.orders[-3].product == "P1"
