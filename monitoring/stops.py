"""Downtime and shifts told to the IT systems, through planning's outbox.

A stop becomes downtime once it lasts the machine's micro-stop threshold: then it has started
(`stop.started`), and when the machine runs again it has ended (`stop.ended`); one that lasts
the machine's `long_stop_after` is also `stop.long`. Each is one event per stop, however often
a replay derives the stop again (the event's key is the machine and the stop's start). The
pipeline announces what its replays find; beat's `announce` finds stops that go on while no
observation arrives, and shifts that have closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from monitoring import kpi
from monitoring.lib.states import Interval, StopEpisode, stop_episodes
from monitoring.models import MachineStatus, StateInterval
from planning import outbox
from planning.lib.instants import iso
from planning.models import DowntimeReason, EventType, Line, Machine
from planning.schedule import line_calendar

# Shifts closed at most this long ago are announced (beat runs every few seconds).
SHIFT_LOOK_BACK = timedelta(hours=24)


def episode_start(machine: Machine, interval_start: datetime) -> datetime:
    """Where the stop that an interval starting at `interval_start` belongs to began (an earlier reason's part)."""
    start = interval_start
    for earlier_start, earlier_end, state in (
        StateInterval.objects.filter(machine=machine, start__lt=interval_start).order_by("-start")
        .values_list("start", "end", "state")[:50]
    ):
        if state != MachineStatus.STOPPED or earlier_end != start:
            break
        start = earlier_start
    return start


def _payload(machine: Machine, episode: StopEpisode, until: datetime) -> dict:
    reason = DowntimeReason.objects.filter(code=episode.reason).first() if episode.reason else None
    return {
        "machine": machine.code, "line": machine.line.code, "start": iso(episode.start), "end": iso(episode.end),
        "duration_s": ((episode.end or until) - episode.start).total_seconds(),
        "reason": episode.reason, "reason_name": reason.name if reason else None, "fault_code": episode.fault_code,
    }


@dataclass(frozen=True)
class Told:
    """What the outbox holds of a machine's stop in progress, as the pipeline last announced it."""

    interval_start: datetime
    """Start of the open interval the stop was in progress with."""
    episode_start: datetime
    keys: frozenset[str]
    """Events written for the stop so far."""


def announce_episode(machine: Machine, episode: StopEpisode, until: datetime,
                     told: frozenset[str] = frozenset()) -> frozenset[str]:
    """Emit what the stop has become by `until` (its end, or the last that is known of it).

    Returns the keys of its events the outbox now holds; those in `told` are known to be there.
    """
    lasted = ((episode.end or until) - episode.start).total_seconds()
    if lasted < machine.micro_stop_threshold:
        return frozenset()
    key = f"{machine.code}:{iso(episode.start)}"
    events = [(EventType.STOP_STARTED, f"stop.started:{key}", episode.start)]
    if machine.long_stop_after is not None and lasted >= machine.long_stop_after:
        events.append((EventType.STOP_LONG, f"stop.long:{key}",
                       episode.start + timedelta(seconds=machine.long_stop_after)))
    if episode.end is not None:
        events.append((EventType.STOP_ENDED, f"stop.ended:{key}", episode.end))
    payload = None
    for event_type, event_key, occurred_at in events:
        if event_key in told:
            continue
        payload = payload or _payload(machine, episode, until)
        outbox.emit(event_type, event_key, occurred_at, payload, line=machine.line)
    return frozenset(event_key for _, event_key, _ in events)


def announce_replayed(
    machine: Machine, intervals: list[Interval], last_ts: datetime | None, told: Told | None = None,
) -> Told | None:
    """The stops a replay derived (the pipeline calls this after its replays, in its transaction).

    `told` is what the previous call said of the stop in progress at `intervals[0]`, if any.
    Returns what the outbox holds of the stop still in progress (None when the machine is not stopped).
    """
    episodes = stop_episodes(intervals)
    if not episodes or last_ts is None:
        return None
    first = episodes[0]
    if first.start == intervals[0].start:
        known = told is not None and told.interval_start == first.start
        start = told.episode_start if known else episode_start(machine, first.start)
        episodes[0] = StopEpisode(start, first.end, first.reason, first.fault_code)
    keys: frozenset[str] = frozenset()
    for episode in episodes:
        keys = announce_episode(machine, episode, last_ts, told.keys if told else frozenset())
    last = intervals[-1]
    if last.state != MachineStatus.STOPPED or last.end is not None:
        return None
    return Told(interval_start=last.start, episode_start=episodes[-1].start, keys=keys)


def announce_open_stops(now: datetime) -> int:
    """Stops going on while no observation arrives: announce them as they reach their thresholds."""
    count = 0
    for interval in (
        StateInterval.objects.filter(end__isnull=True, state=MachineStatus.STOPPED, machine__enabled=True)
        .select_related("machine__line", "reason")
    ):
        machine = interval.machine
        until = kpi.data_ends_at(machine, now) or now
        episode = StopEpisode(episode_start(machine, interval.start), None,
                              interval.reason.code if interval.reason else None, interval.fault_code)
        announce_episode(machine, episode, until)
        count += 1
    return count


def announce_closed_shifts(now: datetime) -> int:
    """Shifts that ended (within the look-back) are closed: their results per machine, once each."""
    count = 0
    for line in Line.objects.filter(machines__enabled=True).distinct().select_related("area__site",
                                                                                    "constraint_machine"):
        calendar = line_calendar(line, now - SHIFT_LOOK_BACK, now)
        for window in calendar.windows:
            key = f"shift.closed:{line.code}:{iso(window.start)}"
            if not now - SHIFT_LOOK_BACK <= window.end <= now or outbox.emitted(key):
                continue
            machines = {m.pk: m for m in [*line.machines_in_order(), *line.subject_machines()]}
            results = {pk: kpi.machine_result(m, window.start, window.end, now, calendar) for pk, m in machines.items()}
            payload = {
                "line": line.code, "shift": window.name, "local_date": window.local_date.isoformat(),
                "start": iso(window.start), "end": iso(window.end),
                "line_results": sum((results[m.pk] for m in line.subject_machines()), kpi.EMPTY).as_dict(),
                "machines": {m.code: results[m.pk].as_dict() for m in line.machines_in_order()},
            }
            if outbox.emit(EventType.SHIFT_CLOSED, key, window.end, payload, line=line):
                count += 1
    return count


def announce(now: datetime | None = None) -> dict[str, int]:
    """What beat runs every few seconds."""
    now = now or timezone.now()
    return {"open_stops": announce_open_stops(now), "closed_shifts": announce_closed_shifts(now)}
