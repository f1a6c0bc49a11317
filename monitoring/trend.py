"""Proof of improvement: a line's downtime, OEE and reliability per week or month, and period against period.

Every figure is a fold over the doors others use: OEE, its factors, times and the six big losses
are `monitoring.kpi`'s (read from the hourly rollups), so each week's equal `/api/v1/oee/` for that
week; downtime per reason is `MachinePeriod.downtime` (state intervals: the rollups hold times per
loss, not per reason), adding up to the same unplanned stop time; failures are the stops that
`/api/v1/stops/` reports (`lib.states.stop_episodes`, at least the micro-stop threshold long).
The arithmetic of MTBF, MTTR and the change in percent is `monitoring.lib.reliability`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from monitoring import charts, kpi
from monitoring.lib import oee, reliability
from monitoring.lib.states import Interval, StopEpisode, stop_episodes
from monitoring.models import MachineStatus, StateInterval
from planning.lib.calendar import local_day_bounds
from planning.models import DowntimeReason, Line, LossCategory, Machine
from planning.schedule import line_calendar

WEEK, MONTH = "week", "month"
GROUPINGS = {WEEK: _("Week"), MONTH: _("Month")}
# Reading a week or month costs the same whatever its place in history (rollups), but the reasons
# are read from the state intervals: three years of them is what a page may ask for at once.
MAX_TREND_DAYS = 3 * 366


def bucket_days(first_day: date, last_day: date, grouping: str) -> list[tuple[date, date]]:
    """(first, last) local days of each week (Monday to Sunday) or calendar month in [first_day, last_day],
    clipped to it."""
    buckets = []
    day = first_day
    while day <= last_day:
        if grouping == MONTH:
            following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        else:
            following = day + timedelta(days=7 - day.weekday())
        buckets.append((day, min(following - timedelta(days=1), last_day)))
        day = following
    return buckets


def bucket_label(first: date, grouping: str) -> str:
    if grouping == MONTH:
        return first.strftime("%Y-%m")
    year, week, _ = first.isocalendar()
    return f"{year}-W{week:02d}"


def failures(machine: Machine, start: datetime, end: datetime, now: datetime) -> list[StopEpisode]:
    """The machine's failures that began in [start, end) and have ended by now: stops (as `/api/v1/stops/`
    reports them) of at least the micro-stop threshold whose reason (that of their last part, as the stop
    events name it) is an equipment failure."""
    failure_reasons = set(DowntimeReason.objects.filter(
        loss_category=LossCategory.EQUIPMENT_FAILURE).values_list("code", flat=True))
    # Only stopped intervals: a running one between two breaks their chain all the same. A second
    # before the start finds a stop that began earlier and goes on, so it is not taken as a new one.
    rows = (StateInterval.objects.overlapping(start - timedelta(seconds=1), end)
            .filter(machine=machine, state=MachineStatus.STOPPED).order_by("start")
            .values_list("start", "end", "reason__code"))
    episodes = stop_episodes(Interval(start=a, state=MachineStatus.STOPPED, reason=code, end=b) for a, b, code in rows)
    return [
        e for e in episodes
        if start <= e.start < end and e.end is not None and e.end <= now and e.reason in failure_reasons
        and (e.end - e.start).total_seconds() >= machine.micro_stop_threshold
    ]


@dataclass(frozen=True)
class Reliability:
    """A machine's failures over a period and what ISO 22400-2 makes of them."""

    operating_s: float
    """Run time (`run_s` of `/api/v1/oee/`): the operating time failures interrupt."""
    repairs_s: tuple[float, ...]
    """Each failure's length, from its start until the machine ran again."""

    @property
    def failures(self) -> int:
        return len(self.repairs_s)

    @property
    def repair_s(self) -> float:
        return sum(self.repairs_s)

    @property
    def mtbf_s(self) -> float | None:
        return reliability.mean_operating_time_between_failures(self.operating_s, self.failures)

    @property
    def mttr_s(self) -> float | None:
        return reliability.mean_time_to_repair(self.repairs_s)


def machine_reliability(result: kpi.Result, episodes: list[StopEpisode]) -> Reliability:
    return Reliability(result.times.run, tuple((e.end - e.start).total_seconds() for e in episodes))


@dataclass
class Bucket:
    label: str
    first_day: date
    last_day: date
    start: datetime
    end: datetime
    line_result: kpi.Result = kpi.EMPTY
    """The line's figures: its subject machines' summed (`kpi.line_result`)."""
    machines: dict[str, kpi.Result] = field(default_factory=dict)
    reliability: dict[str, Reliability] = field(default_factory=dict)
    reason_groups: dict[str, float] = field(default_factory=dict)
    """Seconds of unplanned stop of the subject machines per reason group (small stops are run time)."""


