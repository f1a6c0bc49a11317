"""The calendar part of a line in a plant file: its shift pattern and its calendar exceptions.

A shift entry names the days it runs on and stands for one shift of the weekly template per
day. Shifts, breaks and exceptions have no code, so the file's list replaces the stored one:
rows are matched in time order and updated in place, extra rows are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, tzinfo
from itertools import zip_longest
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from monitoring.plantfile.reading import Field, check, clock, days, fill, instant, mapping, sequence, snapshot, text
from planning.lib.calendar import BreakSpec, ShiftSpec, break_outside_shift, overlapping_shifts
from planning.models import Break, CalendarException, Line, Shift, ShiftPattern

if TYPE_CHECKING:  # importing imports this module: the name is for the type hints only
    from monitoring.plantfile.importing import PlantImport

PATTERN_FIELDS = [Field("name", text, required=True)]
SHIFT_FIELDS = [Field("name", text, required=True), Field("start", clock, required=True),
                Field("end", clock, required=True)]
BREAK_FIELDS = [Field("name", text), Field("start", clock, required=True), Field("end", clock, required=True)]
EXCEPTION_FIELDS = [Field("kind", text, required=True), Field("name", text, required=True),
                    Field("start", instant, required=True), Field("end", instant, required=True)]


@dataclass
class ShiftEntry:
    """One shift entry of the file, read and checked: the same shift on each of `weekdays`."""

    path: str
    name: str
    weekdays: list[int]
    start: time
    end: time
    breaks: list[tuple[str, BreakSpec]] = field(default_factory=list)

    def spec(self, weekday: int) -> ShiftSpec:
        return ShiftSpec(self.name, weekday, self.start, self.end, tuple(brk for _, brk in self.breaks))


def import_shift_pattern(run: PlantImport, line: Line, node: Any, path: str) -> None:
    """Make the line's shift pattern the one in the file (`null` removes it)."""
    if node is None:
        if line.pk:
            run.delete(ShiftPattern.objects.filter(line=line))
        return
    node = mapping(node, path, run.problems, ["name", "shifts"])
    if node is None:
        return
    entries = [
        _shift_entry(run, shift_node, f"{path}.shifts[{index}]")
        for index, shift_node in enumerate(sequence(node.get("shifts"), f"{path}.shifts", run.problems))
    ]
    valid = _check_pattern(run, [entry for entry in entries if entry is not None]) and None not in entries
    existing = ShiftPattern.objects.filter(line=line).first() if line.pk else None
    pattern = existing or ShiftPattern()
    stored = run.store(pattern, snapshot(existing) if existing else None, node, PATTERN_FIELDS, path,
                       parents={"line": line})
    if not (valid and stored):
        return
    wanted = sorted(((weekday, entry) for entry in entries for weekday in entry.weekdays),
                    key=lambda pair: (pair[0], pair[1].start))
    for pair, shift in zip_longest(wanted, pattern.shifts.order_by("weekday", "start", "pk")):
        if pair is None:
            run.delete(Shift.objects.filter(pk=shift.pk))
            continue
        weekday, entry = pair
        before = snapshot(shift) if shift else None
        shift = shift or Shift(pattern=pattern)
        shift.name, shift.weekday, shift.start, shift.end = entry.name, weekday, entry.start, entry.end
        if run.store(shift, before, {}, [], entry.path, parents={"pattern": pattern}):
            _sync_breaks(run, shift, entry)


