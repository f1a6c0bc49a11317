"""Where a counter reading counts (docs/signals.md): the minute that holds it, so 14:00:00 is the next shift's."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from monitoring import kpi
from monitoring.pipeline import ObservationIn, record_observations

# Monday 2026-01-12; Berlin is UTC+1, so line A's early shift ends and its late shift begins at 13:00 UTC.
EARLY = (datetime(2026, 1, 12, 5, 0, tzinfo=UTC), datetime(2026, 1, 12, 13, 0, tzinfo=UTC))
LATE = (datetime(2026, 1, 12, 13, 0, tzinfo=UTC), datetime(2026, 1, 12, 21, 0, tzinfo=UTC))


def at(hour: int, minute: int, second: int = 0, microsecond: int = 0) -> datetime:
    return datetime(2026, 1, 12, hour, minute, second, microsecond, tzinfo=UTC)


def parts(machine, start: datetime, end: datetime) -> int:
    return kpi.machine_result(machine, start, end, now=at(22, 0)).production.total


def test_a_reading_at_exactly_the_shift_change_counts_in_the_next_shift(plant: SimpleNamespace) -> None:
    result = record_observations([
        ObservationIn("A1", at(12, 58), "running", True),
        ObservationIn("A1", at(12, 58), "total_count", 100),
        ObservationIn("A1", at(12, 59, 59, 999_000), "total_count", 110),  # +10 just before 13:00
        ObservationIn("A1", at(13, 0), "total_count", 113),  # +3 at exactly 13:00:00
        ObservationIn("A1", at(13, 1), "total_count", 120),  # +7
    ])
    assert not result.rejected

    assert parts(plant.a1, *EARLY) == 10
    assert parts(plant.a1, *LATE) == 10  # 3 + 7: the 13:00:00 reading opened the late shift's first minute
