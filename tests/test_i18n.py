"""The operator's language: English, French and German pages, a user's saved choice, 24-hour times."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from html import unescape
from pathlib import Path

import pytest
from django.urls import reverse

from monitoring.models import UserPreferences
from oee_site import catalogs


def page(client, path: str, language: str | None = None) -> str:
    headers = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
    response = client.get(path, **headers)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(("language", "words"), [
    ("fr", ["Se déconnecter", "Planification", 'lang="fr"']),
    ("de", ["Abmelden", "Übersicht", "Planung", 'lang="de"']),
    (None, ["Log out", "Overview", "Planning", 'lang="en"']),
])
def test_a_browser_asking_for_a_language_gets_the_overview_and_machine_page_in_it(client, plant, language, words):
    client.force_login(plant.manager)
    for path in ("/", reverse("machine-detail", args=["A1"])):
        html = page(client, path, language)
        for word in words:
            assert word in html, (path, word)


def test_a_language_the_site_does_not_speak_falls_back_to_english(client, plant):
    client.force_login(plant.manager)
    html = page(client, "/", "ja,zh;q=0.8")
    assert "Log out" in html and 'lang="en"' in html


def test_a_users_saved_language_wins_over_the_browsers(client, plant):
    UserPreferences.objects.create(user=plant.manager, language="de")
    client.force_login(plant.manager)
    html = page(client, "/", "fr")
    assert "Abmelden" in html and "Se déconnecter" not in html


def test_the_switcher_sets_the_language_and_saves_it_for_the_signed_in_user(client, plant):
    client.force_login(plant.manager)
    response = client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert UserPreferences.objects.get(user=plant.manager).language == "fr"
    # Saved for the user: a new browser (no cookie, asking for German) still gets French.
    client.cookies.clear()
    client.force_login(plant.manager)
    assert "Se déconnecter" in page(client, "/", "de")


def test_the_switcher_refuses_a_language_the_site_does_not_speak(client, plant):
    client.force_login(plant.manager)
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    assert not UserPreferences.objects.filter(user=plant.manager).exists()
    assert "Log out" in page(client, "/")


def test_the_log_in_page_speaks_the_browsers_language(client, db):
    html = page(client, reverse("login"), "de")
    assert "Passwort" in html and "Benutzername" in html and 'lang="de"' in html


def test_the_user_admin_sets_a_users_language(admin_client, plant):
    html = admin_client.get(reverse("admin:auth_user_change", args=[plant.operator.pk])).content.decode()
    assert 'name="preferences-0-language"' in html


def test_the_english_admin_shows_times_on_a_24_hour_clock(admin_client, plant):
    from planning.models import Product, WorkOrder

    product = Product.objects.create(code="BOT-05", name="Bottle 0.5 l")
    # 17:45 in Berlin, 16:45 UTC: whichever zone the admin shows, a 12-hour clock would say "p.m.".
    WorkOrder.objects.create(number="WO-1", product=product, quantity=500, line=plant.line_a, machine=plant.a1,
                             planned_start=datetime.fromisoformat("2026-03-02T17:45+01:00"),
                             planned_end=datetime.fromisoformat("2026-03-02T18:50+01:00"))
    html = admin_client.get(reverse("admin:planning_workorder_changelist")).content.decode()
    assert "WO-1" in html
    assert re.search(r"\b1[67]:45\b", html) and re.search(r"\b1[78]:50\b", html)
    assert "p.m." not in html and "a.m." not in html


def test_the_compile_step_makes_every_catalog_from_a_clean_tree(tmp_path: Path):
    locale_dir = tmp_path / "locale"
    shutil.copytree(catalogs.LOCALE_DIR, locale_dir, ignore=shutil.ignore_patterns("*.mo", ".*"))
    po_files = catalogs.catalogs(locale_dir)
    assert {(p.parent.parent.name, p.stem) for p in po_files} >= {
        ("fr", "django"), ("de", "django"), ("fr", "djangojs"), ("de", "djangojs")}

    written = catalogs.compile_all(locale_dir)

    assert sorted(written) == sorted(p.with_suffix(".mo") for p in po_files)
    from babel.messages.mofile import read_mo
    with (locale_dir / "fr" / "LC_MESSAGES" / "django.mo").open("rb") as mo_file:
        assert read_mo(mo_file).get("Log out").string == "Se déconnecter"
    # Nothing is stale any more: a second run writes nothing.
    assert catalogs.compile_all(locale_dir) == []


def test_a_broken_catalog_is_refused_with_its_name(tmp_path: Path):
    po_path = tmp_path / "xx" / "LC_MESSAGES" / "django.po"
    po_path.parent.mkdir(parents=True)
    po_path.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                       '#, python-format\nmsgid "Line %(line)s"\nmsgstr "Ligne %(lien)s"\n', encoding="utf-8")
    with pytest.raises(catalogs.CatalogError, match="django.po"):
        catalogs.compile_catalog(po_path)
    assert not po_path.with_suffix(".mo").exists()


def test_the_scripts_catalog_serves_the_page_languages_words(client, db):
    french = client.get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    german = client.get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    english = client.get(reverse("javascript-catalog")).content.decode()
    # charts.js: gettext("No downtime in this period.")
    assert "Aucun arr\\u00eat sur cette p\\u00e9riode." in french or "Aucun arrêt sur cette période." in french
    assert "Kein Stillstand in diesem Zeitraum." in german
    assert "Kein Stillstand" not in english and "Aucun arr" not in english


def test_the_shift_report_speaks_french(client, plant):
    client.force_login(plant.manager)
    html = unescape(page(client, reverse("shift-report"), "fr"))
    assert "<h1>Rapport d'équipe</h1>" in html and "Afficher" in html


@pytest.mark.parametrize(("language", "percent", "thousands", "hours"), [
    ("en", "72.3", "12,345", "1.50"),
    ("fr", "72,3", "12\u00a0345", "1,50"),
    ("de", "72,3", "12.345", "1,50"),
])
def test_figures_are_written_in_the_pages_language(language, percent, thousands, hours):
    from django.utils import translation

    from monitoring.templatetags import oee_format

    with translation.override(language):
        assert oee_format.percent(0.72349) == percent
        assert oee_format.thousands(12345) == thousands
        assert oee_format.hours(5400) == hours


@pytest.mark.parametrize(("language", "fast", "slow"), [
    ("en", "1,234/h", "53.0/min"), ("fr", "1\u00a0234/h", "53,0/min"), ("de", "1.234/h", "53,0/min"),
])
def test_an_orders_pace_is_written_in_the_pages_language(language, fast, slow):
    from django.template.loader import render_to_string
    from django.utils import translation

    card = {"number": "WO-1", "product": "P1", "product_name": "Lid", "quantity": 100, "status": "running",
            "produced": 10, "made": 10, "scrap": 0, "rate_text": "1,234/h", "ideal_rate_text": "53.0/min"}
    with translation.override(language):
        html = render_to_string("monitoring/_work_order.html", {"m": {"work_order": card}, "eta": True})
    assert f'<b data-field="wo-rate">{fast}</b>' in html
    assert slow in html


@pytest.mark.parametrize(("path", "french", "german"), [
    ("/reports/trend/", "<h1>Tendance</h1>", "<h1>Trend</h1>"),
    ("/reports/trend/compare/", "<h1>Avant et après</h1>", "<h1>Vorher und nachher</h1>"),
    ("/planning/A/", "<h1>Tableau de planification</h1>", "<h1>Planungstafel</h1>"),
    ("/accounts/login/", "<h1>OEE Live</h1>", "<h1>OEE Live</h1>"),
])
def test_the_other_pages_speak_french_and_german(client, plant, path, french, german):
    client.force_login(plant.manager)
    fr, de = unescape(page(client, path, "fr")), unescape(page(client, path, "de"))
    assert french in fr and german in de
    assert "Log out" not in fr and "Log out" not in de


def test_the_plants_language_is_the_fallback_for_a_browser_asking_for_none_the_site_speaks(client, plant, settings):
    settings.LANGUAGE_CODE = "de"
    client.force_login(plant.manager)
    assert "Abmelden" in page(client, "/", "ja")
    assert "Se déconnecter" in page(client, "/", "fr")


@pytest.mark.parametrize(("language", "rise", "fall", "new"), [
    ("en", "+5.3 %", "−55.6 %", "new"), ("fr", "+5,3 %", "−55,6 %", "nouveau"), ("de", "+5,3 %", "−55,6 %", "neu"),
])
def test_a_trend_change_is_written_in_the_pages_language(language, rise, fall, new):
    from django.utils import translation

    from monitoring.templatetags.trend_format import change

    with translation.override(language):
        assert [change(5.26), change(-55.56), change(None)] == [rise, fall, new]


@pytest.mark.parametrize(("language", "status", "buttons"), [
    ("en", "paused", ["Resume", "Cancel"]), ("fr", "en pause", ["Reprendre", "Annuler"]),
    ("de", "pausiert", ["Fortsetzen", "Stornieren"]),
])
def test_a_work_orders_status_and_moves_are_in_the_pages_language(language, status, buttons):
    from django.template.loader import render_to_string
    from django.utils import translation

    card = {"number": "WO-1", "product": "P1", "product_name": "Lid", "quantity": 100, "status": "paused",
            "produced": 10, "made": 10, "scrap": 0, "moves": ["resume", "cancel"]}
    with translation.override(language):
        html = render_to_string("monitoring/_work_order.html", {"m": {"work_order": card}, "operate": True})
    assert f'<span class="wo-status wo-paused">{status}</span>' in html
    assert re.findall(r'data-move="\w+" data-order="WO-1">([^<]+)</button>', html) == buttons
