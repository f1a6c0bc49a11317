"""A past for the demo plant: what each line did over the last days, as its devices and people would tell it.

Pure and seeded, like `behaviour`: `line_story(plan, seed)` draws a line's days from the same
profile the live simulator runs (speed, micro-stops, faults by code, scrap), and adds what only
a line with people and a plan has: the shifts' breaks, stops an operator explains, work orders
of several products with a changeover between them, and scrap entered at the end of a shift.
The result is plain data: the readings a collector would have stored (state changes when they
happen, both counters every `READ_EVERY` seconds, wrapping at the counter's width), the reasons
operators gave, the orders' starts and completions, the scrap entries. `monitoring.demo_history`
puts it through the same doors the live plant uses.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from monitoring.simulator.behaviour import (
    FAULTS,
    PACKML_EXECUTE,
    PACKML_STOPPED,
    PACKML_SUSPENDED,
    Profile,
    machine_seed,
)

PACKML_ABORTED = 9
FAULTS_EVERY = Profile().fault_every
"""How often the live simulator's faults come: drawn rarer here, they last longer in proportion."""
# The total count is read this often (or 2.5 expected intervals, when that is sooner): inside the
# pipeline's gap rule (three expected intervals without a reading are no data). The reject count
# and the states are read when they change.
READ_EVERY = 25.0
# An order is planned to run this long at the constraint's usual pace (hours, drawn uniformly).
ORDER_HOURS = (6.0, 14.0)
# The pace (share of the ideal rate) planners expect: an order's quantity follows from it.
PLANNED_PACE = 0.68
# Stops operators explain: what they say and how often, relative to each other.
OPERATOR_STOPS = (("no-material", 0.35), ("adjust", 0.25), ("no-operator", 0.15), ("cleaning", 0.15),
                  ("meeting", 0.10))
OPERATOR_STOP_EVERY = 4 * 3600.0
OPERATOR_STOP_MINUTES = (4.0, 25.0)
# Near the end, some stops are still waiting for their reason, as on a real line.
UNEXPLAINED_WINDOW = 3 * 3600.0
# The live simulator's profile, with its many small stops and faults drawn fewer and longer: the
# same losses in fewer state changes, so fourteen days go in within a minute.
PROFILE = Profile(speed=(0.85, 0.97), micro_stop_every=900.0, micro_stop_seconds=(30.0, 100.0), fault_every=4500.0,
                  changeover_every=math.inf)
# Faults grow rarer over the days (the maintenance team at work): the trend has a story.
FAULTS_FEWER_BY = 0.35

RUN, MICRO, FAULT, OPERATOR_STOP, CHANGEOVER, BREAK = "run", "micro", "fault", "operator", "changeover", "break"
PACKML = {RUN: PACKML_EXECUTE, MICRO: PACKML_SUSPENDED, FAULT: PACKML_ABORTED, OPERATOR_STOP: PACKML_STOPPED,
          CHANGEOVER: PACKML_STOPPED, BREAK: PACKML_STOPPED}


@dataclass(frozen=True)
class MachinePlan:
    code: str
    signals: frozenset[str]
    """The canonical signals its device serves (running, fault, total_count, reject_count, packml_state)."""
    counter_modulus: int
    micro_stop_threshold: float
    default_cycle_time: float
    cycle_times: dict[str, float] = field(default_factory=dict)
    """Ideal seconds per part by product code."""

    def cycle_time(self, product: str | None) -> float:
        return self.cycle_times.get(product, self.default_cycle_time) if product else self.default_cycle_time


@dataclass(frozen=True)
class LinePlan:
    code: str
    machines: tuple[MachinePlan, ...]
    constraint: str
    products: tuple[str, ...]
    """Products the line makes; the last order runs `home_product`, the one the live simulator runs at."""
    home_product: str | None
    breaks: tuple[tuple[datetime, datetime], ...]
    shift_ends: tuple[datetime, ...]
    stop_reasons: tuple[str, ...]
    """Reasons the plant has for operators' stops (a subset of OPERATOR_STOPS' codes)."""
    scrap_reason: str | None
    read_every: float = READ_EVERY


