"""Every page renders in a real browser without script errors, charts drawn; screenshots go to screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_every_page_renders_its_live_figures_and_charts(browser, open_page, plant_server, screenshots):
    plant_server.heartbeat()
    base = plant_server.base_url

    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    login = context.new_page()
    login.goto(base + "/lines/L1/")
    expect(login).to_have_url(base + "/accounts/login/?next=/lines/L1/")
    login.screenshot(path=screenshots / "login.png")
    context.close()

    manager = open_page("manager")
    expect(manager.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(manager.locator(".machine-tile")).to_have_count(5)
    expect(manager.locator('.machine-tile[data-machine="L2-SEAM"] [data-field="since"]')).not_to_have_text("")
    manager.screenshot(path=screenshots / "overview.png")
    # Each machine's state pill has its own state's colour, whatever the state of its line.
    colours = {"running": "rgb(34, 197, 94)", "stopped": "rgb(239, 68, 68)", "no-data": "rgb(107, 114, 128)"}
    for tile in manager.locator(".machine-tile").all():
        state = next(c[len("state-"):] for c in tile.get_attribute("class").split() if c.startswith("state-"))
        pill = tile.locator(".state-pill").evaluate("node => getComputedStyle(node).backgroundColor")
        assert pill == colours[state], (tile.get_attribute("data-machine"), state, pill)

    # The last 24 h, not the current shift: in a shift's first minutes that holds no hour of parts to chart.
    manager.goto(base + "/machines/L1-FILL/?range=24h")
    for chart in ("#chart-timeline", "#chart-parts", "#chart-pareto"):
        expect(manager.locator(f"{chart} .main-svg").first).to_be_attached()
    expect(manager.locator(".event-log tbody tr").first).to_be_visible()
    manager.screenshot(path=screenshots / "machine-detail.png", full_page=True)

    manager.goto(base + "/reports/shift/?line=L1")
    for chart in ("#chart-waterfall", "#chart-pareto", "#chart-trend"):
        expect(manager.locator(f"{chart} .main-svg").first).to_be_attached()
    expect(manager.locator('.machine-report[data-machine="L1-FILL"] tr.total')).to_be_visible()
    manager.screenshot(path=screenshots / "shift-report.png", full_page=True)

    operator = open_page("operator")
    operator.goto(base + "/lines/L1/")
    expect(operator.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(operator.locator('.machine-panel[data-machine="L1-FILL"] [data-field="timeline"] rect').first).to_be_attached()
    operator.screenshot(path=screenshots / "line-screen.png")
    operator.locator('.machine-panel[data-machine="L1-CAP"] [data-action="scrap"]').click()
    expect(operator.locator(".sheet")).to_be_visible()
    operator.locator(".sheet .touch", has_text="+10").click()
    expect(operator.locator('[data-field="scrap-quantity"]')).to_have_text("11")
    operator.screenshot(path=screenshots / "line-screen-scrap.png")
    operator.locator(".sheet .touch.danger").click()
    expect(operator.locator("#toast")).to_contain_text("11 scrapped on Capper")

    assert manager.errors == [] and operator.errors == []
