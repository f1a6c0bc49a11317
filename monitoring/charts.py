"""What the screens and the API show of a machine over a period: timeline, stops, downtime, parts per hour.

Each is a fold over one `kpi.MachinePeriod`, so a chart adds up to the figures of the OEE:
the downtime of the Pareto is the unplanned stop time, the stops are those the figures count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from monitoring.kpi import MachinePeriod
from monitoring.lib import oee
from monitoring.models import CountBucket
from planning.models import Machine
from planning.schedule import LineCalendar


def instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


@dataclass(frozen=True)
class TimelineRow:
    """A stretch of one state clipped to the period, with the stop's reason where one was given."""

    start: datetime
    end: datetime
    state: str
    reason: str | None
    reason_name: str | None
    fault_code: int | None

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


def timeline(period: MachinePeriod) -> list[TimelineRow]:
    """The machine's states over the period (clipped to it, ending now at the latest); silence is no-data."""
    start, end = period.start.timestamp(), period.end.timestamp()
    rows = []
    for stretch in period.stretches():
        span = stretch.span
        a, b = max(span.start, start), min(span.end, end)
        if a < b:
            rows.append(TimelineRow(instant(a), instant(b), span.state, span.reason, span.reason_name,
                                    span.fault_code))
    return rows


@dataclass(frozen=True)
class Stop:
    """A stop (stopped or no data) that overlaps the period, whole, and whether it counts against OEE."""

    start: datetime
    end: datetime
    """Where it ends as the figures count it: a stop still going ends now, or where the data stopped."""
    still_going: bool
    state: str
    reason: str | None
    reason_name: str | None
    fault_code: int | None
    unplanned: bool
    needs_reason: bool
    """Unplanned and nobody has said why: the operator is asked for a reason."""
    worth: str = ""
    """What its time is worth (`oee.Stretch.kind`): a short stop, an unplanned stop, outside production…"""

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


def stops(period: MachinePeriod, asked_end: datetime | None = None) -> list[Stop]:
    """The stops that overlap the period (up to `asked_end`, which may lie in the future), oldest first."""
    start = period.start.timestamp()
    end = (asked_end or period.end).timestamp()
    rows = []
    for stretch in period.stretches():
        span = stretch.span
        if span.state == oee.RUNNING or span.start >= end or (span.end <= start and not span.still_going):
            continue
        rows.append(Stop(
            instant(span.start), instant(span.end), span.still_going, span.state, span.reason, span.reason_name,
            span.fault_code, stretch.unplanned, stretch.needs_reason, stretch.kind,
        ))
    return rows


def downtime_by_reason(
    machines: list[Machine], start: datetime, end: datetime, now: datetime, calendar: LineCalendar | None = None,
) -> dict[str, float]:
    """Seconds of stop per reason name of several machines inside planned production time, largest first.

    Unplanned stops (including unexplained and no-data time) add up to the figures'
    `unplanned_stop_s`; stops shorter than the micro-stop threshold are one entry, "Small stops".
    """
    totals: dict[str, float] = defaultdict(float)
    calendars: dict[int, LineCalendar] = {}
    for machine in machines:
        period = MachinePeriod(machine, start, end, now, calendar or calendars.get(machine.line_id))
        if period.empty:
            continue
        calendars[machine.line_id] = period.calendar
        for reason, seconds in period.downtime().items():
            totals[reason] += seconds
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def parts_per_hour(machine: Machine, start: datetime, end: datetime) -> list[dict]:
    """Good and rejected parts per local clock hour of the machine's site over [start, end)."""
    zone = machine.line.area.site.zone
    # Keyed by the hour's start in UTC: the two 02:00 hours of the night the clocks go back stay two.
    counts: dict[datetime, list[int]] = {}
    labels: dict[datetime, datetime] = {}
    rows = CountBucket.objects.filter(machine=machine, minute__gte=start, minute__lt=end).values_list(
        "minute", "total_count", "good_count", "reject_count", "scrap_count",
    )
    for minute, *count in rows:
        local = minute.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        hour = local.astimezone(UTC)
        labels[hour] = local
        sums = counts.setdefault(hour, [0, 0, 0, 0])
        for i, value in enumerate(count):
            sums[i] += value
    hours = []
    for hour, (total, good, reject, scrap) in sorted(counts.items()):
        # The hour's counts are resolved together, as the period's are: a reject read a minute
        # after its part still counts against that part.
        good_parts, reject_parts = oee.resolve_quality(total, good, reject, scrap, machine.quality_counter)
        hours.append({"hour": labels[hour].isoformat(), "label": labels[hour].strftime("%H:%M"),
                      "good": good_parts, "reject": reject_parts})
    return hours