class Reading(NamedTuple):
    ts: datetime
    machine: str
    signal: str
    value: object


@dataclass(frozen=True)
class ReasonGiven:
    machine: str
    stop_start: datetime
    reason: str
    given_at: datetime


@dataclass
class OrderRun:
    number: str
    product: str
    quantity: int
    planned_start: datetime
    planned_end: datetime
    start: datetime | None
    end: datetime | None = None
    """When it was completed; None while it runs (or, for an order ahead, before it starts)."""


@dataclass(frozen=True)
class ScrapEntry:
    machine: str
    ts: datetime
    quantity: int
    reason: str | None


@dataclass
class LineStory:
    readings: list[Reading] = field(default_factory=list)
    reasons: list[ReasonGiven] = field(default_factory=list)
    orders: list[OrderRun] = field(default_factory=list)
    scrap: list[ScrapEntry] = field(default_factory=list)
    made: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per machine, (total, rejects) it made: the ground truth."""


@dataclass
class _Machine:
    plan: MachinePlan
    rng: random.Random
    activity: str = ""
    until: float = 0.0
    fault_code: int = -1
    speed: float = 0.93
    progress: float = 0.0
    total: int = 0
    rejects: int = 0
    rejects_read: int = -1
    started_up_at: float = -math.inf
    cycle_time: float = 1.0
    fault_every: float = 1800.0


class _Story:
    """One line's days, drawn tick by tick; times are seconds after `start`."""

    def __init__(self, plan: LinePlan, start: datetime, end: datetime, seed: int, profile: Profile) -> None:
        self.plan, self.start, self.end, self.profile = plan, start, end, profile
        self.length = (end - start).total_seconds()
        self.rng = random.Random(machine_seed(seed, f"line:{plan.code}"))
        self.story = LineStory()
        self.machines = [_Machine(m, random.Random(machine_seed(seed, m.code))) for m in plan.machines]
        self.constraint = next((m for m in self.machines if m.plan.code == plan.constraint), self.machines[0])
        self.order: OrderRun | None = None
        self.order_good_from = 0
        self.last: dict[tuple[str, str], int] = {}

    def at(self, t: float) -> datetime:
        return self.start + timedelta(seconds=round(t, 3))

    def emit(self, t: float, machine: _Machine, signal: str, value: object) -> None:
        if signal not in machine.plan.signals and signal != "reason":
            return
        reading = Reading(self.at(t), machine.plan.code, signal, value)
        key = (reading.machine, signal)
        last = self.last.get(key)
        if last is not None and self.story.readings[last].ts == reading.ts:
            self.story.readings[last] = reading  # two changes at one instant: the device shows the later
            return
        self.last[key] = len(self.story.readings)
        self.story.readings.append(reading)

    # -- a machine's own story: run, micro-stop, fault, a stop an operator explains ---------------

    def enter(self, m: _Machine, t: float, activity: str, lasts: float, fault_code: int = 0) -> None:
        was_running = m.activity == RUN
        m.activity, m.until = activity, t + lasts
        if activity == RUN:
            m.speed = m.rng.uniform(*self.profile.speed)
        if m.fault_code != fault_code:
            self.emit(t, m, "fault", fault_code)
            m.fault_code = fault_code
        if was_running != (activity == RUN):
            self.emit(t, m, "running", activity == RUN)
        self.emit(t, m, "packml_state", PACKML[activity])

    def next_run(self, m: _Machine, t: float) -> None:
        p = self.profile
        rate = 1 / p.micro_stop_every + 1 / m.fault_every + 1 / OPERATOR_STOP_EVERY
        self.enter(m, t, RUN, m.rng.expovariate(rate))

    def next_stop(self, m: _Machine, t: float) -> None:
        p = self.profile
        pick = m.rng.random() * (1 / p.micro_stop_every + 1 / m.fault_every + 1 / OPERATOR_STOP_EVERY)
        if pick < 1 / p.micro_stop_every:
            low, high = p.micro_stop_seconds
            self.enter(m, t, MICRO, m.rng.uniform(low, min(high, 0.8 * m.plan.micro_stop_threshold)))
        elif pick < 1 / p.micro_stop_every + 1 / m.fault_every:
            kind = m.rng.choices(FAULTS, weights=[f.weight for f in FAULTS])[0]
            median = kind.median_seconds * p.fault_every / FAULTS_EVERY
            lasts = min(3600.0, max(20.0, m.rng.lognormvariate(math.log(median), 0.6)))
            self.enter(m, t, FAULT, lasts, kind.code)
        else:
            lasts = 60 * m.rng.uniform(*OPERATOR_STOP_MINUTES)
            self.enter(m, t, OPERATOR_STOP, lasts)
            self.explain(m, t, lasts)

    def explain(self, m: _Machine, t: float, lasts: float) -> None:
        """An operator gives the stop its reason a little after it began (or, near the end, not yet)."""
        reasons = [(code, weight) for code, weight in OPERATOR_STOPS if code in self.plan.stop_reasons]
        if not reasons or (self.length - t < UNEXPLAINED_WINDOW and m.rng.random() < 0.5):
            return
        reason = m.rng.choices([c for c, _ in reasons], weights=[w for _, w in reasons])[0]
        given = t + m.rng.uniform(30.0, max(60.0, lasts))
        if given >= self.length:
            return
        self.emit(t, m, "reason", reason)
        self.story.reasons.append(ReasonGiven(m.plan.code, self.at(t), reason, self.at(given)))

    def advance(self, m: _Machine, t: float, until: float) -> None:
        """Run the machine's own story from `t` to `until`: parts while running, stops as they come."""
        while t < until:
            stop = min(m.until, until)
            if m.activity == RUN:
                self.produce(m, t, stop)
            t = stop
            if m.until <= until:
                if m.activity == RUN:
                    self.next_stop(m, t)
                else:
                    if m.activity == CHANGEOVER:
                        m.started_up_at = t
                    self.next_run(m, t)

    def produce(self, m: _Machine, t: float, until: float) -> None:
        m.progress += (until - t) * m.speed / m.cycle_time
        parts = int(m.progress)
        if not parts:
            return
        m.progress -= parts
        p = self.profile
        rate = p.startup_scrap_rate if t - m.started_up_at < p.startup_seconds else p.scrap_rate
        m.total += parts
        m.rejects += int(parts * rate + m.rng.random())

    def read_counters(self, m: _Machine, t: float, every: bool = False) -> None:
        self.emit(t, m, "total_count", m.total % m.plan.counter_modulus)
        if every or m.rejects != m.rejects_read:
            self.emit(t, m, "reject_count", m.rejects % m.plan.counter_modulus)
            m.rejects_read = m.rejects

    # -- the line's story: breaks, orders and their changeovers, scrap at a shift's end ---------

    def seconds(self, moment: datetime) -> float:
        return (moment - self.start).total_seconds()

    def pick_product(self, t: float, expected_hours: float) -> str | None:
        products = self.plan.products
        if not products:
            return None
        if self.length - t < (expected_hours + 4) * 3600 and self.plan.home_product:
            return self.plan.home_product
        # The first order is of another product than the home one: the story always shows a changeover.
        current = self.order.product if self.order else self.plan.home_product
        others = [p for p in products if p != current] or list(products)
        return self.rng.choice(others)

    def start_order(self, t: float) -> None:
        hours = self.rng.uniform(*ORDER_HOURS)
        product = self.pick_product(t, hours)
        if product is None:
            return
        last = self.length - t < (hours + 4) * 3600
        if last:  # the order running now: it goes on beyond the end
            hours = (self.length - t) / 3600 + self.rng.uniform(3.0, 8.0)
        cycle = self.constraint.plan.cycle_time(product)
        quantity = max(100, round(hours * 3600 * PLANNED_PACE / cycle, -2))
        planned_start = self.at(t + 60 * self.rng.uniform(-40.0, 30.0))
        number = f"WO-{self.plan.code}-{len(self.story.orders) + 1:03d}"
        self.order = OrderRun(number, product, int(quantity), planned_start,
                              planned_start + timedelta(hours=quantity * cycle / 3600 / PLANNED_PACE), self.at(t))
        self.story.orders.append(self.order)
        self.order_good_from = self.constraint.total - self.constraint.rejects
        for m in self.machines:
            m.cycle_time = m.plan.cycle_time(product)

    def order_done(self) -> bool:
        if self.order is None:
            return False
        return self.constraint.total - self.constraint.rejects - self.order_good_from >= self.order.quantity

    def changeover(self, t: float) -> None:
        """Complete the order, start the next and set the line up for it, all machines stopped together."""
        self.order.end = self.at(t)
        before = self.order.product
        self.start_order(t)
        if self.order.product == before:
            return
        lasts = self.rng.uniform(*self.profile.changeover_seconds)
        for m in self.machines:
            self.enter(m, t, CHANGEOVER, lasts)

    def plan_ahead(self) -> None:
        """Two orders after the one running at the end, released for the next days."""
        if self.order is None or not self.plan.products:
            return
        cycle_end = self.order.planned_end
        product = self.order.product
        for _ in range(2):
            others = [p for p in self.plan.products if p != product] or list(self.plan.products)
            product = self.rng.choice(others)
            cycle = self.constraint.plan.cycle_time(product)
            quantity = int(round(self.rng.uniform(*ORDER_HOURS) * 3600 * PLANNED_PACE / cycle, -2))
            start = cycle_end + timedelta(minutes=20)
            cycle_end = start + timedelta(hours=quantity * cycle / 3600 / PLANNED_PACE)
            self.story.orders.append(OrderRun(f"WO-{self.plan.code}-{len(self.story.orders) + 1:03d}", product,
                                              quantity, start, cycle_end, None))

    def enter_scrap(self, t: float) -> None:
        """At a shift's end the operator now and then enters the parts found bad at the line."""
        if self.plan.scrap_reason is None or self.rng.random() < 0.4:
            return
        m = self.rng.choice(self.machines)
        quantity = self.rng.randint(3, 40)
        self.story.scrap.append(ScrapEntry(m.plan.code, self.at(t), quantity, self.plan.scrap_reason))

    def tell(self) -> LineStory:
        for m in self.machines:
            m.fault_every = self.profile.fault_every
            m.cycle_time = m.plan.default_cycle_time
            m.total = m.rng.randrange(m.plan.counter_modulus // 2)  # a counter is rarely at zero
            m.rejects = m.rng.randrange(1000)
            self.next_run(m, 0.0)
            self.read_counters(m, 0.0, every=True)
        self.start_order(0.0)
        moments = [(self.seconds(b), "break", self.seconds(e)) for b, e in self.plan.breaks]
        moments += [(self.seconds(s) - 600, "scrap", 0.0) for s in self.plan.shift_ends]
        moments = sorted(mo for mo in moments if 0 < mo[0] < self.length)
        every = self.plan.read_every
        ticks = int(self.length // every)
        events = iter(moments)
        upcoming = next(events, None)
        in_break_until = -1.0
        t = 0.0
        for tick in range(1, ticks + 2):
            now = min(tick * every, self.length)
            if now <= t:
                break
            while upcoming is not None and upcoming[0] <= now:
                at, kind, ends = upcoming
                for m in self.machines:
                    self.advance(m, t, at)
                t = at
                if kind == "break":
                    for m in self.machines:
                        self.enter(m, at, BREAK, ends - at)
                    in_break_until = ends
                else:
                    self.enter_scrap(at)
                upcoming = next(events, None)
            for m in self.machines:
                self.advance(m, t, now)
                m.fault_every = self.profile.fault_every * (1 + FAULTS_FEWER_BY * now / self.length)
            t = now
            for m in self.machines:
                self.read_counters(m, t)
            if t >= in_break_until and self.order_done() and self.length - t > 3600:
                self.changeover(t)
        self.plan_ahead()
        self.story.readings.sort(key=lambda r: r.ts)
        self.story.made = {m.plan.code: (m.total, m.rejects) for m in self.machines}
        return self.story


def line_story(plan: LinePlan, start: datetime, end: datetime, seed: int = 1,
               profile: Profile | None = None) -> LineStory:
    """What the line did from `start` to `end` (aware datetimes), drawn from `seed`."""
    profile = profile or PROFILE
    return _Story(plan, start, end, seed, profile).tell()
