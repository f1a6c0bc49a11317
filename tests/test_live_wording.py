"""One wording for stops, decided by the server (monitoring/live/wording.py), and a stop's timer from its start."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitoring import live
from monitoring.actions import assign_reason
from monitoring.live import wording
from tests.histories import b1_now

pytestmark = pytest.mark.django_db


def test_a_stop_under_the_micro_stop_threshold_is_a_short_stop_on_every_tile(plant):
    plant.b1.micro_stop_threshold = 300
    plant.b1.save()
    b1_now(stopped_minutes=2)

    message = live.machine_message(plant.b1)
    assert (message["state"], message["stop_kind"]) == ("stopped", wording.SHORT)
    assert message["stops"] == []
    html = message["html"]
    # The reason and the list agree: nobody is asked why, and nothing says the stop is unexplained.
    for tile in ("panel", "panel_operate", "tile", "card"):
        assert "Short stop — no reason needed" in html[tile], tile
        assert "Unexplained" not in html[tile] and "needing a reason" not in html[tile].replace(
            "Stops needing a reason", ""), tile
    assert "None — no stop needs a reason." in html["panel"]


def test_a_longer_stop_without_a_reason_is_one_needing_a_reason_and_is_listed(plant):
    plant.b1.micro_stop_threshold = 60
    plant.b1.save()
    stopped_at = b1_now(stopped_minutes=5)

    message = live.machine_message(plant.b1)
    assert message["stop_kind"] == wording.NEEDS_REASON
    assert [stop["start"] for stop in message["stops"]] == [live.iso(stopped_at)]
    for tile in ("panel", "tile", "card"):
        assert "Stop needing a reason" in message["html"][tile], tile
    assert "None — no stop needs a reason." not in message["html"]["panel"]
    assert 'data-action="reason"' in message["html"]["panel_operate"]


def test_a_stop_with_a_reason_shows_the_reason(plant):
    plant.b1.micro_stop_threshold = 60
    plant.b1.save()
    b1_now(stopped_minutes=5, reason="jam")

    message = live.machine_message(plant.b1)
    assert (message["stop_kind"], message["stops"]) == (wording.EXPLAINED, [])
    for tile in ("panel", "tile", "card"):
        assert "Jam" in message["html"][tile], tile


def test_after_a_split_the_stop_timer_counts_from_the_start_of_the_whole_stop(plant):
    plant.b1.micro_stop_threshold = 60
    plant.b1.save()
    stopped_at = b1_now(stopped_minutes=20)

    assign_reason(plant.b1, stopped_at, "changeover", plant.operator, split_at=stopped_at + timedelta(minutes=10))

    message = live.machine_message(plant.b1)
    assert (message["state"], message["reason"]) == ("stopped", "changeover")
    assert message["state_since"] == live.iso(stopped_at)
    # The part before the split still asks for its own reason.
    assert [stop["start"] for stop in message["stops"]] == [live.iso(stopped_at)]


def test_the_words_follow_the_kind():
    assert wording.stop_kind("running", None, "run") is None
    assert wording.stop_kind("stopped", "jam", "unplanned_stop") == wording.EXPLAINED
    assert wording.stop_kind("stopped", None, "small_stop") == wording.SHORT
    assert wording.stop_kind("stopped", None, "outside_production") == wording.OUTSIDE
    assert wording.stop_kind("stopped", None, "unplanned_stop", in_shift=False) == wording.OUTSIDE
    assert wording.stop_kind("stopped", None, "unplanned_stop") == wording.NEEDS_REASON
    assert wording.stop_words(wording.NEEDS_REASON, fault_code=7) == "Fault 7 — needs a reason"


def test_the_machine_pages_stop_list_says_the_same_words(client, plant):
    plant.b1.micro_stop_threshold = 300
    plant.b1.save()
    b1_now(stopped_minutes=2)
    client.force_login(plant.manager)

    page = client.get("/machines/B1/").content.decode()
    stop_list = page[page.index('id="stop-list"'):]
    assert "Short stop — no reason needed" in stop_list
    assert "Stop needing a reason" not in stop_list
