"""Alert rules (configuration) and the alerts they open (state): who is told of what, once.

A rule watches one machine or every machine of a line for a condition (`AlertKind`); while it
holds, an `Alert` is open. `monitoring.alerts` is the one door that opens, sends, escalates,
acknowledges and ends them; these models only say what is stored and what a rule may say.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils.translation import gettext_lazy as _

from planning.models import DowntimeReason, Line, LossCategory, Machine


class AlertKind(models.TextChoices):
    LONG_STOP = "long_stop", _("Stop longer than N minutes")
    NO_DATA = "no_data", _("No data for N minutes")
    # xgettext:no-python-format
    SCRAP_RATE = "scrap_rate", _("Scrap above N % over the last hour")
    LOW_OEE = "low_oee", _("Shift OEE below the warning level at mid-shift")


# What N means for each kind; the low-OEE rule takes the machine's (or line's) warning level instead.
THRESHOLD_UNITS = {AlertKind.LONG_STOP: "minutes", AlertKind.NO_DATA: "minutes", AlertKind.SCRAP_RATE: "%"}


def email_addresses(text: str) -> list[str]:
    """The addresses of a recipients field: separated by commas, semicolons, spaces or new lines."""
    return [part for part in text.replace(",", " ").replace(";", " ").split() if part]


def validate_email_list(text: str) -> None:
    wrong = []
    for address in email_addresses(text):
        try:
            validate_email(address)
        except ValidationError:
            wrong.append(address)
    if wrong:
        raise ValidationError(f"Not an e-mail address: {', '.join(wrong)}.")


class AlertRule(models.Model):
    """When to open an alert on a machine (or on each machine of a line), and whom to tell."""

    name = models.CharField(_("name"), max_length=120,
                            help_text=_("What the alert says it is, e.g. 'Filler stopped too long'."))
    kind = models.CharField(_("kind"), max_length=16, choices=AlertKind.choices)
    line = models.ForeignKey(Line, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules",
                             verbose_name=_("line"),
                             help_text=_("Every machine of this line (the line's OEE for the OEE rule) …"))
    machine = models.ForeignKey(Machine, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="alert_rules", verbose_name=_("machine"),
                                help_text=_("… or this one machine. Give one of the two."))
    threshold = models.FloatField(
        _("threshold"), null=True, blank=True,
        help_text=_("N: minutes for a stop or for no data, percent for scrap. Empty for the OEE rule, which uses "
        "the machine's warning level (the constraint machine's for a line)."),
    )
    reason_group = models.ForeignKey(
        DowntimeReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("reason group"),
        help_text=_("Stop rule only: stops with this reason or a reason of this group. Empty: any stop whose reason "
        "is not planned."),
    )
    loss_category = models.CharField(
        _("loss category"), max_length=24, choices=LossCategory.choices, blank=True,
        help_text=_("Stop rule only: stops whose reason has this loss category."),
    )
    emails = models.TextField(_("emails"), blank=True, validators=[validate_email_list],
                              help_text=_("E-mail addresses told when an alert opens, separated by commas or lines."))
    users = models.ManyToManyField("auth.User", blank=True, related_name="+", verbose_name=_("users"),
                                   help_text=_("Users told by e-mail when an alert opens."))
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if (self.line_id is None) == (self.machine_id is None):
            errors["machine"] = "Give a line or a machine, not both and not neither."
        unit = THRESHOLD_UNITS.get(self.kind)
        if unit is None:
            if self.threshold is not None:
                errors["threshold"] = "The OEE rule uses the warning level of the machine or line: leave N empty."
        elif self.threshold is None or self.threshold <= 0:
            errors["threshold"] = f"Give N, in {unit}, greater than 0."
        elif unit == "%" and self.threshold >= 100:
            errors["threshold"] = "Give N below 100 %."
        elif unit == "minutes" and self.threshold > 7 * 24 * 60:
            errors["threshold"] = "Give N of at most a week (10080 minutes)."
        if self.kind != AlertKind.LONG_STOP and (self.reason_group_id or self.loss_category):
            errors["reason_group"] = "Only a stop rule filters by reason group or loss category."
        if self.reason_group_id and self.reason_group.parent_id is not None:
            errors["reason_group"] = f"{self.reason_group} is a reason, not a group: choose its group."
        if errors:
            raise ValidationError(errors)

    def email_list(self) -> list[str]:
        return email_addresses(self.emails)

    @property
    def threshold_label(self) -> str:
        """N as people read it: "10 min", "5 %", or "warning level"."""
        unit = THRESHOLD_UNITS.get(self.kind)
        if unit is None or self.threshold is None:
            return "warning level"
        return f"{self.threshold:g} {'%' if unit == '%' else 'min'}"


class AlertEscalation(models.Model):
    """A step of a rule's escalation: an alert nobody acknowledged this long after it opened goes to more people."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="escalations",
                             verbose_name=_("rule"))
    after_minutes = models.FloatField(_("after minutes"),
                                      help_text=_("M: minutes after the alert opened, unacknowledged."))
    emails = models.TextField(_("emails"), blank=True, validators=[validate_email_list],
                              help_text=_("E-mail addresses of this step, separated by commas or lines."))
    users = models.ManyToManyField("auth.User", blank=True, related_name="+", verbose_name=_("users"))

    class Meta:
        ordering = ["rule", "after_minutes"]
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")
        constraints = [models.UniqueConstraint(fields=["rule", "after_minutes"], name="one_escalation_per_delay")]

    def __str__(self) -> str:
        return f"{self.rule}: after {self.after_minutes:g} min"

    def email_list(self) -> list[str]:
        return email_addresses(self.emails)

    def clean(self) -> None:
        if self.after_minutes is not None and self.after_minutes <= 0:
            raise ValidationError({"after_minutes": "Give M, in minutes, greater than 0."})


class AlertQuerySet(models.QuerySet):
    def open(self) -> AlertQuerySet:
        """Alerts whose condition still holds."""
        return self.filter(ended_at__isnull=True)

    def on_lines(self, lines) -> AlertQuerySet:
        return self.filter(line__in=lines)


class Alert(models.Model):
    """One time a rule's condition held on a subject (a machine, or a line for the OEE rule of a line)."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="alerts")
    machine = models.ForeignKey(Machine, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    subject = models.CharField(max_length=60, help_text=_("The machine's code, or 'line:<code>'."))
    key = models.CharField(max_length=200, unique=True,
                           help_text=_("What makes it this alert and no other: the rule, subject and episode."))
    title = models.CharField(max_length=300)
    detail = models.JSONField(default=dict, blank=True)
    since = models.DateTimeField(help_text=_("When the condition began: the stop's start, where the data stopped …"))
    opened_at = models.DateTimeField(help_text=_("When the condition was found to hold."))
    sent_at = models.DateTimeField(null=True, blank=True, help_text=_("When its recipients were told (claimed once)."))
    send_error = models.TextField(blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0, help_text=_("Escalation steps taken."))
    escalated_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True, help_text=_("When its condition ended."))

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            # Two evaluations at once cannot open a rule's alert on one subject twice.
            models.UniqueConstraint(fields=["rule", "subject"], condition=models.Q(ended_at__isnull=True),
                                    name="one_open_alert_per_rule_and_subject"),
        ]
        indexes = [models.Index(fields=["line", "ended_at"], name="alert_line_open")]

    def __str__(self) -> str:
        return self.title
