"""What operators do at the line: give a stop its reason, enter scrap (DESIGN.md §1, §10).

Both go through the one door for observations, `record_observations`, inside one transaction
with the event that says who did it; the pipeline broadcasts the machine after the commit.
Who may act is the caller's question (`planning.permissions.can_operate_line`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from monitoring.models import Event, EventKind, MachineStatus, Observation, Signal, StateInterval
from monitoring.pipeline import BatchRejected, ObservationIn, lock_machine, record_observations
from planning.lib.instants import iso
from planning.models import DowntimeReason, Machine
from planning.models.plant import QUALITY_CATEGORIES

# Far beyond any real entry, well inside the 64-bit counters: a typo, not a shift's scrap.
MAX_SCRAP = 1_000_000


def _aware(moment: datetime, field: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValidationError({field: f"{field} must be a date-time with a UTC offset, got {moment!r}."})
    return moment.astimezone(UTC)


def stop_reason(code: str) -> DowntimeReason:
    """The reason a stop may be given: a known leaf of `DowntimeReason.objects.for_stops()`."""
    reason = DowntimeReason.objects.filter(code=code).first()
    if reason is None:
        raise ValidationError({"reason": f"Unknown reason code {code!r}."})
    children = list(reason.children.values_list("code", flat=True))
    if children:
        raise ValidationError({"reason": f"{code!r} is a group: choose one of its reasons ({', '.join(children)})."})
    if not DowntimeReason.objects.for_stops().filter(pk=reason.pk).exists():
        if reason.loss_category in QUALITY_CATEGORIES:
            raise ValidationError({"reason": f"{code!r} is a quality reason, for scrap: a stop needs a downtime reason."})
        raise ValidationError({"reason": f"{code!r} is kept for time without data from the device."})
    return reason


def scrap_reason(code: str) -> DowntimeReason:
    """The reason scrap may be entered with: one of `DowntimeReason.objects.for_scrap()`."""
    reason = DowntimeReason.objects.filter(code=code).first()
    if reason is None:
        raise ValidationError({"reason": f"Unknown reason code {code!r}."})
    if not DowntimeReason.objects.for_scrap().filter(pk=reason.pk).exists():
        raise ValidationError({"reason": f"{code!r} is a downtime reason: scrap takes a quality reason "
                                         "(production rejects or startup rejects)."})
    return reason


def _record(observation: ObservationIn, field: str) -> None:
    """Through the one door, all or nothing: a rejection becomes a ValidationError on `field`."""
    try:
        record_observations([observation], all_or_nothing=True, refuse_excess_scrap=True)
    except BatchRejected as rejected:
        raise ValidationError({field: rejected.rejected[0].message}) from None


def assign_reason(
    machine: Machine, stop_start: datetime, reason_code: str, user: User | None, split_at: datetime | None = None,
    origin: dict | None = None,
) -> Event:
    """Give the stop that starts at `stop_start` a reason, from `split_at` on if given; return the event.

    `origin` says what gave the reason when no one chose it by hand (an order's changeover); the
    event keeps it.

    The reason is a `reason` observation at the stop's start (or at `split_at`, which splits the
    stop in two). A reason given again at the same instant is a correction: a new observation
    that supersedes the earlier one, so an operator can correct a wrong touch; the events keep
    who gave which reason when.
    """
    reason = stop_reason(reason_code)
    stop_start = _aware(stop_start, "stop_start")
    if split_at is not None:
        split_at = _aware(split_at, "split_at")
    with transaction.atomic():
        lock_machine(machine)  # its intervals cannot change between our check and our write
        stop = StateInterval.objects.filter(machine=machine, start=stop_start).select_related("reason").first()
        if stop is None:
            raise ValidationError({"stop_start": f"{machine.code} has no stop starting at {iso(stop_start)}."})
        if stop.state == MachineStatus.RUNNING:
            raise ValidationError({"stop_start": f"{machine.code} was running from {iso(stop_start)}: "
                                                 "only a stop can be given a reason."})
        if stop.state == MachineStatus.NO_DATA:
            raise ValidationError({"stop_start": f"{machine.code} sent no data from {iso(stop_start)}: "
                                                 "time without data keeps the reason no-data."})
        at = stop_start
        if split_at is not None:
            end = stop.end or timezone.now()
            if not stop_start < split_at < end:
                raise ValidationError({"split_at": f"split_at must lie strictly inside the stop "
                                                   f"({iso(stop_start)} – {iso(stop.end) or 'now'})."})
            at = split_at
        previous = stop.reason.code if stop.reason else None
        _record(ObservationIn(machine.code, at, Signal.REASON, reason.code, supersedes=True), "reason")
        holds = StateInterval.objects.filter(machine=machine, start__lte=at).order_by("-start").first()
        if holds is None or holds.reason_id != reason.pk:
            raise ValidationError({"stop_start": f"The stop at {iso(at)} could not take a reason."})
        return Event.objects.create(
            machine=machine, ts=timezone.now(), kind=EventKind.REASON_GIVEN, user=user,
            detail={"reason": reason.code, "stop_start": iso(stop_start), "split_at": iso(split_at),
                    "previous": previous, **({"origin": origin} if origin else {})},
        )


def enter_scrap(
    machine: Machine, quantity: int, user: User | None, reason_code: str | None = None, ts: datetime | None = None,
) -> Event:
    """Record `quantity` parts scrapped on the machine at `ts` (default now); return the event.

    The pipeline refuses scrap beyond the good parts of the shift, as it does from every door.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValidationError({"quantity": f"quantity must be a whole number of parts, got {quantity!r}."})
    if not 1 <= quantity <= MAX_SCRAP:
        raise ValidationError({"quantity": f"quantity must be between 1 and {MAX_SCRAP:,}, got {quantity}."})
    reason = scrap_reason(reason_code) if reason_code else None
    ts = _aware(ts, "ts") if ts is not None else timezone.now()
    with transaction.atomic():
        lock_machine(machine)  # its intervals cannot change between our check and our write
        # Observations are unique per (machine, signal, ts): two entries in one microsecond stay two.
        while Observation.objects.filter(machine=machine, signal=Signal.SCRAP, ts=ts).exists():
            ts += timedelta(microseconds=1)
        _record(ObservationIn(machine.code, ts, Signal.SCRAP, quantity), "quantity")
        return Event.objects.create(
            machine=machine, ts=ts, kind=EventKind.SCRAP_ENTERED, user=user,
            detail={"quantity": quantity, "reason": reason.code if reason else None, "ts": iso(ts)},
        )
