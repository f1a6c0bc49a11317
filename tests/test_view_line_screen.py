"""The operator's line screen `/lines/<code>/`: who may open it, and the shift's figures it shows."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.histories import FIGURES, recent_b1
from tests.pages import find, one, remote_assets


def test_it_sends_anonymous_visitors_to_log_in(client, plant):
    response = client.get("/lines/A/")
    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL)


def test_an_operator_of_another_line_gets_a_403_page_that_says_why(client, plant):
    client.force_login(plant.operator)
    response = client.get("/lines/B/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "Not allowed" in html
    assert "You are not allowed to see line B (Line B)" in html
    assert not find(html, data_machine="B1")


def test_a_user_without_a_role_gets_403_on_every_line(client, plant):
    client.force_login(plant.outsider)
    assert client.get("/lines/A/").status_code == 403
    assert client.get("/lines/B/").status_code == 403


def test_an_unknown_line_is_404(client, plant):
    client.force_login(plant.manager)
    assert client.get("/lines/NOPE/").status_code == 404


def test_the_constraint_machine_comes_first_and_stands_out(client, plant):
    plant.line_a.constraint_machine = plant.a2
    plant.line_a.save()
    client.force_login(plant.operator)
    html = client.get("/lines/A/").content.decode()
    panels = [e for e in find(html, "section") if "data-machine" in e.attrs]
    assert [p.attrs["data-machine"] for p in panels] == ["A2", "A1"]
    assert "constraint" in panels[0].attrs["class"].split()
    assert "constraint" not in panels[1].attrs["class"].split()


def test_each_machine_shows_the_shift_so_far_as_the_api_computes_it(client, plant):
    recent_b1()
    client.force_login(plant.manager)
    html = client.get("/lines/B/").content.decode()
    panel = one(html, "section", data_machine="B1")
    api = client.get("/api/v1/oee/", {
        "machine": "B1", "start": panel.attrs["data-period-start"], "end": panel.attrs["data-period-end"],
    }).json()
    assert api["oee"] is not None
    for name in FIGURES:
        shown = one(html, within={"data-machine": "B1"}, data_field=name)
        assert float(shown.attrs["data-value"]) == pytest.approx(api[name])
        assert shown.text.rstrip("%") == f"{api[name] * 100:.1f}"


def test_the_state_shows_what_the_machine_does_and_since_when(client, plant):
    recent_b1(minutes_ago_end=0.5, stop_reason="jam")
    client.force_login(plant.manager)
    html = client.get("/lines/B/").content.decode()
    assert "state-stopped" in one(html, "section", data_machine="B1").attrs["class"].split()
    assert one(html, within={"data-machine": "B1"}, data_field="state").text == "Stopped"
    assert one(html, within={"data-machine": "B1"}, data_field="reason").text == "Jam"
    assert one(html, within={"data-machine": "B1"}, data_field="since").attrs["data-since"]


def test_operators_get_the_scrap_button_and_managers_a_view_only_note(client, plant):
    client.force_login(plant.operator)
    html = client.get("/lines/A/").content.decode()
    assert one(html, "div", id="line-screen").attrs["data-can-operate"] == "true"
    assert len(find(html, "button", data_action="scrap")) == 2
    client.force_login(plant.manager)
    html = client.get("/lines/A/").content.decode()
    assert one(html, "div", id="line-screen").attrs["data-can-operate"] == "false"
    assert find(html, "button", data_action="scrap") == []
    assert "View only" in html


def test_the_page_loads_nothing_from_the_internet(client, plant):
    client.force_login(plant.operator)
    html = client.get("/lines/A/").content.decode()
    assert remote_assets(html) == []
    assert find(html, "script", src="/static/oee/line.js")


def test_times_are_shown_in_the_sites_time_zone(client, plant):
    client.force_login(plant.manager)
    html = client.get("/lines/B/").content.decode()
    # Line B has no shift pattern: its shift is the local day, midnight to midnight in Berlin (not 23:00 UTC).
    assert one(html, id="shift-label").text == "All day 00:00–00:00"
    assert one(html, within={"data-machine": "B1"}, data_field="timeline-start").text == "00:00"
