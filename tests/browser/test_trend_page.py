"""The trend page and the before/after comparison in a real browser, with screenshots at three widths.

A plant server of its own: line L1 of the demo plant with two whole local days of history, a week
apart, so the trend has weeks and the comparison two periods with their losses.
"""

from __future__ import annotations

import csv
import io
import os
import re
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, PLANT, PlantServer
from tests.browser.plant_data import MACHINES, history_csv

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("OEE_TREND_SHOTS", "/tmp/shots/trend"))
ZONE = ZoneInfo("Europe/Berlin")  # the demo site's
L1 = {code: spec for code, spec in MACHINES.items() if code.startswith("L1-")}
WIDTHS = {1920: 1080, 1280: 800, 390: 844}
# The first read of weeks rolls their hours up, on a machine that runs other suites beside this one.
SLOW_PAGE_MS = 60_000


@pytest.fixture(scope="module")
def trend_server(tmp_path_factory, redis_url, chromium_path):
    server = PlantServer(tmp_path_factory.mktemp("trend-plant"), redis_url)
    server.manage("migrate", "--verbosity", "0")
    server.manage("shell", "--verbosity", "0", "-c", PLANT)
    today = datetime.now(ZONE).date()
    before, after = today - timedelta(days=8), today - timedelta(days=1)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    for seed, day in ((11, before), (12, after)):
        start = datetime.combine(day, datetime.min.time(), ZONE).astimezone(UTC)
        server.import_csv(history_csv(start - timedelta(minutes=5), min(start + timedelta(days=1, minutes=5), now),
                                      seed=seed, machines=L1))
    server.start()
    server.days = (before, after)
    yield server
    server.kill()
    server.log.close()


def _log_in(browser, server: PlantServer, width: int, username: str = "manager"):
    context = browser.new_context(viewport={"width": width, "height": WIDTHS[width]})
    context.set_default_timeout(SLOW_PAGE_MS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(server.base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.base_url + "/")
    return context, page


def test_a_manager_reads_the_trend_and_compares_two_days(browser, trend_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    before, after = trend_server.days
    base = trend_server.base_url
    trend_url = f"{base}/reports/trend/?line=L1&start={before - timedelta(days=7)}&end={after}&group=week"
    compare_query = (f"line=L1&before_start={before}&before_end={before}&after_start={after}&after_end={after}")
    for width in WIDTHS:
        context, page = _log_in(browser, trend_server, width)
        if width > 600:
            page.locator("nav.nav a", has_text="Trend").click()
            expect(page.locator("#trend-table")).to_be_attached(timeout=SLOW_PAGE_MS)
        page.goto(trend_url)
        for chart in ("#chart-reasons", "#chart-machines", "#chart-oee", "#chart-mttr"):
            expect(page.locator(f"{chart} .main-svg").first).to_be_attached(timeout=SLOW_PAGE_MS)
        expect(page.locator("#trend-table tbody tr").first).to_be_visible()
        assert page.locator("#trend-table tbody tr").count() >= 2
        expect(page.locator('#reliability-table tr[data-machine="L1-FILL"] [data-field="failures"]')).not_to_have_text("")
        page.screenshot(path=SHOTS / f"trend-{width}.png", full_page=True)

        page.locator("#compare-link").click()
        expect(page.locator("#compare-table")).to_be_attached(timeout=SLOW_PAGE_MS)
        page.goto(f"{base}/reports/trend/compare/?{compare_query}")
        expect(page.locator("#chart-compare .main-svg").first).to_be_attached(timeout=SLOW_PAGE_MS)
        row = page.locator('#compare-table tr[data-name="Equipment failure"]')
        expect(row).to_be_visible()
        expect(row.locator('[data-field="change"]')).to_have_text(re.compile(r"^([−+±]\d+\.\d %|new)$"))
        expect(row.locator('[data-field="before"]')).not_to_have_text("0.00")
        page.screenshot(path=SHOTS / f"compare-{width}.png", full_page=True)
        assert page.errors == []
        if width == 1920:
            # The CSV link gives the rows the page shows.
            href = page.locator("#csv-link").get_attribute("href")
            cookies = {c["name"]: c["value"] for c in context.cookies()}
            request = urllib.request.Request(base + href, headers={"Cookie": f"sessionid={cookies['sessionid']}"})
            rows = list(csv.reader(io.StringIO(urllib.request.urlopen(request, timeout=30).read().decode())))
            shown = row.locator('[data-field="before"]').text_content(), row.locator('[data-field="after"]').text_content()
            assert ["loss", "Equipment failure", *shown] == next(r for r in rows if r[1] == "Equipment failure")[:4]
        context.close()


def test_an_operator_leaves_a_hand_over_note_and_comments_on_a_stop(browser, trend_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    base = trend_server.base_url
    _, after = trend_server.days
    context, page = _log_in(browser, trend_server, 1920, "operator")
    page.goto(base + "/lines/L1/")
    page.locator("#handover summary").click()
    page.fill("#note-text", "Capper torque drifts after 2 h: checked at 14:00, keep an eye on it.")
    page.locator(".note-form button[type=submit]").click()
    page.wait_for_url(base + "/lines/L1/")
    expect(page.locator('#handover [data-field="note-count"]')).to_have_text("1")
    page.locator("#handover summary").click()
    expect(page.locator("#handover-list .note")).to_contain_text("Capper torque drifts")
    page.screenshot(path=SHOTS / "line-screen-handover-1920.png")

    day = datetime.combine(after, datetime.min.time(), ZONE)
    page.goto(f"{base}/machines/L1-CAP/?start={day.isoformat()}&end={(day + timedelta(days=1)).isoformat()}"
              .replace("+", "%2B"))
    form = page.locator("#stop-list .comment-form").first
    form.locator("input[name=text]").fill("Cap feeder empty, refilled")
    form.locator("button").click()
    expect(page.locator("#stop-list .comment").first).to_contain_text("Cap feeder empty, refilled")
    page.locator("#stop-list").screenshot(path=SHOTS / "machine-stop-comments-1920.png")
    assert page.errors == []
    context.close()
