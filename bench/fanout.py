"""Live screens on one daphne: connect time, delivery from publish to screen, lost updates, against bare channels.

Usage: .venv/bin/python bench/fanout.py [--screens 100,300,1000] [--seconds 20] [--rate 20]

Sets up a plant of --lines lines of --machines machines (shift patterns, an hour of history
through the pipeline) in a fresh database (a temporary SQLite file, or a new database on
$DATABASE_URL's PostgreSQL server) and a private Redis (or $REDIS_URL). For each screen count,
one real daphne process and the real Redis channel layer, twice:

- ours: `oee_site.asgi:application`. Screens log in (a session cookie) and open, like the
  plant's TVs and panels, 2 % the plant overview (a manager), 90 % a line screen (its
  operator) and 8 % a machine page; each is connected once its snapshot has arrived.
- bare: the same daphne running a bare channels consumer (`AsyncWebsocketConsumer` with its stock
  dispatch) that joins the same group on connect and sends each event's text to its socket:
  the library doing the fan-out and nothing else (no session, no permission, no snapshot, no
  coalescing). Connected is the handshake done.

Then this process publishes --rate updates a second across the plant for --seconds, machine
after machine (each machine every machines/rate seconds, above LIVE_MIN_INTERVAL so nothing is
held back on purpose): each is a machine's real message with a fresh `ts` and count, encoded
once per page and sent to its machine, line and plant groups by `monitoring.live.publish`, from
a thread with its own event loop as the collector's publisher does. The screens run in
--client-processes processes (websockets). Delivery is publish to receipt (both clocks the
machine's); an update a screen never got, though a newer one of that machine came after it, is
"superseded" (its delay runs to that newer one); one with nothing after it is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchdb import served_database, served_settings, start_daphne  # noqa: E402

TARGET_MS = 250
SHARE = {"plant": 0.02, "machine": 0.08}  # the rest are line screens
HEAD = re.compile(r'"machine": "([^"]*)", "line": "[^"]*", "name": "[^"]*", "ts": "([^"]*)"')


# --- the bare server: daphne runs `fanout:bare_application` (bench/ on PYTHONPATH) ----------------

def __getattr__(name: str):
    if name == "bare_application":
        return _bare_application()
    raise AttributeError(name)


def _bare_application():
    import django

    django.setup()
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import path

    class BareConsumer(AsyncWebsocketConsumer):
        async def connect(self) -> None:
            route = self.scope["url_route"]["kwargs"]
            self.view, group = route["view"], route["group"]
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups.append(group)
            await self.accept()

        async def machine_update(self, event: dict) -> None:
            await self.send(text_data=event["texts"][self.view])

    return ProtocolTypeRouter({"websocket": URLRouter([path("bare/<view>/<group>/", BareConsumer.as_asgi())])})


# --- the plant --------------------------------------------------------------------------------------

def set_up_plant(lines: int, machines: int) -> dict:
    """Lines L1.. with machines L1-M1.., shift patterns, an hour of history; users and their sessions."""
    from datetime import time as clock
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from monitoring import live
    from monitoring.pipeline import ObservationIn, record_observations
    from planning.models import Area, Break, Line, Machine, Shift, ShiftPattern, Site
    from planning.permissions import MANAGERS, OPERATORS
    from tests.browser.plant_data import history_csv

    call_command("migrate", verbosity=0)
    site = Site.objects.create(code="bench", name="Bench plant", time_zone="Europe/Berlin")
    area = Area.objects.create(site=site, code="bench", name="Bench")
    operators = Group.objects.get_or_create(name=OPERATORS)[0]
    session_store = import_module(settings.SESSION_ENGINE).SessionStore

    def session(user: User) -> str:
        store = session_store()
        store[SESSION_KEY], store[HASH_SESSION_KEY] = str(user.pk), user.get_session_auth_hash()
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store.create()
        return f"sessionid={store.session_key}"

    manager = User.objects.create_user("bench-manager")
    manager.groups.add(Group.objects.get_or_create(name=MANAGERS)[0])
    plant = {"manager": session(manager), "lines": {}}
    for index in range(1, lines + 1):
        line = Line.objects.create(area=area, code=f"L{index}", name=f"Line {index}")
        codes = [f"L{index}-M{m}" for m in range(1, machines + 1)]
        made = [Machine.objects.create(line=line, code=code, name=code, position=m, default_ideal_cycle_time=1.0,
                                       expected_interval=60) for m, code in enumerate(codes)]
        line.constraint_machine = made[0]
        line.save()
        pattern = ShiftPattern.objects.create(line=line, name="Three shifts")
        for weekday in range(7):
            for name, start in (("Early", 6), ("Late", 14), ("Night", 22)):
                shift = Shift.objects.create(pattern=pattern, name=name, weekday=weekday, start=clock(start),
                                             end=clock((start + 8) % 24))
                Break.objects.create(shift=shift, start=clock((start + 4) % 24), end=clock((start + 4) % 24, 30))
        operator = User.objects.create_user(f"bench-operator-{index}")
        operator.groups.add(operators)
        line.operators.add(operator)
        plant["lines"][line.code] = {"codes": codes, "operator": session(operator)}

    # An hour of history, stored by the pipeline; the screens are told nothing of it.
    now = datetime.now(UTC).replace(microsecond=0)
    every = {code: (1.0, 32) for entry in plant["lines"].values() for code in entry["codes"]}
    rows = history_csv(now - timedelta(hours=1), now, machines=every).splitlines()[1:]
    broadcast, live.broadcast_machines = live.broadcast_machines, lambda machine_ids: None
    try:
        batch = []
        for row in rows:
            ts, code, signal, value = row.split(",")
            parsed = value == "true" if value in ("true", "false") else int(value)
            batch.append(ObservationIn(code, datetime.fromisoformat(ts), signal, parsed))
            if len(batch) == 5000:
                record_observations(batch)
                batch = []
        record_observations(batch)
    finally:
        live.broadcast_machines = broadcast
    return plant


def screens_of(plant: dict, count: int) -> list[tuple[str, str, frozenset[str]]]:
    """(kind, code, machines it shows) of `count` screens: plant overviews, machine pages, line screens."""
    lines = plant["lines"]
    machines = [code for entry in lines.values() for code in entry["codes"]]
    plants = max(1, round(count * SHARE["plant"]))
    machine_pages = round(count * SHARE["machine"])
    screens = [("plant", "", frozenset(machines))] * plants
    screens += [("machine", machines[i % len(machines)], frozenset({machines[i % len(machines)]}))
                for i in range(machine_pages)]
    codes = list(lines)
    screens += [("line", codes[i % len(codes)], frozenset(lines[codes[i % len(codes)]]["codes"]))
                for i in range(count - len(screens))]
    return screens


def paths(plant: dict, screens: list, bare: bool) -> list[tuple[str, str]]:
    """(path, cookie) of each screen, on our server or the bare one."""
    from monitoring import live

    found = []
    for kind, code, _ in screens:
        if kind == "plant":
            found.append(("/bare/plant/plant/" if bare else "/ws/plant/", plant["manager"]))
        elif kind == "machine":
            found.append((f"/bare/machine/{live.machine_group(code)}/" if bare else f"/ws/machines/{code}/",
                          plant["manager"]))
        else:
            found.append((f"/bare/line_operate/{live.line_group(code)}/" if bare else f"/ws/lines/{code}/",
                          plant["lines"][code]["operator"]))
    return found


# --- the screens: client processes ------------------------------------------------------------------

def client_process(connection, port: int, screens: list[tuple[int, str, str]], first_message: bool,
                   concurrency: int) -> None:
    """Open the screens, report each connect time; on "stop", close them and send what each received."""
    asyncio.run(_client(connection, port, screens, first_message, concurrency))


async def _client(connection, port: int, screens: list, first_message: bool, concurrency: int) -> None:
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    origin = f"http://127.0.0.1:{port}"
    gate = asyncio.Semaphore(concurrency)
    received: list[tuple[int, str, str, float]] = []
    connect_times: dict[int, float] = {}
    failures: dict[int, str] = {}
    sockets = {}
    listeners = []

    async def listen(index: int, socket) -> None:
        try:
            async for text in socket:
                at = time.time()
                head = HEAD.search(text, 0, 400)
                if head:
                    received.append((index, head.group(1), head.group(2), at))
        except Exception as error:  # noqa: BLE001 - a screen that drops is counted, not fatal
            failures[index] = f"dropped: {error}"

    async def open_one(index: int, path: str, cookie: str) -> None:
        async with gate:
            started = time.perf_counter()
            try:
                socket = await connect(f"ws://127.0.0.1:{port}{path}", origin=origin, compression=None,
                                       additional_headers={"Cookie": cookie}, max_size=None, open_timeout=120,
                                       ping_interval=None, close_timeout=2)
                if first_message:
                    first = await asyncio.wait_for(socket.recv(), 120)
                    if '"snapshot"' not in first[:40]:
                        raise RuntimeError(f"first message is not the snapshot: {first[:80]}")
            except Exception as error:  # noqa: BLE001
                failures[index] = f"connect: {error}"
                return
            connect_times[index] = time.perf_counter() - started
            sockets[index] = socket
            listeners.append(asyncio.create_task(listen(index, socket)))

    await asyncio.gather(*(open_one(*screen) for screen in screens))
    connection.send(("connected", connect_times, dict(failures)))
    await loop.run_in_executor(None, connection.recv)  # "stop"
    for socket in sockets.values():
        await socket.close()
    for task in listeners:
        task.cancel()
    connection.send(("received", received, failures))


# --- one run --------------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def publish(messages: list[dict], rate: float, seconds: float) -> dict[str, list[tuple[str, float]]]:
    """Publish messages in turn, `rate` a second for `seconds`, as the publisher does; (ts, sent at) per machine."""
    from monitoring.live import encode
    from monitoring.live import publish as live_publish
    from planning.lib.instants import iso

    published: dict[str, list[tuple[str, float]]] = {m["machine"]: [] for m in messages}

    def run() -> None:
        live_publish.use_own_loop()
        started = time.monotonic()
        for index in range(int(rate * seconds)):
            wait = started + index / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            base = messages[index % len(messages)]
            sent_at = time.time()
            message = {**base, "ts": iso(datetime.now(UTC)), "total_count": base["total_count"] + index}
            live_publish.send(encode.update_events(message, encode.texts(message), live_publish.groups_of(message)))
            published[message["machine"]].append((message["ts"], sent_at))

    thread = threading.Thread(target=run, name="bench-publisher")
    thread.start()
    thread.join()
    return published


def run(label: str, env: dict, plant: dict, messages: list[dict], count: int, options, log_dir: Path) -> dict:
    bare = label == "bare"
    screens = screens_of(plant, count)
    port = free_port()
    application = "fanout:bare_application" if bare else "oee_site.asgi:application"
    server_env = {**env, "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT}"} if bare else env
    server = start_daphne(server_env, port, application, log_dir / f"daphne-{label}-{count}.log")
    context = multiprocessing.get_context("spawn")
    clients = []
    try:
        addressed = [(index, path, cookie) for index, (path, cookie) in enumerate(paths(plant, screens, bare))]
        started = time.perf_counter()
        for part in range(options.client_processes):
            ours, theirs = context.Pipe()
            process = context.Process(target=client_process, daemon=True, args=(
                theirs, port, addressed[part::options.client_processes], not bare, options.connect_concurrency))
            process.start()
            clients.append((process, ours))
        connect_times, failures = {}, {}
        for _, pipe in clients:
            _, times, failed = pipe.recv()
            connect_times.update(times)
            failures.update(failed)
        connect_all = time.perf_counter() - started
        time.sleep(1.0)
        cpu_before = cpu_seconds(server.pid)
        publishing = time.perf_counter()
        published = publish(messages, options.rate, options.seconds)
        publishing = time.perf_counter() - publishing
        cpu = (cpu_seconds(server.pid) - cpu_before) / publishing
        time.sleep(options.drain)
        rss, peak = rss_mb(server.pid)
        received = []
        for _, pipe in clients:
            pipe.send("stop")
        for process, pipe in clients:
            _, got, failed = pipe.recv()
            received += got
            failures.update(failed)
            process.join(30)
    finally:
        for process, _ in clients:
            if process.is_alive():
                process.kill()
        server.kill()
        server.wait()
    delays, delivered, superseded, lost, lost_screens = score(screens, connect_times, published, received)
    return {
        "screens": count, "connected": len(connect_times), "failures": failures,
        "connect_p50": quantile(list(connect_times.values()), 50), "connect_p95": quantile(list(connect_times.values()), 95),
        "connect_all": connect_all, "p50": quantile(delays, 50), "p95": quantile(delays, 95),
        "max": max(delays) if delays else float("nan"), "expected": len(delays) + lost, "delivered": delivered,
        "superseded": superseded, "lost": lost, "lost_screens": lost_screens, "rss": rss, "peak": peak, "cpu": cpu,
        "messages": len(received), "rate": sum(len(p) for p in published.values()) / publishing,
    }


def score(screens, connect_times, published, received) -> tuple[list[float], int, int, int, int]:
    """Delays (s), updates delivered, superseded, lost, and screens that lost any."""
    got: dict[tuple[int, str], dict[str, float]] = {}
    for index, machine, ts, at in received:
        got.setdefault((index, machine), {}).setdefault(ts, at)
    delays, delivered, superseded, lost, lost_screens = [], 0, 0, 0, 0
    for index, (_, _, machines) in enumerate(screens):
        if index not in connect_times:
            continue
        lost_here = 0
        for machine in machines:
            arrivals = got.get((index, machine), {})
            newer = None
            for ts, sent_at in reversed(published[machine]):
                if ts in arrivals:
                    newer = arrivals[ts]
                    delays.append(newer - sent_at)
                    delivered += 1
                elif newer is not None:
                    delays.append(newer - sent_at)
                    superseded += 1
                else:
                    lost_here += 1
        lost += lost_here
        lost_screens += lost_here > 0
    return delays, delivered, superseded, lost, lost_screens


def quantile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def free_port() -> int:
    from oee_site.redis_server import free_port as port

    return port()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screens", default="100,300,1000", help="screen counts, comma-separated")
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--machines", type=int, default=10, help="machines per line")
    parser.add_argument("--rate", type=float, default=20.0, help="updates per second across the plant")
    parser.add_argument("--seconds", type=float, default=20.0, help="publishing time per run")
    parser.add_argument("--drain", type=float, default=3.0, help="seconds to wait for the last updates")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--connect-concurrency", type=int, default=50, help="screens opening at once per process")
    options = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    counts = [int(c) for c in options.screens.split(",")]

    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * max(counts) + 256)), hard))
    from oee_site import redis_server

    url, drop = served_database("fanout")
    private = None
    if os.environ.get("REDIS_URL"):
        redis_url = os.environ["REDIS_URL"]
    else:
        private, redis_url = redis_server.start()
    env = served_settings(url, redis_url)
    results = {}
    try:
        import django

        django.setup()
        from monitoring import live
        from monitoring.live import encode
        from planning.models import Line

        plant = set_up_plant(options.lines, options.machines)
        lines = list(Line.objects.select_related("area__site", "constraint_machine").order_by("code"))
        messages = [m for entry in live.line_snapshots(lines).values() for m in entry.messages]
        size = statistics.mean(len(text) for m in messages for text in encode.texts(m).values())
        log_dir = Path(tempfile.mkdtemp(prefix="oee-bench-fanout-logs-"))
        database_name = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        print(f"{options.lines} lines × {options.machines} machines, {options.rate:g} updates/s across the plant "
              f"(each machine every {len(messages) / options.rate:.1f} s) for {options.seconds:g} s per run; "
              f"screens {SHARE['plant']:.0%} plant, {SHARE['machine']:.0%} machine, the rest line screens; "
              f"messages {size / 1000:.1f} kB on average; {database_name}; {os.cpu_count()} CPUs; "
              f"{options.client_processes} client processes; daphne logs in {log_dir}")
        print(f"{'run':<6} {'screens':>7} {'connect p50':>11} {'p95':>7} {'all':>7} {'delivery p50':>12} {'p95':>7} "
              f"{'max':>7} {'msgs/s':>7} {'superseded':>10} {'lost':>5} {'(screens)':>9} {'RSS MB':>7} "
              f"{'CPU':>5} {'failed':>6}")
        for count in counts:
            for label in ("ours", "bare"):
                result = results[(label, count)] = run(label, env, plant, messages, count, options, log_dir)
                print(f"{label:<6} {count:>7} {result['connect_p50'] * 1000:>9.0f}ms "
                      f"{result['connect_p95'] * 1000:>5.0f}ms {result['connect_all']:>6.1f}s "
                      f"{result['p50'] * 1000:>10.0f}ms {result['p95'] * 1000:>5.0f}ms {result['max'] * 1000:>5.0f}ms "
                      f"{result['messages'] / (options.seconds + options.drain):>7.0f} {result['superseded']:>10} "
                      f"{result['lost']:>5} {result['lost_screens']:>9} {result['rss']:>7.0f} "
                      f"{result['cpu']:>5.0%} {len(result['failures']):>6}")
                for index, why in list(result["failures"].items())[:3]:
                    print(f"         screen {index}: {why}")
            ours, bare = results[("ours", count)], results[("bare", count)]
            print(f"       ours/bare at {count}: delivery p95 {ours['p95'] / bare['p95']:.2f}×, "
                  f"daphne CPU {ours['cpu'] / bare['cpu']:.2f}×, RSS {ours['rss'] / bare['rss']:.2f}×")
    finally:
        drop()
        if private is not None:
            private.terminate()
    top = max(counts)
    ours, bare = results[("ours", top)], results[("bare", top)]
    met = ours["p95"] * 1000 <= TARGET_MS and ours["lost"] == 0 and not ours["failures"]
    print(f"live fan-out at {top:,} screens on one daphne: p95 delivery {ours['p95'] * 1000:.0f} ms "
          f"(target ≤ {TARGET_MS} ms and no lost update, {'met' if met else 'NOT met'}; lost {ours['lost']} on "
          f"{ours['lost_screens']} screens; connect p95 {ours['connect_p95'] * 1000:.0f} ms; daphne RSS "
          f"{ours['rss']:.0f} MB; bare channels p95 {bare['p95'] * 1000:.0f} ms, ratio {ours['p95'] / bare['p95']:.2f})")


if __name__ == "__main__":
    main()
