"""Reliability and improvement arithmetic (ISO 22400-2): MTBF, MTTR, and the change between two periods.

Pure: no Django. Times are seconds. The trend page and its tests call these with the figures of
`monitoring.kpi` (operating time) and the machine's failure stops (`monitoring.trend`).
"""

from __future__ import annotations

from collections.abc import Sequence


def mean_operating_time_between_failures(operating_s: float, failures: int) -> float | None:
    """ISO 22400-2 MTBF = (Σ TBF_i) / (FE + 1): `failures` (FE) cut the operating time into FE + 1
    stretches, and MTBF is their mean. None without operating time."""
    if operating_s <= 0:
        return None
    return operating_s / (failures + 1)


def mean_time_to_repair(repair_s: Sequence[float]) -> float | None:
    """ISO 22400-2 MTTR = (Σ TTR_i) / FE: the mean length of the failures; None without a failure."""
    return sum(repair_s) / len(repair_s) if repair_s else None


def change_percent(before: float, after: float) -> float | None:
    """How much `after` differs from `before`, in percent of `before` (−22.0: down 22 %); None from nothing."""
    if before == 0:
        return 0.0 if after == 0 else None
    return (after - before) / before * 100
