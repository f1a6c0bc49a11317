"""What the pages chart: state timelines, parts per hour and downtime by reason.

Times are classified exactly as `monitoring.kpi` does (the same state spans, calendar and
micro-stop rule), so the downtime of a chart adds up to the unplanned stop time of the OEE.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitoring import kpi
from monitoring.lib import oee
from monitoring.models import CountBucket, Machine, StateInterval
from planning.schedule import line_calendar

UNEXPLAINED = "Unexplained"
NO_DATA = "No data"
SMALL_STOPS = "Small stops"


@dataclass(frozen=True)
class Stretch:
    """A stretch of one state on a timeline, with the stop's reason where one was given."""

    start: datetime
    end: datetime
    state: str
    reason: str | None
    reason_name: str | None
    fault_code: int | None

    def as_dict(self) -> dict:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(), "state": self.state,
            "reason": self.reason, "reason_name": self.reason_name, "fault_code": self.fault_code,
            "duration_s": (self.end - self.start).total_seconds(),
        }


def _stretches_with_spans(
    machine: Machine, start: datetime, end: datetime, now: datetime,
) -> list[tuple[Stretch, oee.StateSpan]]:
    """The machine's stored state rows around [start, end), paired with the spans the KPIs use."""
    margin = timedelta(seconds=machine.micro_stop_threshold)
    for _ in range(3):
        spans = kpi.state_spans(machine, start, end, now)
        # The same query as kpi.state_spans, for the reason of each span.
        rows = list(
            StateInterval.objects.overlapping(start - margin, end + margin)
            .filter(machine=machine).select_related("reason").order_by("start")
        )
        if [row.start.timestamp() for row in rows] == [span.start for span in spans]:
            break
        # The pipeline rewrote rows between the two queries: read both again.
    else:
        raise RuntimeError(f"the state history of {machine.code} kept changing while being read")
    pairs = []
    for row, span in zip(rows, spans):
        stretch = Stretch(
            start=_instant(span.start), end=_instant(span.end), state=row.state,
            reason=row.reason.code if row.reason else None,
            reason_name=row.reason.name if row.reason else None,
            fault_code=row.fault_code,
        )
        pairs.append((stretch, span))
    return pairs


def _instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def timeline(machine: Machine, start: datetime, end: datetime, now: datetime) -> list[Stretch]:
    """The machine's states over [start, min(end, now)), clipped to the period; gaps are no-data."""
    end = min(end, now)
    out: list[Stretch] = []
    cursor = start
    for stretch, _ in _stretches_with_spans(machine, start, end, now):
        a, b = max(stretch.start, start), min(stretch.end, end)
        if b <= a:
            continue
        if a > cursor:
            out.append(Stretch(cursor, a, oee.NO_DATA, None, None, None))
        out.append(Stretch(a, b, stretch.state, stretch.reason, stretch.reason_name, stretch.fault_code))
        cursor = b
    if out and cursor < end:
        out.append(Stretch(cursor, end, oee.NO_DATA, None, None, None))
    return out


def downtime_by_reason(machines: list[Machine], start: datetime, end: datetime, now: datetime) -> dict[str, float]:
    """Seconds of stop per reason name inside planned production time, largest first.

    Unplanned stops (including unexplained and no-data time) add up to the KPIs'
    `unplanned_stop_s`; stops shorter than the micro-stop threshold are one entry, "Small stops".
    """
    totals: dict[str, float] = defaultdict(float)
    clipped_end = min(end, now)
    if clipped_end <= start:
        return {}
    calendars = {}
    for machine in machines:
        if machine.line_id not in calendars:
            calendars[machine.line_id] = line_calendar(machine.line, start, clipped_end)
        calendar = calendars[machine.line_id]
        scheduled = oee.intersect(oee.union(calendar.scheduled), [(start.timestamp(), clipped_end.timestamp())])
        production = oee.subtract(scheduled, oee.intersect(oee.union(calendar.planned), scheduled))
        pairs = _stretches_with_spans(machine, start, clipped_end, now)
        episodes = oee.stop_episode_lengths([span for _, span in pairs])
        covered = 0.0
        for (stretch, span), length in zip(pairs, episodes):
            seconds = oee.total(oee.intersect([(span.start, span.end)], production))
            if seconds <= 0:
                continue
            covered += seconds
            if span.state == oee.RUNNING or (span.state == oee.STOPPED and span.planned):
                continue
            if span.state == oee.STOPPED and length < machine.micro_stop_threshold:
                totals[SMALL_STOPS] += seconds
            elif span.state == oee.STOPPED:
                totals[stretch.reason_name or UNEXPLAINED] += seconds
            else:
                totals[NO_DATA] += seconds
        uncovered = oee.total(production) - covered
        if uncovered > 0:
            totals[NO_DATA] += uncovered
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def parts_per_hour(machine: Machine, start: datetime, end: datetime) -> list[dict]:
    """Good and rejected parts per local clock hour of the machine's site over [start, end)."""
    zone = machine.line.area.site.zone
    hours: dict[datetime, list[int]] = {}
    rows = CountBucket.objects.filter(machine=machine, minute__gte=start, minute__lt=end).values_list(
        "minute", "total_count", "good_count", "reject_count", "scrap_count",
    )
    for minute, total, good, reject, scrap in rows:
        good_parts, reject_parts = oee.resolve_quality(total, good, reject, scrap, machine.quality_counter)
        hour = minute.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        sums = hours.setdefault(hour, [0, 0])
        sums[0] += good_parts
        sums[1] += reject_parts
    return [
        {"hour": hour.isoformat(), "label": hour.strftime("%H:%M"), "good": good, "reject": reject}
        for hour, (good, reject) in sorted(hours.items())
    ]
