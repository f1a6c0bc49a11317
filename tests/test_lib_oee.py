"""The OEE arithmetic with plain numbers: published examples and hand-computed cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring.lib.oee import (
    NO_DATA_TIME,
    OUTSIDE_PRODUCTION,
    RUN,
    SETUP_ADJUSTMENTS,
    SMALL_STOP,
    UNPLANNED_STOP,
    Production,
    StateSpan,
    TimeBreakdown,
    classify,
    classify_time,
    downtime_by_reason,
    figures,
    resolve_quality,
    split,
    state_now,
    stretches,
    time_breakdown,
)

H = 3600.0
M = 60.0


def production(total: int, reject: int, ict: float) -> Production:
    good = total - reject
    return Production(
        total=total, good=good, reject=reject, ideal_seconds=total * ict, ideal_good_seconds=good * ict,
        reject_seconds=reject * ict,
    )


def test_it_reproduces_the_published_oee_com_worked_example():
    # oee.com "Calculate OEE": 8 h shift, two 15-min breaks and a 30-min meal, 47 min down,
    # ideal cycle time 1.0 s, 19,271 made, 423 rejected → A 88.81 %, P 86.11 %, Q 97.80 %, OEE 74.79 %.
    shift = (0.0, 8 * H)
    breaks = [(2 * H, 2 * H + 15 * M), (4 * H, 4 * H + 30 * M), (6 * H, 6 * H + 15 * M)]
    states = [
        StateSpan(0, 1 * H, "running"),
        StateSpan(1 * H, 1 * H + 47 * M, "stopped", loss_category="equipment_failure"),
        StateSpan(1 * H + 47 * M, 8 * H, "running"),
    ]
    times = classify_time(shift, [shift], breaks, states, micro_stop_threshold=120)
    assert times.planned_production == 420 * M
    assert times.run == 373 * M
    result = figures(times, production(19271, 423, 1.0))
    assert result.availability == pytest.approx(0.8881, abs=5e-5)
    assert result.performance == pytest.approx(0.8611, abs=5e-5)
    assert result.quality == pytest.approx(0.9780, abs=5e-5)
    assert result.oee == pytest.approx(0.7479, abs=5e-5)
    assert result.oee == pytest.approx(result.availability * result.performance * result.quality)


def test_no_production_gives_zero_oee_and_no_quality():
    times = classify_time((0, H), [(0, H)], [], [StateSpan(0, H, "stopped")], 120)
    result = figures(times, Production())
    assert (result.availability, result.oee, result.quality) == (0.0, 0.0, None)
    assert result.performance is None  # no run time to judge speed by
    assert result.losses["equipment_failure"] == H


def test_a_period_that_is_all_planned_stop_has_null_ratios_not_a_crash():
    times = classify_time((0, H), [(0, H)], [(0, H)], [StateSpan(0, H, "stopped")], 120)
    assert times.planned_production == 0
    result = figures(times, Production())
    assert (result.availability, result.performance, result.quality, result.oee) == (None, None, None, None)
    assert result.teep == 0.0


def test_time_outside_every_shift_is_not_scheduled():
    times = classify_time((0, 24 * H), [(6 * H, 14 * H)], [], [StateSpan(0, 24 * H, "running")], 120)
    assert times.all_time == 24 * H
    assert times.scheduled == times.planned_production == times.run == 8 * H


@pytest.mark.parametrize(("stop_seconds", "unplanned"), [(119.0, 0.0), (120.0, 120.0), (121.0, 121.0)])
def test_a_stop_exactly_at_the_micro_stop_threshold_is_unplanned(stop_seconds, unplanned):
    states = [StateSpan(0, 1000, "running"), StateSpan(1000, 1000 + stop_seconds, "stopped"),
              StateSpan(1000 + stop_seconds, 3600, "running")]
    times = classify_time((0, 3600), [(0, 3600)], [], states, micro_stop_threshold=120)
    assert times.unplanned_stop == unplanned
    assert times.small_stop == (stop_seconds if not unplanned else 0.0)
    assert times.run == 3600 - unplanned


def test_a_stop_split_into_two_reasons_is_judged_by_its_whole_length():
    states = [StateSpan(0, 100, "running"), StateSpan(100, 160, "stopped", loss_category="equipment_failure"),
              StateSpan(160, 250, "stopped", loss_category="setup_adjustments"), StateSpan(250, 600, "running")]
    times = classify_time((0, 600), [(0, 600)], [], states, micro_stop_threshold=120)
    assert (times.equipment_failure, times.setup_adjustments, times.small_stop) == (60, 90, 0)


def test_a_long_stop_reaching_into_the_period_is_unplanned_even_if_its_part_inside_is_short():
    states = [StateSpan(-500, 30, "stopped"), StateSpan(30, 3600, "running")]
    times = classify_time((0, 3600), [(0, 3600)], [], states, micro_stop_threshold=120)
    assert times.unplanned_stop == 30


def test_planned_reason_stops_leave_planned_production_time():
    states = [StateSpan(0, 600, "running"), StateSpan(600, 1200, "stopped", planned=True, loss_category="planned"),
              StateSpan(1200, 3600, "running")]
    times = classify_time((0, 3600), [(0, 3600)], [], states, 120)
    assert (times.planned_stop, times.planned_production, times.run) == (600, 3000, 3000)


def test_no_data_counts_as_unplanned_stop_whatever_its_length():
    states = [StateSpan(0, 1000, "running"), StateSpan(1000, 1030, "no-data"), StateSpan(1030, 3000, "running")]
    times = classify_time((0, 3600), [(0, 3600)], [], states, 120)
    assert times.no_data == 30 + 600  # the short gap, and the uncovered tail
    assert times.unplanned_stop == 630


def test_teep_relates_oee_to_all_time():
    times = classify_time((0, 24 * H), [(6 * H, 14 * H)], [], [StateSpan(6 * H, 14 * H, "running")], 120)
    result = figures(times, production(28800, 0, 1.0))
    assert result.oee == 1.0
    assert result.teep == pytest.approx(8 / 24)


def test_aggregation_of_two_machines_with_different_ideal_cycle_times_sums_times_and_counts():
    # Machine 1: 1 h planned, 3000 parts at 1 s, all good.
    # Machine 2: 2 h planned, 1 h of it stopped, 900 parts at 2 s, 100 rejected.
    one = classify_time((0, H), [(0, H)], [], [StateSpan(0, H, "running")], 120)
    two = classify_time((0, 2 * H), [(0, 2 * H)], [], [StateSpan(0, H, "running"), StateSpan(H, 2 * H, "stopped")], 120)
    p1, p2 = production(3000, 0, 1.0), production(900, 100, 2.0)
    combined = figures(one + two, p1 + p2)
    assert combined.availability == pytest.approx(2 * H / (3 * H))
    assert combined.performance == pytest.approx((3000 * 1.0 + 900 * 2.0) / (2 * H))
    assert combined.quality == pytest.approx(3800 / 3900)
    assert combined.oee == pytest.approx((3000 * 1.0 + 800 * 2.0) / (3 * H))
    # ... which is not the average of the two machines' OEE.
    average = (figures(one, p1).oee + figures(two, p2).oee) / 2
    assert combined.oee != pytest.approx(average)


def test_the_six_big_losses_add_up_to_planned_production_time_minus_fully_productive_time():
    states = [StateSpan(0, 1000, "running"), StateSpan(1000, 1060, "stopped"),
              StateSpan(1060, 2000, "running"), StateSpan(2000, 2600, "stopped", loss_category="setup_adjustments"),
              StateSpan(2600, 3600, "running")]
    times = classify_time((0, 3600), [(0, 3600)], [], states, 120)
    made = Production(total=2500, good=2400, reject=100, startup_reject=30, ideal_seconds=2500,
                      ideal_good_seconds=2400, reject_seconds=100, startup_reject_seconds=30)
    result = figures(times, made)
    assert result.losses == {
        "equipment_failure": 0, "setup_adjustments": 600, "small_stops": 60,
        "reduced_speed": 3000 - 60 - 2500, "production_rejects": 70, "startup_rejects": 30,
    }
    assert sum(result.losses.values()) == pytest.approx(times.planned_production - made.ideal_good_seconds)
    assert result.reject_parts == {"production_rejects": 70, "startup_rejects": 30}


def test_time_breakdowns_add_field_by_field():
    assert TimeBreakdown(run=1, scheduled=2) + TimeBreakdown(run=3, no_data=4) == TimeBreakdown(
        run=4, scheduled=2, no_data=4)


@pytest.mark.parametrize(("counter", "expected"), [
    ("reject_count", (95, 5)),  # 3 counted rejects + 2 scrapped by hand
    ("good_count", (88, 12)),   # 90 counted good, 2 of them scrapped by hand
    ("none", (98, 2)),
])
def test_quality_comes_from_whichever_counter_the_machine_has(counter, expected):
    assert resolve_quality(total_count=100, good=90, reject=3, scrap=2, quality_counter=counter) == expected


# --- the one classification, and the folds over it ----------------------------------------------

def test_every_second_of_planned_production_time_is_classified_once_with_its_reason():
    states = [
        StateSpan(0, 600, "running"),
        StateSpan(600, 660, "stopped"),  # a minute: small stop
        StateSpan(660, 1800, "running"),
        StateSpan(1800, 2400, "stopped", loss_category="equipment_failure", reason="jam", reason_name="Jam"),
        StateSpan(2400, 3000, "running"),
    ]
    result = classify((0, H), [(0, H)], [], states, micro_stop_threshold=120)
    assert [(p.start, p.end, p.kind) for p in result.pieces] == [
        (0, 600, RUN), (600, 660, SMALL_STOP), (660, 1800, RUN), (1800, 2400, UNPLANNED_STOP), (2400, 3000, RUN),
        (3000, H, NO_DATA_TIME),  # no span covers the end: no data
    ]
    assert sum(p.seconds for p in result.pieces) == result.scheduled == H
    assert downtime_by_reason(result) == {"Small stops": 60, "Jam": 600, "No data": 600}
    times = time_breakdown(result)
    assert times.unplanned_stop == 600 + 600 and times.run == 600 + 60 + 1140 + 600


def test_the_stop_list_is_the_spans_with_gaps_as_no_data_and_only_unexplained_long_stops_need_a_reason():
    states = [StateSpan(0, 100, "running"), StateSpan(100, 400, "stopped"), StateSpan(500, 560, "stopped")]
    rows = stretches(states, 0, 1000, now=600, micro_stop_threshold=120)
    assert [(r.span.start, r.span.end, r.span.state, r.needs_reason) for r in rows] == [
        (0, 100, "running", False),
        (100, 400, "stopped", True),
        (400, 500, "no-data", False),  # the gap: unplanned, but no reason can be given to it
        (500, 560, "stopped", False),  # 60 s: a small stop
        (560, 600, "no-data", False),
    ]
    assert rows[-1].span.still_going and rows[2].unplanned


def test_the_state_now_is_the_newest_span_while_data_comes_and_no_data_after():
    going = StateSpan(100, 500, "running", still_going=True)
    assert state_now([StateSpan(0, 100, "stopped"), going]) is going
    quiet = state_now([StateSpan(0, 300, "running")])  # the data stopped at 300
    assert (quiet.state, quiet.start, quiet.reason) == ("no-data", 300, "no-data")
    assert state_now([]) is None


@pytest.mark.parametrize(("counter", "good", "reject", "scrap", "expected"), [
    ("reject_count", 0, 12, 0, (0, 10)),   # the reject counter was read after the part counter
    ("reject_count", 0, 5, 9, (0, 10)),    # scrap entered on top
    ("good_count", 14, 0, 0, (10, 0)),     # the good counter ahead of the total
    ("good_count", 3, 0, 9, (0, 10)),
])
def test_good_and_rejected_parts_stay_within_the_parts_made(counter, good, reject, scrap, expected):
    assert resolve_quality(total_count=10, good=good, reject=reject, scrap=scrap, quality_counter=counter) == expected


def test_a_stop_wholly_outside_planned_production_time_needs_no_reason():
    states = [StateSpan(0, 100, "running"), StateSpan(100, 400, "stopped"), StateSpan(400, 500, "running"),
              StateSpan(500, 900, "stopped"), StateSpan(900, 1000, "running")]
    production = classify((0, 1000), [(0, 1000)], [(80, 450)], states, micro_stop_threshold=120).production
    assert production == ((0, 80), (450, 1000))
    rows = stretches(states, 0, 1000, now=1000, micro_stop_threshold=120, production=production)
    assert [(r.span.start, r.kind, r.needs_reason) for r in rows if r.span.state == "stopped"] == [
        (100, OUTSIDE_PRODUCTION, False),  # inside the break
        (500, UNPLANNED_STOP, True),
    ]


def test_a_stop_reaching_into_the_period_from_production_time_before_it_keeps_its_worth():
    # The period starts with a break; the stop began before the period, in production time.
    states = [StateSpan(-600, 300, "stopped"), StateSpan(300, 1000, "running")]
    production = classify((0, 1000), [(-3600, 1000)], [(0, 400)], states, micro_stop_threshold=120).production
    rows = stretches(states, 0, 1000, now=1000, micro_stop_threshold=120, production=production)
    assert (rows[0].kind, rows[0].needs_reason) == (UNPLANNED_STOP, True)


# --- a classification cut into hours: what the hourly rollups store -------------------------------

def test_a_stop_cut_by_an_hour_keeps_the_worth_of_its_whole_episode():
    # A 90-s stop across the hour is a small stop on both sides; a 200-s one is unplanned on both.
    states = [StateSpan(0, H - 45, "running"), StateSpan(H - 45, H + 45, "stopped"),
              StateSpan(H + 45, 2 * H - 100, "running"), StateSpan(2 * H - 100, 2 * H + 100, "stopped"),
              StateSpan(2 * H + 100, 3 * H, "running")]
    whole = classify((0, 3 * H), [(0, 3 * H)], [], states, micro_stop_threshold=120)
    hours = split(whole, [0, H, 2 * H, 3 * H])
    assert [time_breakdown(h).small_stop for h in hours] == [45, 45, 0]
    assert [time_breakdown(h).unplanned_stop for h in hours] == [0, 100, 100]
    # As each hour alone gives it, reading the same states.
    assert [time_breakdown(h) for h in hours] == [
        time_breakdown(classify((a, a + H), [(0, 3 * H)], [], states, micro_stop_threshold=120))
        for a in (0, H, 2 * H)
    ]


spans_strategy = st.lists(
    st.tuples(st.integers(1, 4000), st.sampled_from(["running", "stopped", "planned", "setup", "no-data", "gap"])),
    max_size=40,
)


def _states(draws: list[tuple[int, str]]) -> list[StateSpan]:
    states, cursor = [], 0.0
    for length, kind in draws:
        if kind != "gap":
            states.append(StateSpan(
                cursor, cursor + length, "stopped" if kind in ("planned", "setup") else kind,
                planned=kind == "planned", loss_category={"planned": "planned", "setup": SETUP_ADJUSTMENTS}.get(kind),
            ))
        cursor += length
    return states


@given(draws=spans_strategy, shifts=st.lists(st.tuples(st.integers(0, 30000), st.integers(1, 20000)), max_size=6),
       breaks=st.lists(st.tuples(st.integers(0, 30000), st.integers(1, 3000)), max_size=4),
       threshold=st.sampled_from([0, 60, 120, 900]), in_service=st.integers(0, 20000),
       start=st.integers(0, 5000), cuts=st.lists(st.integers(1, 40000), min_size=1, max_size=12))
def test_the_pieces_of_a_classification_add_up_to_the_whole_and_equal_each_piece_classified_alone(
    draws, shifts, breaks, threshold, in_service, start, cuts,
):
    states = _states(draws)
    scheduled = [(a, a + n) for a, n in shifts]
    planned = [(a, a + n) for a, n in breaks]
    boundaries = sorted({start, *(start + c for c in cuts)})
    period = (boundaries[0], boundaries[-1])
    whole = classify(period, scheduled, planned, states, threshold, in_service)
    pieces = split(whole, boundaries)
    summed = sum((time_breakdown(p) for p in pieces), TimeBreakdown())
    for name, value in vars(time_breakdown(whole)).items():
        assert getattr(summed, name) == pytest.approx(value, abs=1e-6), name
    for (a, b), piece in zip(zip(boundaries, boundaries[1:]), pieces):
        alone = classify((a, b), scheduled, planned, states, threshold, in_service)
        assert time_breakdown(piece) == time_breakdown(alone)
        assert downtime_by_reason(piece) == downtime_by_reason(alone)
