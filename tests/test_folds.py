"""Folds kept in memory between batches (monitoring/folds.py): in-order batches carry them on, with the
rows a replay of everything gives; whatever else wrote the machine makes the pipeline replay."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import folds
from monitoring.models import CountBucket, Event, Observation, StateInterval
from monitoring.pipeline import ObservationIn, record_observations
from planning.models import Machine, OutboxEvent
from tests.test_pipeline import derived, obs

pytestmark = pytest.mark.django_db

MACHINES = ("A1", "A2", "B1")


@contextmanager
def another_process() -> Iterator[None]:
    """Store as a second process would: one with no folds of its own (this one's stay as they were)."""
    mine = dict(folds._kept)
    folds._kept.clear()
    try:
        yield
    finally:
        folds._kept.clear()
        folds._kept.update(mine)


def projections() -> dict[str, dict]:
    return {code: derived(Machine.objects.get(code=code)) for code in MACHINES}


def clear() -> None:
    for model in (Observation, StateInterval, CountBucket, Event):
        model.objects.all().delete()


def stream_in_batches(stream: list[ObservationIn], *cuts: int) -> None:
    bounds = [0, *cuts, len(stream)]
    for start, end in zip(bounds, bounds[1:]):
        record_observations(stream[start:end])


def steady(code: str, seconds: range, total: int = 0) -> list[ObservationIn]:
    """A machine running and counting a part each second."""
    return [obs(code, s, "running", True) for s in seconds[:1]] + [
        obs(code, s, "total_count", total + i) for i, s in enumerate(seconds)]


# --- property: batches as collectors send them (in order, many machines, the odd late one) ----------

device_values = st.one_of(
    st.tuples(st.just("running"), st.booleans()),
    st.tuples(st.just("fault"), st.sampled_from([0, 0, 7, 99])),
    st.tuples(st.just("total_count"), st.integers(0, 9)),   # increments, made cumulative below
    st.tuples(st.just("reject_count"), st.integers(0, 2)),
    st.tuples(st.just("connected"), st.booleans()),
)
people_values = st.one_of(
    st.tuples(st.just("reason"), st.sampled_from(["jam", "changeover"])),
    st.tuples(st.just("scrap"), st.integers(1, 3)),
)


@st.composite
def plant_streams(draw) -> list[ObservationIn]:
    """A1, A2 and B1 side by side in time: mostly device readings (with the odd long gap), some people's."""
    stream = []
    for code in MACHINES:
        steps = draw(st.lists(
            st.tuples(st.integers(1, 250), st.one_of(*[device_values] * 7, people_values)),
            min_size=2, max_size=30,
        ))
        seconds, counters = 0, {"total_count": 65500, "reject_count": 0}
        for step, (signal, value) in steps:
            seconds += step
            if signal in counters:
                counters[signal] = (counters[signal] + value) % 65536
                value = counters[signal]
            stream.append(obs(code, seconds, signal, value))
    stream.sort(key=lambda o: o.ts)
    return stream


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=plant_streams(), cuts=st.lists(st.integers(0, 90), min_size=3, max_size=20),
       late=st.sets(st.integers(0, 90), max_size=3), late_after=st.integers(0, 20))
def test_batches_in_order_with_the_odd_late_one_give_the_rows_of_one_replay(plant, stream, cuts, late, late_after):
    clear()
    record_observations(stream)
    whole = projections()

    clear()
    held_back = [o for i, o in enumerate(stream) if i in late]
    on_time = [o for i, o in enumerate(stream) if i not in late]
    bounds = sorted({0, len(on_time), *[c for c in cuts if c < len(on_time)]})
    batches = [on_time[a:b] for a, b in zip(bounds, bounds[1:])]
    batches.insert(min(late_after, len(batches)), held_back)
    for batch in batches:
        record_observations(batch)
    assert projections() == whole


def test_a_reading_at_the_instant_the_interval_in_progress_began_replaces_it_as_a_replay_would(plant):
    stream = [obs("A1", 0, "running", True), obs("A1", 60, "running", False), obs("A1", 60, "fault", 7),
              obs("A1", 90, "fault", 0), obs("A1", 90, "running", True), obs("A1", 90, "total_count", 5)]
    record_observations(stream)
    whole = rows_of(plant.a1)

    clear()
    for reading in stream:  # each in a batch of its own: the same instant, a later signal
        record_observations([reading])
    assert rows_of(plant.a1) == whole
    assert [(state, fault) for _, _, state, _, fault in whole[0]] == [("running", None), ("stopped", 7),
                                                                     ("running", None)]


