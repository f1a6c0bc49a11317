"""Retention: raw observations older than OBSERVATIONS_KEEP_DAYS go once their hours are rolled up;
the projection, the figures and replays after the horizon stay what they were."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from monitoring import kpi, retention
from monitoring.models import CountBucket, MachineHour, Observation, PrunedObservations, StateInterval
from monitoring.pipeline import ObservationIn, record_observations
from tests.histories import at, monday_of_a1

pytestmark = pytest.mark.django_db

DAY = (datetime(2026, 1, 12, tzinfo=UTC), datetime(2026, 1, 13, tzinfo=UTC))


def projection(code: str) -> tuple[list, list]:
    intervals = list(StateInterval.objects.filter(machine__code=code).order_by("start").values_list(
        "start", "end", "state", "reason__code"))
    buckets = list(CountBucket.objects.filter(machine__code=code).order_by("minute").values_list(
        "minute", "total_count", "reject_count", "scrap_count"))
    return intervals, buckets


@pytest.fixture
def pruned(plant, settings):
    """A1's Monday, its observations before 15:00 (the last hour rolled up) deleted; A2 the same, kept."""
    settings.OBSERVATIONS_KEEP_DAYS = 30
    monday_of_a1("A1")
    monday_of_a1("A2")
    plant.before = kpi.machine_result(plant.a1, *DAY)
    plant.deleted = retention.prune(plant.a1, datetime.now(UTC), timedelta(days=30))
    return plant


def test_old_observations_go_but_the_last_reading_of_each_signal(pruned):
    assert PrunedObservations.objects.get(machine=pruned.a1).before == at(15)
    left = list(Observation.objects.filter(machine=pruned.a1, ts__lt=at(15)).order_by("signal").values_list(
        "signal", "ts"))
    assert left == [("reject_count", at(14, 59, 30)), ("running", at(14, 20)), ("total_count", at(14, 59, 30))]
    assert pruned.deleted == Observation.objects.filter(machine=pruned.a2, ts__lt=at(15)).count() - 3
    assert MachineHour.objects.filter(machine=pruned.a1, hour__gte=at(5), hour__lt=at(15)).count() == 10  # rolled up
    assert retention.prune(pruned.a1, datetime.now(UTC), timedelta(days=30)) == 0


def test_the_projection_and_the_figures_stay(pruned):
    assert projection("A1") == projection("A2")
    assert kpi.machine_result(pruned.a1, *DAY) == pruned.before
    assert kpi.MachinePeriod(pruned.a1, *DAY).result() == pruned.before


def test_an_observation_later_than_the_retention_changes_nothing(pruned):
    before = projection("A1")
    record_observations([ObservationIn("A1", at(10, 0), "running", False)])
    assert projection("A1") == before
    assert kpi.MachinePeriod(pruned.a1, *DAY).result() == pruned.before


def test_a_replay_after_the_horizon_starts_from_the_kept_readings(pruned):
    for code in ("A1", "A2"):
        record_observations([ObservationIn(code, at(15, 30), "running", False),
                             ObservationIn(code, at(15, 40), "running", True)])
    assert projection("A1") == projection("A2")
    assert kpi.MachinePeriod(pruned.a1, *DAY).result().times == kpi.MachinePeriod(pruned.a2, *DAY).result().times


def test_the_command_deletes_only_when_a_retention_is_set(plant, settings):
    monday_of_a1()
    settings.OBSERVATIONS_KEEP_DAYS = None
    with pytest.raises(CommandError, match="OBSERVATIONS_KEEP_DAYS"):
        call_command("prune_observations")
    assert retention.prune_all() == 0
    settings.OBSERVATIONS_KEEP_DAYS = 30
    out = StringIO()
    call_command("prune_observations", stdout=out)
    assert "observations deleted" in out.getvalue()
    assert Observation.objects.filter(machine=plant.a1, ts__lt=at(15)).count() == 3
