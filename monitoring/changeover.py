"""Changeovers: a machine starts an order of another product than its previous order's (DESIGN.md §4).

Starting such an order opens a changeover on each of its machines that is stopped at that
moment: from the start until the machine runs again the stop has the changeover reason, a
reason of category setup and adjustments, so the time is setup loss and the startup-reject
window follows its end (`MachinePeriod.startup_spans`). The reason goes in through the
operators' door, `actions.assign_reason`: a `reason` observation at the start, as if the
operator had split the stop there, so the history stays append-only and a replay keeps it.

What is not a changeover, on purpose:
- the same product again, or a machine that ran no order before (nothing is known to change);
- a machine running at the start: it has no stop to give a reason, so no changeover time is
  recorded (a changeover stop that follows is given its reason at the line like any stop);
- a machine sending no data at the start (time without data keeps its reason);
- a resume: the order's product was set up when it started.
The part of a stop before the start keeps its own reason (or stays unexplained).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from monitoring.actions import assign_reason
from monitoring.models import MachineStatus, StateInterval
from monitoring.pipeline import lock_machine
from planning.lib.instants import iso
from planning.lib.orders import previous_order
from planning.models import DowntimeReason, LossCategory, Machine, WorkOrder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Changeover:
    """A start of another product on one machine, and the stop it made a setup stop (if it was stopped)."""

    machine: str
    from_product: str
    to_product: str
    at: datetime
    reason: str | None
    """The reason the stop at the start was given; None when the machine was not stopped (no changeover time)."""

    def as_dict(self) -> dict:
        return {"machine": self.machine, "from_product": self.from_product, "to_product": self.to_product,
                "at": iso(self.at), "reason": self.reason}


def changeover_reason() -> DowntimeReason | None:
    """The reason a changeover stop gets: `CHANGEOVER_REASON` when it is a setup reason for stops, else the
    plant's first setup reason by code; None when the plant has none."""
    setups = DowntimeReason.objects.for_stops().filter(
        loss_category=LossCategory.SETUP_ADJUSTMENTS, children__isnull=True,
    ).order_by("code")
    return setups.filter(code=settings.CHANGEOVER_REASON).first() or setups.first()


def machine_previous_order(machine: Machine, order: WorkOrder, at: datetime) -> WorkOrder | None:
    """The order that ran last on the machine before `at`, other than `order`."""
    others = (WorkOrder.objects.exclude(pk=order.pk)
              .filter(line_id=machine.line_id, actual_start__lt=at)
              .filter(Q(machine=machine) | Q(machine__isnull=True)))
    latest_start = others.order_by("-actual_start").values_list("actual_start", flat=True).first()
    if latest_start is None:
        return None
    # Whatever ran last ran after the latest start: only windows reaching past it can be the last.
    order_id = previous_order(others.run_windows([machine], latest_start, at)[machine.pk], at)
    return WorkOrder.objects.select_related("product").filter(pk=order_id).first()


def _stop_at(machine: Machine, at: datetime) -> StateInterval | None:
    """The machine's stop in progress at `at`, or None (running, no data, or nothing recorded)."""
    interval = StateInterval.objects.filter(machine=machine, start__lte=at).order_by("-start").first()
    if interval is None or (interval.end is not None and interval.end <= at):
        return None
    return interval if interval.state == MachineStatus.STOPPED else None


def open_changeovers(order: WorkOrder, at: datetime, by: str) -> list[Changeover]:
    """Open a changeover on each machine of `order`, started at `at` by `by`, whose previous order made
    another product; return them. Runs inside the start's transaction."""
    machines = sorted((machine for machine, _ in order.machine_windows().values()), key=lambda m: m.pk)
    user = User.objects.filter(username=by.removeprefix("user:")).first() if by.startswith("user:") else None
    reason = None
    found = []
    for machine in machines:  # in the order every writer locks them
        previous = machine_previous_order(machine, order, at)
        if previous is None or previous.product_id == order.product_id:
            continue
        reason = reason or changeover_reason()
        lock_machine(machine)  # the stop cannot end between finding it and giving it the reason
        stop = _stop_at(machine, at)
        given = None
        if reason is not None and stop is not None:
            origin = {"work_order": order.number, "changeover_from": previous.product.code, "by": by}
            try:
                with transaction.atomic():
                    assign_reason(machine, stop.start, reason.code, user,
                                  split_at=at if stop.start < at else None, origin=origin)
                given = reason.code
            except ValidationError as refused:
                # The order has started either way; the stop keeps what it had, for the operator to give.
                log.warning("changeover of %s on %s not recorded: %s", order.number, machine.code, refused)
        found.append(Changeover(machine.code, previous.product.code, order.product.code, at, given))
    return found
