"""The equipment hierarchy (site → area → line → machine), downtime reasons and fault-code maps."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from planning.lib.reasons import NO_DATA_REASON
from planning.permissions import lines_visible_to

code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
    "Use letters, digits, '-', '_' or '.', starting with a letter or digit.",
)


def validate_time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone such as Europe/Berlin.") from None


DAY, WEEK = 86_400, 7 * 86_400
"""The longest of a machine's durations (seconds): a micro-stop threshold or startup window of 1e300 s
overflowed every page's arithmetic (500 for everyone)."""

class LossCategory(models.TextChoices):
    """The six big losses, and planned time which is not a loss."""

    EQUIPMENT_FAILURE = "equipment_failure", _("Equipment failure")
    SETUP_ADJUSTMENTS = "setup_adjustments", _("Setup and adjustments")
    SMALL_STOPS = "small_stops", _("Small stops")
    REDUCED_SPEED = "reduced_speed", _("Reduced speed")
    PRODUCTION_REJECTS = "production_rejects", _("Production rejects")
    STARTUP_REJECTS = "startup_rejects", _("Startup rejects")
    PLANNED = "planned", _("Planned (not a loss)")


class QualityCounter(models.TextChoices):
    """Which cumulative counter the machine gives beside `total_count`."""

    REJECT = "reject_count", "reject_count"
    GOOD = "good_count", "good_count"
    NONE = "none", "none (scrap entered by hand only)"


class Site(models.Model):
    code = models.CharField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone],
        help_text=_("IANA time zone in which this site's shifts are defined, e.g. Europe/Berlin."),
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class Area(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="areas")
    code = models.CharField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["site__name", "name"]

    def __str__(self) -> str:
        return f"{self.site} / {self.name}"


class LineQuerySet(models.QuerySet):
    def visible_to(self, user) -> LineQuerySet:
        """Lines the user may see: all for managers and admins, their own for operators."""
        return lines_visible_to(user, self)


class Line(models.Model):
    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="lines")
    code = models.CharField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120)
    constraint_machine = models.ForeignKey(
        "Machine", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("The bottleneck machine: the line's OEE is this machine's OEE."),
    )
    operators = models.ManyToManyField(
        "auth.User", blank=True, related_name="operated_lines",
        help_text=_("Operators who may give reasons and enter scrap on this line."),
    )

    objects = LineQuerySet.as_manager()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def site(self) -> Site:
        return self.area.site

    def machines_in_order(self) -> list[Machine]:
        """The line's enabled machines as screens show them: the constraint machine first, then by position."""
        machines = list(self.machines.enabled().with_plant())
        machines.sort(key=lambda m: (m.pk != self.constraint_machine_id, m.position, m.code))
        return machines

    @property
    def thresholds(self) -> dict[str, float]:
        """The line's OEE colours: its constraint machine's target and warning levels, else the defaults."""
        source = self.constraint_machine
        return {
            "target_oee": source.target_oee if source else Machine.DEFAULT_TARGET_OEE,
            "warning_oee": source.warning_oee if source else Machine.DEFAULT_WARNING_OEE,
        }

    def subject_machines(self) -> list[Machine]:
        """The machines whose summed times and counts are the line's OEE: its constraint machine, else all enabled.

        The one place this rule lives (DESIGN.md §4: a line's OEE is its constraint machine's).
        """
        if self.constraint_machine_id is not None:
            return [self.constraint_machine]
        return list(self.machines.enabled().with_plant())

    def clean(self) -> None:
        if self.constraint_machine_id and self.pk and self.constraint_machine.line_id != self.pk:
            raise ValidationError({"constraint_machine": "The constraint machine must belong to this line."})


class MachineQuerySet(models.QuerySet):
    def enabled(self) -> MachineQuerySet:
        return self.filter(enabled=True)

    def with_plant(self) -> MachineQuerySet:
        return self.select_related("line__area__site")


