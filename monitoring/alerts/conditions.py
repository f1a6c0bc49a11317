"""What each alert rule watches, as it stands at one instant: the subjects on which its condition holds.

Every condition is read from the rules the figures already follow, never defined again:
- a stop is the stop in progress as the line screen shows it (`oee.state_now` over the
  machine's `kpi.MachinePeriod`), from where its stop began (`stops.episode_start`, the start the
  `stop.*` events carry);
- no data is the silence rule of `kpi.data_ends_at` (three expected intervals after the last
  device reading), as `oee.state_now` reports it;
- scrap is the rejects among the parts of `kpi.machine_result` over the last hour;
- OEE is the shift's figure so far, `kpi.machine_result` or `kpi.line_result`, as the screens show it.
Stops and silences alert only while the line is in planned production time (in a shift, not in
a break or a holiday): a line standing at night or in its break is not a fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from django.utils.translation import gettext

from monitoring import charts, kpi, stops
from monitoring.lib import oee
from monitoring.models import AlertKind, AlertRule, MachineStatus
from planning.lib.calendar import ShiftWindow
from planning.lib.instants import iso
from planning.models import DowntimeReason, Line, Machine
from planning.schedule import LineCalendar, calendar_around

SCRAP_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Finding:
    """A rule's condition holding on one subject at the instant watched."""

    line: Line
    machine: Machine | None
    """None for the OEE rule of a whole line."""
    episode: str
    """What makes it this occurrence (the stop's start, the silence's, the shift's); empty for a
    condition that has none (scrap): it is the same alert for as long as it holds."""
    since: datetime
    title: str
    detail: dict = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return self.machine.code if self.machine else f"line:{self.line.code}"


def _percent(ratio: float) -> str:
    return f"{ratio * 100:.0f} %"


class Watch:
    """The plant at one instant, read once for every rule: each line's calendar and each machine's shift so far."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._calendars: dict[int, LineCalendar] = {}
        self._periods: dict[int, kpi.MachinePeriod] = {}

    def calendar(self, line: Line) -> LineCalendar:
        if line.pk not in self._calendars:
            self._calendars[line.pk] = calendar_around(line, self.now)
        return self._calendars[line.pk]

    def shift(self, line: Line) -> ShiftWindow | None:
        return self.calendar(line).shift_at(self.now)

    def in_production(self, line: Line) -> bool:
        """In a shift and not in one of its breaks or the line's holidays."""
        moment = self.now.timestamp()
        return self.shift(line) is not None and not any(a <= moment < b for a, b in self.calendar(line).planned)

    def period(self, machine: Machine) -> kpi.MachinePeriod:
        """The machine over its line's shift so far (the live screens' period)."""
        if machine.pk not in self._periods:
            shift = self.shift(machine.line)
            start = shift.start if shift else self.now
            self._periods[machine.pk] = kpi.MachinePeriod(machine, start, self.now, self.now,
                                                          self.calendar(machine.line))
        return self._periods[machine.pk]

    def state_now(self, machine: Machine) -> oee.StateSpan | None:
        return oee.state_now(self.period(machine).spans)

    @cached_property
    def reason_groups(self) -> dict[str, str]:
        """Each reason code's group code (a group is its own)."""
        return {code: parent or code for code, parent in DowntimeReason.objects.values_list("code", "parent__code")}


def _long_stop(rule: AlertRule, watch: Watch, machine: Machine) -> Finding | None:
    if not watch.in_production(machine.line):
        return None
    span = watch.state_now(machine)
    if span is None or span.state != MachineStatus.STOPPED or not span.still_going:
        return None
    if rule.reason_group_id is not None:
        if span.reason is None or watch.reason_groups.get(span.reason) != rule.reason_group.code:
            return None
    elif not rule.loss_category and span.planned:
        return None  # "any stop" means any that is not planned on purpose
    if rule.loss_category and span.loss_category != rule.loss_category:
        return None
    began = stops.episode_start(machine, charts.instant(span.start))
    lasted = watch.now - began
    if lasted < timedelta(minutes=rule.threshold):
        return None
    why = span.reason_name or gettext("no reason given yet")
    return Finding(
        machine.line, machine, iso(began), began,
        gettext("%(machine)s stopped for over %(minutes)s min (%(why)s)") % {
            "machine": f"{machine.code} {machine.name}", "minutes": f"{rule.threshold:g}", "why": why},
        {"reason": span.reason, "reason_name": span.reason_name, "fault_code": span.fault_code,
         "minutes": round(lasted.total_seconds() / 60, 1)},
    )


