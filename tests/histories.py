"""Histories of the test plant (tests/conftest.py `plant`) that several test modules read.

Each builds its observations through the one door, `record_observations`, or as the CSV that
`import_observations` reads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from monitoring.pipeline import ObservationIn, record_observations

# --- A1 on Monday 2026-01-12, read every minute: a jam, an unexplained stop, a small stop, a changeover ---

# Monday 2026-01-12; Berlin is UTC+1, so line A's early shift is 05:00–13:00 UTC, its break 09:00–09:30.
EARLY = (datetime(2026, 1, 12, 5, 0, tzinfo=UTC), datetime(2026, 1, 12, 13, 0, tzinfo=UTC))
LATE = (datetime(2026, 1, 12, 13, 0, tzinfo=UTC), datetime(2026, 1, 12, 21, 0, tzinfo=UTC))


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 1, 12, hour, minute, second, tzinfo=UTC)


# (start, end, reason) of A1's stops: a jam, an unexplained stop, a 60-s small stop, a changeover.
A1_STOPS = [
    (at(6, 0), at(6, 30), "jam"),
    (at(7, 0), at(7, 10), None),
    (at(8, 0), at(8, 1), None),
    (at(14, 0), at(14, 20), "changeover"),
]


def monday_of_a1(machine: str = "A1", until: datetime = at(16, 0), parts_per_minute: int = 50) -> None:
    """A1 from 05:00 to `until` UTC: the stops above, parts counted every minute, a reject now and then."""
    rows = [ObservationIn(machine, at(5, 0), "running", True)]
    for start, end, reason in A1_STOPS:
        if end > until:
            continue
        rows += [ObservationIn(machine, start, "running", False), ObservationIn(machine, end, "running", True)]
        if reason:
            rows.append(ObservationIn(machine, start, "reason", reason))
    total = rejects = 0
    minute = at(5, 0)
    while minute <= until:
        if not any(start <= minute < end for start, end, _ in A1_STOPS):
            total += parts_per_minute
            if minute.minute % 17 == 0:
                rejects += 1
        reading = minute + timedelta(seconds=30)
        rows += [ObservationIn(machine, reading, "total_count", total), ObservationIn(machine, reading, "reject_count", rejects)]
        minute += timedelta(minutes=1)
    result = record_observations(rows)
    assert not result.rejected


def api_oee(client, machine: str, start: datetime | str, end: datetime | str) -> dict:
    start, end = (t if isinstance(t, str) else t.isoformat() for t in (start, end))
    response = client.get("/api/v1/oee/", {"machine": machine, "start": start, "end": end})
    assert response.status_code == 200, response.content
    return response.json()



# --- A1's early shift as a CSV file, with a 16-bit rollover: the OEE a person computes by hand ---

# Monday 2026-01-12, Berlin is UTC+1: line A's early shift is 05:00–13:00 UTC, break 09:00–09:30.
SHIFT_START = datetime(2026, 1, 12, 5, 0, tzinfo=UTC)
SHIFT_END = datetime(2026, 1, 12, 13, 0, tzinfo=UTC)
DAY_STOPS = [  # (start, end) UTC: a 30-min stop, the break, a 60-s micro-stop
    (datetime(2026, 1, 12, 7, 0, tzinfo=UTC), datetime(2026, 1, 12, 7, 30, tzinfo=UTC)),
    (datetime(2026, 1, 12, 9, 0, tzinfo=UTC), datetime(2026, 1, 12, 9, 30, tzinfo=UTC)),
    (datetime(2026, 1, 12, 11, 0, tzinfo=UTC), datetime(2026, 1, 12, 11, 1, tzinfo=UTC)),
]
PARTS_PER_RUNNING_MINUTE = 48
REJECTS = 50


def day_csv() -> str:
    """Observations of A1 for the shift: state changes, and both counters read every minute at :30."""
    rows = ["ts,machine,signal,value", f"{SHIFT_START.isoformat()},A1,running,true"]
    for start, end in DAY_STOPS:
        rows += [f"{start.isoformat()},A1,running,false", f"{end.isoformat()},A1,running,true"]
    total, rejects, running_minutes = 60000, 0, 0  # the 16-bit counter rolls over during the shift
    rows.append(f"{SHIFT_START.isoformat()},A1,total_count,{total}")
    rows.append(f"{SHIFT_START.isoformat()},A1,reject_count,0")
    minute = SHIFT_START
    while minute < SHIFT_END:
        reading = minute + timedelta(seconds=30)
        if not any(start <= minute < end for start, end in DAY_STOPS):
            running_minutes += 1
            total = (total + PARTS_PER_RUNNING_MINUTE) % 65536
            if minute.hour >= 6 and rejects < REJECTS and running_minutes % 7 == 0:
                rejects += 1
        rows.append(f"{reading.isoformat()},A1,total_count,{total}")
        rows.append(f"{reading.isoformat()},A1,reject_count,{rejects}")
        minute += timedelta(minutes=1)
    assert (running_minutes, rejects) == (419, REJECTS)
    return "\n".join(rows) + "\n"



# --- B1 over the last 20 minutes ---

FIGURES = ("oee", "availability", "performance", "quality")


def recent_b1(minutes_ago_end: float = 5, stop_reason: str | None = None) -> None:
    """B1 over the last 20 minutes: running, a 3-minute stop, running; 100 parts a minute, 5 rejected."""
    now = timezone.now().replace(microsecond=0)
    start, end = now - timedelta(minutes=20), now - timedelta(minutes=minutes_ago_end)
    rows = [ObservationIn("B1", start, "running", True)]
    stop_start, stop_end = start + timedelta(minutes=8), start + timedelta(minutes=11)
    rows += [ObservationIn("B1", stop_start, "running", False), ObservationIn("B1", stop_end, "running", True)]
    total = 1000
    t = start
    while t <= end:
        if not stop_start <= t < stop_end:
            total += 100
        rows.append(ObservationIn("B1", t, "total_count", total))
        rows.append(ObservationIn("B1", t, "reject_count", 5 if t > start + timedelta(minutes=5) else 0))
        t += timedelta(minutes=1)
    if stop_reason:
        rows.append(ObservationIn("B1", end, "running", False))
        rows.append(ObservationIn("B1", end, "reason", stop_reason))
    record_observations(rows)




# --- B1 up to now: line B runs around the clock, so a stop or a silence now is in production ---


def b1_now(stopped_minutes: float = 0, reason: str | None = None, silent_minutes: float = 0,
           rejects_per_minute: int = 0) -> datetime:
    """B1 over the last 40 minutes up to now, read every minute: 100 parts a minute (`rejects_per_minute` of
    them rejected); stopped for the last `stopped_minutes` (with `reason`); nothing read in the last
    `silent_minutes`. Returns when it stopped (now when it did not)."""
    now = timezone.now().replace(microsecond=0)
    start, stop, last = (now - timedelta(minutes=m) for m in (40, stopped_minutes, silent_minutes))
    rows = [ObservationIn("B1", start, "running", True)]
    if stopped_minutes:
        rows.append(ObservationIn("B1", stop, "running", False))
        if reason:
            rows.append(ObservationIn("B1", stop, "reason", reason))
    total = rejects = 0
    t = start
    while t <= last:
        if not stopped_minutes or t < stop:
            total, rejects = total + 100, rejects + rejects_per_minute
        rows += [ObservationIn("B1", t, "total_count", total), ObservationIn("B1", t, "reject_count", rejects)]
        t += timedelta(minutes=1)
    assert not record_observations(rows).rejected
    return stop


# --- B1 on Monday 2026-01-12: an hour of parts ---

NOON = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)  # Monday; line B runs all day (from 23:00 UTC, Berlin midnight)


def hour_of_b1() -> None:
    """B1 runs from 09:00 UTC; its counter, read each minute until 09:59, counts 30 parts a minute: 1,770."""
    items = [ObservationIn("B1", NOON - timedelta(hours=1), "running", True)]
    items += [ObservationIn("B1", NOON - timedelta(minutes=60 - k), "total_count", 30 * k) for k in range(60)]
    record_observations(items, all_or_nothing=True)


def parts_just_made(machine: str, parts: int = 100) -> None:
    """`parts` counted on the machine a minute ago, so that scrap entered now has good parts to come out of."""
    now = timezone.now()
    result = record_observations([ObservationIn(machine, now - timedelta(minutes=2), "total_count", 0),
                                  ObservationIn(machine, now - timedelta(minutes=1), "total_count", parts)])
    assert not result.rejected


# --- A1 over two weeks of line A's shifts: jams halve in the second week (the trend and before/after) ---

# Monday 2026-01-12 to Friday 2026-01-23 (ISO weeks 2026-W03 and W04). Berlin is UTC+1: line A's
# shifts run 05:00–21:00 UTC on weekdays, with the early shift's break 09:00–09:30.
TWO_WEEKS = [datetime(2026, 1, 12, tzinfo=UTC) + timedelta(days=d) for d in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11)]
WEEK_3 = ("2026-01-12", "2026-01-18")
WEEK_4 = ("2026-01-19", "2026-01-25")


def two_weeks_stops(day: datetime) -> list[tuple[datetime, datetime, str | None]]:
    """(start, end, reason) of A1's stops that day: a jam (40 min in week 3, 20 in week 4), a
    15-minute changeover, and in week 3 a 5-minute stop nobody explained."""
    jam = 40 if day.day < 19 else 20
    stops = [
        (day.replace(hour=6), day.replace(hour=6, minute=jam), "jam"),
        (day.replace(hour=14), day.replace(hour=14, minute=15), "changeover"),
    ]
    if day.day < 19:
        stops.append((day.replace(hour=17), day.replace(hour=17, minute=5), None))
    return stops


def two_weeks_of_a1() -> None:
    """A1 runs through both of line A's shifts each weekday, read every minute, 20 parts a running
    minute, 1 reject in 50; stopped as `two_weeks_stops` says."""
    rows = []
    total = rejects = 0
    for day in TWO_WEEKS:
        stops = two_weeks_stops(day)
        rows.append(ObservationIn("A1", day.replace(hour=5), "running", True))
        for start, end, reason in stops:
            rows += [ObservationIn("A1", start, "running", False), ObservationIn("A1", end, "running", True)]
            if reason:
                rows.append(ObservationIn("A1", start, "reason", reason))
        minute = day.replace(hour=5)
        while minute < day.replace(hour=21):
            if not any(start <= minute < end for start, end, _ in stops):
                total += 20
                rejects += minute.minute % 50 == 0
            reading = minute + timedelta(seconds=30)
            rows += [ObservationIn("A1", reading, "total_count", total),
                     ObservationIn("A1", reading, "reject_count", rejects)]
            minute += timedelta(minutes=1)
    result = record_observations(rows)
    assert not result.rejected
