"""Publishing live messages (monitoring/live/publish.py): coalesced, never failing a commit, safe names."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from monitoring.live import publish as live
from monitoring.pipeline import ObservationIn, record_observations


def test_each_changed_machine_is_published_with_its_latest_state_at_most_once_per_interval(monkeypatch):
    published: list[tuple[float, set[int]]] = []
    done = threading.Event()

    def record(machine_ids: set[int]) -> None:
        published.append((time.monotonic(), set(machine_ids)))
        if set().union(*(ids for _, ids in published)) >= {1, 2, 3, 4}:
            done.set()

    monkeypatch.setattr(live, "_publish", record)
    publisher = live._Publisher(min_interval=0.2)
    publisher.start()
    for _ in range(50):  # a burst of commits for three machines
        publisher.add({1, 2})
        publisher.add({3})
    time.sleep(0.05)
    publisher.add({4})  # a quiet machine is not held back by the busy ones
    assert done.wait(5)
    time.sleep(0.5)
    for machine in (1, 2, 3):
        times = [at for at, ids in published if machine in ids]
        assert 1 <= len(times) <= 2, times  # 50 notifications: the first at once, the latest when due
        assert all(later - earlier >= 0.2 - 0.005 for earlier, later in zip(times, times[1:]))
    # Published on its own at once, not with the busy machines' next round.
    assert [ids for _, ids in published if 4 in ids] == [{4}]


def test_group_names_stay_valid_for_any_code():
    assert live.machine_group("Line-1.Filler_2") == "machine.Line-1.Filler_2"
    odd = live.line_group("Linie Ä/1")
    assert odd.startswith("line._") and len(odd) < 100
    assert all(c.isascii() and (c.isalnum() or c in "-_.") for c in odd)
    assert live.line_group("x" * 90) != live.line_group("x" * 91)


@pytest.mark.django_db(transaction=True)  # the screens are told after the commit
def test_a_channel_layer_that_is_down_never_fails_the_commit(plant, settings, caplog):
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]},
    }}
    result = record_observations([ObservationIn("B1", datetime.now(UTC) - timedelta(seconds=1), "running", True)])
    assert result.applied == 1
    assert "not sent" in caplog.text


@pytest.mark.django_db
def test_a_changed_machine_is_built_alone_into_its_lines_cached_messages(plant, settings):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from planning.models import Line

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    screen = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(live.line_group("A"), screen)
    line = Line.objects.select_related("area__site", "constraint_machine").get(code="A")
    with CaptureQueriesContext(connection) as whole:
        live.publish_lines([line])  # nothing cached: the whole line, every machine sent
    before = live.line_snapshot(line)
    assert [async_to_sync(layer.receive)(screen)["machine"] for _ in before] == ["A1", "A2"]

    with CaptureQueriesContext(connection) as alone:
        live.publish_lines([line], {plant.a2.pk})
    assert len(alone) < len(whole)
    assert async_to_sync(layer.receive)(screen)["machine"] == "A2"
    after = live.line_snapshot(line)
    assert [m["machine"] for m in after] == ["A1", "A2"]
    assert after[0] == before[0] and after[1]["ts"] > before[1]["ts"]
