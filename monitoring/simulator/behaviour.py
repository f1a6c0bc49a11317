"""How a simulated machine behaves: production near its ideal rate, stops, faults, changeovers, scrap.

Pure and seeded: a machine's whole story is drawn from its own `random.Random`, so the same
seed and the same sequence of `step(dt)` calls give the same counts, stops and faults. Its
attributes are what a PLC would expose; `total_count` and `reject_count` are true cumulative
counts (servers wrap them by the width of the register they serve them in).
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass, field

RUNNING = "running"
MICRO_STOP = "micro_stop"
FAULT = "fault"
CHANGEOVER = "changeover"
ACTIVITIES = (RUNNING, MICRO_STOP, FAULT, CHANGEOVER)

# ISA-TR88 PackML state numbers the simulated machine reports.
PACKML_STOPPED = 2
PACKML_SUSPENDED = 5
PACKML_EXECUTE = 6
PACKML_ABORTED = 9
PACKML_FOR = {RUNNING: PACKML_EXECUTE, MICRO_STOP: PACKML_SUSPENDED, FAULT: PACKML_ABORTED, CHANGEOVER: PACKML_STOPPED}


@dataclass(frozen=True)
class FaultKind:
    code: int
    name: str
    weight: float
    median_seconds: float


# The demo plant maps codes 1..4 to downtime reasons.
FAULTS = (
    FaultKind(1, "jam", 0.40, 180.0),
    FaultKind(2, "motor overload", 0.20, 600.0),
    FaultKind(3, "sensor fault", 0.25, 240.0),
    FaultKind(4, "emergency stop", 0.15, 90.0),
)


@dataclass(frozen=True)
class Profile:
    """How often things happen (mean seconds between them, while running) and how long they last."""

    speed: tuple[float, float] = (0.88, 0.99)
    """Range of the fraction of ideal speed a run stretch goes at."""
    micro_stop_every: float = 240.0
    micro_stop_seconds: tuple[float, float] = (5.0, 60.0)
    fault_every: float = 1800.0
    faults: tuple[FaultKind, ...] = FAULTS
    changeover_every: float = 4 * 3600.0
    changeover_seconds: tuple[float, float] = (600.0, 1500.0)
    scrap_rate: float = 0.015
    startup_scrap_rate: float = 0.08
    startup_seconds: float = 120.0
    """After a changeover, parts are scrapped at the startup rate for this long."""


def machine_seed(seed: int, code: str) -> int:
    """A per-machine seed that does not depend on Python's salted string hash."""
    return (seed * 1_000_003) ^ zlib.crc32(code.encode())


@dataclass
class SimulatedMachine:
    """One machine of the simulated plant; advance it with `step(dt)` (seconds of simulated time)."""

    code: str
    ideal_cycle_time: float = 1.0
    seed: int = 0
    packml: bool = False
    total_count: int = 0
    reject_count: int = 0
    profile: Profile = field(default_factory=Profile)

    running: bool = field(init=False, default=True)
    fault_code: int = field(init=False, default=0)
    activity: str = field(init=False, default=RUNNING)
    clock: float = field(init=False, default=0.0)
    seconds_in: dict[str, float] = field(init=False)
    stops: dict[str, int] = field(init=False)
    faults_by_code: dict[int, int] = field(init=False)

    def __post_init__(self) -> None:
        if self.ideal_cycle_time <= 0:
            raise ValueError(f"{self.code}: the ideal cycle time must be positive")
        self.rng = random.Random(machine_seed(self.seed, self.code))
        self.seconds_in = dict.fromkeys(ACTIVITIES, 0.0)
        self.stops = dict.fromkeys((MICRO_STOP, FAULT, CHANGEOVER), 0)
        self.faults_by_code = {}
        self._progress = self.rng.random()
        self._remaining = 0.0
        self._since_changeover = math.inf
        self._speed = self._draw_speed()

    @property
    def packml_state(self) -> int | None:
        return PACKML_FOR[self.activity] if self.packml else None

    @property
    def good_count(self) -> int:
        return self.total_count - self.reject_count

    def _draw_speed(self) -> float:
        low, high = self.profile.speed
        return self.rng.uniform(low, high)

    def step(self, dt: float) -> None:
        """Advance by `dt` seconds: make parts while running, count down a stop, maybe start one."""
        while dt > 1e-12:
            if self.activity == RUNNING:
                used = self._run(dt)
            else:
                used = min(dt, self._remaining)
                self._remaining -= used
                self.seconds_in[self.activity] += used
                if self._remaining <= 1e-12:
                    self._resume()
            self.clock += used
            dt -= used

    def _run(self, dt: float) -> float:
        """Run for up to `dt`; return the time used (less when a stop starts part way)."""
        p = self.profile
        rate = 1 / p.micro_stop_every + 1 / p.fault_every + 1 / p.changeover_every
        # Time to the next stop event is exponential; only the part inside this step matters.
        until_stop = self.rng.expovariate(rate)
        used = min(dt, until_stop)
        self._produce(used)
        self.seconds_in[RUNNING] += used
        if until_stop <= dt:
            self._start_stop(self.rng.random() * rate)
        return used

    def _produce(self, seconds: float) -> None:
        self._progress += seconds * self._speed / self.ideal_cycle_time
        parts = int(self._progress)
        if not parts:
            self._since_changeover += seconds
            return
        self._progress -= parts
        p = self.profile
        scrap = p.startup_scrap_rate if self._since_changeover < p.startup_seconds else p.scrap_rate
        rejects = sum(1 for _ in range(parts) if self.rng.random() < scrap)
        self.total_count += parts
        self.reject_count += rejects
        self._since_changeover += seconds

    def _start_stop(self, pick: float) -> None:
        p = self.profile
        self.running = False
        if pick < 1 / p.micro_stop_every:
            self.activity = MICRO_STOP
            self._remaining = self.rng.uniform(*p.micro_stop_seconds)
        elif pick < 1 / p.micro_stop_every + 1 / p.fault_every:
            kind = self.rng.choices(p.faults, weights=[f.weight for f in p.faults])[0]
            self.activity = FAULT
            self.fault_code = kind.code
            self.faults_by_code[kind.code] = self.faults_by_code.get(kind.code, 0) + 1
            # Repair times are long-tailed: log-normal around the fault's median, 20 s to 1 h.
            self._remaining = min(3600.0, max(20.0, self.rng.lognormvariate(math.log(kind.median_seconds), 0.6)))
        else:
            self.activity = CHANGEOVER
            self._remaining = self.rng.uniform(*p.changeover_seconds)
        self.stops[self.activity] += 1

    def _resume(self) -> None:
        if self.activity == CHANGEOVER:
            self._since_changeover = 0.0
        self.activity = RUNNING
        self.running = True
        self.fault_code = 0
        self._remaining = 0.0
        self._speed = self._draw_speed()

    def truth(self) -> dict:
        """Ground truth so far, for reports and tests."""
        return {
            "total_count": self.total_count,
            "reject_count": self.reject_count,
            "good_count": self.good_count,
            "running": self.running,
            "activity": self.activity,
            "fault_code": self.fault_code,
            "packml_state": self.packml_state,
            "sim_seconds": round(self.clock, 3),
            "seconds_in": {k: round(v, 3) for k, v in self.seconds_in.items()},
            "stops": dict(self.stops),
            "faults_by_code": {str(k): v for k, v in sorted(self.faults_by_code.items())},
        }
