"""The background publisher coalesces machines that change often and never blocks the caller."""

from __future__ import annotations

import threading
import time

from monitoring.live import publish as live


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
