"""On PostgreSQL the observation table is partitioned by month: months are made as rows come, and
retention drops whole months, keeping the readings a replay starts from and every figure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from monitoring import kpi, partitions, retention
from monitoring.models import Observation
from monitoring.pipeline import ObservationIn, record_observations
from monitoring.projection import DEVICE_SIGNALS
from tests.histories import at, monday_of_a1

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's (SQLite has one table)"),
]

DAY = (datetime(2026, 1, 12, tzinfo=UTC), datetime(2026, 1, 13, tzinfo=UTC))


def rows_in(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        return cursor.fetchone()[0]


def month_names() -> list[str]:
    return [name for name, _, _ in partitions.months()]


@pytest.fixture(autouse=True)
def fresh_memory():
    partitions.forget()
    yield
    partitions.forget()


def test_the_table_is_partitioned_with_the_months_around_now():
    assert partitions.active()
    now = partitions.month_of(datetime.now(UTC))
    last_month = partitions.month_of(now - timedelta(days=1))
    assert {partitions.partition_name(last_month), partitions.partition_name(now)} <= set(month_names())


def test_a_batch_of_a_month_without_a_partition_makes_it(plant):
    record_observations([ObservationIn("A1", datetime(2019, 3, 5, 8, tzinfo=UTC), "running", True),
                         ObservationIn("A1", datetime(2019, 4, 1, 0, tzinfo=UTC), "total_count", 7)])
    assert {"monitoring_observation_y2019m03", "monitoring_observation_y2019m04"} <= set(month_names())
    assert rows_in("monitoring_observation_y2019m03") == 1
    assert rows_in("monitoring_observation_y2019m04") == 1
    assert rows_in(partitions.DEFAULT) == 0
    assert Observation.objects.filter(machine=plant.a1).count() == 2


def test_rows_written_past_the_pipeline_move_out_of_the_default_partition_with_their_month(plant):
    first = Observation.objects.create(machine=plant.a1, ts=datetime(2018, 5, 2, tzinfo=UTC), signal="running",
                                       value="1")
    second = Observation.objects.create(machine=plant.a1, ts=datetime(2018, 5, 3, tzinfo=UTC), signal="running",
                                        value="0")
    assert second.pk > first.pk
    assert rows_in(partitions.DEFAULT) == 2
    partitions.ensure(datetime(2018, 5, 20, tzinfo=UTC), datetime(2018, 5, 20, tzinfo=UTC))
    assert rows_in(partitions.DEFAULT) == 0
    assert rows_in("monitoring_observation_y2018m05") == 2
    assert list(Observation.objects.filter(machine=plant.a1).order_by("ts").values_list("pk", flat=True)) == [
        first.pk, second.pk]


def test_retention_drops_whole_months_and_keeps_the_figures(plant, settings):
    settings.OBSERVATIONS_KEEP_DAYS = 30
    december = datetime(2025, 12, 20, 6, tzinfo=UTC)
    for code in ("A1", "A2"):
        record_observations([ObservationIn(code, december, "running", True),
                             ObservationIn(code, december + timedelta(minutes=1), "total_count", 5)])
        monday_of_a1(code)
    before = kpi.machine_result(plant.a1, *DAY)
    assert "monitoring_observation_y2025m12" in month_names()

    retention.prune_all(datetime.now(UTC))

    assert "monitoring_observation_y2025m12" not in month_names()
    assert not Observation.objects.filter(ts__lt=datetime(2026, 1, 1, tzinfo=UTC)).exists()
    # What is left before the horizon (15:00): the last reading of each device signal, as on SQLite.
    for machine in (plant.a1, plant.a2):
        left = list(Observation.objects.filter(machine=machine, ts__lt=at(15)).order_by("signal").values_list(
            "signal", "ts"))
        assert left == [("reject_count", at(14, 59, 30)), ("running", at(14, 20)), ("total_count", at(14, 59, 30))]
    assert kpi.machine_result(plant.a1, *DAY) == before


def test_a_month_stays_while_a_machine_with_rows_in_it_is_not_past_it(plant):
    start = datetime(2017, 2, 1, tzinfo=UTC)
    record_observations([ObservationIn("A1", start + timedelta(days=1), "running", True),
                         ObservationIn("A2", start + timedelta(days=2), "running", True)])
    later = datetime(2017, 6, 1, tzinfo=UTC)

    assert partitions.drop_pruned([plant.a1.pk, plant.a2.pk], {plant.a1.pk: later}, DEVICE_SIGNALS) == 0
    assert "monitoring_observation_y2017m02" in month_names()

    partitions.drop_pruned([plant.a1.pk, plant.a2.pk], {plant.a1.pk: later, plant.a2.pk: later}, DEVICE_SIGNALS)
    assert "monitoring_observation_y2017m02" not in month_names()
    # The last reading of each signal of each machine went to the default partition: replays start from it.
    assert sorted(Observation.objects.values_list("machine__code", "signal")) == [("A1", "running"),
                                                                                 ("A2", "running")]
    assert rows_in(partitions.DEFAULT) == 2