def _no_data(rule: AlertRule, watch: Watch, machine: Machine) -> Finding | None:
    if not watch.in_production(machine.line):
        return None
    span = watch.state_now(machine)
    if span is None or span.state != MachineStatus.NO_DATA:
        return None
    began = charts.instant(span.start)
    lasted = watch.now - began
    if lasted < timedelta(minutes=rule.threshold):
        return None
    return Finding(
        machine.line, machine, iso(began), began,
        gettext("%(machine)s: no data for over %(minutes)s min") % {
            "machine": f"{machine.code} {machine.name}", "minutes": f"{rule.threshold:g}"},
        {"minutes": round(lasted.total_seconds() / 60, 1)},
    )


def _scrap_rate(rule: AlertRule, watch: Watch, machine: Machine) -> Finding | None:
    production = kpi.machine_result(machine, watch.now - SCRAP_WINDOW, watch.now, watch.now).production
    if not production.total:
        return None
    rate = production.reject / production.total
    if rate * 100 <= rule.threshold:
        return None
    return Finding(
        machine.line, machine, "", watch.now,
        gettext("%(machine)s: scrap %(rate)s %% over the last hour (limit %(limit)s %%)") % {
            "machine": f"{machine.code} {machine.name}", "rate": f"{rate * 100:.1f}", "limit": f"{rule.threshold:g}"},
        {"reject_count": production.reject, "total_count": production.total, "scrap_percent": round(rate * 100, 2)},
    )


def _low_oee(rule: AlertRule, watch: Watch, line: Line, machine: Machine | None) -> Finding | None:
    shift = watch.shift(line)
    if shift is None or watch.now < shift.start + (shift.end - shift.start) / 2:
        return None
    if machine is not None:
        result = kpi.machine_result(machine, shift.start, watch.now, watch.now, watch.calendar(line))
        warning, name = machine.warning_oee, f"{machine.code} {machine.name}"
    else:
        result = kpi.line_result(line, shift.start, watch.now, watch.now)
        warning, name = line.thresholds["warning_oee"], gettext("Line %(line)s") % {"line": f"{line.code} {line.name}"}
    figure = result.figures.oee
    if figure is None or figure >= warning:
        return None
    return Finding(
        line, machine, iso(shift.start), shift.start,
        gettext("%(subject)s: OEE %(oee)s in the %(shift)s shift, below the warning level %(warning)s") % {
            "subject": name, "oee": _percent(figure), "shift": shift.name, "warning": _percent(warning)},
        {"oee": figure, "warning_oee": warning, "shift": shift.name, "shift_start": iso(shift.start),
         "shift_end": iso(shift.end)},
    )


MACHINE_CONDITIONS = {AlertKind.LONG_STOP: _long_stop, AlertKind.NO_DATA: _no_data, AlertKind.SCRAP_RATE: _scrap_rate}


def findings(rule: AlertRule, watch: Watch) -> Iterator[Finding]:
    """The subjects of the rule on which its condition holds at `watch.now`."""
    if rule.kind == AlertKind.LOW_OEE and rule.line_id is not None:
        found = _low_oee(rule, watch, rule.line, None)
        if found:
            yield found
        return
    machines = [rule.machine] if rule.machine_id is not None else rule.line.machines_in_order()
    for machine in machines:
        if not machine.enabled:
            continue
        if rule.kind == AlertKind.LOW_OEE:
            found = _low_oee(rule, watch, machine.line, machine)
        else:
            found = MACHINE_CONDITIONS[rule.kind](rule, watch, machine)
        if found:
            yield found
