"""The planning board's forms: a new work order and a reschedule, with times on the site's wall clock (24 h)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from planning.lib.instants import EARLIEST, LATEST
from planning.models import Line, Machine, Product, WorkOrder

TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
SHOWN = "%Y-%m-%d %H:%M"
CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def wall_clock(moment: datetime, zone: ZoneInfo) -> str:
    """An instant as the site's wall-clock time the forms take: YYYY-MM-DD HH:MM (24 h)."""
    return moment.astimezone(zone).strftime(SHOWN)


class SiteTimeField(forms.CharField):
    """A wall-clock time at the site, YYYY-MM-DD HH:MM (24 h); the aware instant in UTC once clean.

    A time the site's clocks skip or show twice (a daylight-saving change) is refused: it names no
    one instant.
    """

    def __init__(self, *, zone: ZoneInfo, **kwargs) -> None:
        self.zone = zone
        kwargs.setdefault("widget", forms.TextInput(attrs={
            "placeholder": "YYYY-MM-DD HH:MM", "pattern": r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?",
            "autocomplete": "off", "inputmode": "numeric", "size": 16,
        }))
        super().__init__(**kwargs)
        self.widget.attrs["maxlength"] = "19"

    def to_python(self, value: str) -> datetime | None:
        text = super().to_python(value).strip()
        if not text:
            return None
        for pattern in TIME_FORMATS if len(text) <= 19 else ():
            try:
                naive = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            raise forms.ValidationError(
                gettext("%(text)s is not a time: write it as YYYY-MM-DD HH:MM (24 h).") % {"text": repr(text)})
        if not EARLIEST.year < naive.year < LATEST.year - 1:
            raise forms.ValidationError(gettext("Give a year between %(first)s and %(last)s.") % {
                "first": EARLIEST.year + 1, "last": LATEST.year - 2})
        first, second = naive.replace(tzinfo=self.zone, fold=0), naive.replace(tzinfo=self.zone, fold=1)
        if first.utcoffset() != second.utcoffset():
            raise forms.ValidationError(gettext(
                "%(time)s is skipped or repeated by the daylight-saving change in %(zone)s: choose another time."
            ) % {"time": f"{naive:%Y-%m-%d %H:%M}", "zone": self.zone.key})
        return first.astimezone(UTC)


class Quantity(forms.IntegerField):
    """A whole number of parts in ASCII digits ("²" and "٣" are digits to Python's int(), never to a planner)."""

    def to_python(self, value):
        if isinstance(value, str) and not value.strip().isascii():
            raise forms.ValidationError(gettext("Give the quantity in the digits 0–9."), code="invalid")
        return super().to_python(value)


class PlanFields(forms.Form):
    """Quantity, machine and planned window: what a new order and a reschedule both set."""

    quantity = Quantity(min_value=1, max_value=2**31 - 1, label=_("Quantity"))
    machine = forms.ModelChoiceField(
        Machine.objects.none(), required=False, to_field_name="code", empty_label=_("Whole line"), label=_("Machine"),
        help_text=_("Leave at “Whole line” to run the order on every machine of the line."))

    def __init__(self, *args, line: Line, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.line = line
        zone = line.area.site.zone
        self.fields["machine"].queryset = line.machines.order_by("position", "code")
        self.fields["planned_start"] = SiteTimeField(zone=zone, label=_("Planned start"))
        self.fields["planned_end"] = SiteTimeField(zone=zone, label=_("Planned end"))

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("planned_start"), data.get("planned_end")
        if start and end and end <= start:
            self.add_error("planned_end", gettext("The planned end must be after the planned start."))
        return data


class NewOrderForm(PlanFields):
    number = forms.RegexField(CODE, max_length=40, label=_("Order number"), error_messages={
        "invalid": _("An order number is letters, digits, '.', '_' and '-', starting with a letter or digit.")})
    product = forms.ModelChoiceField(Product.objects.all(), to_field_name="code", label=_("Product"))

    field_order = ["number", "product", "quantity", "machine", "planned_start", "planned_end"]

    def clean_number(self) -> str:
        number = self.cleaned_data["number"]
        if WorkOrder.objects.filter(number=number).exists():
            raise forms.ValidationError(gettext(
                "Work order %(number)s exists already: reschedule it, or choose another number.") % {"number": number})
        return number


class RescheduleForm(PlanFields):
    field_order = ["quantity", "machine", "planned_start", "planned_end"]

    @classmethod
    def of(cls, order: WorkOrder, data=None) -> RescheduleForm:
        zone = order.line.area.site.zone
        return cls(data, line=order.line, initial={
            "quantity": order.quantity, "machine": order.machine.code if order.machine_id else "",
            "planned_start": wall_clock(order.planned_start, zone), "planned_end": wall_clock(order.planned_end, zone),
        })
