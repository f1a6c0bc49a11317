"""What operators do at the line: give a stop its reason, enter scrap (DESIGN.md §1, §10).

Both go through the one door for observations, `record_observations`, inside one transaction
with the event that says who did it; the pipeline broadcasts the machine after the commit.
Who may act is the caller's question (`monitoring.permissions.can_operate_line`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from monitoring.models import (
    DowntimeReason,
    Event,
    EventKind,
    LossCategory,
    Machine,
    MachineStatus,
    Observation,
    Signal,
    StateInterval,
)
from monitoring.pipeline import BatchRejected, ObservationIn, record_observations

QUALITY_CATEGORIES = (LossCategory.PRODUCTION_REJECTS, LossCategory.STARTUP_REJECTS)
# Far beyond any real entry, well inside the 64-bit counters: a typo, not a shift's scrap.
MAX_SCRAP = 1_000_000


def _aware(moment: datetime, field: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValidationError({field: f"{field} must be a date-time with a UTC offset, got {moment!r}."})
    return moment.astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="microseconds") if moment else None


def stop_reason(code: str) -> DowntimeReason:
    """The reason a stop may be given: a known leaf that is not a quality category."""
    reason = DowntimeReason.objects.filter(code=code).first()
    if reason is None:
        raise ValidationError({"reason": f"Unknown reason code {code!r}."})
    children = list(reason.children.values_list("code", flat=True))
    if children:
        raise ValidationError({"reason": f"{code!r} is a group: choose one of its reasons ({', '.join(children)})."})
    if reason.loss_category in QUALITY_CATEGORIES:
        raise ValidationError({"reason": f"{code!r} is a quality reason, for scrap: a stop needs a downtime reason."})
    return reason


def scrap_reason(code: str) -> DowntimeReason:
    """The reason scrap may be entered with: a known quality category."""
    reason = DowntimeReason.objects.filter(code=code).first()
    if reason is None:
        raise ValidationError({"reason": f"Unknown reason code {code!r}."})
    if reason.loss_category not in QUALITY_CATEGORIES:
        raise ValidationError({"reason": f"{code!r} is a downtime reason: scrap takes a quality reason "
                                         "(production rejects or startup rejects)."})
    return reason


def _record(observation: ObservationIn, field: str) -> None:
    try:
        record_observations([observation], all_or_nothing=True)
    except BatchRejected as rejected:
        raise ValidationError({field: rejected.rejected[0].message}) from None


def _lock(machine: Machine) -> None:
    """Hold the machine's row so its intervals cannot change between our check and our write."""
    Machine.objects.select_for_update().filter(pk=machine.pk).values_list("pk").first()


def assign_reason(
    machine: Machine, stop_start: datetime, reason_code: str, user: User | None, split_at: datetime | None = None,
) -> Event:
    """Give the stop that starts at `stop_start` a reason, from `split_at` on if given; return the event.

    The reason is a `reason` observation at the stop's start (or at `split_at`, which splits the
    stop in two). A reason given again at the same instant replaces the earlier one, so an
    operator can correct a wrong touch; the events keep who gave which reason when.
    """
    reason = stop_reason(reason_code)
    stop_start = _aware(stop_start, "stop_start")
    if split_at is not None:
        split_at = _aware(split_at, "split_at")
    with transaction.atomic():
        _lock(machine)
        stop = StateInterval.objects.filter(machine=machine, start=stop_start).select_related("reason").first()
        if stop is None:
            raise ValidationError({"stop_start": f"{machine.code} has no stop starting at {_iso(stop_start)}."})
        if stop.state == MachineStatus.RUNNING:
            raise ValidationError({"stop_start": f"{machine.code} was running from {_iso(stop_start)}: "
                                                 "only a stop can be given a reason."})
        if stop.state == MachineStatus.NO_DATA:
            raise ValidationError({"stop_start": f"{machine.code} sent no data from {_iso(stop_start)}: "
                                                 "time without data keeps the reason no-data."})
        at = stop_start
        if split_at is not None:
            end = stop.end or timezone.now()
            if not stop_start < split_at < end:
                raise ValidationError({"split_at": f"split_at must lie strictly inside the stop "
                                                   f"({_iso(stop_start)} – {_iso(stop.end) or 'now'})."})
            at = split_at
        previous = stop.reason.code if stop.reason else None
        Observation.objects.filter(machine=machine, signal=Signal.REASON, ts=at).delete()
        _record(ObservationIn(machine.code, at, Signal.REASON, reason.code), "reason")
        holds = StateInterval.objects.filter(machine=machine, start__lte=at).order_by("-start").first()
        if holds is None or holds.reason_id != reason.pk:
            raise ValidationError({"stop_start": f"The stop at {_iso(at)} could not take a reason."})
        return Event.objects.create(
            machine=machine, ts=timezone.now(), kind=EventKind.REASON_GIVEN, user=user,
            detail={"reason": reason.code, "stop_start": _iso(stop_start), "split_at": _iso(split_at),
                    "previous": previous},
        )


def enter_scrap(
    machine: Machine, quantity: int, user: User | None, reason_code: str | None = None, ts: datetime | None = None,
) -> Event:
    """Record `quantity` parts scrapped on the machine at `ts` (default now); return the event."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValidationError({"quantity": f"quantity must be a whole number of parts, got {quantity!r}."})
    if not 1 <= quantity <= MAX_SCRAP:
        raise ValidationError({"quantity": f"quantity must be between 1 and {MAX_SCRAP:,}, got {quantity}."})
    reason = scrap_reason(reason_code) if reason_code else None
    ts = _aware(ts, "ts") if ts is not None else timezone.now()
    with transaction.atomic():
        _lock(machine)
        # Observations are unique per (machine, signal, ts): two entries in one microsecond stay two.
        while Observation.objects.filter(machine=machine, signal=Signal.SCRAP, ts=ts).exists():
            ts += timedelta(microseconds=1)
        _record(ObservationIn(machine.code, ts, Signal.SCRAP, quantity), "quantity")
        return Event.objects.create(
            machine=machine, ts=ts, kind=EventKind.SCRAP_ENTERED, user=user,
            detail={"quantity": quantity, "reason": reason.code if reason else None, "ts": _iso(ts)},
        )