def _shift_entry(run: PlantImport, node: Any, path: str) -> ShiftEntry | None:
    """The entry read from the file, or None when it has a problem (reported)."""
    node = mapping(node, path, run.problems, ["name", "days", "start", "end", "breaks"])
    if node is None:
        return None
    shift = Shift(weekday=0)
    refused = fill(shift, node, SHIFT_FIELDS, path, run.problems)
    try:
        weekdays = days(node.get("days"))
    except ValueError as error:
        run.problems.add(f"{path}.days", str(error))
        refused.add("weekday")
    valid = check(shift, path, run.problems, SHIFT_FIELDS, refused | {"pattern"}) and not refused
    breaks = []
    for index, break_node in enumerate(sequence(node.get("breaks"), f"{path}.breaks", run.problems)):
        break_path = f"{path}.breaks[{index}]"
        break_node = mapping(break_node, break_path, run.problems, ["name", "start", "end"])
        if break_node is None:
            valid = False
            continue
        brk = Break()
        refused = fill(brk, break_node, BREAK_FIELDS, break_path, run.problems)
        if check(brk, break_path, run.problems, BREAK_FIELDS, refused | {"shift"}) and not refused:
            breaks.append((break_path, brk.spec()))
        else:
            valid = False
    if not valid:
        return None
    return ShiftEntry(path, shift.name, weekdays, shift.start, shift.end, breaks)


def _check_pattern(run: PlantImport, entries: list[ShiftEntry]) -> bool:
    """Report overlapping shifts and breaks outside their shift; True when there are none."""
    valid = True
    for entry in entries:
        shift = entry.spec(entry.weekdays[0])
        for break_path, brk in entry.breaks:
            if break_outside_shift(shift, brk):
                run.problems.add(break_path, f"break {brk.start:%H:%M}–{brk.end:%H:%M} is not inside the shift "
                                             f"{entry.start:%H:%M}–{entry.end:%H:%M}")
                valid = False
    owners = [(entry.spec(weekday), entry) for entry in entries for weekday in entry.weekdays]
    clash = overlapping_shifts([spec for spec, _ in owners])
    if clash is not None:
        first, second = (next(entry for spec, entry in owners if spec is side) for side in clash)
        where = second.path if second is not first else first.path
        other = f" (of {first.path})" if second is not first else ""
        run.problems.add(where, f"shifts overlap: {clash[0].label}{other} and {clash[1].label}")
        valid = False
    return valid


def _sync_breaks(run: PlantImport, shift: Shift, entry: ShiftEntry) -> None:
    wanted = sorted(entry.breaks, key=lambda item: item[1].start)
    for item, brk in zip_longest(wanted, shift.breaks.order_by("start", "pk")):
        if item is None:
            run.delete(Break.objects.filter(pk=brk.pk))
            continue
        break_path, spec = item
        before = snapshot(brk) if brk else None
        brk = brk or Break(shift=shift)
        brk.name, brk.start, brk.end = spec.name, spec.start, spec.end
        run.store(brk, before, {}, [], break_path, parents={"shift": shift})


def import_calendar_exceptions(run: PlantImport, line: Line, node: Any, path: str, zone: tzinfo) -> None:
    """Make the line's calendar exceptions the file's; a time without an offset is the site's local time."""
    wanted: list[tuple[str, dict[str, Any]]] = []
    valid = True
    for index, exception_node in enumerate(sequence(node, path, run.problems)):
        where = f"{path}[{index}]"
        exception_node = mapping(exception_node, where, run.problems, [f.key for f in EXCEPTION_FIELDS])
        if exception_node is None:
            valid = False
            continue
        exception = CalendarException()
        refused = fill(exception, exception_node, EXCEPTION_FIELDS, where, run.problems)
        for name in ("start", "end"):
            value = getattr(exception, name)
            if value is not None and timezone.is_naive(value):
                setattr(exception, name, timezone.make_aware(value, zone))
        if check(exception, where, run.problems, EXCEPTION_FIELDS, refused | {"line"}) and not refused:
            wanted.append((where, {f.key: getattr(exception, f.key) for f in EXCEPTION_FIELDS}))
        else:
            valid = False
    if not (valid and line.pk):
        return
    wanted.sort(key=lambda item: (item[1]["start"], item[1]["kind"], item[1]["name"]))
    for item, exception in zip_longest(wanted, line.calendar_exceptions.order_by("start", "kind", "name", "pk")):
        if item is None:
            run.delete(CalendarException.objects.filter(pk=exception.pk))
            continue
        where, values = item
        before = snapshot(exception) if exception else None
        exception = exception or CalendarException(line=line)
        for name, value in values.items():
            setattr(exception, name, value)
        run.store(exception, before, {}, [], where, parents={"line": line})

