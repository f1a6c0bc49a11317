"""The demo plant's past (`manage.py demo_history`): days of its simulated lines, through the live doors.

What the lines did is drawn by `monitoring.simulator.history`; here it goes in the way the live
plant's data does: readings through the pipeline (`record_observations`), in time order and in
batches as a collector would have stored them; work orders put and moved through the planning
workflow at the instants they started and ended (so a start of another product opens its
changeover through `changeover.open_changeovers`); scrap through `actions.enter_scrap`; a reason
an operator gave as the `reason` observation `actions.assign_reason` writes, with its event.
Finally the closed hours are rolled up. Only the machines the plant simulator serves (loopback
devices) get a past: a real device's machine never gets an invented one.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from monitoring import actions, live, rollups
from monitoring.models import Event, EventKind, Observation, SignalBinding
from monitoring.pipeline import ObservationIn, record_observations
from monitoring.simulator.history import READ_EVERY, LinePlan, LineStory, MachinePlan, OrderRun, Reading, line_story
from monitoring.simulator.plant import load_plant_spec
from planning.lib.instants import iso
from planning.models import DowntimeReason, Line, LossCategory, Machine, ProductCycleTime, WorkOrder
from planning.schedule import line_calendar
from planning.workflow import OrderIn, move_order, put_order

log = logging.getLogger(__name__)

# The story is drawn a little past the start of the command; what has happened by its end goes in
# last, so the live collectors take over from a fresh reading.
TAIL = timedelta(minutes=5)
BATCH = 50_000
OPERATOR = "operator"
ERP = "client:ERP (demo history)"


@dataclass
class Backfill:
    """What went in: per line its orders, per kind the counts."""

    start: datetime
    end: datetime
    observations: int = 0
    orders: dict[str, list[OrderRun]] = field(default_factory=dict)
    reasons_given: int = 0
    scrap_entries: int = 0
    rollup_hours: int = 0
    made: dict[str, tuple[int, int]] = field(default_factory=dict)


def has_history() -> bool:
    """Whether any machine has observations: a demo's past is only drawn into a database without."""
    return Observation.objects.exists()


def line_plans(start: datetime, end: datetime) -> list[LinePlan]:
    """What the story of each line with simulated machines needs from the configuration."""
    served = {machine.code for machine in load_plant_spec().machines}
    machines = list(Machine.objects.filter(code__in=served, enabled=True).select_related("line").order_by(
        "line__code", "position", "code"))
    signals: dict[int, set[str]] = {}
    for machine_id, signal in SignalBinding.objects.filter(machine__in=machines).values_list("machine_id", "signal"):
        signals.setdefault(machine_id, set()).add(signal)
    cycle_times: dict[int, dict[str, float]] = {}
    for machine_id, product, seconds in ProductCycleTime.objects.filter(machine__in=machines).values_list(
            "machine_id", "product__code", "ideal_cycle_time"):
        cycle_times.setdefault(machine_id, {})[product] = seconds
    stop_reasons = tuple(DowntimeReason.objects.for_stops().filter(children__isnull=True)
                         .values_list("code", flat=True))
    scrap = DowntimeReason.objects.for_scrap().filter(loss_category=LossCategory.PRODUCTION_REJECTS,
                                                      children__isnull=True).order_by("code")
    scrap_reason = (scrap.filter(code="scrap-seal").first() or scrap.first())
    plans = []
    for line in Line.objects.filter(pk__in={m.line_id for m in machines}).select_related("area__site").order_by("code"):
        mine = [m for m in machines if m.line_id == line.pk]
        products = sorted({code for m in mine for code in cycle_times.get(m.pk, {})})
        # The live simulator runs each machine at its default cycle time: the order running at the
        # end of the past is of a product made at that pace, so the join shows no change of speed.
        home = next((p for p in products if all(cycle_times.get(m.pk, {}).get(p, m.default_ideal_cycle_time)
                                                == m.default_ideal_cycle_time for m in mine)), None)
        calendar = line_calendar(line, start, end)
        constraint = line.constraint_machine.code if line.constraint_machine_id else mine[0].code
        plans.append(LinePlan(
            code=line.code,
            machines=tuple(MachinePlan(m.code, frozenset(signals.get(m.pk, ())), m.counter_modulus,
                                       m.micro_stop_threshold, m.default_ideal_cycle_time, cycle_times.get(m.pk, {}))
                           for m in mine),
            constraint=constraint if constraint in {m.code for m in mine} else mine[0].code,
            products=tuple(products), home_product=home or (products[0] if products else None),
            breaks=tuple(b for w in calendar.windows for b in w.breaks),
            shift_ends=tuple(w.end for w in calendar.windows if w.end <= end),
            stop_reasons=stop_reasons, scrap_reason=scrap_reason.code if scrap_reason else None,
            read_every=min(READ_EVERY, 2.5 * min(m.expected_interval for m in mine)),
        ))
    return plans


@contextmanager
def _screens_quiet() -> Iterator[None]:
    """No live message for the past: no screen watches it, and the channel layer may not run yet."""
    broadcast = live.broadcast_machines
    live.broadcast_machines = lambda machine_ids: None
    try:
        yield
    finally:
        live.broadcast_machines = broadcast


def backfill(days: float, seed: int = 1, now: datetime | None = None,
             say: Callable[[str], None] = log.info) -> Backfill:
    """Draw the last `days` of every simulated line and put them in; return what went in."""
    now = (now or timezone.now()).replace(microsecond=0)
    start = (now - timedelta(days=days)).replace(minute=0, second=0)
    stories = {plan.code: line_story(plan, start, now + TAIL, seed) for plan in line_plans(start, now + TAIL)}
    done = Backfill(start, now)
    say(f"Drawn {sum(len(s.readings) for s in stories.values()):,} readings of {len(stories)} line(s) "
        f"from {iso(start)}.")
    with _screens_quiet(), transaction.atomic():
        _History(stories, now, done, say).put()
    return done


