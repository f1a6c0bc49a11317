"""The line screen in the reader's language: French for a browser asking for French, German for a display set to it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import translation
from django.utils.translation.trans_real import DjangoTranslation
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser



def words(language: str, *msgids: str) -> list[str]:
    """The catalog's words for msgids in `language` (the translators may change them; never English)."""
    with translation.override(language):
        found = [translation.gettext(msgid) for msgid in msgids]
    assert not set(found) & set(msgids), f"untranslated in {language}: {set(found) & set(msgids)}"
    return found


def script_words(language: str, *msgids: str) -> list[str]:
    """The scripts' catalog's (djangojs) words for msgids in `language`; never English."""
    catalog = DjangoTranslation(language, domain="djangojs")
    found = [catalog.gettext(msgid) for msgid in msgids]
    assert not set(found) & set(msgids), f"untranslated in {language}: {set(found) & set(msgids)}"
    return found


def any_of(texts: list[str]) -> re.Pattern:
    return re.compile("^(" + "|".join(re.escape(text) for text in texts) + ")$")


@pytest.fixture
def new_page(browser):
    contexts = []

    def new_page(**options):
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        return page

    yield new_page
    for context in contexts:
        context.close()


# The capper of L1 (no other browser test stops it): stopped here, and running again after each test.
MACHINE = "L1-CAP"


@pytest.fixture
def capper_runs_again(plant_server):
    yield
    plant_server.import_csv(f"ts,machine,signal,value\n{datetime.now(UTC).isoformat()},{MACHINE},running,true\n")


def stop(plant_server, seconds_ago: int = 150, machine: str = MACHINE) -> None:
    """`machine` stopped `seconds_ago` (150: past its micro-stop threshold), read every 10 s since."""
    now = datetime.now(UTC)
    start = (now - timedelta(seconds=seconds_ago)).replace(microsecond=0)
    readings = [start + timedelta(seconds=s) for s in range(0, seconds_ago, 10)]
    plant_server.import_csv(
        "ts,machine,signal,value\n" + f"{start.isoformat()},{machine},running,false\n"
        + "".join(f"{ts.isoformat()},{machine},connected,true\n" for ts in [*readings, now])
    )


def test_a_browser_asking_for_french_gets_the_line_screen_in_french_first_paint_and_updates(
    new_page, plant_server, capper_runs_again,
):
    plant_server.heartbeat()
    page = new_page(locale="fr-FR")
    page.goto(plant_server.base_url + "/accounts/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(plant_server.base_url + "/")
    page.goto(plant_server.base_url + "/lines/L1/")
    assert page.locator("html").get_attribute("lang") == "fr"
    # The words the script writes come from the French catalog.
    live, why = script_words("fr", "Live", "Why did it stop?")
    expect(page.locator("#live-status .label")).to_have_text(live)
    panel = page.locator(f'.machine-panel[data-machine="{MACHINE}"]')
    expect(panel.locator('[data-field="state"]')).to_have_text(any_of(words("fr", "Running", "Stopped", "No data")))
    stops_head, oee, enter_scrap, stopped, needing, reason = words(
        "fr", "Stops needing a reason", "OEE", "Enter scrap", "Stopped", "Stop needing a reason", "Reason")
    expect(panel.locator(".stops-head")).to_contain_text(stops_head)
    expect(panel.locator(".mp-oee .label")).to_have_text(oee)
    expect(panel.locator('[data-action="scrap"]')).to_have_text(enter_scrap)

    # An update over the socket is drawn in French too, not in the server's default language.
    stop(plant_server)
    expect(panel.locator('[data-field="state"]')).to_have_text(stopped)
    expect(panel.locator('[data-field="reason"]')).to_have_text(needing)
    expect(panel.locator(".stop.open [data-action='reason']")).to_have_text(reason)
    panel.locator(".stop.open [data-action='reason']").click()
    expect(page.locator(".sheet h2")).to_have_text(why)
    assert page.errors == []


def test_a_display_set_to_german_shows_the_line_in_german_without_a_log_in(new_page, plant_server, capper_runs_again):
    token = plant_server.manage("shell", "--verbosity", "0", "-c", (
        "from planning.models import Line, LineDisplay\n"
        "display = LineDisplay(line=Line.objects.get(code='L1'), name='TV L1', language='de')\n"
        "token = display.issue_token()\n"
        "display.save()\n"
        "print(token)\n"
    )).strip()
    plant_server.heartbeat()
    # The TV's browser asks for English: the display's language wins.
    page = new_page(locale="en-US")
    page.goto(f"{plant_server.base_url}/display/{token}/")
    assert page.url.endswith(f"/display/{token}/")  # no log-in page
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(page.locator("#live-status .label")).to_have_text("Live")  # the same word in German
    panel = page.locator(f'.machine-panel[data-machine="{MACHINE}"]')
    running, stopped, no_data, stops_head, short = words(
        "de", "Running", "Stopped", "No data", "Stops needing a reason", "Short stop — no reason needed")
    expect(panel.locator('[data-field="state"]')).to_have_text(any_of([running, stopped, no_data]))
    expect(panel.locator(".stops-head")).to_contain_text(stops_head)
    # Read-only: no operator's button anywhere, no hand-over notes, no log-out.
    expect(page.locator("[data-action]")).to_have_count(0)
    expect(page.locator("#handover")).to_have_count(0)

    # It stops now (after the capper ran again): a short stop, so far, in German.
    stop(plant_server, seconds_ago=0)
    expect(panel.locator('[data-field="state"]')).to_have_text(stopped)
    expect(panel.locator('[data-field="reason"]')).to_have_text(short)
    assert page.errors == []

    plant_server.manage("shell", "--verbosity", "0", "-c", (
        "from planning.models import LineDisplay\n"
        "for display in LineDisplay.objects.filter(name='TV L1'): display.revoke()\n"
    ))
    page.reload()
    expect(page.locator("h1")).to_have_text("This display is not connected")
