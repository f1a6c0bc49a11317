"""MTBF, MTTR (ISO 22400-2) and the change between two periods, with plain numbers."""

from __future__ import annotations

import pytest

from monitoring.lib.reliability import change_percent, mean_operating_time_between_failures, mean_time_to_repair


def test_mtbf_is_the_operating_time_shared_among_the_stretches_the_failures_leave():
    # 3 failures cut 30 h of operation into 4 stretches.
    assert mean_operating_time_between_failures(30 * 3600, 3) == pytest.approx(7.5 * 3600)


def test_without_a_failure_mtbf_is_the_whole_operating_time():
    assert mean_operating_time_between_failures(8 * 3600, 0) == 8 * 3600


def test_without_operating_time_there_is_no_mtbf():
    assert mean_operating_time_between_failures(0, 0) is None
    assert mean_operating_time_between_failures(0, 2) is None


def test_mttr_is_the_mean_length_of_the_failures():
    assert mean_time_to_repair([600, 1200, 2700]) == 1500
    assert mean_time_to_repair([]) is None


def test_change_is_in_percent_of_the_before_figure():
    assert change_percent(10.0, 7.8) == pytest.approx(-22.0)
    assert change_percent(4.0, 5.0) == pytest.approx(25.0)
    assert change_percent(3.0, 0.0) == -100.0


def test_from_nothing_there_is_no_percent_of_change():
    assert change_percent(0.0, 0.0) == 0.0
    assert change_percent(0.0, 2.5) is None