class _History:
    def __init__(self, stories: dict[str, LineStory], now: datetime, done: Backfill,
                 say: Callable[[str], None]) -> None:
        self.stories, self.now, self.done, self.say = stories, now, done, say
        self.readings = heapq.merge(*(s.readings for s in stories.values()), key=lambda r: r.ts)
        self.held: Reading | None = None
        self.operator = User.objects.filter(username=OPERATOR).first()
        self.lines = {line.code: line for line in Line.objects.filter(code__in=stories)}
        self.machines = {m.code: m for m in Machine.objects.filter(line__code__in=stories)}
        self.order_ids: dict[str, int] = {}

    def record_until(self, until: datetime) -> None:
        """Put every reading up to `until` (inclusive) through the pipeline, in batches.

        A reason goes in on its own once the readings of its instant are in, as an operator's does:
        the devices' batches then only carry the projection on, and the reason replays a minute.
        """
        batch: list[ObservationIn] = []
        reasons: list[ObservationIn] = []
        while True:
            reading = self.held or next(self.readings, None)
            self.held = None
            if reading is None or reading.ts > until:
                self.held = reading
                break
            if reasons and reading.ts > reasons[0].ts:
                self._record(batch)
                self._record(reasons)
                batch, reasons = [], []
            observation = ObservationIn(reading.machine, reading.ts, reading.signal, reading.value)
            (reasons if reading.signal == "reason" else batch).append(observation)
            if len(batch) >= BATCH and not reasons:
                self._record(batch)
                batch = []
        self._record(batch)
        self._record(reasons)

    def _record(self, batch: list[ObservationIn]) -> None:
        if not batch:
            return
        result = record_observations(batch)
        if result.rejected:
            first = result.rejected[0]
            raise ValueError(f"{len(result.rejected)} reading(s) of the demo's past refused: "
                             f"{batch[first.index]}: {first.message}")
        self.done.observations += result.applied

    def moments(self) -> list[tuple[datetime, int, str, object]]:
        """What people did, in time order: orders completed, then started, then scrap entered."""
        moments: list[tuple[datetime, int, str, object]] = []
        for line, story in self.stories.items():
            for order in story.orders:
                if order.start is not None and order.start <= self.now:
                    moments.append((order.start, 1, "start", (line, order)))
                    if order.end is not None and order.end <= self.now:
                        moments.append((order.end, 0, "complete", (line, order)))
            moments += [(entry.ts, 2, "scrap", entry) for entry in story.scrap if entry.ts <= self.now]
        return sorted(moments, key=lambda m: (m[0], m[1]))

    def put(self) -> None:
        by = f"user:{OPERATOR}"
        for at, _, kind, subject in self.moments():
            self.record_until(at)
            if kind == "scrap":
                self._scrap(subject)
            elif kind == "start":
                line, order = subject
                self._put_order(line, order, released_at=order.start - timedelta(hours=2))
                before = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
                move_order(self._order(order), "start", by, at=at)
                # The changeovers the start opened were given their reason then, not when this command ran.
                Event.objects.filter(pk__gt=before, kind=EventKind.REASON_GIVEN).update(ts=at)
            else:
                move_order(self._order(subject[1]), "complete", by, at=at)
        self.record_until(self.now)
        for line, story in self.stories.items():
            for order in story.orders:
                if order.start is None:
                    self._put_order(line, order, released_at=self.now)
            self.done.orders[line] = [o for o in story.orders if o.start is None or o.start <= self.now]
            self.done.made.update(story.made)
        self._reasons_given()
        for machine in self.machines.values():
            self.done.rollup_hours += rollups.roll_up(machine, self.now)
        self.say(f"Put {self.done.observations:,} observations, {sum(map(len, self.done.orders.values()))} "
                 f"work orders, {self.done.reasons_given} reasons given, {self.done.scrap_entries} scrap entries; "
                 f"rolled up {self.done.rollup_hours} machine hours.")
        # The minutes this took have happened too: the live collectors go on from a fresh reading.
        self.record_until(timezone.now())

    def _put_order(self, line: str, order: OrderRun, released_at: datetime) -> None:
        data = OrderIn(order.product, order.quantity, line, None, order.planned_start, order.planned_end)
        row, _, _ = put_order(order.number, data, by=ERP)
        self.order_ids[order.number] = row.pk
        move_order(row, "release", ERP, at=min(released_at, self.now))

    def _order(self, order: OrderRun) -> WorkOrder:
        return WorkOrder.objects.get(pk=self.order_ids[order.number])

    def _scrap(self, entry) -> None:
        try:
            actions.enter_scrap(self.machines[entry.machine], entry.quantity, self.operator, entry.reason, ts=entry.ts)
        except ValidationError as refused:  # fewer good parts in the shift than drawn: skip it
            log.info("demo scrap on %s at %s skipped: %s", entry.machine, iso(entry.ts), refused)
            return
        self.done.scrap_entries += 1

    def _reasons_given(self) -> None:
        """The events of the reasons operators gave (their observations went in with the readings)."""
        events = [
            Event(machine=self.machines[given.machine], ts=min(given.given_at, self.now), kind=EventKind.REASON_GIVEN,
                  user=self.operator, detail={"reason": given.reason, "stop_start": iso(given.stop_start),
                                              "split_at": None, "previous": None})
            for story in self.stories.values() for given in story.reasons if given.stop_start <= self.now
        ]
        Event.objects.bulk_create(events, batch_size=1000)
        self.done.reasons_given = len(events)
