"""Hourly rollups: a long period read from them has the figures `MachinePeriod` gives it directly,
whatever the history, and what changes a rolled-up hour drops it."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import kpi, rollups
from monitoring.actions import assign_reason
from monitoring.models import HOUR, MachineHour, OrderHour, StateInterval
from monitoring.pipeline import ObservationIn, record_observations
from planning.models import (
    Break,
    CalendarException,
    DowntimeReason,
    Product,
    ProductCycleTime,
    Shift,
    ShiftPattern,
    WorkOrder,
    WorkOrderStatus,
)
from tests.histories import at, monday_of_a1

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
# Sunday 2026-01-11 to Tuesday 2026-01-13 around A1's Monday (tests/histories.py).
AROUND_MONDAY = (datetime(2026, 1, 11, 21, 17, 5, tzinfo=UTC), datetime(2026, 1, 13, 2, 41, tzinfo=UTC))


def direct(machine, start, end, now=None, calendar=None) -> kpi.Result:
    """The figures as `MachinePeriod` gives them, with no rollup in the way."""
    return kpi.MachinePeriod(machine, start, end, now, calendar).result()


def assert_same(got: kpi.Result, expected: kpi.Result) -> None:
    for name, value in vars(expected.times).items():
        assert getattr(got.times, name) == pytest.approx(value, abs=1e-6), name
    for name, value in vars(expected.production).items():
        assert getattr(got.production, name) == pytest.approx(value, abs=1e-6), name


def assert_rollups_fresh(machine, now: datetime | None = None) -> None:
    """Every stored rollup is what the projection and the configuration give for its hour now."""
    machine = type(machine).objects.with_plant().get(pk=machine.pk)
    now = now or datetime.now(UTC)
    hours = list(MachineHour.objects.filter(machine=machine).order_by("hour"))
    if not hours:
        return
    fresh = dict(rollups.hourly_tallies(machine, hours[0].hour, hours[-1].hour + HOUR, now))
    for row in hours:
        for name, value in vars(fresh[row.hour].times).items():
            assert getattr(row, name) == pytest.approx(value, abs=1e-6), (row.hour, name)
    stored = {(row.hour, row.work_order_id): row for row in OrderHour.objects.filter(machine=machine)}
    for row in hours:
        tally = fresh[row.hour]
        for order in tally.counts.keys() | tally.startup.keys():
            kept = stored.pop((row.hour, order))
            counts, startup = tally.counts.get(order), tally.startup.get(order)
            assert (kept.total_count, kept.good_count, kept.reject_count, kept.scrap_count) == (
                (counts.total, counts.good, counts.reject, counts.scrap) if counts else (0, 0, 0, 0)), row.hour
            assert (kept.startup_total, kept.startup_good, kept.startup_reject, kept.startup_scrap) == (
                (startup.total, startup.good, startup.reject, startup.scrap) if startup else (0, 0, 0, 0)), row.hour
    assert stored == {}


# --- the existing histories, read as long periods ---------------------------------------------------

@pytest.mark.parametrize("period", [
    AROUND_MONDAY,
    (datetime(2026, 1, 12, tzinfo=UTC), datetime(2026, 1, 13, tzinfo=UTC)),
    (at(4, 59, 59), at(17, 0, 1)),
    (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 2, 5, tzinfo=UTC)),
])
def test_a_long_period_read_from_rollups_has_the_figures_of_the_period_read_directly(plant, period):
    monday_of_a1()
    expected = direct(plant.a1, *period)
    assert_same(kpi.machine_result(plant.a1, *period), expected)
    assert MachineHour.objects.filter(machine=plant.a1).exists()  # they were used
    assert_same(kpi.machine_result(plant.a1, *period), expected)  # and again, from them alone
    assert_same(kpi.line_result(plant.line_a, *period), expected)
    assert_rollups_fresh(plant.a1)


def test_the_api_reads_a_long_period_through_the_rollups(client, plant):
    from tests.histories import api_oee

    monday_of_a1()
    client.force_login(plant.manager)
    start, end = AROUND_MONDAY
    data = api_oee(client, "A1", start, end)
    assert MachineHour.objects.filter(machine=plant.a1).exists()
    expected = direct(plant.a1, start, end).as_dict()
    for name, value in expected.items():
        assert data[name] == (pytest.approx(value) if not isinstance(value, dict) else value), name


def test_an_hour_is_rolled_up_only_a_micro_stop_threshold_before_the_last_device_observation(plant):
    monday_of_a1(until=at(16, 0))  # the last reading at 16:00:30
    now = at(23)
    assert rollups.horizon(plant.a1, now) == at(15)  # 16:00:30 − 120 s, in whole hours
    assert rollups.horizon(plant.a1, at(15, 1)) == at(14)  # and never after now
    assert rollups.horizon(plant.a2, now) is None  # it never sent anything
    written = rollups.roll_up(plant.a1, now)
    assert written == 10  # 05:00 (its first observation) to 15:00
    assert rollups.roll_up(plant.a1, now) == 0  # nothing closed since


# --- any history, any period -------------------------------------------------------------------------

KINDS = ["run", "run", "stop", "jam", "changeover", "meeting", "silent", "disconnected"]
segments = st.lists(
    st.tuples(st.one_of(st.integers(20, 900), st.integers(20, 5 * 3600)), st.sampled_from(KINDS), st.integers(0, 4),
              st.booleans()),
    min_size=1, max_size=18,
)
# A Monday of A1's line, the Saturday before clocks go forward in Berlin, and the one before they go back.
STARTS = [datetime(2026, 1, 12, tzinfo=UTC), datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 10, 24, tzinfo=UTC)]


class Rollback(Exception):
    pass


@contextmanager
def rolled_back():
    """Run the block in a transaction that is undone after it: one hypothesis example, one history."""
    try:
        with transaction.atomic():
            yield
            raise Rollback
    except Rollback:
        pass


def record_history(
    code: str, start: datetime, history: list[tuple[int, str, int, bool]], ends_running: bool = True,
) -> datetime:
    """Observations of `history` (segments of (seconds, kind, rejects, scrap?)); return where it ends.

    Readings come every 10 minutes while the machine sends (its expected interval is 600 s), so a
    silent segment longer than 30 minutes is no data.
    """
    rows, cursor, total, rejects, good = [], start, 0, 0, 0
    for seconds, kind, new_rejects, scrap in history:
        end = cursor + timedelta(seconds=seconds)
        if kind == "disconnected":
            rows += [ObservationIn(code, cursor, "connected", False), ObservationIn(code, end, "connected", True)]
        elif kind != "silent":
            rows.append(ObservationIn(code, cursor, "running", kind == "run"))
            if kind in ("jam", "changeover", "meeting"):
                rows.append(ObservationIn(code, cursor, "reason", kind))
            reading = cursor
            while reading < end:
                if kind == "run":
                    made = max(int((min(reading + timedelta(minutes=10), end) - reading).total_seconds() // 2), 1)
                    total += made
                    rejects += min(new_rejects, made)
                    good += made - min(new_rejects, made)
                for signal, value in (("total_count", total), ("reject_count", rejects), ("good_count", good)):
                    rows.append(ObservationIn(code, reading, signal, value))
                reading += timedelta(minutes=10)
            if scrap:
                rows.append(ObservationIn(code, cursor + timedelta(seconds=seconds // 2), "scrap", 1))
        cursor = end
    rows.append(ObservationIn(code, cursor, "running", ends_running))
    result = record_observations(rows)
    assert not result.rejected, result.rejected[:3]
    return cursor


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(
    history=segments, base=st.sampled_from(STARTS), offset=st.integers(0, 86399),
    on_line_b=st.booleans(), threshold=st.sampled_from([60, 120, 900]), window=st.sampled_from([0, 600, 3600]),
    counter=st.sampled_from(["reject_count", "good_count", "none"]), with_order=st.booleans(),
    reads=st.lists(st.tuples(st.integers(-6 * 3600, 40 * 3600), st.integers(12 * 3600, 60 * 3600),
                             st.one_of(st.none(), st.integers(0, 50 * 3600))), min_size=1, max_size=4),
    late=st.tuples(st.integers(0, 40 * 3600), st.booleans()), ends_running=st.booleans(),
    appends=st.lists(st.tuples(st.integers(1, 1500), st.booleans()), min_size=1, max_size=4),
)
def test_any_long_period_of_any_history_reads_the_same_from_rollups(
    plant, history, base, offset, on_line_b, threshold, window, counter, with_order, reads, late, ends_running,
    appends,
):
    with rolled_back():
        machine = plant.b1 if on_line_b else plant.a1
        type(machine).objects.filter(pk=machine.pk).update(
            micro_stop_threshold=threshold, startup_window=window, quality_counter=counter, expected_interval=600)
        machine.refresh_from_db()
        start = base + timedelta(seconds=offset)
        if with_order:
            product = Product.objects.create(code="P", name="P")
            ProductCycleTime.objects.create(product=product, machine=machine, ideal_cycle_time=1.5)
            WorkOrder.objects.create(
                number="WO", product=product, quantity=10, line=machine.line, machine=machine,
                planned_start=start, planned_end=start + DAY, status=WorkOrderStatus.COMPLETED,
                actual_start=start + timedelta(hours=3), actual_end=start + timedelta(hours=20))
        end = record_history(machine.code, start, history, ends_running)
        for read_offset, length, now_offset in reads:
            period = (start + timedelta(seconds=read_offset), start + timedelta(seconds=read_offset + length))
            now = None if now_offset is None else start + timedelta(seconds=now_offset)
            assert_same(kpi.machine_result(machine, *period, now), direct(machine, *period, now))
        rollups.roll_up(machine, datetime.now(UTC))
        assert_rollups_fresh(machine)

        # Data that comes late replays the projection from its minute: the hours it changes are dropped.
        late_at = start + timedelta(seconds=min(late[0], (end - start).total_seconds()))
        record_observations([ObservationIn(machine.code, late_at, "running", late[1])])
        assert_rollups_fresh(machine)
        period = (start - timedelta(hours=1), end + timedelta(hours=1))
        assert_same(kpi.machine_result(machine, *period), direct(machine, *period))
        # And new data after the last never changes a rolled-up hour.
        rollups.roll_up(machine, datetime.now(UTC))
        hours = MachineHour.objects.filter(machine=machine).count()
        for seconds, running in appends:
            end += timedelta(seconds=seconds)
            record_observations([ObservationIn(machine.code, end, "running", running)])
            assert MachineHour.objects.filter(machine=machine).count() == hours
            assert_rollups_fresh(machine)


# --- what changes a rolled-up hour drops it ----------------------------------------------------------

def early_shift(plant) -> Shift:
    return Shift.objects.get(pattern__line=plant.line_a, weekday=0, name="Early")


CHANGES = {
    "a break added": lambda p: Break.objects.create(shift=early_shift(p), start=time(11), end=time(11, 20)),
    "a shift moved": lambda p: _with(early_shift(p), start=time(7)).save(),
    "a break removed": lambda p: Break.objects.filter(shift=early_shift(p)).delete(),
    "the shift pattern removed": lambda p: ShiftPattern.objects.filter(line=p.line_a).delete(),
    "a holiday": lambda p: CalendarException.objects.create(
        line=p.line_a, kind="holiday", name="Strike", start=at(8), end=at(9, 30)),
    "an extra shift": lambda p: CalendarException.objects.create(
        line=p.line_a, kind="extra_shift", name="Night", start=at(21), end=at(23, 30)),
    "a holiday moved": lambda p: _with(CalendarException.objects.create(
        line=p.line_b, kind="holiday", name="x", start=at(1), end=at(2)), line=p.line_a, end=at(7)).save(),
    "a shorter micro-stop threshold": lambda p: _with(p.a1, micro_stop_threshold=30).save(),
    "an in-service time": lambda p: _with(p.a1, in_service=at(7, 10)).save(),
    "another quality counter": lambda p: _with(p.a1, quality_counter="none").save(),
    "a longer startup window": lambda p: _with(p.a1, startup_window=7200).save(),
    "a reason made planned": lambda p: _with(DowntimeReason.objects.get(code="jam"), planned=True,
                                             loss_category="planned").save(),
    "a reason made a setup": lambda p: _with(DowntimeReason.objects.get(code="jam"),
                                             loss_category="setup_adjustments").save(),
    "the site in another time zone": lambda p: _with(p.site, time_zone="America/New_York").save(),
    "the machine moved to another line": lambda p: _with(p.a1, line=p.line_b).save(),
    "a reason given to an old stop": lambda p: assign_reason(p.a1, at(7, 0), "changeover", None),
    "a late reading": lambda p: record_observations([ObservationIn("A1", at(10, 15), "running", False)]),
    "an order back-dated": lambda p: WorkOrder.objects.create(
        number="WO-9", product=ProductCycleTime.objects.create(
            product=Product.objects.create(code="P9", name="P9"), machine=p.a1, ideal_cycle_time=0.8).product,
        quantity=1, line=p.line_a,
        machine=p.a1, planned_start=at(6), planned_end=at(12), status=WorkOrderStatus.COMPLETED,
        actual_start=at(6, 30), actual_end=at(11, 45)),
}


def _with(instance, **changes):
    for name, value in changes.items():
        setattr(instance, name, value)
    return instance


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_of_what_an_hour_was_drops_its_rollups(plant, change):
    monday_of_a1()
    ProductCycleTime.objects.create(product=Product.objects.create(code="P0", name="P0"), machine=plant.a1,
                                    ideal_cycle_time=3.0)
    period = (datetime(2026, 1, 11, 12, tzinfo=UTC), datetime(2026, 1, 13, 12, tzinfo=UTC))
    before = kpi.machine_result(plant.a1, *period)
    rollups.roll_up(plant.a1, datetime.now(UTC))
    assert MachineHour.objects.filter(machine=plant.a1).count() > 12

    plant.a1.refresh_from_db()  # as the admin would load it: with its first observation
    CHANGES[change](plant)

    plant.a1.refresh_from_db()
    assert_rollups_fresh(plant.a1)
    after = direct(plant.a1, *period)
    assert after != before  # the change mattered
    assert_same(kpi.machine_result(plant.a1, *period), after)
    assert_rollups_fresh(plant.a1)


def test_ideal_cycle_times_are_applied_when_read_so_a_new_one_keeps_the_rollups(plant):
    monday_of_a1()
    period = (datetime(2026, 1, 11, 12, tzinfo=UTC), datetime(2026, 1, 13, 12, tzinfo=UTC))
    kpi.machine_result(plant.a1, *period)
    hours = MachineHour.objects.filter(machine=plant.a1).count()
    plant.a1.refresh_from_db()
    _with(plant.a1, default_ideal_cycle_time=0.5).save()
    assert MachineHour.objects.filter(machine=plant.a1).count() == hours
    result = kpi.machine_result(plant.a1, *period)
    assert_same(result, direct(plant.a1, *period))
    assert result.production.ideal_seconds == result.production.total * 0.5


@pytest.mark.parametrize("restart_after", [timedelta(seconds=15), timedelta(minutes=10)])
def test_a_stop_going_on_across_an_hour_waits_a_threshold_before_its_hour_is_rolled_up(plant, restart_after):
    # Running from 08:00, read every minute; a stop at 09:59:00 still going at the last reading, 10:00:30.
    record_observations([ObservationIn("A1", at(8) + timedelta(seconds=30 + 60 * m), "total_count", 0)
                         for m in range(121)])
    record_observations([ObservationIn("A1", at(8), "running", True), ObservationIn("A1", at(9, 59), "running", False)])
    assert rollups.horizon(plant.a1, at(12)) == at(9)  # 10:00:30 − 120 s: the hour of 09:00 is not closed yet
    rollups.roll_up(plant.a1, at(12))
    assert not MachineHour.objects.filter(machine=plant.a1, hour=at(9)).exists()
    # Whether the stop is a small stop (it ends at 10:00:45) or an unplanned one depends on what comes next.
    record_observations([ObservationIn("A1", at(10, 0, 30) + restart_after, "running", True)])
    assert_rollups_fresh(plant.a1, at(12))
    record_observations([ObservationIn("A1", at(10, 30), "total_count", 10)])
    rollups.roll_up(plant.a1, at(12))
    assert MachineHour.objects.filter(machine=plant.a1, hour=at(9)).exists()
    assert_rollups_fresh(plant.a1, at(12))
    period = (at(8), at(10) + DAY)
    assert_same(kpi.machine_result(plant.a1, *period, at(12)), direct(plant.a1, *period, at(12)))


def test_a_period_that_begins_in_a_shift_keeps_the_startup_windows_it_reads_from_its_start(plant):
    # Read from 13:30, the late shift (13:00 UTC) seems to begin after unscheduled time: its two-hour
    # startup window makes the rejects up to 15:00 startup rejects. Read from the morning, it does not.
    type(plant.a1).objects.filter(pk=plant.a1.pk).update(startup_window=7200)
    plant.a1.refresh_from_db()
    rows, total = [ObservationIn("A1", at(5), "running", True)], 0
    for minute in range(12 * 60):
        total += 10
        reading = at(5, 0, 30) + timedelta(minutes=minute)
        rows += [ObservationIn("A1", reading, "total_count", total),
                 ObservationIn("A1", reading, "reject_count", minute // 10)]
    record_observations(rows)
    period = (at(13, 30), at(13, 30) + DAY)
    expected = direct(plant.a1, *period)
    assert expected.production.startup_reject == 9  # 13:30, 13:40, … 14:50
    assert_same(kpi.machine_result(plant.a1, *period), expected)
    assert direct(plant.a1, at(4), at(4) + DAY).production.startup_reject == 11  # 05:10 to 06:50


def test_a_late_reading_drops_the_hours_from_a_micro_stop_threshold_before_it(plant):
    monday_of_a1()
    rollups.roll_up(plant.a1, datetime.now(UTC))
    record_observations([ObservationIn("A1", at(10, 5), "running", False)])
    hours = set(MachineHour.objects.filter(machine=plant.a1).values_list("hour", flat=True))
    assert at(9) in hours and at(10) not in hours and at(11) not in hours
    record_observations([ObservationIn("A1", at(9, 1), "running", False)])  # 120 s reach back to 08:59
    hours = set(MachineHour.objects.filter(machine=plant.a1).values_list("hour", flat=True))
    assert at(7) in hours and at(8) not in hours


def test_the_rollups_of_an_hour_hold_its_parts_per_order_unresolved(plant):
    monday_of_a1()
    rollups.roll_up(plant.a1, datetime.now(UTC))
    row = OrderHour.objects.get(machine=plant.a1, hour=at(6))
    # 06:00–06:30 a jam: 30 running minutes of 50 parts, a reject at 06:34 and 06:51.
    assert (row.work_order_id, row.total_count, row.reject_count) == (None, 50 * 30, 2)
    assert StateInterval.objects.filter(machine=plant.a1).exists()


def test_a_long_period_across_a_silence_reads_the_same_while_it_is_open_and_once_data_comes_back(plant):
    # B1 (around the clock, a reading a minute expected) runs 10 h, is silent 5 h, then sends again. A day
    # read through the rollups during the silence must not change once data comes back.
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    back = now - timedelta(minutes=10)
    silent_from = back - timedelta(hours=5)
    record_observations([ObservationIn("B1", silent_from - timedelta(minutes=m), "running", True)
                         for m in range(600, -1, -1)])
    start = back - timedelta(hours=23, minutes=17)
    during = kpi.machine_result(plant.b1, start, back, now)
    assert (during.times.run, during.times.no_data) == (10 * 3600 + 180, 5 * 3600 - 180)
    assert MachineHour.objects.filter(machine=plant.b1).exists()  # the hours up to the silence are rolled up
    record_observations([ObservationIn("B1", back, "running", True)])
    after = kpi.machine_result(plant.b1, start, back, now)
    assert (after.times.run, after.times.no_data) == (during.times.run, during.times.no_data)
    assert_same(after, direct(plant.b1, start, back, now))
