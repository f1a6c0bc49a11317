"""The andon banner (monitoring/alerts/banner.py) on the line screen, the overview and on its own."""

from __future__ import annotations

import re

import pytest

from monitoring import alerts
from monitoring.alerts.lifecycle import end_alert
from monitoring.models import Alert, AlertKind, AlertRule
from tests.histories import b1_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def b1_alert(plant) -> Alert:
    AlertRule.objects.create(name="Seamer stopped", kind=AlertKind.LONG_STOP, threshold=10, machine=plant.b1)
    b1_now(stopped_minutes=12)
    alerts.evaluate()
    return Alert.objects.get()


def banner_of(html: str) -> str:
    found = re.search(r'<section id="alert-banner".*?</section>', html, re.S)
    assert found, "no banner on the page"
    return found.group(0)


def test_the_line_screen_shows_the_lines_alert_with_a_button_for_its_operator(client, plant, b1_alert):
    plant.line_b.operators.add(plant.operator)
    client.force_login(plant.operator)
    banner = banner_of(client.get("/lines/B/").content.decode())
    assert "B1 Seamer stopped for over 10 min" in banner and "hidden" not in banner.split(">")[0]
    assert f'data-action="acknowledge" data-alert="{b1_alert.pk}"' in banner
    assert 'data-url="/alerts/banner/?line=B"' in banner


def test_an_acknowledged_alert_stays_until_it_ends_without_its_button(client, plant, b1_alert):
    alerts.acknowledge(b1_alert, plant.manager)
    client.force_login(plant.manager)
    banner = banner_of(client.get("/lines/B/").content.decode())
    assert "Acknowledged by manager at" in banner and 'data-action="acknowledge"' not in banner
    end_alert(b1_alert, b1_alert.opened_at)
    assert "B1 Seamer" not in banner_of(client.get("/lines/B/").content.decode())


def test_the_overview_shows_the_alerts_of_the_lines_a_user_sees(client, plant, b1_alert):
    client.force_login(plant.manager)
    banner = banner_of(client.get("/").content.decode())
    assert "B · Seamer stopped" in banner and 'data-action="acknowledge"' in banner
    client.force_login(plant.operator)  # of line A only
    banner = banner_of(client.get("/").content.decode())
    assert "B1 Seamer" not in banner and " hidden" in banner.split(">")[0]


def test_the_banner_alone_is_what_the_page_shows_and_keeps_to_the_lines_one_sees(client, plant, b1_alert):
    client.force_login(plant.manager)
    alone = client.get("/alerts/banner/", {"line": "B"})
    assert alone.status_code == 200 and alone["Cache-Control"].startswith("max-age=0")
    assert banner_of(alone.content.decode()).split('data-since')[0] == \
        banner_of(client.get("/lines/B/").content.decode()).split('data-since')[0]
    client.force_login(plant.operator)
    assert client.get("/alerts/banner/", {"line": "B"}).status_code == 403
    assert "B1 Seamer" not in client.get("/alerts/banner/").content.decode()
    client.logout()
    assert client.get("/alerts/banner/").status_code == 302
