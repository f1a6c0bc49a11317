"""Publishing live messages (monitoring/live/publish.py): coalesced, never failing a commit, safe names."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from monitoring.live import publish as live
from monitoring.pipeline import ObservationIn, record_observations


def test_it_publishes_each_changed_machine_with_calls_coalesced(monkeypatch):
    published: list[set[int]] = []
    done = threading.Event()

    def record(machine_ids: set[int]) -> None:
        published.append(set(machine_ids))
        if set().union(*published) >= {1, 2, 3}:
            done.set()

    monkeypatch.setattr(live, "_publish", record)
    publisher = live._Publisher(min_interval=0.2)
    publisher.start()
    for _ in range(50):  # a burst of commits for three machines
        publisher.add({1, 2})
        publisher.add({3})
    assert done.wait(5)
    time.sleep(0.3)
    assert set().union(*published) == {1, 2, 3}
    assert len(published) <= 3  # 100 notifications became a handful of publications


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
