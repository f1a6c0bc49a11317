"""Every admin form answers odd values with a form error that names the field: never a 500, nothing stored."""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring.models import AlertKind, AlertRule, ModbusDevice, OpcUaEndpoint
from planning.models import CalendarException, LineDisplay, Machine, WebhookSubscription

pytestmark = pytest.mark.django_db


class AdminForm(HTMLParser):
    """The values an admin page's form would post back untouched (without the inlines' empty templates)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self.selects: list[str] = []
        self._in_form = False
        self._select: str | None = None
        self._textarea: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        name = attr.get("name", "")
        if tag == "form" and attr.get("id", "").endswith("_form"):
            self._in_form = True
        if not self._in_form or "__prefix__" in name:
            return
        if tag == "input" and name and attr.get("type") not in ("submit", "button", "file"):
            if attr.get("type") not in ("checkbox", "radio"):
                self.data.setdefault(name, []).append(attr.get("value", ""))
            elif "checked" in attr:
                self.data.setdefault(name, []).append(attr.get("value", "on"))
        elif tag == "select" and name:
            self._select = name
            self.selects.append(name)
        elif tag == "option" and self._select and "selected" in attr:
            self.data.setdefault(self._select, []).append(attr.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea][0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.data[self._textarea][0] = self.data[self._textarea][0].removeprefix("\n")
            self._textarea = None


def stored(model: type[models.Model]) -> str:
    """Every row of `model` as the database holds it, to compare before and after."""
    return json.dumps(list(model.objects.order_by("pk").values()), default=str)


def assert_refused(client: Client, url: str, data: dict, model: type[models.Model], field: str) -> None:
    before = stored(model)
    response = client.post(url, data)

    assert response.status_code == 200, (url, field, response.status_code)
    assert field_errors(response, field), (url, field)
    assert stored(model) == before, (url, field)


def field_errors(response, field: str) -> list[str]:
    """The errors the admin page shows on `field` (`<inline prefix>-<row>-<name>` for an inline's)."""
    if "-" not in field:
        return response.context["adminform"].form.errors.get(field, [])
    prefix, row, name = field.rsplit("-", 2)
    for inline in response.context["inline_admin_formsets"]:
        if inline.formset.prefix == prefix:
            return inline.formset.forms[int(row)].errors.get(name, [])
    return []


def admin_pages() -> list[tuple[type[models.Model], str]]:
    """Every registered model of the project with an add page, as (model, admin URL name's stem)."""
    return [(model, f"admin:{model._meta.app_label}_{model._meta.model_name}")
            for model in admin.site._registry
            if model._meta.app_label in ("monitoring", "planning", "auth")]


@pytest.fixture
def configured(plant, api_key) -> None:
    """A plant with one of every configuration object, so that every change page has something to show."""
    api_key("results:read")
    OpcUaEndpoint.objects.create(code="opc-sim", url="opc.tcp://127.0.0.1:14840/oee/", password="opc-pw-Zq81x")
    ModbusDevice.objects.create(code="plc-1", host="127.0.0.1", port=502)
    WebhookSubscription.objects.create(name="ERP", url="https://erp.example.com/hook", secret="whsec-Kd93mfQ0",
                                       event_types=["shift.closed"])
    display = LineDisplay(line=plant.line_a, name="TV")
    display.issue_token()
    display.save()
    AlertRule.objects.create(name="Long stop", kind=AlertKind.LONG_STOP, line=plant.line_a, threshold=10,
                             emails="lead@example.com")
    now = timezone.now()
    CalendarException.objects.create(line=plant.line_a, kind="holiday", name="Holiday", start=now,
                                     end=now + timedelta(days=1))


IMPOSSIBLE_IDS = ["abc", "06:00", "1e308", "99999999999999999999", "-1"]


@pytest.mark.parametrize(("model", "name"), admin_pages(), ids=lambda p: getattr(p, "__name__", p))
def test_an_impossible_choice_in_any_list_of_a_form_is_a_form_error(admin_client: Client, configured, model,
                                                                     name: str) -> None:
    """Autocomplete fields once drew the form again by looking `abc` up (ValueError); a 20-digit id in a
    multiple choice overflowed SQLite's integer (OverflowError): both answered 500."""
    first = model.objects.order_by("pk").first()
    url = reverse(f"{name}_change", args=[first.pk]) if first is not None else reverse(f"{name}_add")
    page = admin_client.get(url)
    if page.status_code != 200 or "_save" not in page.content.decode():
        pytest.skip("read only")
    form = AdminForm(page.content.decode())
    # The main form's lists, and the first row's of each inline.
    fields = [f for f in form.selects if "-" not in f or "-0-" in f]
    if not fields:
        pytest.skip("no list to choose from")
    for field in fields:
        for value in IMPOSSIBLE_IDS:
            assert_refused(admin_client, url, {**form.data, field: [value], "_save": ["Save"]}, model, field)


def change_url(instance: models.Model) -> str:
    return reverse(f"admin:{instance._meta.app_label}_{instance._meta.model_name}_change", args=[instance.pk])


ODD_VALUES = [
    (OpcUaEndpoint, "url", "1"),
    (OpcUaEndpoint, "url", "opc.tcp://\x00host:4840/"),
    (OpcUaEndpoint, "publishing_interval", "-1"),
    (OpcUaEndpoint, "publishing_interval", "1e309"),
    (OpcUaEndpoint, "scan_interval", "NaN"),
    (ModbusDevice, "host", "06:00"),
    (ModbusDevice, "host", "plc\x00one"),
    (ModbusDevice, "port", "0"),
    (ModbusDevice, "port", "70000"),
    (ModbusDevice, "port", "99999999999999999999"),
    (ModbusDevice, "unit_id", "256"),
    (ModbusDevice, "retries", "-1"),
    # A device set to 1e308 s was saved and then never read again, silently.
    (ModbusDevice, "scan_interval", "1e308"),
    (ModbusDevice, "timeout", "86400"),
    (ModbusDevice, "reconnect_backoff", "1e308"),
    (OpcUaEndpoint, "publishing_interval", "1e308"),
    (OpcUaEndpoint, "sampling_interval", "7200"),
    (WebhookSubscription, "url", "ftp://erp.example.com/hook"),
    (WebhookSubscription, "url", "javascript:alert(1)"),
    (WebhookSubscription, "name", "ERP\x00"),
    (LineDisplay, "language", "xx"),
    (LineDisplay, "name", "x" * 81),
    (AlertRule, "threshold", "-5"),
    (AlertRule, "threshold", "1e308"),
    (AlertRule, "emails", "not an address"),
    (Machine, "micro_stop_threshold", "1e300"),
    (Machine, "startup_window", "1e300"),
    (Machine, "expected_interval", "86401"),
    (CalendarException, "end", "2020-01-01 00:00:00"),  # before its start: reversed
    (CalendarException, "start", "2026-02-30 06:00:00"),
]


@pytest.mark.parametrize(("model", "field", "value"), ODD_VALUES, ids=lambda p: getattr(p, "__name__", repr(p)))
def test_an_odd_value_is_refused_with_a_form_error_and_nothing_stored(admin_client: Client, configured, model,
                                                                       field: str, value: str) -> None:
    instance = model.objects.order_by("pk").first()
    url = change_url(instance)
    form = AdminForm(admin_client.get(url).content.decode())
    if field in ("start", "end"):  # split date and time widgets
        date, time = value.split(" ")
        data = {**form.data, f"{field}_0": [date], f"{field}_1": [time]}
    else:
        data = {**form.data, field: [value]}

    before = stored(model)

    response = admin_client.post(url, {**data, "_save": ["Save"]})

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field], errors  # that field, and no other: the rest of the form is as it was
    assert stored(model) == before
