"""The plant overview `/`: a tile per line and machine with the shift's OEE, as `/api/v1/oee/` computes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from tests.histories import FIGURES, recent_b1
from tests.pages import find, one, remote_assets


def test_it_sends_anonymous_visitors_to_log_in(client, plant):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL)


def test_an_operator_sees_only_the_lines_they_operate(client, plant):
    client.force_login(plant.operator)
    html = client.get("/").content.decode()
    assert [e.attrs["data-line"] for e in find(html, "section") if "data-line" in e.attrs] == ["A"]
    assert find(html, data_machine="A1") and find(html, data_machine="A2")
    assert not find(html, data_machine="B1")


def test_a_manager_sees_every_line_with_its_constraint_machine_first(client, plant):
    client.force_login(plant.manager)
    html = client.get("/").content.decode()
    lines = [e.attrs["data-line"] for e in find(html, "section") if "data-line" in e.attrs]
    assert lines == ["A", "B"]
    machines = [e.attrs["data-machine"] for e in find(html, "a") if "data-machine" in e.attrs]
    assert machines == ["A1", "A2", "B1"]
    assert one(html, "section", data_line="A").attrs["data-constraint"] == "A1"


def test_a_user_without_a_role_is_told_they_see_no_line(client, plant):
    client.force_login(plant.outsider)
    response = client.get("/")
    assert response.status_code == 200
    assert "No lines to show" in response.content.decode()
    assert not find(response.content.decode(), data_machine="B1")


def test_the_machine_tile_shows_the_shift_so_far_as_the_api_computes_it(client, plant):
    recent_b1()
    client.force_login(plant.manager)
    html = client.get("/").content.decode()
    tile = one(html, "a", data_machine="B1")
    start, end = tile.attrs["data-period-start"], tile.attrs["data-period-end"]
    assert start and end
    api = client.get("/api/v1/oee/", {"machine": "B1", "start": start, "end": end}).json()
    assert api["oee"] is not None
    for name in FIGURES:
        shown = one(html, within={"data-machine": "B1"}, data_field=name)
        assert float(shown.attrs["data-value"]) == pytest.approx(api[name])
        assert shown.text.rstrip("%") == f"{api[name] * 100:.1f}"
    # Line B has no constraint machine: its tile sums its machines, which is B1 alone.
    line_oee = one(html, within={"data-line": "B"}, data_field="line-oee")
    assert float(line_oee.attrs["data-value"]) == pytest.approx(api["oee"])


def test_the_oee_is_coloured_against_the_machines_target_and_warning_level(client, plant):
    recent_b1()
    client.force_login(plant.manager)
    html = client.get("/").content.decode()
    shown = one(html, within={"data-machine": "B1"}, data_field="oee")
    oee = float(shown.attrs["data-value"])
    expected = "good" if oee >= 0.85 else "warn" if oee >= 0.65 else "bad"
    assert f"level-{expected}" in shown.attrs["class"].split()


def test_a_stopped_machine_tile_shows_the_state_and_the_stop_reason(client, plant):
    recent_b1(minutes_ago_end=0.5, stop_reason="jam")
    client.force_login(plant.manager)
    html = client.get("/").content.decode()
    tile = one(html, "a", data_machine="B1")
    assert "state-stopped" in tile.attrs["class"].split()
    assert one(html, within={"data-machine": "B1"}, data_field="state").text == "Stopped"
    assert one(html, within={"data-machine": "B1"}, data_field="reason").text == "Jam"


def test_the_page_loads_nothing_from_the_internet(client, plant):
    client.force_login(plant.manager)
    assert remote_assets(client.get("/").content.decode()) == []


def test_no_template_references_a_remote_script_or_stylesheet():
    templates = Path(settings.BASE_DIR) / "templates"
    offending = {
        str(path.relative_to(templates)): found
        for path in templates.rglob("*.html")
        if (found := remote_assets(path.read_text()))
    }
    assert offending == {}
