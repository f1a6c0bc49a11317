"""The machine detail page `/machines/<code>/`: figures, charts and event log of a machine over a period."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from tests.histories import EARLY, LATE, api_oee, at, monday_of_a1, parts_just_made
from tests.pages import elements, find, one, remote_assets


def chart_data(html: str) -> dict:
    return json.loads(one(html, "script", id="chart-data").text)


def test_it_sends_anonymous_visitors_to_log_in(client, plant):
    response = client.get("/machines/A1/")
    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL)


def test_a_machine_of_a_line_the_user_may_not_see_is_403_with_a_message(client, plant):
    client.force_login(plant.operator)
    response = client.get("/machines/B1/")
    assert response.status_code == 403
    assert "You are not allowed to see line B" in response.content.decode()


def test_an_unknown_machine_is_404(client, plant):
    client.force_login(plant.manager)
    assert client.get("/machines/NOPE/").status_code == 404


def test_the_figures_of_a_chosen_period_equal_the_apis(client, plant):
    monday_of_a1()
    client.force_login(plant.operator)
    html = client.get("/machines/A1/", {"start": EARLY[0].isoformat(), "end": EARLY[1].isoformat()}).content.decode()
    period = one(html, id="period")
    assert (period.attrs["data-start"], period.attrs["data-end"]) == (EARLY[0].isoformat(), EARLY[1].isoformat())
    api = api_oee(client, "A1", *EARLY)
    assert api["oee"] is not None and api["unplanned_stop_s"] == 40 * 60
    for name in ("oee", "availability", "performance", "quality", "teep"):
        shown = one(html, data_field=name)
        assert float(shown.attrs["data-value"]) == pytest.approx(api[name])
        assert shown.text.rstrip("%") == f"{api[name] * 100:.1f}"
    for name in ("good_count", "total_count"):
        assert int(one(html, data_field=name).attrs["data-value"]) == api[name]
    for name in ("run_s", "planned_production_s"):
        assert float(one(html, data_field=name).attrs["data-value"]) == pytest.approx(api[name])
        # Read as hours and minutes, not as "0.02 h".
        minutes = round(api[name] / 60)
        assert one(html, data_field=name).text == f"{minutes // 60} h {minutes % 60:02d} min"


@pytest.mark.parametrize("language", ["fr", "de"])
def test_the_figures_for_scripts_stay_machine_readable_in_a_language_with_a_decimal_comma(client, plant, language):
    monday_of_a1()
    client.force_login(plant.operator)
    html = client.get("/machines/A1/", {"start": EARLY[0].isoformat(), "end": EARLY[1].isoformat()},
                      HTTP_ACCEPT_LANGUAGE=language).content.decode()
    api = api_oee(client, "A1", *EARLY)
    for name in ("oee", "availability", "performance", "quality", "teep", "run_s", "planned_production_s"):
        assert float(one(html, data_field=name).attrs["data-value"]) == pytest.approx(api[name]), name
    assert one(html, data_field="oee").text.rstrip("%") == f"{api['oee'] * 100:.1f}".replace(".", ",")


def test_the_downtime_pareto_adds_up_to_the_unplanned_stop_time(client, plant):
    monday_of_a1()
    client.force_login(plant.manager)
    html = client.get("/machines/A1/", {"start": EARLY[0].isoformat(), "end": LATE[1].isoformat()}).content.decode()
    downtime = {row["reason"]: row["seconds"] for row in chart_data(html)["downtime"]}
    api = api_oee(client, "A1", EARLY[0], LATE[1])
    assert downtime.pop("Small stops") == pytest.approx(api["small_stop_s"]) == pytest.approx(60)
    assert downtime["Jam"] == pytest.approx(30 * 60)
    assert downtime["Changeover"] == pytest.approx(20 * 60)
    assert downtime["Unexplained"] == pytest.approx(10 * 60)
    # After 16:00 UTC no data came: the rest of the late shift is no-data, as the OEE counts it.
    assert downtime["No data"] == pytest.approx(api["no_data_s"])
    assert sum(downtime.values()) == pytest.approx(api["unplanned_stop_s"])
    assert list(downtime.values()) == sorted(downtime.values(), reverse=True)


def test_parts_per_hour_are_counted_in_local_hours_and_add_up(client, plant):
    monday_of_a1()
    client.force_login(plant.manager)
    html = client.get("/machines/A1/", {"start": EARLY[0].isoformat(), "end": EARLY[1].isoformat()}).content.decode()
    hours = chart_data(html)["parts_per_hour"]
    api = api_oee(client, "A1", *EARLY)
    assert sum(h["good"] + h["reject"] for h in hours) == api["total_count"]
    assert sum(h["reject"] for h in hours) == api["reject_count"]
    assert hours[0]["label"] == "06:00"  # 05:00 UTC is 06:00 in Berlin
    assert hours[0]["good"] + hours[0]["reject"] == 50 * 59  # the first reading sets where the counter starts


def test_the_timeline_covers_the_period_with_the_stops_and_their_reasons(client, plant):
    monday_of_a1()
    client.force_login(plant.manager)
    html = client.get("/machines/A1/", {"start": EARLY[0].isoformat(), "end": EARLY[1].isoformat()}).content.decode()
    timeline = chart_data(html)["timeline"]
    assert timeline[0]["start"] == EARLY[0].isoformat()
    assert timeline[-1]["end"] == EARLY[1].isoformat()
    assert all(a["end"] == b["start"] for a, b in zip(timeline, timeline[1:]))
    jam = next(s for s in timeline if s["reason"] == "jam")
    assert (jam["start"], jam["end"], jam["state"], jam["reason_name"]) == (
        at(6, 0).isoformat(), at(6, 30).isoformat(), "stopped", "Jam")


def test_the_event_log_lists_the_periods_events_newest_first(client, plant):
    monday_of_a1()
    client.force_login(plant.manager)
    html = client.get("/machines/A1/", {"start": EARLY[0].isoformat(), "end": EARLY[1].isoformat()}).content.decode()
    cells = [c.text for c in find(html, "td", within={"class": "event-log"}) if "ts" in c.attrs.get("class", "")]
    assert cells
    kinds = [e.text for e in find(html, "span", within={"class": "event-log"}) if "kind" in e.attrs.get("class", "")]
    assert kinds.count("State change") == 2 * 3 + 1  # three stops in the early shift, and the start
    assert "running → stopped" in html
    # Newest first: Mon 13:xx (local) before 06:00.
    assert cells == sorted(cells, reverse=True)


def test_plotly_is_served_from_our_static_files_and_nothing_from_the_internet(client, plant):
    client.force_login(plant.manager)
    html = client.get("/machines/A1/").content.decode()
    assert remote_assets(html) == []
    assert find(html, "script", src="/static/vendor/plotly/plotly.min.js")
    assert finders.find("vendor/plotly/plotly.min.js")


def test_the_event_log_says_who_gave_a_reason_and_entered_scrap(client, plant):
    monday_of_a1()
    client.force_login(plant.operator)
    given = client.post("/api/v1/machines/A1/reasons/", {"stop_start": at(7, 0).isoformat(), "reason": "jam"},
                        content_type="application/json")
    assert given.status_code == 201, given.content
    parts_just_made("A1")
    scrapped = client.post("/api/v1/machines/A1/scrap/", {"quantity": 4}, content_type="application/json")
    assert scrapped.status_code == 201, scrapped.content
    page = elements(client.get("/machines/A1/", {"range": "24h"}).content.decode())
    rows = [[c.text for c in find(page, "td") if c.ancestors[0] is row] for row in find(page, "tr")]
    logged = [row[1:] for row in rows if len(row) == 4 and row[3]]  # what people did
    assert logged == [  # newest first; 07:00 UTC is 08:00 in Berlin
        ["Scrap entered", "4 parts", "op-a"],
        ["Reason given", "Jam for the stop at 08:00", "op-a"],  # the reason's name, not its code
    ]


@pytest.mark.parametrize(("query", "says"), [
    ({"start": "2026-13-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"}, "start="),
    ({"start": "2026-12-01T00:00:00", "end": "2026-12-02T00:00:00"}, "UTC offset"),
    ({"start": "2026-12-01T00:00:00Z"}, "both start and end"),
    ({"start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"}, "after the start"),
    ({"start": "2026-01-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"}, "at most 31 days"),
    ({"start": "0001-01-01T00:00:00+05:00", "end": "2026-12-01T00:00:00Z"}, "not between"),
])
def test_a_period_the_page_cannot_show_is_400_saying_why(client, plant, query, says):
    client.force_login(plant.operator)
    response = client.get("/machines/A1/", query)
    assert response.status_code == 400
    assert says in response.content.decode()


def test_a_period_with_an_offset_past_what_postgresql_takes_is_drawn(client, plant):
    client.force_login(plant.operator)
    response = client.get("/machines/A1/", {"start": "2026-12-01T00:00:00+23:30", "end": "2026-12-02T00:00:00-23:30"})
    assert response.status_code == 200


def test_a_machine_that_counts_parts_without_a_running_signal_says_so_plainly(client, plant):
    from datetime import timedelta

    from monitoring.pipeline import ObservationIn, record_observations

    # A palletiser with only a part counter: parts arrive, no state ever does.
    record_observations([ObservationIn("A2", EARLY[0] + timedelta(minutes=k), "total_count", 10 * k)
                         for k in range(120)])
    client.force_login(plant.manager)
    html = client.get("/machines/A2/", {"start": EARLY[0].isoformat(), "end": EARLY[1].isoformat()}).content.decode()
    assert {row["state"] for row in chart_data(html)["timeline"]} == {"no-data"}
    assert "counted parts but sent no running signal" in one(html, id="data-note").text


def test_a_machine_with_states_has_no_note_about_missing_data(client, plant):
    monday_of_a1()
    client.force_login(plant.manager)
    html = client.get("/machines/A1/", {"start": EARLY[0].isoformat(), "end": EARLY[1].isoformat()}).content.decode()
    assert 'id="data-note"' not in html
