"""Deltas of cumulative part counters: normal counting, rollover, reset and implausible jumps.

Pure: no Django. A PLC counter only ever counts up; a reading lower than the one before is
either a rollover (the counter wrapped at its width) or a reset (someone or something set it
back to zero). We call it a rollover when the wrapped distance is one the machine could
physically have made in the elapsed time, and a reset otherwise.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import NamedTuple

# How much faster than its ideal rate a machine may plausibly count, and a fixed allowance
# for counters that update in bursts (a PLC that publishes every few parts).
PLAUSIBLE_RATE_FACTOR = 3.0
PLAUSIBLE_BURST = 10


class DeltaKind(str, Enum):
    NORMAL = "normal"
    ROLLOVER = "rollover"
    RESET = "reset"
    IMPLAUSIBLE = "implausible"


class CounterDelta(NamedTuple):
    kind: DeltaKind
    parts: int
    """Parts to count; 0 for an implausible jump, which is flagged instead."""
    raw_jump: int
    """The distance the reading moved (wrapped for a rollover), for the event log."""


def max_plausible_parts(elapsed_s: float, ideal_cycle_time_s: float) -> int:
    """Most parts a machine could make in `elapsed_s` seconds, with a generous margin."""
    elapsed = max(elapsed_s, 0.0)
    return math.ceil(elapsed / ideal_cycle_time_s * PLAUSIBLE_RATE_FACTOR) + PLAUSIBLE_BURST


def counter_delta(previous: int, current: int, modulus: int, max_plausible: int) -> CounterDelta:
    """Classify the move from `previous` to `current` on a counter that wraps at `modulus`."""
    if current >= previous:
        jump = current - previous
        if jump > max_plausible:
            return CounterDelta(DeltaKind.IMPLAUSIBLE, 0, jump)
        return CounterDelta(DeltaKind.NORMAL, jump, jump)
    wrapped = modulus - previous + current
    if wrapped <= max_plausible:
        return CounterDelta(DeltaKind.ROLLOVER, wrapped, wrapped)
    # A reset: the counter restarted from zero and has counted `current` parts since.
    if current > max_plausible:
        return CounterDelta(DeltaKind.IMPLAUSIBLE, 0, current)
    return CounterDelta(DeltaKind.RESET, current, current)