@dataclass
class Trend:
    line: Line
    first_day: date
    last_day: date
    grouping: str
    start: datetime
    end: datetime
    machines: list[Machine]
    buckets: list[Bucket] = field(default_factory=list)
    reliability: dict[str, Reliability] = field(default_factory=dict)
    """Per machine over the whole period."""

    @property
    def reason_groups(self) -> list[str]:
        """The groups with downtime, most hours first."""
        totals: dict[str, float] = defaultdict(float)
        for bucket in self.buckets:
            for group, seconds in bucket.reason_groups.items():
                totals[group] += seconds
        return sorted((g for g, s in totals.items() if s > 0), key=lambda g: -totals[g])


def local_period(line: Line, first_day: date, last_day: date) -> tuple[datetime, datetime]:
    zone = line.area.site.zone
    return local_day_bounds(first_day, zone)[0], local_day_bounds(last_day, zone)[1]


def reason_group_names() -> dict[str, str]:
    """Reason code → the name of its group (a group, or a reason without one, is its own)."""
    return {code: parent or name for code, name, parent in
            DowntimeReason.objects.values_list("code", "name", "parent__name")}


def build_trend(line: Line, first_day: date, last_day: date, grouping: str = WEEK,
                now: datetime | None = None) -> Trend:
    """The line's figures per week or month of local days [first_day, last_day]."""
    now = now or timezone.now()
    start, end = local_period(line, first_day, last_day)
    machines = line.machines_in_order()
    subject = line.subject_machines()
    trend = Trend(line, first_day, last_day, grouping, start, end, machines)
    groups = reason_group_names()
    calendar = line_calendar(line, start, end)
    episodes = {m.code: failures(m, start, end, now) for m in {*machines, *subject}}
    for first, last in bucket_days(first_day, last_day, grouping):
        b_start, b_end = local_period(line, first, last)
        bucket = Bucket(bucket_label(first, grouping), first, last, b_start, b_end)
        trend.buckets.append(bucket)
        if b_start >= now:
            continue
        for machine in {*machines, *subject}:
            result = kpi.machine_result(machine, b_start, b_end, now)
            bucket.machines[machine.code] = result
            bucket.reliability[machine.code] = machine_reliability(
                result, [e for e in episodes[machine.code] if b_start <= e.start < b_end])
        bucket.line_result = sum((bucket.machines[m.code] for m in subject), kpi.EMPTY)
        for machine in subject:
            period = kpi.MachinePeriod(machine, b_start, b_end, now, calendar)
            for code, seconds in period.downtime(by_code=True).items():
                if code != oee.SMALL_STOPS_LABEL:
                    group = groups.get(code, code)
                    bucket.reason_groups[group] = bucket.reason_groups.get(group, 0.0) + seconds
    for machine in machines:
        result = kpi.machine_result(machine, start, end, now)
        trend.reliability[machine.code] = machine_reliability(result, episodes[machine.code])
    return trend


# --- period against period -----------------------------------------------------------------------

@dataclass(frozen=True)
class LossRow:
    kind: str
    """'loss' (one of the six big losses) or 'reason' (a downtime reason of the Pareto)."""
    name: str
    before_s: float
    after_s: float

    @property
    def change(self) -> float | None:
        return reliability.change_percent(self.before_s, self.after_s)


@dataclass
class Comparison:
    line: Line
    before_days: tuple[date, date]
    after_days: tuple[date, date]
    before: kpi.Result
    after: kpi.Result
    rows: list[LossRow]


def build_comparison(line: Line, before_days: tuple[date, date], after_days: tuple[date, date],
                     now: datetime | None = None) -> Comparison:
    """Hours lost per loss and per reason of the line (its subject machines) in two periods of local days."""
    now = now or timezone.now()
    subject = line.subject_machines()
    results, downtime = [], []
    for first, last in (before_days, after_days):
        start, end = local_period(line, first, last)
        results.append(kpi.line_result(line, start, end, now))
        downtime.append(charts.downtime_by_reason(subject, start, end, now))
    rows = [LossRow("loss", LossCategory(loss).label, results[0].figures.losses[loss],
                    results[1].figures.losses[loss]) for loss in oee.SIX_BIG_LOSSES]
    reasons = sorted(downtime[0].keys() | downtime[1].keys(),
                     key=lambda r: (-(downtime[0].get(r, 0.0) + downtime[1].get(r, 0.0)), r))
    rows += [LossRow("reason", r, downtime[0].get(r, 0.0), downtime[1].get(r, 0.0)) for r in reasons]
    return Comparison(line, before_days, after_days, results[0], results[1], rows)
