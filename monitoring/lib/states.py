"""The machine state machine: replays observations into state intervals, part counts and events.

Pure: no Django. `replay` is a fold over observations sorted by (time, signal rank) starting
from a snapshot of the fold taken just before them, so the result depends only on the set of
observations, never on how they were batched or in which order they arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from monitoring.lib.counters import DeltaKind, counter_delta, max_plausible_parts
from monitoring.lib.signals import COUNTER_SIGNALS, SIGNAL_RANK, Value

RUNNING = "running"
STOPPED = "stopped"
NO_DATA = "no-data"

# ISA-TR88 PackML: only Execute (6) produces; every other state is a stop.
PACKML_EXECUTE = 6
# Signals people enter (operators, or a machine's reason code) rather than device readings.
PEOPLE_SIGNALS = ("reason", "scrap")
# How many expected intervals without any observation make a gap no-data.
GAP_INTERVALS = 3


@dataclass(frozen=True)
class MachineRules:
    counter_modulus: int
    fastest_cycle_time: float
    """Seconds per part of the machine's fastest product: a counter moving much faster is implausible."""
    expected_interval: float
    fault_reasons: Mapping[int, str] = field(default_factory=dict)

    @property
    def max_gap(self) -> float:
        return GAP_INTERVALS * self.expected_interval


class Obs(NamedTuple):
    # A named tuple, not a dataclass: an import makes and sorts hundreds of thousands a second.
    ts: datetime
    signal: str
    value: Value

    @property
    def sort_key(self) -> tuple[datetime, int]:
        return self.ts, SIGNAL_RANK[self.signal]


@dataclass
class Interval:
    start: datetime
    state: str
    reason: str | None = None
    fault_code: int | None = None
    end: datetime | None = None


@dataclass
class Snapshot:
    """Where the fold stands just before a point in time."""

    interval: Interval | None = None
    signals: dict[str, Value] = field(default_factory=dict)
    counters: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    last_ts: datetime | None = None


class PartCount(NamedTuple):
    ts: datetime
    signal: str
    parts: int


class StateEvent(NamedTuple):
    ts: datetime
    kind: str
    detail: dict


@dataclass
class Replay:
    intervals: list[Interval]
    counts: list[PartCount]
    events: list[StateEvent]
    snapshot: Snapshot


def derive_state(signals: Mapping[str, Value]) -> tuple[str, int | None]:
    """(state, fault code) from the latest value of each state signal."""
    if signals.get("connected") is False:
        return NO_DATA, None
    fault = signals.get("fault")
    if fault is True:
        return STOPPED, None
    if isinstance(fault, int) and not isinstance(fault, bool) and fault > 0:
        return STOPPED, fault
    if "packml_state" in signals:
        return (RUNNING if signals["packml_state"] == PACKML_EXECUTE else STOPPED), None
    if "running" in signals:
        return (RUNNING if signals["running"] else STOPPED), None
    return NO_DATA, None