def rows_of(machine: Machine) -> tuple[list, list, list]:
    """Intervals, buckets and events (two events of an instant may differ only in a None)."""
    return (
        list(StateInterval.objects.filter(machine=machine).order_by("start").values_list(
            "start", "end", "state", "reason__code", "fault_code")),
        list(CountBucket.objects.filter(machine=machine).order_by("minute").values_list("minute", "total_count")),
        sorted(Event.objects.filter(machine=machine).values_list("ts", "kind", "detail"), key=repr),
    )


# --- what the fast path costs ------------------------------------------------------------------------

def statements_to_store(batch: list[ObservationIn]) -> int:
    with CaptureQueriesContext(connection) as queries:
        record_observations(batch)
    return len(queries.captured_queries)


def test_an_in_order_batch_costs_as_many_statements_for_many_machines_as_for_one(plant):
    from planning.models import Line

    line = Line.objects.get(code="A")
    for i in range(40):
        Machine.objects.create(line=line, code=f"M{i}", name=f"M{i}", default_ideal_cycle_time=1.0,
                               expected_interval=60)
    many = [f"M{i}" for i in range(40)]
    record_observations([o for code in many for o in steady(code, range(0, 10))])  # each replays once
    one = statements_to_store(steady("M0", range(10, 20), total=10)[1:])
    forty = statements_to_store([o for code in many for o in steady(code, range(20, 30), total=20)[1:]])
    assert forty == one
    assert one <= 12
    assert CountBucket.objects.filter(machine__code="M39").count() == 1
    assert sum(CountBucket.objects.filter(machine__code="M39").values_list("total_count", flat=True)) == 29


def test_a_long_stop_carried_on_is_told_once_without_asking_the_outbox_each_batch(plant):
    plant.b1.long_stop_after = 600
    plant.b1.save()
    record_observations([obs("B1", 0, "running", True), obs("B1", 60, "running", False)])
    for minute in range(2, 10):  # the stop reaches the micro-stop threshold, then goes on
        record_observations([obs("B1", 60 * minute, "fault", 0)])
    assert statements_to_store([obs("B1", 600, "fault", 0)]) <= 12
    record_observations([obs("B1", 60 * 11, "fault", 0), obs("B1", 60 * 12, "running", True)])
    told = list(OutboxEvent.objects.order_by("pk").values_list("type", "payload__start"))
    assert told == [("stop.started", "2026-01-12T08:01:00.000000+00:00"),
                    ("stop.long", "2026-01-12T08:01:00.000000+00:00"),
                    ("stop.ended", "2026-01-12T08:01:00.000000+00:00")]


# --- when a kept fold is not trusted ---------------------------------------------------------------

def test_a_machine_another_process_stored_since_is_replayed_not_carried_on(plant):
    stream = [o for code in MACHINES for o in steady(code, range(0, 90, 3))]
    stream += [obs("A1", 40, "fault", 7), obs("A2", 45, "running", False), obs("B1", 50, "running", False)]
    stream.sort(key=lambda o: o.ts)
    record_observations(stream)
    whole = projections()

    clear()
    stream_in_batches(stream, 20)
    with another_process():
        record_observations(stream[20:40])  # carries on where this process's folds stood
    record_observations(stream[40:])  # this process's folds are behind: it must replay
    assert projections() == whole


def test_a_late_reading_another_process_stored_changes_what_the_next_readings_mean(plant):
    record_observations(steady("A1", range(0, 50, 5)))
    with another_process():
        record_observations([obs("A1", 30, "packml_state", 6)])  # late: PackML says Execute from 30 s on
    record_observations([obs("A1", 60, "running", False)])
    # PackML's state decides over `running`: the machine still runs (a kept fold without it would stop it).
    assert list(StateInterval.objects.filter(machine=plant.a1).values_list("state", flat=True)) == ["running"]


def test_a_batch_rolled_back_leaves_no_fold_that_is_trusted(plant):
    stream = steady("A1", range(0, 60)) + [obs("A1", 30, "running", False), obs("A1", 45, "running", True)]
    stream.sort(key=lambda o: o.ts)
    record_observations(stream)
    whole = derived(plant.a1)

    clear()
    record_observations(stream[:20])
    with pytest.raises(RuntimeError), transaction.atomic():
        record_observations(stream[20:40])
        raise RuntimeError("the caller's transaction fails after the pipeline stored")
    record_observations(stream[40:])  # in order after what this process folded, not after what is stored
    record_observations(stream[20:40])
    assert derived(plant.a1) == whole


def test_observations_deleted_behind_the_pipelines_back_make_it_replay(plant):
    record_observations(steady("A1", range(0, 30)))
    clear()
    record_observations(steady("A1", range(40, 50), total=40))
    assert list(StateInterval.objects.filter(machine=plant.a1).values_list("start", "state")) == [
        (obs("A1", 40, "running", True).ts, "running")]
    assert sum(CountBucket.objects.filter(machine=plant.a1).values_list("total_count", flat=True)) == 9