class Machine(models.Model):
    DEFAULT_TARGET_OEE = 0.85
    DEFAULT_WARNING_OEE = 0.65

    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="machines")
    code = models.CharField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120)
    position = models.PositiveSmallIntegerField(default=0, help_text=_("Order of the machine along its line."))
    enabled = models.BooleanField(default=True)
    default_ideal_cycle_time = models.FloatField(
        validators=[MinValueValidator(0.001), MaxValueValidator(86_400)],
        help_text=_("Seconds per part at ideal speed, used when the running work order's product has none."),
    )
    micro_stop_threshold = models.FloatField(
        default=120.0, validators=[MinValueValidator(0), MaxValueValidator(DAY)],
        help_text=_("Seconds: shorter stops are small stops (performance loss), longer ones unplanned stops."),
    )
    counter_bits = models.PositiveSmallIntegerField(
        default=16, choices=[(16, "16 bit"), (32, "32 bit"), (64, "64 bit")],
        help_text=_("Width of the machine's part counters, for rollover detection."),
    )
    quality_counter = models.CharField(max_length=16, choices=QualityCounter.choices, default=QualityCounter.REJECT)
    expected_interval = models.FloatField(
        default=60.0, validators=[MinValueValidator(0.1), MaxValueValidator(DAY)],
        help_text=_("Seconds: longest a healthy data source goes without an observation. A gap of more "
        "than three of these is no-data."),
    )
    startup_window = models.FloatField(
        default=600.0, validators=[MinValueValidator(0), MaxValueValidator(DAY)],
        help_text=_("Seconds after a shift start or a setup during which rejects are startup rejects."),
    )
    long_stop_after = models.FloatField(
        null=True, blank=True, default=1800.0, validators=[MinValueValidator(1), MaxValueValidator(WEEK)],
        help_text=_("Seconds: a stop this long sends a stop.long event to the IT systems; empty for never."),
    )
    target_oee = models.FloatField(
        default=DEFAULT_TARGET_OEE, validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("OEE at or above this shows green (0.85 = 85 %)."),
    )
    warning_oee = models.FloatField(
        default=DEFAULT_WARNING_OEE, validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("OEE below this shows red; between warning and target, yellow."),
    )

    in_service = models.DateTimeField(
        null=True, blank=True,
        help_text=_("When the machine went into service: time before it is not scheduled for it. Empty: from "
        "its first observation."),
    )
    first_observation = models.DateTimeField(
        null=True, blank=True, editable=False, help_text=_("The earliest observation stored (kept by the pipeline)."),
    )

    objects = MachineQuerySet.as_manager()

    class Meta:
        ordering = ["line__code", "position", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def counter_modulus(self) -> int:
        return 1 << self.counter_bits

    def clean(self) -> None:
        if self.warning_oee is not None and self.target_oee is not None and self.warning_oee > self.target_oee:
            raise ValidationError({"warning_oee": "The warning level must not be above the target."})


QUALITY_CATEGORIES = (LossCategory.PRODUCTION_REJECTS, LossCategory.STARTUP_REJECTS)


class DowntimeReasonQuerySet(models.QuerySet):
    def for_stops(self) -> DowntimeReasonQuerySet:
        """Reasons a stop may be given: not a quality reason (those are for scrap), not the pipeline's no-data."""
        return self.exclude(loss_category__in=QUALITY_CATEGORIES).exclude(code=NO_DATA_REASON)

    def for_scrap(self) -> DowntimeReasonQuerySet:
        """Reasons scrap may be entered with: production or startup rejects."""
        return self.filter(loss_category__in=QUALITY_CATEGORIES)


class DowntimeReason(models.Model):
    """A reason for a stop (or for scrap), in a two-level tree (group → reason)."""

    code = models.CharField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=120)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
        help_text=_("The group this reason belongs to; leave empty for a group."),
    )
    loss_category = models.CharField(
        max_length=24, choices=LossCategory.choices, default=LossCategory.EQUIPMENT_FAILURE
    )
    planned = models.BooleanField(
        default=False, help_text=_("A planned stop is excluded from planned production time."),
    )

    objects = DowntimeReasonQuerySet.as_manager()

    class Meta:
        ordering = ["parent__code", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def clean(self) -> None:
        if self.planned != (self.loss_category == LossCategory.PLANNED):
            raise ValidationError({"planned": "A reason is planned exactly when its loss category is 'planned'."})
        if self.parent_id is None:
            return
        if self.pk is not None and self.parent_id == self.pk:
            raise ValidationError({"parent": "A reason cannot be its own parent."})
        seen = {self.pk}
        node = self.parent
        depth = 1
        while node is not None:
            if node.pk in seen:
                raise ValidationError({"parent": "This parent would make a loop of reasons."})
            seen.add(node.pk)
            node = node.parent
            depth += 1
        if depth > 2:
            raise ValidationError({"parent": "Reasons form a two-level tree: the parent must be a group."})
        if self.pk is not None and self.children.exists():
            raise ValidationError({"parent": "This reason is a group with reasons under it; it cannot have a parent."})


class FaultCode(models.Model):
    """Maps a machine's numeric fault code to a downtime reason."""

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="fault_codes")
    code = models.PositiveIntegerField()
    reason = models.ForeignKey(DowntimeReason, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["machine", "code"]
        constraints = [models.UniqueConstraint(fields=["machine", "code"], name="unique_fault_code_per_machine")]

    def __str__(self) -> str:
        return f"{self.machine.code} fault {self.code} → {self.reason.code}"
