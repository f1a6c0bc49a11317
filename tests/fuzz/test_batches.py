"""Batches through the one door (`record_observations`), as collectors, the API and imports hand them in.

Whatever a device or a file says, each bad observation is rejected on its own with a message and
the rest stored: never an exception for the whole batch, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring.models import Observation
from monitoring.pipeline import ObservationIn, record_observations
from tests.fuzz.inputs import json_leaves, nasty_text

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


def test_an_observation_with_a_nul_or_a_control_character_is_rejected_alone(plant):
    batch = [
        ObservationIn("A1", MONDAY, "running", True),
        ObservationIn("A\x001", MONDAY, "running", True),
        ObservationIn("A1", MONDAY + timedelta(minutes=1), "reason", "jam\x00"),
        ObservationIn("A1", MONDAY + timedelta(minutes=2), "reason", "\x1bjam"),
        ObservationIn("A1", MONDAY + timedelta(minutes=3), "total_count", "٣"),
        ObservationIn("A1", MONDAY + timedelta(minutes=4), "running", False),
    ]
    result = record_observations(batch)
    assert result.applied == 2
    assert {r.index: r.message for r in result.rejected} == {
        1: "unknown machine 'A\\x001'",
        2: "reason must be a reason code of 1–40 characters (no control characters), got 'jam\\x00'",
        3: "reason must be a reason code of 1–40 characters (no control characters), got '\\x1bjam'",
        4: "total_count must be a whole number, got '٣'",
    }
    assert Observation.objects.count() == 2


observations = st.builds(
    ObservationIn,
    machine_code=st.one_of(st.sampled_from(["A1", "A2", "B1"]), nasty_text),
    ts=st.one_of(st.integers(0, 600).map(lambda minutes: MONDAY + timedelta(minutes=minutes)),
                 st.datetimes(timezones=st.just(UTC)), st.datetimes()),
    signal=st.one_of(st.sampled_from(["running", "fault", "reason", "total_count", "good_count", "reject_count",
                                      "packml_state", "scrap", "connected"]), nasty_text),
    value=json_leaves,
)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.lists(observations, max_size=10))
def test_every_observation_of_a_batch_is_applied_a_duplicate_or_rejected(plant, batch):
    before = Observation.objects.count()
    result = record_observations(batch)
    assert result.applied + result.duplicates + len(result.rejected) == len(batch)
    assert Observation.objects.count() - before == result.applied
    assert all(rejection.message for rejection in result.rejected)
