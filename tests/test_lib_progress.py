"""An order's pace, ETA and lateness with plain numbers (monitoring/lib/progress.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.lib.progress import (
    Pace,
    eta_seconds,
    ideal_parts_per_minute,
    late_seconds,
    lateness_text,
    rate_text,
)

PLANNED_END = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def test_the_pace_is_parts_a_minute_over_the_run_time_in_the_window_stops_included():
    # 15 minutes of run window, of which the machine stood for 5: 300 parts is 20 a minute, not 30.
    assert Pace(parts=300, good=290, seconds=900).parts_per_minute == pytest.approx(20.0)


def test_an_order_that_ran_less_than_a_minute_has_no_pace_yet():
    assert Pace(parts=10, good=10, seconds=59).parts_per_minute is None
    assert eta_seconds(100, Pace(parts=10, good=10, seconds=59)) is None


def test_the_ideal_pace_of_machines_together_adds_their_parts_a_minute():
    assert ideal_parts_per_minute([0.5]) == pytest.approx(120.0)
    assert ideal_parts_per_minute([1.0, 2.0]) == pytest.approx(90.0)


def test_the_eta_is_the_parts_to_go_at_the_recent_rate_of_good_parts():
    # 450 good parts in 900 s is one every 2 s: 1,230 to go take 2,460 s.
    assert eta_seconds(1230, Pace(parts=460, good=450, seconds=900)) == pytest.approx(2460.0)


def test_a_stop_slows_the_forecast_and_a_long_one_leaves_none():
    running = eta_seconds(600, Pace(parts=600, good=600, seconds=900))
    stopped_a_third = eta_seconds(600, Pace(parts=400, good=400, seconds=900))
    assert stopped_a_third == pytest.approx(running * 1.5)
    assert eta_seconds(600, Pace(parts=0, good=0, seconds=900)) is None


def test_an_order_that_made_its_quantity_is_due_now():
    assert eta_seconds(0, Pace(parts=0, good=0, seconds=0)) == 0.0
    assert eta_seconds(-5, Pace(parts=0, good=0, seconds=0)) == 0.0


def test_lateness_is_the_end_against_the_planned_end():
    now = PLANNED_END - timedelta(hours=1)
    assert late_seconds(PLANNED_END, PLANNED_END + timedelta(minutes=12), now) == 720.0
    assert late_seconds(PLANNED_END, PLANNED_END - timedelta(minutes=5), now) == -300.0


def test_without_a_forecast_an_order_past_its_planned_end_is_late_by_at_least_the_time_since():
    assert late_seconds(PLANNED_END, None, PLANNED_END + timedelta(minutes=20)) == 1200.0
    assert late_seconds(PLANNED_END, None, PLANNED_END - timedelta(minutes=20)) is None


@pytest.mark.parametrize(("seconds", "text"), [
    (720, "12 min late"), (-300, "5 min early"), (4500, "1 h 15 min late"), (-3600, "1 h 00 min early"),
    (59, "on time"), (-59, "on time"), (89, "1 min late"), (None, ""),
])
def test_lateness_reads_in_minutes_and_hours(seconds, text):
    assert lateness_text(seconds) == text


def test_a_pace_reads_per_minute_or_per_hour_for_a_slow_machine():
    assert rate_text(11.84, 12.0) == ("11.8/min", "12.0/min")
    assert rate_text(118.4, 120.0) == ("118/min", "120/min")
    assert rate_text(1500.0, 2000.0) == ("1,500/min", "2,000/min")
    # Ten minutes a part: per hour.
    assert rate_text(0.05, 0.1) == ("3.0/h", "6.0/h")
    assert rate_text(None, 12.0) == ("—/min", "12.0/min")
