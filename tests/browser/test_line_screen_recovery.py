"""The line screen recovers by itself when the server goes away and comes back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_after_a_server_crash_it_reconnects_and_shows_fresh_data(open_page, plant_server):
    plant_server.heartbeat()
    page = open_page("operator")
    page.goto(plant_server.base_url + "/lines/L2/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    panel = page.locator('.machine-panel[data-machine="L2-SEAM"]')
    expect(panel).to_have_class(re.compile(r"\bstate-running\b"))
    banner = page.locator("#reconnecting")
    expect(banner).to_be_hidden()

    body = page.locator("body")
    expect(body).not_to_have_class(re.compile(r"\bdisconnected\b"))
    plant_server.kill()
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("reconnecting")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "reconnecting")
    # A few seconds later the state blocks go grey and say when the screen last heard from the server.
    expect(body).to_have_class(re.compile(r"\bdisconnected\b"), timeout=15_000)
    assert "grayscale" in panel.evaluate("node => getComputedStyle(node).filter")
    expect(panel.locator(".last-update")).to_have_text(re.compile(r"^last update \d\d:\d\d:\d\d$"))

    # While the server is down the seamer stops: only the snapshot after reconnecting can tell the screen.
    now = datetime.now(UTC)
    plant_server.import_csv(
        "ts,machine,signal,value\n"
        f"{(now - timedelta(seconds=150)).isoformat()},L2-SEAM,running,false\n"
        f"{now.isoformat()},L2-SEAM,connected,true\n"
        f"{now.isoformat()},L2-PACK,connected,true\n"
    )
    expect(panel).to_have_class(re.compile(r"\bstate-running\b"))
    plant_server.start()

    expect(banner).to_be_hidden(timeout=15_000)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    # In colour again, with the fresh data.
    expect(body).not_to_have_class(re.compile(r"\bdisconnected\b"))
    expect(page.locator(".last-update")).to_have_count(0)
    expect(panel).to_have_class(re.compile(r"\bstate-stopped\b"))
    expect(panel.locator('[data-field="state"]')).to_have_text("Stopped")
    expect(panel.locator(".stop.open")).to_have_count(1)
    assert page.errors == []
