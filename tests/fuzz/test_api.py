"""Every API endpoint and page under bad parameters and bodies: never a 5xx, and a refusal stores nothing.

The endpoints come from the project's URLs, so a new one without an entry here fails the first
test. tests/test_openapi.py sends what the schema describes; this sends what it does not:
parameters outside the schema, raw bodies, bad encodings, huge and deep inputs, and the values
of tests/fuzz/inputs.py, on SQLite and on PostgreSQL. Each case is named for its endpoint, so a
failure says where; hypothesis prints the request that failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.models import Product
from tests.fuzz.conftest import row_counts
from tests.fuzz.inputs import (
    CONTENT_TYPES,
    GOOD_INSTANTS,
    RAW_BODIES,
    body_for,
    json_values,
    nasty_text,
    query_string,
    quoted,
    raw_bodies,
)

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])

instants = st.one_of(st.sampled_from(GOOD_INSTANTS), nasty_text)
codes = st.one_of(st.sampled_from(["A1", "B1", "A", "B", "P-1", "WO-1", "Z9"]), nasty_text)
# The trend's before and after periods.
TREND_PERIODS = ("line", "before_start", "before_end", "after_start", "after_end")


@dataclass(frozen=True)
class Endpoint:
    """One URL pattern: how to fill its path, the query parameters and body fields it reads."""

    path: str
    methods: tuple[str, ...]
    params: tuple[str, ...] = ()
    body: dict[str, st.SearchStrategy] = field(default_factory=dict)
    caller: str = "erp"
    """`erp` (a key with every scope) or `admin` (a logged-in administrator: pages, operator actions)."""


ORDER_BODY = {"product": st.just("P-1"), "quantity": st.integers(1, 10), "line": st.just("B"),
              "machine": st.just("B1"), "planned_start": instants, "planned_end": instants}
# The planning board's forms (sent here as JSON and raw bodies, which a form must refuse as well).
PLANNING_FORM = {"number": codes, "product": st.just("P-1"), "quantity": st.one_of(st.integers(-1, 10), nasty_text),
                 "machine": codes, "planned_start": instants, "planned_end": instants}
ENDPOINTS = {
    "api-oee": Endpoint("/api/v1/oee/", ("get",), ("machine", "line", "area", "site", "start", "end")),
    "api-shifts": Endpoint("/api/v1/shifts/", ("get",), ("line", "start", "end")),
    "api-stops": Endpoint("/api/v1/stops/", ("get",), ("since", "limit")),
    "api-observations": Endpoint("/api/v1/observations/", ("post",)),
    "api-work-order": Endpoint("/api/v1/work-orders/{number}/", ("get", "put"), body=ORDER_BODY),
    "api-reasons": Endpoint("/api/v1/reasons/", ("get",), ("for",)),
    "api-trend": Endpoint("/api/v1/trend/", ("get",), ("line", "start", "end", "group")),
    "api-machine-reasons": Endpoint("/api/v1/machines/{code}/reasons/", ("post",), caller="admin", body={
        "stop_start": instants, "reason": st.sampled_from(["jam", "changeover", "meeting"]), "split_at": instants}),
    "api-machine-scrap": Endpoint("/api/v1/machines/{code}/scrap/", ("post",), caller="admin", body={
        "quantity": st.integers(1, 5), "reason": st.sampled_from(["jam", "mech"])}),
    "api-machine-stops": Endpoint("/api/v1/machines/{code}/stops/", ("get",), ("start", "end")),
    "api-machine-timeline": Endpoint("/api/v1/machines/{code}/timeline/", ("get",), ("start", "end")),
    "api-machine-events": Endpoint("/api/v1/machines/{code}/events/", ("get",), ("limit",)),
    "api-alerts": Endpoint("/api/v1/alerts/", ("get",), ("line", "state", "limit")),
    "api-alert": Endpoint("/api/v1/alerts/{pk}/", ("get",)),
    "api-alert-acknowledge": Endpoint("/api/v1/alerts/{pk}/acknowledge/", ("post",), caller="admin"),
    "alert-banner": Endpoint("/alerts/banner/", ("get",), ("line",), caller="admin"),
    "api-products": Endpoint("/api/v1/products/", ("get",)),
    "api-product": Endpoint("/api/v1/products/{code}/", ("get", "put"), body={
        "name": st.just("Lid"), "cycle_times": st.dictionaries(codes, st.floats(0.1, 10), max_size=2)}),
    "api-work-orders": Endpoint("/api/v1/work-orders/", ("get",),
                                ("line", "status", "planned_from", "planned_to", "limit", "cursor")),
    "api-work-order-move": Endpoint("/api/v1/work-orders/{number}/{move}/", ("post",)),
    "overview": Endpoint("/", ("get",), caller="admin"),
    "line-screen": Endpoint("/lines/{code}/", ("get",), caller="admin"),
    # A line display's link: its token in place of a code (no log-in).
    "line-display": Endpoint("/display/{code}/", ("get",)),
    "line-display-catalog": Endpoint("/display/{code}/jsi18n/", ("get",)),
    "machine-detail": Endpoint("/machines/{code}/", ("get",), ("start", "end", "range"), caller="admin"),
    "shift-report": Endpoint("/reports/shift/", ("get",), ("line", "start", "end"), caller="admin"),
    "shift-report-csv": Endpoint("/reports/shift.csv", ("get",), ("line", "start", "end"), caller="admin"),
    "planning": Endpoint("/planning/", ("get",), caller="admin"),
    "planning-board": Endpoint("/planning/{code}/", ("get", "post"), ("day",), caller="admin", body=PLANNING_FORM),
    "planning-order": Endpoint("/planning/{code}/orders/{number}/", ("get", "post"), caller="admin",
                               body=PLANNING_FORM),
    "planning-order-move": Endpoint("/planning/{code}/orders/{number}/{move}/", ("post",), caller="admin"),
    "handover-note": Endpoint("/lines/{code}/notes/", ("get", "post"), caller="admin", body={"text": nasty_text}),
    "stop-comment": Endpoint("/machines/{code}/stop-comments/", ("post",), caller="admin",
                             body={"stop_start": instants, "text": nasty_text, "next": nasty_text}),
    # The scripts' catalog of words takes a language, and the switcher posts one (a bad one is refused).
    "javascript-catalog": Endpoint("/jsi18n/", ("get",), ("language",)),
    "set_language": Endpoint("/i18n/setlang/", ("post",), caller="admin", body={"language": nasty_text, "next": nasty_text}),
    "trend": Endpoint("/reports/trend/", ("get",), ("line", "start", "end", "group"), caller="admin"),
    "trend-compare": Endpoint("/reports/trend/compare/", ("get",), TREND_PERIODS, caller="admin"),
    "trend-compare-csv": Endpoint("/reports/trend/compare.csv", ("get",), TREND_PERIODS, caller="admin"),
}
# The schema and docs take no input; the admin and log-in are Django's own forms.
NOT_FUZZED = {"api-schema", "api-docs"}


def _named_patterns(patterns, prefix: str = "") -> dict[str, str]:
    found = {}
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in ("admin",) or str(pattern.pattern).startswith(("admin/", "accounts/")):
                continue
            found |= _named_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.name:
            found[pattern.name] = prefix + str(pattern.pattern)
    return found


def test_every_endpoint_of_the_project_is_fuzzed():
    named = _named_patterns(get_resolver().url_patterns)
    assert set(named) - NOT_FUZZED == set(ENDPOINTS), "add the new endpoint to ENDPOINTS"


def _path(endpoint: Endpoint, data: st.DataObject) -> str:
    values = {"code": codes, "number": st.one_of(st.just("WO-1"), nasty_text),
              "move": st.one_of(st.sampled_from(["start", "pause", "release"]), nasty_text),
              "pk": st.one_of(st.sampled_from(["1", "0", "9" * 30]), nasty_text)}
    path = endpoint.path
    for name, strategy in values.items():
        if "{" + name + "}" in path:
            path = path.replace("{" + name + "}", quoted(data.draw(strategy, label=name)))
    return path


def _client(endpoint: Endpoint, erp, admin):
    return admin if endpoint.caller == "admin" else erp


def _check(response, before: dict[str, int]) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        assert row_counts() == before, f"a {response.status_code} stored something"


@pytest.mark.parametrize("name", [name for name, e in ENDPOINTS.items() if "get" in e.methods])
@FUZZ
@given(data=st.data())
def test_no_query_gets_a_5xx(name, data, erp, admin):
    endpoint = ENDPOINTS[name]
    known = st.sampled_from(endpoint.params) if endpoint.params else nasty_text
    params = data.draw(st.dictionaries(st.one_of(known, known, nasty_text), st.one_of(instants, codes, nasty_text),
                                       max_size=4), label="params")
    before = row_counts()
    response = _client(endpoint, erp, admin).get(f"{_path(endpoint, data)}?{query_string(params)}")
    _check(response, before)


@pytest.mark.parametrize("name", [name for name, e in ENDPOINTS.items() if {"put", "post"} & set(e.methods)])
@FUZZ
@given(data=st.data())
def test_no_body_gets_a_5xx_and_a_refused_one_stores_nothing(name, data, erp, admin):
    endpoint = ENDPOINTS[name]
    method = "put" if "put" in endpoint.methods else "post"
    if name == "api-observations":
        item = body_for({"ts": instants, "machine": codes, "signal": st.sampled_from(["running", "total_count"]),
                         "value": json_values})
        shaped = st.lists(item, max_size=5)
    else:
        shaped = body_for(endpoint.body)
    content_type, content = data.draw(st.one_of(
        shaped.map(lambda value: ("application/json", json.dumps(value).encode())),
        st.tuples(st.just("application/json"), st.sampled_from(RAW_BODIES)),
        st.tuples(st.sampled_from(CONTENT_TYPES), raw_bodies()),
    ), label="body")
    before = row_counts()
    # generic() sends the bytes as they are (post() would re-encode them to the content type's charset).
    response = _client(endpoint, erp, admin).generic(method.upper(), _path(endpoint, data), content,
                                                      content_type=content_type)
    _check(response, before)


@pytest.mark.parametrize("name", [name for name, e in ENDPOINTS.items() if {"put", "post"} & set(e.methods)])
def test_no_raw_body_of_the_list_gets_a_5xx_on_any_endpoint(name, erp, admin):
    endpoint = ENDPOINTS[name]
    method = "PUT" if "put" in endpoint.methods else "POST"
    path = endpoint.path.format(code="A1", number="WO-1", move="start", pk="1")
    for body in RAW_BODIES:
        before = row_counts()
        _check(_client(endpoint, erp, admin).generic(method, path, body, content_type="application/json"), before)


# --- what the fuzz campaign found, each kept as a named case --------------------------------------

@pytest.mark.parametrize("params", [
    {"machine": "B1", "start": "2026-02-30T00:00:00Z", "end": "2026-03-02T00:00:00Z"},
    {"machine": "B1", "start": "2026-01-12T25:00:00Z", "end": "2026-01-13T00:00:00Z"},
    {"machine": "B1", "start": "2026-01-12T00:00:00+25:00", "end": "2026-01-13T00:00:00Z"},
    {"machine": "B1", "start": "0001-01-01T00:00:00+01:00", "end": "2026-01-13T00:00:00Z"},
    {"machine": "B1", "start": "2026-01-12T00:00:00Z", "end": "9999-12-31T23:59:59-23:59"},
])
def test_a_date_that_looks_valid_and_is_not_is_a_400_naming_the_parameter(erp, params):
    response = erp.get("/api/v1/oee/", params)
    assert response.status_code == 400
    named = {"start", "end"} & set(response.json())
    assert named and params[named.pop()].split("T")[0][:4] in str(response.json())


@pytest.mark.parametrize("params, named", [
    ({"line": "B", "start": "9999-12-31"}, "between 1971 and 2999"),
    ({"line": "B", "start": "0001-01-01", "end": "0001-01-02"}, "between 1971 and 2999"),
    ({"line": "B", "start": "2026-02-30"}, "YYYY-MM-DD"),
])
def test_the_shift_report_refuses_days_at_the_ends_of_the_calendar(admin, params, named):
    for path in ("/reports/shift/", "/reports/shift.csv"):
        response = admin.get(path, params)
        assert response.status_code == 400 and named in response.content.decode()


@pytest.mark.parametrize("body, field", [
    (b"[" * 1000 + b"]" * 1000, None),
    (b'{"a":' * 1000 + b"1" + b"}" * 1000, None),
    (b'{"quantity": "\xc2\xb2"}', "quantity"),
    ('{"quantity": "٣"}'.encode(), "quantity"),
    (b'{"quantity": 1e999}', "quantity"),
    (b'{"quantity": NaN}', "quantity"),
    (b'{"quantity": "Infinity"}', "quantity"),
    (b'{"quantity": 1, "reason": "jam\\u0000"}', "reason"),
    (b'{"quantity": 1, "reason": "\\ud800"}', "reason"),
])
def test_a_bad_scrap_body_is_a_400_naming_the_field_and_stores_nothing(admin, body, field):
    before = row_counts()
    response = admin.post("/api/v1/machines/A1/scrap/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    if field:
        assert field in response.json(), response.json()
    else:
        assert "deeper than 32 levels" in str(response.json())
    assert row_counts() == before


@pytest.mark.parametrize("body, field", [
    ({"name": "Lid", "cycle_times": {"A1": "٣"}}, "cycle_times"),
    ({"name": "Lid", "cycle_times": {"A1": "1e999"}}, "cycle_times"),
    ({"name": "Lid\u0001", "cycle_times": {}}, "name"),
    ({"name": "Lid", "cycle_times": {"\ud800": 1}}, "cycle_times.\\ud800"),
])
def test_a_bad_product_is_a_400_naming_the_field(erp, body, field):
    response = erp.put("/api/v1/products/P-2/", body, content_type="application/json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not Product.objects.filter(code="P-2").exists()


def test_an_order_quantity_in_other_digits_is_a_400(erp):
    body = {"product": "P-1", "quantity": "١٠", "line": "B", "planned_start": "2026-12-04T06:00:00Z",
            "planned_end": "2026-12-04T08:00:00Z"}
    response = erp.put("/api/v1/work-orders/WO-2/", body, content_type="application/json")
    assert response.status_code == 400 and "quantity" in response.json()
    body["quantity"] = "10"
    assert erp.put("/api/v1/work-orders/WO-2/", body, content_type="application/json").status_code == 201


@pytest.mark.parametrize("path", ["/api/v1/stops/", "/api/v1/machines/A1/events/", "/api/v1/work-orders/"])
@pytest.mark.parametrize("limit", ["٣", "²", "1e3", "0", "1001", "9" * 5000])
def test_a_limit_that_is_not_ascii_digits_in_range_is_a_400_naming_it(erp, path, limit):
    response = erp.get(path, {"limit": limit})
    assert response.status_code == 400 and "limit" in response.json(), response.content


def test_an_oee_period_is_bounded_by_a_setting_and_the_400_names_the_bound(erp, settings):
    year = {"machine": "B1", "start": "2025-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}
    assert erp.get("/api/v1/oee/", year).status_code == 200
    response = erp.get("/api/v1/oee/", {**year, "start": "1971-01-01T00:00:00Z"})
    assert response.status_code == 400 and "at most 366 days" in str(response.json()["end"])
    settings.API_MAX_PERIOD_DAYS = 31
    response = erp.get("/api/v1/oee/", year)
    assert response.status_code == 400 and "at most 31 days" in str(response.json()["end"])


@pytest.mark.parametrize("path", ["/api/v1/shifts/?line=B", "/api/v1/machines/B1/stops/?",
                                  "/api/v1/machines/B1/timeline/?"])
def test_every_other_period_is_bounded_too(erp, path):
    response = erp.get(f"{path}&start=1971-01-01T00:00:00Z&end=2999-01-01T00:00:00Z")
    assert response.status_code == 400 and "end" in response.json()
    assert "31 days" in str(response.json()["end"])



# --- the language a request asks for, and a line display's own link -----------------------------------

languages = st.one_of(st.sampled_from(["fr", "de", "en", "de-DE,de;q=0.9", "xx", "*;q=nan", "en;q=1e999", ",,;;",
                                       "fr-" * 300, "zh-hant-tw-x-private", "fr\x00", "\u00e9"]), nasty_text)
PAGES = [name for name, e in ENDPOINTS.items() if "get" in e.methods and e.caller == "admin"] + [
    "javascript-catalog", "line-display", "line-display-catalog"]


@pytest.fixture
def display_token(fuzz_plant) -> str:
    from planning.models import LineDisplay

    display = LineDisplay(line=fuzz_plant.line_a, name="TV at the end of A", language="fr")
    token = display.issue_token()
    display.save()
    return token


@pytest.mark.parametrize("name", PAGES)
@FUZZ
@given(data=st.data())
def test_no_language_asked_for_gets_a_5xx(name, data, admin, display_token):
    """Accept-Language and the switcher's cookie are input too, on every page (a display's by its real link)."""
    endpoint = ENDPOINTS[name]
    path = endpoint.path.replace("{code}", display_token if name.startswith("line-display") else "A")
    header = data.draw(languages, label="Accept-Language").encode("utf-8", "surrogatepass").decode("latin-1")
    admin.cookies["django_language"] = quoted(data.draw(languages, label="cookie"))
    params = data.draw(st.dictionaries(st.sampled_from(endpoint.params or ("language",)), languages, max_size=2),
                       label="params")
    before = row_counts()
    response = admin.get(f"{path}?{query_string(params)}", headers={"accept-language": header})
    _check(response, before)
