"""An alert on the line screen in a real browser: a stop passes its limit, the andon banner shows, an operator
acknowledges it with one touch, and the banner goes when the machine runs again."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# The labeller of L1 (no other browser test stops it) gets a rule: a stop of over a minute.
# The plant server has no breaks (tests/browser/conftest.py): one falling now would keep the alert from opening.
SETUP = """
from monitoring.models import AlertRule
from planning.models import Machine
AlertRule.objects.create(name="Labeller stopped", kind="long_stop", threshold=1,
                         machine=Machine.objects.get(code="L1-LABEL"))
"""
EVALUATE = "from monitoring import alerts; print(alerts.evaluate())"
WHO = ("from monitoring.models import Alert; a = Alert.objects.get(); "
       "print(a.acknowledged_by.username, a.ended_at is None)")
SHOTS = Path(os.environ.get("OEE_ALERT_SHOTS", "")) if os.environ.get("OEE_ALERT_SHOTS") else None


def test_a_stop_past_its_limit_shows_on_the_line_screen_and_an_operator_acknowledges_it(
    open_page, plant_server, screenshots,
):
    plant_server.heartbeat()
    plant_server.manage("shell", "--verbosity", "0", "-c", SETUP)
    try:
        page = open_page("operator")
        page.goto(plant_server.base_url + "/lines/L1/")
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
        banner = page.locator("#alert-banner")
        expect(banner).to_be_hidden()

        now = datetime.now(UTC)
        plant_server.import_csv(
            "ts,machine,signal,value\n"
            f"{(now - timedelta(seconds=150)).replace(microsecond=0).isoformat()},L1-LABEL,running,false\n"
            f"{now.isoformat()},L1-LABEL,connected,true\n"
        )
        assert "'opened': 1" in plant_server.manage("shell", "--verbosity", "0", "-c", EVALUATE)
        # The screen asks for its banner every ALERTS_BANNER_POLL_S (10 s): it shows without a reload.
        alert = banner.locator(".andon-alert")
        expect(alert).to_contain_text("L1-LABEL", timeout=30_000)
        expect(alert).to_contain_text("stopped for over 1 min")
        button = alert.locator('[data-action="acknowledge"]')
        box = button.bounding_box()
        assert box["height"] >= 64, "the acknowledge button must be easy to hit with a finger"
        shots = [(1920, 1080), (1280, 800), (390, 844)]
        for width, height in shots:
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=screenshots / f"alert-banner-{width}.png")
            if SHOTS:
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=SHOTS / f"alert-banner-{width}.png")
        page.set_viewport_size({"width": 1920, "height": 1080})
        # The plant overview shows it too, with its line, to a manager (who may acknowledge it as well).
        overview = open_page("manager")
        expect(overview.locator("#alert-banner .andon-alert")).to_contain_text("L1 · Labeller stopped")
        expect(overview.locator('#alert-banner [data-action="acknowledge"]')).to_have_count(1)
        if SHOTS:
            overview.screenshot(path=SHOTS / "alert-banner-overview-1920.png")

        button.click()
        expect(page.locator("#toast")).to_contain_text("Alert acknowledged")
        expect(alert).to_contain_text("Acknowledged by operator")
        expect(alert.locator('[data-action="acknowledge"]')).to_have_count(0)
        expect(alert).to_have_class("andon-alert acknowledged")
        if SHOTS:
            page.screenshot(path=SHOTS / "alert-banner-acknowledged-1920.png")
        assert plant_server.manage("shell", "--verbosity", "0", "-c", WHO).split() == ["operator", "True"]

        # The labeller runs again: the alert ends, and the banner goes at the next poll.
        plant_server.import_csv(f"ts,machine,signal,value\n{datetime.now(UTC).isoformat()},L1-LABEL,running,true\n")
        assert "'ended': 1" in plant_server.manage("shell", "--verbosity", "0", "-c", EVALUATE)
        expect(banner).to_be_hidden(timeout=30_000)
        assert page.errors == []
    finally:
        plant_server.manage("shell", "--verbosity", "0", "-c", "from monitoring.models import AlertRule; AlertRule.objects.all().delete()")
