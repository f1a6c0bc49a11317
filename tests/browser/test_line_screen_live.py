"""The line screen in a real browser: a stop shows up live, a reason given with a touch reaches the overview."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_stop_shows_live_and_its_reason_reaches_the_plant_overview(open_page, plant_server):
    plant_server.heartbeat()
    line = open_page("operator")
    line.goto(plant_server.base_url + "/lines/L1/")
    expect(line.locator("#live-status")).to_have_attribute("data-state", "live")
    panel = line.locator('.machine-panel[data-machine="L1-FILL"]')
    expect(panel).to_have_class(re.compile(r"\bstate-running\b"))

    overview = open_page("manager")
    expect(overview.locator("#live-status")).to_have_attribute("data-state", "live")
    tile = overview.locator('.machine-tile[data-machine="L1-FILL"]')
    expect(tile).to_have_class(re.compile(r"\bstate-running\b"))

    # The filler stopped 150 s ago (longer than its 120-s micro-stop threshold) and is still stopped.
    now = datetime.now(UTC)
    stop_start = (now - timedelta(seconds=150)).replace(microsecond=0)
    # Its collector kept reading it every 10 s meanwhile: however long the pages took to open since
    # the heartbeat above, no silence (no-data) splits the stop.
    readings = [stop_start + timedelta(seconds=s) for s in range(0, int((now - stop_start).total_seconds()), 10)]
    plant_server.import_csv(
        "ts,machine,signal,value\n"
        f"{stop_start.isoformat()},L1-FILL,running,false\n"
        + "".join(f"{ts.isoformat()},L1-FILL,connected,true\n" for ts in [*readings, now])
    )
    expect(panel).to_have_class(re.compile(r"\bstate-stopped\b"))
    expect(panel.locator('[data-field="state"]')).to_have_text("Stopped")
    expect(panel.locator('[data-field="reason"]')).to_have_text("Stop needing a reason")
    expect(tile).to_have_class(re.compile(r"\bstate-stopped\b"))
    expect(tile.locator('[data-field="reason"]')).to_have_text("Stop needing a reason")

    stop = panel.locator(".stop.open")
    expect(stop).to_have_count(1)
    expect(stop.locator(".stop-when")).to_have_text(stop_start.astimezone(_berlin()).strftime("%H:%M"))
    button = stop.locator('[data-action="reason"]')
    box = button.bounding_box()
    assert box["height"] >= 64 and box["width"] >= 64, "reason buttons must be easy to hit with a finger"
    button.click()
    line.locator('[data-reason-group="mech"]').click()
    line.locator('[data-reason="jam"]').click()
    expect(line.locator("#toast")).to_contain_text("Reason given: Jam")

    expect(tile.locator('[data-field="reason"]')).to_have_text("Jam")
    expect(panel.locator('[data-field="reason"]')).to_have_text("Jam")
    expect(panel.locator(".stop.open")).to_have_count(0)
    assert line.errors == [] and overview.errors == []


def _berlin():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")
