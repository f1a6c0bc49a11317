"""Which order parts belong to, with plain values: run windows, a machine's own order first, what changed,
which order ran last before an instant and how long orders ran in a stretch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from planning.lib.orders import RunWindow, changed_range, order_at, previous_order, run_seconds

T = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T + timedelta(hours=hours)


def test_a_count_belongs_to_the_order_whose_window_holds_it():
    windows = [RunWindow(1, h(0), h(2), machine_specific=True), RunWindow(2, h(2), None, machine_specific=True)]
    assert order_at(windows, h(-0.1)) is None
    assert order_at(windows, h(0)) == 1  # the start belongs to the window
    assert order_at(windows, h(2)) == 2  # the end does not
    assert order_at(windows, h(30)) == 2  # an open window runs on


def test_a_machines_own_order_wins_over_one_for_its_whole_line():
    windows = [RunWindow(7, h(0), None, machine_specific=False), RunWindow(8, h(1), h(2), machine_specific=True)]
    assert [order_at(windows, h(x)) for x in (0.5, 1.5, 2.5)] == [7, 8, 7]


def test_moving_a_start_back_changes_only_the_time_in_between():
    now = h(5)
    assert changed_range([(h(2), None)], [(h(1), None)], now) == (h(1), h(2))
    assert changed_range([(h(1), h(3))], [(h(1), h(4))], now) == (h(3), h(4))
    assert changed_range([(h(1), None)], [(h(1), h(3))], now) == (h(3), now)  # ended: the rest is no longer its
    assert changed_range([(h(1), None)], [(h(1), None)], now) is None


def test_a_window_that_appears_or_vanishes_changes_all_of_itself():
    now = h(5)
    assert changed_range([], [(h(1), h(2))], now) == (h(1), h(2))
    assert changed_range([(h(1), None)], [], now) == (h(1), now)


def test_the_previous_order_is_the_one_whose_window_reaches_latest_before_the_instant():
    windows = [RunWindow(1, h(0), h(2), machine_specific=True), RunWindow(2, h(2), h(3), machine_specific=True),
               RunWindow(1, h(3.5), h(4), machine_specific=True)]  # order 1 paused at 2, resumed at 3.5
    assert previous_order(windows, h(5)) == 1
    assert previous_order(windows, h(3.2)) == 2
    assert previous_order(windows, h(1)) == 1  # still in its window: it is what ran last
    assert previous_order(windows, h(0)) is None  # nothing had started yet
    assert previous_order([], h(5)) is None


def test_on_a_tie_the_machines_own_order_was_the_previous_one():
    windows = [RunWindow(7, h(0), h(2), machine_specific=False), RunWindow(8, h(1), h(2), machine_specific=True)]
    assert previous_order(windows, h(3)) == 8


def test_run_seconds_count_only_the_windows_inside_the_stretch():
    windows = [(h(0), h(1)), (h(1.5), None)]  # paused from 1 to 1.5, running since
    assert run_seconds(windows, h(0.75), h(2)) == 0.25 * 3600 + 0.5 * 3600
    assert run_seconds(windows, h(1.1), h(1.4)) == 0.0
    assert run_seconds([], h(0), h(1)) == 0.0
