"""What OEE Live survives, on its real processes, with the simulator's counters as ground truth.

In order, on one running plant: an idle screen, a device restarted 100 times, Redis killed for
2 minutes, the database away for 60 s, the database and then Redis away, the collecting worker
stopped while the database is away, the collecting worker killed. After each: every part the
simulator made is stored exactly once, collection is back within 30 s, and the screens get live
messages again. Each test leaves the plant running for the next.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.faults.conftest import (
    DATABASE_OUTAGE_S,
    FIGURES,
    IDLE,
    MACHINES,
    REDIS_OUTAGE_S,
    RESTARTS,
    wait_for,
    write_figures,
)
from tests.processes import ROOT, kill

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield
    write_figures()


def screens_hear_again(stack, screen, since: float) -> None:
    # A socket opened while Redis restarts can hang in channels_redis; the page drops it after 35 s.
    # A machine's update, not only the snapshot of a reconnect: the updates must flow again (a screen
    # whose groups Redis forgot, or a publisher that died, still gets a snapshot when it reconnects).
    wait_for(lambda: screen.received_after(since, ("machine",)) > 0, 120,
             f"the line screen gets live updates again ({screen})")


def test_an_idle_screen_stays_open(stack):
    # redis-py 8's 5 s socket timeout closed every websocket idle for 5 s with 1011.
    screen = stack.screen(f"/ws/machines/{IDLE}/")
    try:
        wait_for(lambda: screen.connects == 1 and screen.messages, 30, "the idle machine's screen connects")
        time.sleep(12)  # nothing happens on the machine: more than twice channels_redis's 5 s read
        assert (screen.connects, screen.closes) == (1, [])
        before = time.monotonic()
        code = ("from datetime import UTC, datetime\nfrom monitoring.pipeline import ObservationIn, record_observations\n"
                f"record_observations([ObservationIn('{IDLE}', datetime.now(UTC), 'running', True)])")
        done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT,
                              env={**stack.env, "DATABASE_URL": stack.db.url}, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        wait_for(lambda: screen.received_after(before), 30, "the machine's change reaches its open screen")
        assert screen.connects == 1
    finally:
        screen.close()


def test_a_device_restarted_100_times_loses_no_part(stack):
    device = f"dev-{MACHINES[0]}"
    for _ in range(RESTARTS):
        stack.sim.stop_device(device)
        time.sleep(0.1)
        stack.sim.start_device(device)
        time.sleep(0.2)
    back = datetime.now(UTC)
    FIGURES[f"Modbus device restarted {RESTARTS} times"] = f"{stack.collecting_since(back):.1f} s"
    stack.assert_counts_exact()


def test_redis_killed_for_two_minutes_is_no_outage_of_data(stack):
    screen = stack.screen("/ws/lines/L/")
    try:
        wait_for(lambda: screen.messages, 30, "the line screen connects")
        killed = datetime.now(UTC)
        stack.kill_redis()
        time.sleep(REDIS_OUTAGE_S)
        # Collection never stopped: readings taken during the outage are stored already.
        stack.collecting_since(killed)
        # Pages and the API answer without Redis (no live cache, no throttle counts, no broker).
        assert stack.get("/lines/L/") == 200
        period = f"start={killed.isoformat()}&end={datetime.now(UTC).isoformat()}".replace("+", "%2B")
        assert stack.get(f"/api/v1/oee/?line=L&{period}", key=True) == 200
        observation = {"ts": datetime.now(UTC).isoformat(), "machine": IDLE, "signal": "running", "value": True}
        assert stack.request("POST", "/api/v1/observations/", [observation], key=True) == 200
        stack.start_redis()
        back, back_clock = datetime.now(UTC), time.monotonic()
        FIGURES[f"Redis killed for {REDIS_OUTAGE_S:.0f} s"] = f"{stack.collecting_since(back):.1f} s"
        screens_hear_again(stack, screen, back_clock)
    finally:
        screen.close()
    stack.assert_counts_exact()
    # Up to now, not only to Redis's return: leases retaken badly would leave a gap after it.
    for code in MACHINES:
        assert stack.db.no_data_between(code, killed, datetime.now(UTC)) == [], \
            f"{code}: the Redis outage became no-data"


def test_the_database_away_for_a_minute_loses_no_part(stack):
    screen = stack.screen("/ws/lines/L/")
    try:
        wait_for(lambda: screen.messages, 30, "the line screen connects")
        with stack.database_away() as what:
            time.sleep(DATABASE_OUTAGE_S)
        back, back_clock = datetime.now(UTC), time.monotonic()
        FIGURES[f"{what} for {DATABASE_OUTAGE_S:.0f} s"] = f"{stack.collecting_since(back):.1f} s"
        screens_hear_again(stack, screen, back_clock)
    finally:
        screen.close()
    stack.assert_counts_exact()


def test_the_database_away_then_redis_away(stack):
    # After PostgreSQL refused connections, every lease round failed on a closed connection, and the
    # next Redis outage dropped the devices for good.
    with stack.database_away() as what:
        time.sleep(min(DATABASE_OUTAGE_S, 20))
    stack.collecting_since(datetime.now(UTC))
    # The lease rounds work again, not only the reading (a round retakes its leases before it reads the
    # configuration, so with every round failing on a dead connection the devices were still read):
    # a device disabled now is given up, and read again once enabled.
    machine, device = MACHINES[0], f"dev-{MACHINES[0]}"
    for enabled, value, what_happens in ((False, "false", "gives up"), (True, "true", "reads again")):
        changed = datetime.now(UTC)
        stack.db.execute("UPDATE monitoring_modbusdevice SET enabled = %s WHERE code = %s", (enabled, device))
        wait_for(lambda: (stack.db.latest(machine, "connected") or (changed, ""))[0] > changed
                 and stack.db.latest(machine, "connected")[1] == value, 30,
                 f"the collector {what_happens} {device} {'enabled' if enabled else 'disabled'} after the outage")
    killed = datetime.now(UTC)
    stack.kill_redis()
    time.sleep(min(REDIS_OUTAGE_S, 30))
    stack.start_redis()
    back = datetime.now(UTC)
    FIGURES[f"{what}, then Redis killed"] = f"{stack.collecting_since(back):.1f} s"
    stack.assert_counts_exact()
    for code in MACHINES:
        assert stack.db.no_data_between(code, killed, datetime.now(UTC)) == []


def test_the_worker_stopped_while_the_database_is_away_keeps_what_it_read(stack):
    # A deployment or a systemd restart during a database outage: the worker stopped with the readings
    # it could not store in memory and lost them; the running changes became no-data (downtime).
    spool = stack.workdir / "spool"
    with stack.database_away() as what:
        away = datetime.now(UTC)
        time.sleep(10)  # more than three expected intervals of readings wait for the database
        stopped = datetime.now(UTC)
        os.killpg(stack.worker.pid, signal.SIGTERM)  # a warm shutdown, as honcho or systemd stop it
        stack.worker.wait(120)  # its last try to store waits for the database (SQLite: the busy timeout)
        assert list(spool.glob("*.jsonl")), "the stopped collector kept what it could not store"
        stack.start_worker()
    back = datetime.now(UTC)
    FIGURES[f"Collecting worker stopped (SIGTERM) during: {what}"] = f"{stack.collecting_since(back):.1f} s"
    wait_for(lambda: not list(spool.glob("*.jsonl")), 60, "the next collector stores what was kept")
    for code in MACHINES:
        # Readings from the outage up to the stop are stored: no silence there (after it, nobody read).
        assert stack.db.no_data_between(code, away, stopped - timedelta(seconds=1)) == [], code
    stack.assert_counts_exact()


def test_the_collecting_worker_killed_comes_back(stack):
    screen = stack.screen("/ws/lines/L/")
    try:
        wait_for(lambda: screen.messages, 30, "the line screen connects")
        kill(stack.worker)
        stack.start_worker()  # as honcho or systemd would
        back, back_clock = datetime.now(UTC), time.monotonic()
        FIGURES["Collecting worker SIGKILLed and restarted"] = f"{stack.collecting_since(back):.1f} s"
        screens_hear_again(stack, screen, back_clock)
    finally:
        screen.close()
    stack.assert_counts_exact()
