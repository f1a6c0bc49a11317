"""The trend page `/reports/trend/` and period against period (`/reports/trend/compare/` and its CSV):
every figure is the API's for the same period."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest

from monitoring import trend
from tests.api import bearer
from tests.histories import WEEK_3, WEEK_4, two_weeks_of_a1
from tests.pages import elements, find

TWO_WEEKS = {"line": "A", "start": WEEK_3[0], "end": WEEK_4[1], "group": "week"}
BEFORE_AFTER = {"line": "A", "before_start": WEEK_3[0], "before_end": WEEK_3[1],
                "after_start": WEEK_4[0], "after_end": WEEK_4[1]}


@pytest.fixture
def history(plant):
    two_weeks_of_a1()
    return plant


def percent(value):
    return "—" if value is None else f"{value * 100:.1f}"


def hours(seconds):
    return "—" if seconds is None else f"{seconds / 3600:.2f}"


def cells(html: str, table: str) -> dict[str, dict[str, str]]:
    """Per row (its data-bucket or data-machine) of the table with this id: its cells by data-field."""
    page = elements(html)
    rows = {}
    for row in find(page, "tr", within={"id": table}):
        key = row.attrs.get("data-bucket") or row.attrs.get("data-machine")
        if key:
            rows[key] = {c.attrs.get("data-field") or c.attrs.get("data-group") or c.attrs.get("data-machine"): c.text
                         for c in find(page, "td") if c.ancestors[0] is row}
            rows[key]["_period"] = (row.attrs.get("data-start"), row.attrs.get("data-end"))
    return rows


def test_weeks_and_months_are_cut_at_monday_and_the_first_clipped_to_the_period():
    assert trend.bucket_days(date(2026, 1, 14), date(2026, 1, 27), trend.WEEK) == [
        (date(2026, 1, 14), date(2026, 1, 18)), (date(2026, 1, 19), date(2026, 1, 25)),
        (date(2026, 1, 26), date(2026, 1, 27)),
    ]
    assert trend.bucket_days(date(2025, 12, 20), date(2026, 2, 1), trend.MONTH) == [
        (date(2025, 12, 20), date(2025, 12, 31)), (date(2026, 1, 1), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 1)),
    ]
    assert trend.bucket_label(date(2026, 1, 12), trend.WEEK) == "2026-W03"
    assert trend.bucket_label(date(2026, 1, 12), trend.MONTH) == "2026-01"


def test_each_week_shows_the_figures_of_api_oee_for_that_week(client, history):
    client.force_login(history.manager)
    response = client.get("/reports/trend/", TWO_WEEKS)
    assert response.status_code == 200
    rows = cells(response.content.decode(), "trend-table")
    assert list(rows) == ["2026-W03", "2026-W04"]
    for label, row in rows.items():
        start, end = row["_period"]
        api = client.get("/api/v1/oee/", {"line": "A", "start": start, "end": end}).json()
        assert row["planned_production_s"] == hours(api["planned_production_s"])
        assert row["run_s"] == hours(api["run_s"])
        assert row["unplanned_stop_s"] == hours(api["unplanned_stop_s"])
        for name in ("availability", "performance", "quality", "oee"):
            assert row[name] == percent(api[name]), (label, name)
    # The jams halved: 5 × 40 min of jam and 5 × 5 min unexplained, then 5 × 20 min; changeovers alike.
    assert rows["2026-W03"]["Mechanical"] == "3.33"
    assert rows["2026-W04"]["Mechanical"] == "1.67"
    assert rows["2026-W03"]["Unexplained"] == "0.42"
    assert rows["2026-W03"]["Setup"] == rows["2026-W04"]["Setup"] == "1.25"


def test_the_numbers_are_those_of_the_api_to_the_last_digit(client, history):
    client.force_login(history.manager)
    report = trend.build_trend(history.line_a, date(2026, 1, 12), date(2026, 1, 25), trend.WEEK)
    for bucket in report.buckets:
        api = client.get("/api/v1/oee/", {"line": "A", "start": bucket.start.isoformat(),
                                          "end": bucket.end.isoformat()}).json()
        figures = bucket.line_result.as_dict()
        assert {k: api[k] for k in figures} == figures
        # Downtime per reason group adds up to the unplanned stop time (small stops are run time).
        assert sum(bucket.reason_groups.values()) == pytest.approx(api["unplanned_stop_s"])
        for machine in ("A1", "A2"):
            api_machine = client.get("/api/v1/oee/", {"machine": machine, "start": bucket.start.isoformat(),
                                                      "end": bucket.end.isoformat()}).json()
            assert bucket.machines[machine].as_dict() == {k: api_machine[k] for k in figures}


def test_mtbf_and_mttr_come_from_the_failures_the_stops_api_reports(client, history):
    client.force_login(history.manager)
    response = client.get("/reports/trend/", TWO_WEEKS)
    row = cells(response.content.decode(), "reliability-table")["A1"]
    start, end = trend.local_period(history.line_a, date(2026, 1, 12), date(2026, 1, 25))
    events = client.get("/api/v1/stops/", {"limit": 1000}).json()["events"]
    jams = [e for e in events if e["type"] == "stop.ended" and e["machine"] == "A1" and e["reason"] == "jam"
            and start <= datetime.fromisoformat(e["start"]) < end]
    run_s = client.get("/api/v1/oee/", {"machine": "A1", "start": start.isoformat(), "end": end.isoformat()}).json()["run_s"]
    assert len(jams) == 10
    assert row["failures"] == "10"
    assert row["repair"] == hours(sum(e["duration_s"] for e in jams)) == "5.00"
    assert row["mttr"] == hours(sum(e["duration_s"] for e in jams) / len(jams)) == "0.50"
    # ISO 22400-2: 10 failures cut the operating time into 11 stretches.
    assert row["operating"] == hours(run_s)
    assert row["mtbf"] == hours(run_s / 11)
    # The changeovers and the unexplained stop are no failures; A2 never ran.
    assert cells(response.content.decode(), "reliability-table")["A2"]["failures"] == "0"
    report = trend.build_trend(history.line_a, date(2026, 1, 12), date(2026, 1, 25), trend.WEEK)
    assert [b.reliability["A1"].mttr_s for b in report.buckets] == [2400, 1200]


def test_a_period_of_years_is_read_per_month(client, history):
    client.force_login(history.manager)
    response = client.get("/reports/trend/", {"line": "A", "start": "2024-02-01", "end": "2026-11-30", "group": "month"})
    assert response.status_code == 200
    rows = cells(response.content.decode(), "trend-table")
    assert len(rows) == 34
    january = rows["2026-01"]
    start, end = january["_period"]
    api = client.get("/api/v1/oee/", {"line": "A", "start": start, "end": end}).json()
    assert january["oee"] == percent(api["oee"]) and january["Mechanical"] == "5.00"
    assert rows["2025-06"]["oee"] == "—"


def test_bad_requests_are_400_naming_what_is_wrong(client, history):
    client.force_login(history.manager)
    for params, words in (
        ({**TWO_WEEKS, "start": "12.01.2026"}, "YYYY-MM-DD"),
        ({**TWO_WEEKS, "end": "2026-01-01"}, "must not be before"),
        ({**TWO_WEEKS, "group": "day"}, "group must be one of week, month"),
        ({**TWO_WEEKS, "start": "2020-01-01"}, f"at most {trend.MAX_TREND_DAYS} days"),
    ):
        response = client.get("/reports/trend/", params)
        assert response.status_code == 400
        assert words in response.content.decode()
    response = client.get("/reports/trend/compare.csv", {**BEFORE_AFTER, "after_start": "2024-01-01"})
    assert response.status_code == 400 and b"at most 366 days" in response.content


def test_an_operator_sees_the_trend_of_their_line_only(client, history):
    client.force_login(history.operator)
    assert client.get("/reports/trend/", TWO_WEEKS).status_code == 200
    assert client.get("/reports/trend/", {**TWO_WEEKS, "line": "B"}).status_code == 403
    assert client.get("/reports/trend/compare.csv", {**BEFORE_AFTER, "line": "B"}).status_code == 403
    client.logout()
    assert client.get("/reports/trend/", TWO_WEEKS).status_code == 302


def _api_losses(client, days) -> dict:
    start, end = trend.local_period(trend_line(), date.fromisoformat(days[0]), date.fromisoformat(days[1]))
    return client.get("/api/v1/oee/", {"line": "A", "start": start.isoformat(), "end": end.isoformat()}).json()["losses"]


def trend_line():
    from planning.models import Line
    return Line.objects.select_related("area__site").get(code="A")


def test_before_and_after_per_loss_and_reason_with_the_apis_hours(client, history):
    client.force_login(history.manager)
    response = client.get("/reports/trend/compare/", BEFORE_AFTER)
    assert response.status_code == 200
    page = elements(response.content.decode())
    shown = {row.attrs["data-name"]: {c.attrs["data-field"]: c.text for c in find(page, "td") if c.ancestors[0] is row
                                       and "data-field" in c.attrs}
             for row in find(page, "tr") if "data-name" in row.attrs}
    before, after = _api_losses(client, WEEK_3), _api_losses(client, WEEK_4)
    assert shown["Equipment failure"]["before"] == hours(before["equipment_failure"]) == "3.75"
    assert shown["Equipment failure"]["after"] == hours(after["equipment_failure"]) == "1.67"
    assert shown["Equipment failure"]["change"] == "−55.6 %"
    assert shown["Setup and adjustments"]["change"] == "±0.0 %"
    assert shown["Jam"]["before"] == "3.33" and shown["Jam"]["change"] == "−50.0 %"
    assert shown["Unexplained"]["after"] == "0.00" and shown["Unexplained"]["change"] == "−100.0 %"


def test_the_csv_holds_the_numbers_of_the_page(client, history):
    client.force_login(history.manager)
    response = client.get("/reports/trend/compare.csv", BEFORE_AFTER)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="downtime-A-2026-01-12-2026-01-18-vs-2026-01-19-2026-01-25.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Kind", "Loss or reason", "Before h", "After h", "Change %"]
    by_name = {row[1]: row for row in rows[1:]}
    assert by_name["Equipment failure"] == ["loss", "Equipment failure", "3.75", "1.67", "-55.6"]
    assert by_name["Jam"] == ["reason", "Jam", "3.33", "1.67", "-50.0"]
    assert by_name["Changeover"] == ["reason", "Changeover", "1.25", "1.25", "0.0"]
    assert [row[0] for row in rows[1:7]] == ["loss"] * 6
    page = elements(client.get("/reports/trend/compare/", BEFORE_AFTER).content.decode())
    for row in find(page, "tr"):
        if row.attrs.get("data-name") in by_name:
            values = {c.attrs["data-field"]: c for c in find(page, "td") if c.ancestors[0] is row and "data-field" in c.attrs}
            expected = by_name[row.attrs["data-name"]]
            assert [values["before"].text, values["after"].text, values["change"].attrs["data-value"]] == expected[2:]


def test_the_trend_api_gives_the_numbers_of_the_page_and_of_api_oee(client, history, api_key):
    headers = bearer(api_key("results:read"))
    response = client.get("/api/v1/trend/", TWO_WEEKS, headers=headers)
    assert response.status_code == 200
    data = response.json()
    assert [b["label"] for b in data["buckets"]] == ["2026-W03", "2026-W04"]
    for bucket in data["buckets"]:
        api = client.get("/api/v1/oee/", {"line": "A", "start": bucket["start"], "end": bucket["end"]},
                         headers=headers).json()
        assert bucket["line_results"] == {k: api[k] for k in bucket["line_results"]}
        assert sum(bucket["downtime_by_reason_group_s"].values()) == pytest.approx(api["unplanned_stop_s"])
    assert data["buckets"][0]["downtime_by_reason_group_s"]["Mechanical"] == pytest.approx(5 * 40 * 60)
    assert [m["mttr_s"] for m in data["buckets"][1]["machines"] if m["machine"] == "A1"] == [1200]
    a1 = {row["machine"]: row for row in data["reliability"]}["A1"]
    assert (a1["failures"], a1["mttr_s"], a1["repair_s"]) == (10, 1800, 18000)
    assert a1["mtbf_s"] == pytest.approx(a1["operating_s"] / 11)


def test_the_trend_api_refuses_what_it_cannot_answer_naming_it(client, history, api_key):
    headers = bearer(api_key("results:read"))
    for params, field in (({**TWO_WEEKS, "group": "day"}, "group"), ({**TWO_WEEKS, "start": "2026-13-01"}, "start"),
                          ({**TWO_WEEKS, "start": "2020-01-01"}, "end"), ({**TWO_WEEKS, "line": "Z"}, "line")):
        response = client.get("/api/v1/trend/", params, headers=headers)
        assert response.status_code == 400 and field in response.json(), params
    only_b = bearer(api_key("results:read", lines=[history.line_b]))
    assert client.get("/api/v1/trend/", TWO_WEEKS, headers=only_b).status_code == 400
    assert client.get("/api/v1/trend/", TWO_WEEKS, headers=bearer(api_key("orders:write"))).status_code == 403
