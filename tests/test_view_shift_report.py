"""The shift report `/reports/shift/` and its CSV: a row per machine and shift, totals summed, not averaged."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.conf import settings

from monitoring.views.reports import COLUMNS
from tests.histories import EARLY, LATE, api_oee, monday_of_a1
from tests.pages import elements, find, one, remote_assets

DAY = {"line": "A", "start": "2026-01-12", "end": "2026-01-12"}
NUMBERS = COLUMNS[5:]  # Planned time h … Reject


def table(html: str, machine: str) -> dict[str, list[str]]:
    """The machine's table rows by their data-shift (`2026-01-12 Early`, …, `total`)."""
    page = elements(html)
    rows = {}
    for row in find(page, "tr", within={"data-machine": machine}):
        if "data-shift" in row.attrs:
            rows[row.attrs["data-shift"]] = [c.text for c in find(page, "td") if c.ancestors[0] is row]
    return rows


def expected_cells(api: dict) -> list[str]:
    """The numeric cells a row shows for these `/api/v1/oee/` figures."""
    def percent(value):
        return "—" if value is None else f"{value * 100:.1f}"
    return [
        f"{api['planned_production_s'] / 3600:.2f}", f"{api['run_s'] / 3600:.2f}",
        *(percent(api[name]) for name in ("availability", "performance", "quality", "oee", "teep")),
        str(api["total_count"]), str(api["good_count"]), str(api["reject_count"]),
    ]


def test_it_sends_anonymous_visitors_to_log_in(client, plant):
    for url in ("/reports/shift/", "/reports/shift.csv"):
        response = client.get(url, DAY)
        assert response.status_code == 302
        assert response["Location"].startswith(settings.LOGIN_URL)


def test_a_line_the_user_may_not_see_is_403_with_a_message(client, plant):
    client.force_login(plant.operator)
    response = client.get("/reports/shift/", {**DAY, "line": "B"})
    assert response.status_code == 403
    assert "You are not allowed to see line B" in response.content.decode()
    assert client.get("/reports/shift.csv", {**DAY, "line": "B"}).status_code == 403
    client.force_login(plant.outsider)
    assert client.get("/reports/shift/", DAY).status_code == 403


def test_an_operator_may_report_on_their_own_line(client, plant):
    client.force_login(plant.operator)
    response = client.get("/reports/shift/", DAY)
    assert response.status_code == 200
    options = [o.attrs["value"] for o in find(response.content.decode(), "option")]
    assert options == ["A"]


def test_each_shift_row_equals_the_api_for_that_machine_and_shift(client, plant):
    monday_of_a1()
    client.force_login(plant.manager)
    html = client.get("/reports/shift/", DAY).content.decode()
    rows = table(html, "A1")
    assert list(rows) == ["2026-01-12 Early", "2026-01-12 Late", "total"]
    for key, window in (("2026-01-12 Early", EARLY), ("2026-01-12 Late", LATE)):
        api = api_oee(client, "A1", *window)
        assert rows[key][5:] == expected_cells(api), key
    assert rows["2026-01-12 Early"][:5] == ["A1", "2026-01-12", "Early", "06:00", "14:00"]
    # A2 has no data: its shifts are all no-data, OEE 0 % of their planned time, no parts.
    a2 = table(html, "A2")
    assert a2["2026-01-12 Early"][5:] == expected_cells(api_oee(client, "A2", *EARLY))


def test_the_total_row_sums_times_and_counts_and_does_not_average_percentages(client, plant):
    monday_of_a1()
    client.force_login(plant.manager)
    html = client.get("/reports/shift/", DAY).content.decode()
    total = dict(zip(COLUMNS, table(html, "A1")["total"]))
    early, late = api_oee(client, "A1", *EARLY), api_oee(client, "A1", *LATE)
    ppt = early["planned_production_s"] + late["planned_production_s"]
    good_seconds = early["oee"] * early["planned_production_s"] + late["oee"] * late["planned_production_s"]
    assert total["Shift"] == "Total"
    assert total["Planned time h"] == f"{ppt / 3600:.2f}"
    assert total["Total"] == str(early["total_count"] + late["total_count"])
    assert total["Good"] == str(early["good_count"] + late["good_count"])
    assert total["OEE %"] == f"{good_seconds / ppt * 100:.1f}"
    assert total["OEE %"] != f"{(early['oee'] + late['oee']) / 2 * 100:.1f}"


def test_the_csv_has_the_numbers_of_the_page(client, plant):
    monday_of_a1()
    client.force_login(plant.manager)
    html = client.get("/reports/shift/", DAY).content.decode()
    response = client.get("/reports/shift.csv", DAY)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "shift-report-A-2026-01-12-2026-01-12.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert tuple(rows[0]) == COLUMNS
    page_rows = [
        [cell.replace("—", "") for cell in cells]
        for machine in ("A1", "A2") for cells in table(html, machine).values()
    ]
    assert rows[1:] == page_rows
    assert len(rows) == 1 + 2 * 3


def test_the_charts_get_the_losses_pareto_and_trend_of_the_line(client, plant):
    monday_of_a1()
    client.force_login(plant.manager)
    html = client.get("/reports/shift/", DAY).content.decode()
    data = json.loads(one(html, "script", id="chart-data").text)
    early, late = api_oee(client, "A1", *EARLY), api_oee(client, "A1", *LATE)  # A1 is line A's constraint
    waterfall = data["waterfall"]
    assert waterfall[0]["hours"] == pytest.approx((early["planned_production_s"] + late["planned_production_s"]) / 3600)
    losses = {name: early["losses"][name] + late["losses"][name] for name in early["losses"]}
    assert -sum(step["hours"] for step in waterfall[1:-1]) == pytest.approx(sum(losses.values()) / 3600)
    assert waterfall[-1]["measure"] == "total"
    assert [t["label"] for t in data["trend"]] == ["2026-01-12 Early", "2026-01-12 Late"]
    assert [t["oee"] for t in data["trend"]] == pytest.approx([early["oee"], late["oee"]])
    downtime = {row["reason"]: row["hours"] for row in data["downtime"]}
    downtime.pop("Small stops")
    assert sum(downtime.values()) == pytest.approx((early["unplanned_stop_s"] + late["unplanned_stop_s"]) / 3600)


def test_bad_dates_are_a_400_with_a_message(client, plant):
    client.force_login(plant.manager)
    response = client.get("/reports/shift/", {**DAY, "start": "12.01.2026"})
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.content.decode()
    response = client.get("/reports/shift/", {**DAY, "end": "2026-01-10"})
    assert response.status_code == 400
    assert "must not be before" in response.content.decode()
    assert client.get("/reports/shift.csv", {**DAY, "start": "2025-01-01"}).status_code == 400


def test_the_page_loads_nothing_from_the_internet(client, plant):
    client.force_login(plant.manager)
    html = client.get("/reports/shift/", DAY).content.decode()
    assert remote_assets(html) == []
    assert find(html, "script", src="/static/vendor/plotly/plotly.min.js")
