"""Which work order a machine's parts belong to, from the orders' run windows.

Pure: no Django. An order runs on a machine from its actual start to its actual end (open
while it runs), except while it is paused. Parts counted at an instant belong to the order
whose run window holds that instant: the machine's own order before an order for its whole line.
`previous_order` is the order that ran last before an instant (whose product a new order changes
over from), `run_seconds` how long orders ran in a stretch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RunWindow:
    """A stretch of time in which one order runs on a machine; `end` is None while it runs."""

    order_id: int
    start: datetime
    end: datetime | None
    machine_specific: bool
    """The order names the machine (it wins over an order for the whole line)."""

    def holds(self, ts: datetime) -> bool:
        return self.start <= ts and (self.end is None or ts < self.end)


def order_at(windows: Sequence[RunWindow], ts: datetime) -> int | None:
    """The id of the order running at `ts` among `windows`, or None."""
    found = None
    for window in windows:
        if window.holds(ts):
            if window.machine_specific:
                return window.order_id
            found = window.order_id
    return found


Span = tuple[datetime, datetime | None]


def run_windows(actual_start: datetime | None, actual_end: datetime | None, pauses: Iterable[Span]) -> list[Span]:
    """The stretches an order ran: from its start to its end (None: still running), minus its pauses."""
    if actual_start is None:
        return []
    windows: list[Span] = []
    cursor: datetime | None = actual_start
    for pause_start, pause_end in sorted(pauses, key=lambda pause: pause[0]):
        if cursor is None or (actual_end is not None and pause_start >= actual_end):
            break
        if pause_start > cursor:
            windows.append((cursor, pause_start))
        cursor = None if pause_end is None else max(cursor, pause_end)
    if cursor is not None and (actual_end is None or cursor < actual_end):
        windows.append((cursor, actual_end))
    return windows


def changed_range(old: Iterable[Span], new: Iterable[Span], now: datetime) -> tuple[datetime, datetime] | None:
    """The stretch of time outside of which the two sets of windows agree, or None when they are equal.

    An open window (end None) reaches `now`. Parts counted inside the stretch may change order.
    """
    old, new = sorted(set(old), key=_key), sorted(set(new), key=_key)
    if old == new:
        return None
    edges: list[datetime] = []
    for span in set(old) ^ set(new):
        edges += [span[0], span[1] or now]
    # Windows that only moved one edge: the difference lies between the two positions of that edge.
    if len(old) == len(new) == 1:
        (old_start, old_end), (new_start, new_end) = old[0], new[0]
        edges = []
        if old_start != new_start:
            edges += [old_start, new_start]
        if old_end != new_end:
            edges += [old_end or now, new_end or now]
    start, end = min(edges), max(edges)
    return (start, end) if start < end else None


def _key(span: Span) -> tuple[datetime, bool, datetime | None]:
    return span[0], span[1] is None, span[1]


def run_seconds(windows: Iterable[Span], start: datetime, end: datetime) -> float:
    """Seconds of [start, end) that lie inside the windows (an open window reaches `end`)."""
    seconds = 0.0
    for window_start, window_end in windows:
        a, b = max(window_start, start), min(window_end or end, end)
        if a < b:
            seconds += (b - a).total_seconds()
    return seconds


def previous_order(windows: Sequence[RunWindow], before: datetime) -> int | None:
    """The id of the order that ran last on a machine before `before`, among its `windows`, or None.

    That is the order whose window reaches latest up to `before`; on a tie the machine's own order
    wins over its line's, as in `order_at`.
    """
    best: tuple[datetime, bool, datetime] | None = None
    found = None
    for window in windows:
        if window.start >= before:
            continue
        key = (min(window.end or before, before), window.machine_specific, window.start)
        if best is None or key > best:
            best, found = key, window.order_id
    return found
