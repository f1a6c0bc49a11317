"""Live tiles in each language (monitoring/live/tiles.py, encode.py): drawn once per language, each screen gets its own."""

from __future__ import annotations

import json
import re

import pytest

from monitoring import live
from monitoring.live import encode, tiles
from tests.test_consumers import WAIT, in_memory_layer, open_socket  # noqa: F401 - a fixture


def test_a_view_names_its_language_unless_it_is_the_default():
    assert encode.view_of("line", operates=True) == "line_operate"
    assert encode.view_of("line", operates=True, language="fr-CH") == "line_operate@fr"
    assert encode.view_of("plant", operates=False, language="en") == "plant"
    assert encode.view_of("machine", operates=False, language="xx") == "machine"  # not offered: the default


@pytest.mark.django_db
def test_each_view_gets_the_tiles_of_its_language_and_never_the_others(plant):
    message = live.machine_message(plant.b1)
    assert set(message["html_in"]) == {"fr", "de"}
    texts = encode.texts(message)
    assert set(texts) == set(encode.VIEWS)
    french = json.loads(texts["line@fr"])
    assert "html_in" not in french and set(french["html"]) == {"panel"}
    assert "Aucun ordre de fabrication en cours" in french["html"]["panel"]
    assert "No work order running" in json.loads(texts["line"])["html"]["panel"]
    with tiles.translation.override("de"):
        assert tiles.in_language(message) is message["html_in"]["de"]


@pytest.mark.django_db(transaction=True)
async def test_a_screen_asking_for_french_gets_french_tiles_over_its_socket(plant, in_memory_layer):  # noqa: F811
    communicator, _ = await open_socket("/ws/lines/B/?lang=fr", plant.manager)
    [machine] = (await communicator.receive_json_from(timeout=WAIT))["machines"]
    assert "Pas de données" in machine["html"]["panel"]
    await communicator.disconnect()
    communicator, _ = await open_socket("/ws/lines/B/", plant.manager)
    [machine] = (await communicator.receive_json_from(timeout=WAIT))["machines"]
    assert "No data" in machine["html"]["panel"]
    await communicator.disconnect()


@pytest.mark.django_db
@pytest.mark.parametrize(("suffix", "letters"), [("", "APQ"), ("@fr", "DPQ"), ("@de", "VLQ")])
def test_the_tiles_and_panels_letters_are_the_shift_reports(plant, suffix, letters):
    """Availability, performance and quality under the letters the reports' columns use in that language."""
    texts = encode.texts(live.machine_message(plant.b1))
    fields = ["availability", "performance", "quality"]
    panel = json.loads(texts["line" + suffix])["html"]["panel"]
    tile = json.loads(texts["plant" + suffix])["html"]["tile"]
    assert re.findall(r'<span class="label">(\w)</span><b data-field="(\w+)"', panel) == list(zip(letters, fields))
    assert re.findall(r'<span>(\w) <b data-field="(\w+)"', tile) == list(zip(letters, fields))