class _Fold:
    def __init__(self, snapshot: Snapshot, rules: MachineRules) -> None:
        self.rules = rules
        self.max_gap = rules.max_gap
        self.signals = dict(snapshot.signals)
        self.counters = dict(snapshot.counters)
        self.last_ts = snapshot.last_ts
        self.intervals: list[Interval] = []
        if snapshot.interval is not None:
            self.intervals.append(Interval(**{**snapshot.interval.__dict__, "end": None}))
        self.counts: list[PartCount] = []
        self.events: list[StateEvent] = []

    @property
    def current(self) -> Interval | None:
        return self.intervals[-1] if self.intervals else None

    def open(self, ts: datetime, state: str, reason: str | None, fault_code: int | None) -> None:
        """Start a new interval at `ts`, closing the current one."""
        # Intervals starting at or after `ts` never lasted, or lie inside a gap found only now.
        # What they replace is not merged with the interval before them: a replay that resumes
        # from a snapshot does not have that interval, and must come to the same rows.
        replaced = False
        while self.intervals and self.intervals[-1].start >= ts:
            self.intervals.pop()
            replaced = True
        current = self.current
        if current is not None and not replaced and (current.state, current.reason, current.fault_code) == (
            state, reason, fault_code,
        ):
            return
        if current is not None:
            current.end = ts
        self.intervals.append(Interval(start=ts, state=state, reason=reason, fault_code=fault_code))

    def transition(self, ts: datetime, state: str, fault_code: int | None, log: bool = True) -> None:
        current = self.current
        old_state = current.state if current else None
        if current is not None and (current.state, current.fault_code) == (state, fault_code):
            return
        if state == STOPPED and fault_code is not None and fault_code in self.rules.fault_reasons:
            reason = self.rules.fault_reasons[fault_code]
        elif state == STOPPED and old_state == STOPPED and current is not None:
            reason = current.reason  # a fault cleared, the machine still waits: same stop, same reason
        else:
            reason = None
        self.open(ts, state, reason, fault_code)
        if log:
            self.events.append(StateEvent(ts, "state_change", {
                "from": old_state, "to": state, "reason": reason, "fault_code": fault_code,
            }))

    def apply(self, obs: Obs) -> None:
        if obs.signal in PEOPLE_SIGNALS:
            # What people enter says nothing about whether the device is sending data.
            self.apply_input(obs)
            return
        if self.last_ts is not None and (obs.ts - self.last_ts).total_seconds() > self.max_gap:
            # One rule for a silence, open or over: the last state holds for `max_gap` after the
            # last observation (as `kpi.data_ends_at` counts an open one), and no-data follows; so
            # a period's figures do not change when the data comes back.
            # The gap is logged when it is seen, at its end, and whatever the state: a replay
            # resuming inside the gap must log it again, as it rewrites every event from there.
            silent_from = self.last_ts + timedelta(seconds=self.max_gap)
            self.transition(silent_from, NO_DATA, None, log=False)
            self.events.append(StateEvent(obs.ts, "no_data", {
                "since": silent_from.isoformat(), "gap_s": (obs.ts - silent_from).total_seconds(),
            }))
        self.last_ts = obs.ts
        if obs.signal in COUNTER_SIGNALS:
            self.count(obs)
        else:
            self.signals[obs.signal] = obs.value
        state, fault_code = derive_state(self.signals)
        self.transition(obs.ts, state, fault_code)

    def apply_input(self, obs: Obs) -> None:
        if obs.signal == "scrap":
            self.counts.append(PartCount(obs.ts, "scrap", int(obs.value)))
        else:
            self.give_reason(obs.ts, str(obs.value))

    def count(self, obs: Obs) -> None:
        reading = int(obs.value)
        previous = self.counters.get(obs.signal)
        self.counters[obs.signal] = (reading, obs.ts)
        if previous is None:
            return
        last_reading, last_ts = previous
        limit = max_plausible_parts((obs.ts - last_ts).total_seconds(), self.rules.fastest_cycle_time)
        delta = counter_delta(last_reading, reading, self.rules.counter_modulus, limit)
        if delta.parts:
            self.counts.append(PartCount(obs.ts, obs.signal, delta.parts))
        if delta.kind is not DeltaKind.NORMAL:
            kind = {DeltaKind.ROLLOVER: "rollover", DeltaKind.RESET: "reset"}.get(delta.kind, "rejected_jump")
            self.events.append(StateEvent(obs.ts, kind, {
                "signal": obs.signal, "previous": last_reading, "reading": reading,
                "counted": delta.parts, "jump": delta.raw_jump, "limit": limit,
            }))

    def give_reason(self, ts: datetime, reason: str) -> None:
        current = self.current
        if current is None or current.state != STOPPED or current.reason == reason:
            return
        self.open(ts, STOPPED, reason, current.fault_code)


def replay(snapshot: Snapshot, observations: Iterable[Obs], rules: MachineRules) -> Replay:
    """Fold `observations` (any order) onto `snapshot`.

    Returns the intervals from the snapshot's interval onwards (the last one open), the part
    counts, the events, and the snapshot after the last observation.
    """
    fold = _Fold(snapshot, rules)
    for obs in sorted(observations, key=lambda o: o.sort_key):
        fold.apply(obs)
    after = Snapshot(
        interval=fold.current, signals=fold.signals, counters=fold.counters, last_ts=fold.last_ts,
    )
    return Replay(fold.intervals, fold.counts, fold.events, after)


@dataclass(frozen=True)
class StopEpisode:
    """Consecutive stopped intervals (a stop whose reason changed is still one stop)."""

    start: datetime
    end: datetime | None
    """None while it goes on."""
    reason: str | None
    """The reason of its last part."""
    fault_code: int | None


def stop_episodes(intervals: Iterable[Interval]) -> list[StopEpisode]:
    """The stops among time-ordered, contiguous intervals."""
    found: list[StopEpisode] = []
    current: list[Interval] = []
    for interval in [*intervals, None]:
        if interval is not None and interval.state == STOPPED and (not current or current[-1].end == interval.start):
            current.append(interval)
            continue
        if current:
            found.append(StopEpisode(current[0].start, current[-1].end, current[-1].reason, current[-1].fault_code))
            current = []
        if interval is not None and interval.state == STOPPED:
            current.append(interval)
    return found
