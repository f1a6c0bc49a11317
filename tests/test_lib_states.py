"""The machine state machine with plain values: states from signals, the fold, and resuming it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.lib.states import (
    NO_DATA,
    RUNNING,
    STOPPED,
    MachineRules,
    Obs,
    Snapshot,
    derive_state,
    replay,
)

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
RULES = MachineRules(counter_modulus=1 << 16, fastest_cycle_time=1.0, expected_interval=60,
                     fault_reasons={7: "jam"})


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(("signals", "expected"), [
    ({"running": True}, (RUNNING, None)),
    ({"running": False}, (STOPPED, None)),
    ({"running": True, "fault": True}, (STOPPED, None)),
    ({"running": True, "fault": 12}, (STOPPED, 12)),
    ({"running": True, "fault": 0}, (RUNNING, None)),  # fault code 0 is no fault
    ({"packml_state": 6, "running": False}, (RUNNING, None)),  # PackML Execute wins over the running bit
    ({"packml_state": 5}, (STOPPED, None)),
    ({"running": True, "connected": False}, (NO_DATA, None)),
    ({}, (NO_DATA, None)),
])
def test_the_state_follows_from_the_latest_signals(signals, expected):
    assert derive_state(signals) == expected


def test_a_mapped_fault_gives_the_stop_its_reason_and_it_stays_when_the_fault_clears():
    result = replay(Snapshot(), [
        Obs(s(0), "running", True), Obs(s(60), "fault", 7), Obs(s(120), "fault", 0), Obs(s(120), "running", False),
    ], RULES)
    assert [(i.start, i.state, i.reason, i.fault_code) for i in result.intervals] == [
        (s(0), RUNNING, None, None), (s(60), STOPPED, "jam", 7), (s(120), STOPPED, "jam", None),
    ]


def test_silence_of_more_than_three_expected_intervals_is_no_data_three_intervals_after_the_last_reading():
    # The last state holds as long as an open silence counts it (kpi.data_ends_at): one rule, open or over.
    result = replay(Snapshot(), [Obs(s(0), "running", True), Obs(s(30), "running", True),
                                 Obs(s(211), "running", True)], RULES)
    assert [(i.start, i.end, i.state) for i in result.intervals] == [
        (s(0), s(210), RUNNING), (s(210), s(211), NO_DATA), (s(211), None, RUNNING),
    ]
    assert [e.kind for e in result.events if e.kind == "no_data"] == ["no_data"]


def test_silence_of_exactly_three_expected_intervals_is_not_a_gap():
    result = replay(Snapshot(), [Obs(s(0), "running", True), Obs(s(180), "running", True)], RULES)
    assert [i.state for i in result.intervals] == [RUNNING]


def test_counter_deltas_across_a_rollover_are_counted_and_reported():
    result = replay(Snapshot(), [Obs(s(0), "total_count", 65530), Obs(s(10), "total_count", 4)], RULES)
    assert [(c.signal, c.parts) for c in result.counts] == [("total_count", 10)]
    assert [e.kind for e in result.events if e.kind != "state_change"] == ["rollover"]


def test_an_implausible_jump_is_not_counted():
    # 10 s at a fastest cycle time of 1 s allows 3 × 10 + 10 = 40 parts.
    result = replay(Snapshot(), [Obs(s(0), "total_count", 100), Obs(s(10), "total_count", 5000)], RULES)
    assert result.counts == []
    assert [e.kind for e in result.events if e.kind != "state_change"] == ["rejected_jump"]


def test_the_fold_resumed_from_its_snapshot_gives_what_one_pass_gives():
    stream = [Obs(s(0), "running", True), Obs(s(0), "total_count", 0), Obs(s(30), "total_count", 20),
              Obs(s(40), "running", False), Obs(s(45), "reason", "jam"), Obs(s(90), "running", True),
              Obs(s(95), "total_count", 25)]
    whole = replay(Snapshot(), stream, RULES)
    first = replay(Snapshot(), stream[:4], RULES)
    rest = replay(first.snapshot, stream[4:], RULES)
    assert [(c.ts, c.parts) for c in whole.counts] == [(c.ts, c.parts) for c in first.counts + rest.counts]
    stitched = first.intervals[:-1] + rest.intervals
    assert [(i.start, i.state, i.reason) for i in whole.intervals] == [(i.start, i.state, i.reason) for i in stitched]


def test_the_order_observations_arrive_in_does_not_matter():
    stream = [Obs(s(0), "running", True), Obs(s(10), "running", False), Obs(s(10), "reason", "jam"),
              Obs(s(20), "running", True), Obs(s(20), "total_count", 3), Obs(s(5), "total_count", 1)]
    forward = replay(Snapshot(), stream, RULES)
    backward = replay(Snapshot(), list(reversed(stream)), RULES)
    assert forward.intervals == backward.intervals and forward.counts == backward.counts
