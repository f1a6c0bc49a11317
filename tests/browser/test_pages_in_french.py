"""The pages in the operator's language in a real browser: French from the browser's own language,
German from the switcher, with the scripts' words (charts) and numbers in the same language."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser

SAVED = ("from monitoring.models import UserPreferences; "
         "print(UserPreferences.objects.get(user__username='manager').language)")
FORGET = "from monitoring.models import UserPreferences; UserPreferences.objects.filter(user__username='manager').delete()"


def test_a_browser_in_french_gets_the_overview_machine_page_and_shift_report_in_french(
    browser, plant_server, screenshots,
):
    plant_server.heartbeat()
    base = plant_server.base_url
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="fr-FR")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(base + "/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator(".login-card")).to_contain_text("Connectez-vous pour voir vos lignes.")
    page.fill("#id_username", "manager")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")

    expect(page.locator("h1")).to_have_text("Vue d'ensemble de l'usine")
    expect(page.locator(".legend")).to_contain_text("En marche")
    expect(page.locator(".nav")).to_contain_text("Rapport d'équipe")
    expect(page.locator('.language-switch [aria-pressed="true"]')).to_have_text("FR")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    page.screenshot(path=screenshots / "overview-fr.png")

    # The last 24 h, not the current shift: in a shift's first minutes that holds no hour of parts to chart.
    page.goto(base + "/machines/L1-FILL/?range=24h")
    expect(page.locator(".kpi-strip")).to_contain_text("Disponibilité")
    # Figures with a decimal comma, from the server; the chart's legend from the scripts' catalog.
    expect(page.locator('.kpi-card [data-field="availability"]')).to_have_text(re.compile(r"^\d+,\d%?$"))
    expect(page.locator("#chart-timeline .legend")).to_contain_text("En marche")
    expect(page.locator(".event-log").first).to_contain_text("Motif")
    page.screenshot(path=screenshots / "machine-detail-fr.png", full_page=True)

    page.goto(base + "/planning/L1/")
    expect(page.locator("h1")).to_have_text("Tableau de planification")
    expect(page.locator('.board-table [data-order="WO-4711"] [data-field="status"]')).to_have_text("en cours")
    page.screenshot(path=screenshots / "planning-board-fr.png", full_page=True)

    page.goto(base + "/reports/shift/?line=L1")
    expect(page.locator("h1")).to_have_text("Rapport d'équipe")
    expect(page.locator("#chart-waterfall")).to_contain_text("Temps")
    expect(page.locator('.machine-report[data-machine="L1-FILL"] tr.total')).to_contain_text("Total")
    page.screenshot(path=screenshots / "shift-report-fr.png", full_page=True)

    # The switcher: German from now on, kept for this user (the other tests' manager reads English again).
    try:
        page.locator('.language-switch button[value="de"]').click()
        expect(page.locator("h1")).to_have_text("Schichtbericht")
        expect(page.locator("html")).to_have_attribute("lang", "de")
        page.goto(base + "/")
        expect(page.locator("h1")).to_have_text("Werksübersicht")
        assert "de" in plant_server.manage("shell", "--verbosity", "0", "-c", SAVED)
    finally:
        plant_server.manage("shell", "--verbosity", "0", "-c", FORGET)
        context.close()
    assert errors == []
