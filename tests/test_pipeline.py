"""The observation pipeline against a real database: states, counts, events, idempotency."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring.collectors.records import Sample
from monitoring.collectors.wiring import pipeline_sink
from monitoring.models import CountBucket, Event, Observation, StateInterval
from monitoring.pipeline import BatchRejected, ObservationIn, record_observations

T0 = datetime(2026, 1, 12, 8, 0, tzinfo=UTC)  # a Monday, inside line A's early shift


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def obs(machine: str, seconds: float, signal: str, value) -> ObservationIn:
    return ObservationIn(machine, at(seconds), signal, value)


def derived(machine) -> dict:
    """Everything the pipeline derives for a machine, in a comparable form."""
    return {
        "intervals": list(StateInterval.objects.filter(machine=machine).order_by("start").values_list(
            "start", "end", "state", "reason__code", "fault_code")),
        "buckets": list(CountBucket.objects.filter(machine=machine).order_by("minute", "work_order").values_list(
            "minute", "work_order", "total_count", "good_count", "reject_count", "scrap_count")),
        "events": sorted(
            (ts, kind, sorted(detail.items()))
            for ts, kind, detail in Event.objects.filter(machine=machine).values_list("ts", "kind", "detail")
        ),
    }


def total_parts(machine) -> int:
    return sum(CountBucket.objects.filter(machine=machine).values_list("total_count", flat=True))


def test_running_and_stopping_makes_contiguous_intervals_with_the_last_open(plant):
    record_observations([obs("A1", 0, "running", True), obs("A1", 30, "running", False),
                         obs("A1", 90, "running", "1")])
    rows = list(StateInterval.objects.filter(machine=plant.a1).values_list("start", "end", "state"))
    assert rows == [(at(0), at(30), "running"), (at(30), at(90), "stopped"), (at(90), None, "running")]
    kinds = list(Event.objects.filter(machine=plant.a1).values_list("kind", flat=True))
    assert kinds == ["state_change"] * 3


def test_a_fault_code_stops_the_machine_with_the_mapped_reason(plant):
    record_observations([obs("A1", 0, "running", True), obs("A1", 10, "fault", 7), obs("A1", 10, "running", False),
                         obs("A1", 100, "fault", 0), obs("A1", 150, "running", True)])
    rows = list(StateInterval.objects.filter(machine=plant.a1).values_list("state", "reason__code", "fault_code"))
    # The fault clears at 100 while the machine still waits: the same stop keeps its reason.
    assert rows == [("running", None, None), ("stopped", "jam", 7), ("stopped", "jam", None), ("running", None, None)]


def test_an_unmapped_fault_code_is_an_unexplained_stop_that_keeps_its_code(plant):
    record_observations([obs("A1", 0, "running", True), obs("A1", 10, "fault", 99)])
    last = StateInterval.objects.filter(machine=plant.a1).last()
    assert (last.state, last.reason, last.fault_code) == ("stopped", None, 99)


def test_packml_execute_is_running_and_other_states_are_stopped(plant):
    record_observations([obs("A2", 0, "packml_state", 6), obs("A2", 60, "packml_state", 5),
                         obs("A2", 120, "packml_state", 6)])
    states = list(StateInterval.objects.filter(machine=plant.a2).values_list("state", flat=True))
    assert states == ["running", "stopped", "running"]


def test_it_counts_across_the_16_bit_rollover_at_65535(plant):
    record_observations([obs("A1", 0, "total_count", 65530), obs("A1", 10, "total_count", 65535),
                         obs("A1", 20, "total_count", 4)])
    assert total_parts(plant.a1) == 5 + 5
    assert Event.objects.get(machine=plant.a1, kind="rollover").detail["counted"] == 5


def test_it_counts_across_the_32_bit_rollover_at_4294967295(plant):
    record_observations([obs("B1", 0, "total_count", 4294967290), obs("B1", 5, "total_count", 4294967295),
                         obs("B1", 10, "total_count", 3)])
    assert total_parts(plant.b1) == 5 + 4
    assert Event.objects.filter(machine=plant.b1, kind="rollover").count() == 1


def test_a_reset_counts_from_zero(plant):
    record_observations([obs("A1", 0, "total_count", 30000), obs("A1", 10, "total_count", 30008),
                         obs("A1", 20, "total_count", 3)])
    assert total_parts(plant.a1) == 8 + 3
    assert Event.objects.filter(machine=plant.a1, kind="reset").count() == 1


def test_an_implausible_jump_is_flagged_and_counting_resumes_from_there(plant):
    record_observations([obs("A1", 0, "total_count", 100), obs("A1", 10, "total_count", 50000),
                         obs("A1", 20, "total_count", 50006)])
    assert total_parts(plant.a1) == 6
    event = Event.objects.get(machine=plant.a1, kind="rejected_jump")
    assert event.detail["jump"] == 49900


def test_a_gap_of_more_than_three_expected_intervals_is_no_data(plant):
    # A1 expects an observation at least every 60 s: 181 s of silence is a gap, 180 s is not.
    record_observations([obs("A1", 0, "running", True), obs("A1", 180, "running", True),
                         obs("A1", 361, "running", True)])
    rows = list(StateInterval.objects.filter(machine=plant.a1).values_list("start", "end", "state"))
    # The state holds for three intervals after the last reading (at 180 s), then no-data until data comes back.
    assert rows == [(at(0), at(360), "running"), (at(360), at(361), "no-data"), (at(361), None, "running")]
    assert Event.objects.filter(machine=plant.a1, kind="no_data").count() == 1


def test_a_collector_reporting_the_device_lost_puts_the_machine_in_no_data(plant):
    record_observations([obs("A1", 0, "running", True), obs("A1", 3, "connected", False),
                         obs("A1", 20, "connected", True)])
    states = list(StateInterval.objects.filter(machine=plant.a1).values_list("state", flat=True))
    assert states == ["running", "no-data", "running"]


def test_a_reason_applies_to_the_stop_in_progress_and_can_split_it(plant):
    plant.a1.expected_interval = 600
    plant.a1.save()
    record_observations([obs("A1", 0, "running", True), obs("A1", 100, "running", False),
                         obs("A1", 700, "running", True)])
    record_observations([obs("A1", 100, "reason", "jam"), obs("A1", 400, "reason", "changeover")])
    rows = list(StateInterval.objects.filter(machine=plant.a1).values_list("start", "end", "state", "reason__code"))
    assert rows == [
        (at(0), at(100), "running", None), (at(100), at(400), "stopped", "jam"),
        (at(400), at(700), "stopped", "changeover"), (at(700), None, "running", None),
    ]


def test_reasons_entered_by_people_do_not_hide_a_gap_in_device_data(plant):
    record_observations([obs("A1", 0, "running", True), obs("A1", 100, "running", False),
                         obs("A1", 250, "reason", "jam"), obs("A1", 400, "running", False)])
    states = list(StateInterval.objects.filter(machine=plant.a1).values_list("start", "state", "reason__code"))
    # The reason at 250 s is no device data (it splits the stop): the stop holds until 100 s + 3 × 60 s.
    assert states == [(at(0), "running", None), (at(100), "stopped", None), (at(250), "stopped", "jam"),
                      (at(280), "no-data", None), (at(400), "stopped", None)]


def test_a_reason_while_running_changes_nothing(plant):
    record_observations([obs("A1", 0, "running", True), obs("A1", 10, "reason", "jam")])
    assert list(StateInterval.objects.filter(machine=plant.a1).values_list("reason", flat=True)) == [None]


def test_the_same_batch_twice_changes_nothing(plant):
    batch = [obs("A1", 0, "running", True), obs("A1", 0, "total_count", 10), obs("A1", 30, "total_count", 40),
             obs("A1", 45, "running", False), obs("A1", 90, "total_count", 41)]
    first = record_observations(batch)
    before = derived(plant.a1)
    ids = list(StateInterval.objects.values_list("pk", flat=True))
    second = record_observations(batch)
    assert (first.applied, second.applied, second.duplicates) == (5, 0, 5)
    assert derived(plant.a1) == before
    assert list(StateInterval.objects.values_list("pk", flat=True)) == ids  # not even rewritten


def test_late_observations_give_the_same_result_as_in_order_ones(plant):
    stream = [obs("A1", s, "total_count", 100 + s // 2) for s in range(0, 600, 10)]
    stream += [obs("A1", 0, "running", True), obs("A1", 200, "running", False), obs("A1", 330, "running", True)]
    record_observations(stream)
    in_order = derived(plant.a1)
    Observation.objects.all().delete()
    StateInterval.objects.all().delete()
    CountBucket.objects.all().delete()
    Event.objects.all().delete()
    late = [o for o in stream if o.ts.minute == 3]  # a minute of data arriving after the rest
    record_observations([o for o in stream if o not in late])
    record_observations(list(reversed(late)))
    assert derived(plant.a1) == in_order


def test_bad_observations_are_rejected_with_a_message_and_the_good_ones_applied(plant):
    result = record_observations([
        obs("A1", 0, "running", True), obs("NOPE", 0, "running", True), obs("A1", 1, "total_count", "-3"),
        obs("A1", 2, "speed", 1), obs("A1", 3, "reason", "no-such-reason"),
        ObservationIn("A1", datetime(2026, 1, 1), "running", True),
    ])
    assert result.applied == 1
    messages = [r.message for r in result.rejected]
    assert messages == [
        "unknown machine 'NOPE'",
        "total_count must be at least 0, got '-3'",
        "unknown signal 'speed': expected one of connected, running, packml_state, fault, total_count, "
        "good_count, reject_count, scrap, reason",
        "unknown reason code 'no-such-reason'",
        "ts datetime.datetime(2026, 1, 1, 0, 0) must be an aware date-time with a UTC offset",
    ]


def test_a_collectors_batch_with_readings_that_cannot_be_stores_the_others_and_is_not_retried(plant, settings):
    # A device clock unset or ahead, a string node holding a NUL: each reading is refused alone, with what
    # was wrong; the sink does not raise, so the collector does not keep the batch to retry it for ever.
    settings.OBSERVATIONS_NOT_BEFORE, settings.OBSERVATIONS_MAX_AHEAD_S = "2010-01-01", 60
    now = datetime.now(UTC)
    bad = [Sample("A1", datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5))), "running", True),
           Sample("A1", datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), "running", True),
           Sample("A1", datetime(2009, 12, 31, 23, 59, 59, tzinfo=UTC), "running", True),
           Sample("A1", now + timedelta(seconds=90), "running", True),
           Sample("A1", now - timedelta(seconds=5), "reason", "jam\x00"),
           Sample("B1", now - timedelta(seconds=5), "total_count", float("nan"))]
    good = [Sample("A1", now - timedelta(seconds=10), "running", False), Sample("B1", now, "total_count", 7)]
    batch = [*bad[:3], good[0], *bad[3:], good[1]]
    result = record_observations([ObservationIn(*sample) for sample in batch])
    assert (result.applied, [r.index for r in result.rejected]) == (2, [0, 1, 2, 4, 5, 6])
    messages = [r.message for r in result.rejected]
    assert "not between 1971 and 2999" in messages[0] and "not between 1971 and 2999" in messages[1]
    assert "before 2010-01-01 (OBSERVATIONS_NOT_BEFORE)" in messages[2]
    assert "more than 60 s ahead of this server's clock (OBSERVATIONS_MAX_AHEAD_S)" in messages[3]
    assert "no control characters" in messages[4] and "whole number" in messages[5]
    later = [Sample("A1", now - timedelta(seconds=2), "running", True),
             Sample("B1", now + timedelta(seconds=1), "total_count", 9)]
    pipeline_sink([*bad, *later])  # what a collector hands in: no exception, the good readings stored
    assert Observation.objects.count() == 4


def test_all_or_nothing_stores_nothing_when_one_observation_is_bad(plant):
    with pytest.raises(BatchRejected):
        record_observations([obs("A1", 0, "running", True), obs("A1", 1, "running", "perhaps")],
                            all_or_nothing=True)
    assert not Observation.objects.exists()
    assert not StateInterval.objects.exists()


def test_scrap_beyond_the_good_parts_of_its_shift_is_refused_where_people_enter_it(plant):
    # 30 parts counted by the batch's own readings (08:00:30–08:01:30, line A's early shift from 06:00 local).
    batch = [obs("A1", 30, "total_count", 10), obs("A1", 90, "total_count", 40),
             obs("A1", 100, "scrap", 20), obs("A1", 110, "scrap", 11), obs("A1", 110, "scrap", 11),
             obs("A1", 120, "scrap", 10)]
    result = record_observations(batch, refuse_excess_scrap=True)
    assert [r.index for r in result.rejected] == [3, 4]  # 10 left after the 20; the batch's duplicate with it
    assert result.rejected[0].message.startswith("A1 has 10 good parts since the shift began (2026-01-12 06:00): "
                                                 "11 scrap would make them negative.")
    assert (result.applied, result.duplicates) == (4, 0)
    assert sorted(Observation.objects.filter(signal="scrap").values_list("value", flat=True)) == ["10", "20"]
    again = record_observations(batch, refuse_excess_scrap=True)
    assert (again.applied, again.duplicates, [r.index for r in again.rejected]) == (0, 4, [3, 4])
    with pytest.raises(BatchRejected, match="has 1 good parts since"):  # the one part of 130 s
        record_observations([obs("A1", 130, "total_count", 41), obs("A1", 140, "scrap", 2)],
                            all_or_nothing=True, refuse_excess_scrap=True)
    assert not Observation.objects.filter(ts__gte=at(130)).exists()  # nothing half-stored
    # A device stream or a replay is taken as it comes: its projection does not depend on what came first.
    assert not record_observations([obs("A1", 150, "scrap", 5)]).rejected


def test_counts_are_bucketed_per_work_order(plant):
    from planning.models import Product, WorkOrder

    product = Product.objects.create(code="P", name="P")
    order = WorkOrder.objects.create(
        number="WO-1", product=product, quantity=100, line=plant.line_a, machine=plant.a1,
        planned_start=at(0), planned_end=at(3600), status="running", actual_start=at(60))
    record_observations([obs("A1", 0, "total_count", 0), obs("A1", 30, "total_count", 20),
                         obs("A1", 90, "total_count", 70)])
    rows = list(CountBucket.objects.filter(machine=plant.a1).values_list("minute", "work_order", "total_count"))
    assert rows == [(at(0), None, 20), (at(60), order.pk, 50)]


# --- property: any batching and any arrival order within a window give the same rows ------------

signal_values = st.one_of(
    st.tuples(st.just("running"), st.booleans()),
    st.tuples(st.just("fault"), st.sampled_from([0, 0, 7, 99])),
    st.tuples(st.just("total_count"), st.integers(0, 9)),   # increments, made cumulative below
    st.tuples(st.just("reject_count"), st.integers(0, 2)),
    st.tuples(st.just("reason"), st.sampled_from(["jam", "changeover"])),
    st.tuples(st.just("scrap"), st.integers(1, 3)),
    st.tuples(st.just("connected"), st.booleans()),
)


@st.composite
def streams(draw):
    """A machine's stream: increasing times (with the odd long gap), cumulative 16-bit counters."""
    steps = draw(st.lists(st.tuples(st.integers(1, 250), signal_values), min_size=1, max_size=40))
    seconds, counters, stream = 0, {"total_count": 65500, "reject_count": 0}, []
    for step, (signal, value) in steps:
        seconds += step
        if signal in counters:
            counters[signal] = (counters[signal] + value) % 65536
            value = counters[signal]
        stream.append(obs("A1", seconds, signal, value))
    return stream


def _clear(machine) -> None:
    for model in (Observation, StateInterval, CountBucket, Event):
        model.objects.filter(machine=machine).delete()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=streams(), cuts=st.lists(st.integers(0, 40), max_size=6), seed=st.integers(0, 10_000))
def test_splitting_a_stream_into_batches_of_any_size_gives_the_same_result(plant, stream, cuts, seed):
    _clear(plant.a1)
    record_observations(stream)
    whole = derived(plant.a1)

    _clear(plant.a1)
    bounds = sorted({0, len(stream), *[c for c in cuts if c < len(stream)]})
    batches = [stream[a:b] for a, b in zip(bounds, bounds[1:])]
    shuffler = random.Random(seed)
    for batch in batches:
        shuffler.shuffle(batch)  # out of order within each batch
    if len(batches) > 1 and seed % 2:
        batches[-1], batches[-2] = batches[-2], batches[-1]  # a whole batch arriving late
    for batch in batches:
        record_observations(batch)
    assert derived(plant.a1) == whole
