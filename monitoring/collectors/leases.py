"""Which collector process reads which device: leases in Redis, claimed up to a fair share.

A lease is a Redis key per device (`SET NX PX`) holding its owner's id; the owner renews
all its leases every few seconds. A process that dies stops renewing, its leases expire, and
the next claim round of a live process takes the devices over. Live processes announce
themselves in a sorted set scored by expiry, so each knows how many share the devices and
claims at most ⌈devices / processes⌉ of them, giving back the excess when others join.

Redis away is no reason to stop reading: the observations go to the database, which does not
need Redis. A process keeps reading the devices it had while Redis is unreachable, and when
Redis is back it takes their leases again before anyone else may: a device is not claimed
while the database says another collector read it within one lease time (`read_elsewhere`,
from the device health each collector writes every third of the lease time).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import socket
import zlib
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import redis

from monitoring.collectors import wiring
from monitoring.collectors.host import CollectorHost
from monitoring.collectors.records import DeviceSpec
from monitoring.collectors.spool import Spool

logger = logging.getLogger(__name__)

PREFIX = "oee:collect"
DEFAULT_TTL = 10.0

_RENEW = """
local held = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    held[#held + 1] = i
  end
end
return held
"""

_RELEASE = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
"""


def default_owner_id(label: str = "collector") -> str:
    return f"{label}@{socket.gethostname()}:{os.getpid()}"


class LeaseBook:
    """Device leases and the registry of live collector processes, for one owner id."""

    def __init__(self, client: redis.Redis, owner: str, *, ttl: float = DEFAULT_TTL, prefix: str = PREFIX) -> None:
        self.redis = client
        self.owner = owner
        self.ttl_ms = int(ttl * 1000)
        self.prefix = prefix
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, owner: str, **kwargs) -> LeaseBook:
        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5), owner, **kwargs)

    def lease_key(self, device_key: str) -> str:
        return f"{self.prefix}:lease:{device_key}"

    @property
    def hosts_key(self) -> str:
        return f"{self.prefix}:hosts"

    def claim(self, device_key: str) -> bool:
        """Take the lease of an unowned device; True when this owner now holds it."""
        return bool(self.redis.set(self.lease_key(device_key), self.owner, nx=True, px=self.ttl_ms))

    def renew(self, device_keys: Iterable[str]) -> set[str]:
        """Extend the leases this owner still holds; return their device keys (the rest are lost)."""
        keys = list(device_keys)
        if not keys:
            return set()
        held = self._renew(keys=[self.lease_key(k) for k in keys], args=[self.owner, self.ttl_ms])
        return {keys[int(i) - 1] for i in held}

    def release(self, device_keys: Iterable[str]) -> int:
        keys = [self.lease_key(k) for k in device_keys]
        return int(self._release(keys=keys, args=[self.owner])) if keys else 0

    def owners(self, device_keys: Iterable[str]) -> dict[str, str | None]:
        keys = list(device_keys)
        if not keys:
            return {}
        values = self.redis.mget([self.lease_key(k) for k in keys])
        return {k: (v.decode() if v is not None else None) for k, v in zip(keys, values)}

    def now_ms(self) -> int:
        """Redis's clock, so processes on different hosts agree on expiry."""
        seconds, micros = self.redis.time()
        return seconds * 1000 + micros // 1000

    def announce(self, info: dict) -> None:
        """Say this owner is alive (for one ttl) and what it is, e.g. its Celery worker."""
        expires = self.now_ms() + self.ttl_ms
        pipe = self.redis.pipeline()
        pipe.zadd(self.hosts_key, {self.owner: expires})
        pipe.set(f"{self.prefix}:host:{self.owner}", json.dumps(info), px=self.ttl_ms)
        pipe.execute()

    def live_hosts(self) -> dict[str, dict]:
        """Owner id → announced info of every live collector process (expired ones are pruned)."""
        self.redis.zremrangebyscore(self.hosts_key, "-inf", self.now_ms())
        owners = [o.decode() for o in self.redis.zrange(self.hosts_key, 0, -1)]
        if not owners:
            return {}
        infos = self.redis.mget([f"{self.prefix}:host:{o}" for o in owners])
        return {o: (json.loads(i) if i else {}) for o, i in zip(owners, infos)}

    def leave(self, device_keys: Iterable[str]) -> None:
        self.release(device_keys)
        self.redis.zrem(self.hosts_key, self.owner)
        self.redis.delete(f"{self.prefix}:host:{self.owner}")


def fair_share(devices: int, hosts: int) -> int:
    return math.ceil(devices / max(hosts, 1))


@dataclass
class RoundResult:
    claimed: list[str]
    dropped: list[str]
    rebuilt: list[str]
    lost: list[str]
    share: int


class LeaseKeeper:
    """Keeps a `CollectorHost` reading exactly the devices whose leases its owner holds.

    Each round (every `interval` seconds): renew held leases and drop the lost ones; load
    the enabled devices; drop the disabled, rebuild the changed; claim unowned devices up
    to the fair share and give back what is over it.
    """

    def __init__(
        self,
        host: CollectorHost,
        book: LeaseBook,
        load_specs: Callable[[], list[DeviceSpec]],
        *,
        interval: float = 3.0,
        info: dict | None = None,
        db_cleanup: Callable[[], object] | None = None,
        read_elsewhere: Callable[[list[str], str, float], set[str]] | None = None,
    ) -> None:
        self.host = host
        self.db_cleanup = db_cleanup
        self.read_elsewhere = read_elsewhere
        self.redis_away_since: float | None = None
        self.book = book
        self.load_specs = load_specs
        self.interval = interval
        self.info = info or {}
        # Redis and the database are reached from their own threads, never from the event loop.
        self._redis_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leases")
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="device-specs")

    async def _redis(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._redis_thread, fn, *args)

    async def run(self, stop: asyncio.Event) -> None:
        """Run rounds until `stop` is set, then release every lease and leave the registry."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    await self.round()
                    failures = 0
                except (redis.RedisError, OSError) as error:
                    self._redis_away(error)
                except Exception as error:  # noqa: BLE001 - e.g. the database away: keep what we have, retry
                    # The whole story once, then a line per round until a round succeeds.
                    if not failures:
                        logger.exception("%s: lease round failed; still reading its %d devices",
                                         self.book.owner, len(self.host.runs))
                    else:
                        logger.warning("%s: lease round failed again (%d): %s", self.book.owner, failures + 1, error)
                    failures += 1
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.interval)
                except TimeoutError:
                    pass
        finally:
            owned = list(self.host.runs)
            await self.host.stop()
            try:
                await self._redis(self.book.leave, owned)
            except (redis.RedisError, OSError) as error:
                logger.warning("%s: could not release leases: %s (they expire)", self.book.owner, error)
            if self.db_cleanup is not None:
                await asyncio.get_running_loop().run_in_executor(self._db_thread, self.db_cleanup)
            self._redis_thread.shutdown(wait=False)
            self._db_thread.shutdown(wait=False)

    def _redis_away(self, error: BaseException) -> None:
        # Nobody can take a lease while Redis is away, and the database tells the others who reads
        # what (`read_elsewhere`): keep reading, so that an outage of Redis is no outage of data.
        if self.redis_away_since is None:
            self.redis_away_since = asyncio.get_running_loop().time()
            logger.warning("%s: Redis unreachable (%s); still reading its %d devices, leases retaken when it is back",
                           self.book.owner, error, len(self.host.runs))

    async def round(self) -> RoundResult:
        loop = asyncio.get_running_loop()
        started = loop.time()
        owned = list(self.host.runs)
        held = await self._redis(self.book.renew, owned)
        missing = [key for key in owned if key not in held]
        # Leases that expired while this process read on (Redis away or restarted, or this process
        # stalled) are taken again at once; only a device someone else took meanwhile is given up.
        lost = [key for key in missing if not await self._redis(self.book.claim, key)]
        if self.redis_away_since is not None:
            logger.warning("%s: Redis back after %.0f s; retook %d leases, lost %d", self.book.owner,
                           started - self.redis_away_since, len(missing) - len(lost), len(lost))
            self.redis_away_since = None
        for key in lost:
            logger.warning("%s: lost the lease of %s", self.book.owner, key)
            await self.host.remove(key)
        await self._redis(self.book.announce, {**self.info, "devices": len(owned) - len(lost)})

        specs = {spec.key: spec for spec in await loop.run_in_executor(self._db_thread, self.load_specs)}
        dropped, rebuilt = [], []
        for key, spec in list(self.host.specs.items()):
            wanted = specs.get(key)
            if wanted is None:
                dropped.append(key)
                await self.host.remove(key, disconnected=True)
            elif wanted.version != spec.version:
                rebuilt.append(key)
                await self.host.replace(wanted)
        if dropped:
            await self._redis(self.book.release, dropped)
            logger.info("%s: dropped disabled or removed devices %s", self.book.owner, dropped)
        if rebuilt:
            logger.info("%s: configuration changed, rebuilt sessions of %s", self.book.owner, rebuilt)

        hosts = await self._redis(self.book.live_hosts)
        share = fair_share(len(specs), len(hosts))
        claimed: list[str] = []
        mine = len(self.host.runs)
        if mine < share:
            candidates = [key for key in specs if key not in self.host.runs]
            owners = await self._redis(self.book.owners, candidates)
            # Leases still in our name (kept through a Redis outage) come first; then each process
            # walks the free devices in its own order, so rivals rarely collide.
            ours = [k for k, o in owners.items() if o == self.book.owner]
            unowned = [k for k, o in owners.items() if o is None]
            if unowned and self.read_elsewhere is not None:
                # A free lease may belong to a process that read on through a Redis outage and has
                # not retaken it yet: the database says so.
                busy = await loop.run_in_executor(
                    self._db_thread, self.read_elsewhere, unowned, self.book.owner, self.book.ttl_ms / 1000)
                unowned = [k for k in unowned if k not in busy]
            free = ours + sorted(unowned, key=lambda k: zlib.crc32(f"{self.book.owner}{k}".encode()))
            for key in free:
                if mine >= share:
                    break
                adopted = key in ours and bool(await self._redis(self.book.renew, [key]))
                if adopted or await self._redis(self.book.claim, key):
                    self.host.add(specs[key])
                    claimed.append(key)
                    mine += 1
        elif mine > share and len(hosts) > 1:
            # Others joined: give back the excess a few at a time, so the load moves gently.
            excess = sorted(self.host.runs)[: min(mine - share, max(1, share // 4))]
            for key in excess:
                await self.host.remove(key)
            await self._redis(self.book.release, excess)
            dropped.extend(excess)
        if claimed:
            logger.info("%s: claimed %d devices (%d now, fair share %d of %d over %d processes)",
                        self.book.owner, len(claimed), mine, share, len(specs), len(hosts))
        return RoundResult(claimed=claimed, dropped=dropped, rebuilt=rebuilt, lost=lost, share=share)


LOCK_WAIT_S = 30.0
"""How long a collector waits for its worker's lock: a collector that is stopping (its worker killed) lets go."""


@contextlib.asynccontextmanager
async def _worker_lock(worker: str | None, wait: float, stop: asyncio.Event | None = None) -> AsyncIterator[bool]:
    """Hold the collector lock of `worker` for the block (True), or False when another process holds it.

    `supervise` starts a collector on a worker that has announced none; an announcement lapses while the
    worker's collector reads on (Redis came back empty, a round took longer than a lease time), and a
    second collector in the worker's other pool process left none for its other tasks (screens' refresh,
    alerts, webhooks, roll-ups). A file lock needs no Redis and goes with its process however it ends.
    """
    if not worker:
        yield True
        return
    from django.conf import settings

    path = Path(settings.VAR_DIR) / f"collector-{hashlib.sha256(worker.encode()).hexdigest()[:16]}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a")  # noqa: SIM115 - held for the block, closed below
    except OSError as error:
        logger.warning("no collector lock for %s (%s): a second collector is not kept out", worker, error)
        yield True
        return
    try:
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if asyncio.get_running_loop().time() >= deadline or (stop is not None and stop.is_set()):
                    yield False
                    return
                await asyncio.sleep(0.5)
        yield True
    finally:
        handle.close()


async def run_collector_process(
    redis_url: str,
    *,
    owner: str | None = None,
    info: dict | None = None,
    load_specs: Callable[[], list[DeviceSpec]] | None = None,
    sink: Callable | None = None,
    health: Callable | None = ...,  # type: ignore[assignment]
    ttl: float = DEFAULT_TTL,
    interval: float | None = None,
    stop: asyncio.Event | None = None,
    keep_running: Callable[[], bool] | None = None,
) -> None:
    """Host collectors for the devices this process can lease, until `stop` is set.

    Defaults read the devices from the database and feed `pipeline.record_observations`
    and `DeviceHealth`. `keep_running` is polled every round (e.g. "is my parent alive?").
    One collector per worker (`info["worker"]`): while another process of the same worker runs one,
    this one waits up to `LOCK_WAIT_S` for it to end, then returns without collecting.
    """
    worker = (info or {}).get("worker")
    async with _worker_lock(worker, LOCK_WAIT_S, stop) as alone:
        if not alone:
            logger.warning("%s: worker %s already runs a collector; not starting a second one",
                           owner or default_owner_id(), worker)
            return
        await _run_collector_process(redis_url, owner=owner, info=info, load_specs=load_specs, sink=sink,
                                     health=health, ttl=ttl, interval=interval, stop=stop,
                                     keep_running=keep_running)


async def _run_collector_process(
    redis_url: str,
    *,
    owner: str | None,
    info: dict | None,
    load_specs: Callable[[], list[DeviceSpec]] | None,
    sink: Callable | None,
    health: Callable | None,
    ttl: float,
    interval: float | None,
    stop: asyncio.Event | None,
    keep_running: Callable[[], bool] | None,
) -> None:
    pymodbus_logger = logging.getLogger("pymodbus")
    if pymodbus_logger.level == logging.NOTSET:
        # pymodbus logs every failed request with a dump of recent frames; the host logs each
        # device's trouble once (and every 100th time), and keeps it in DeviceHealth.
        pymodbus_logger.setLevel(logging.CRITICAL)
    from django.conf import settings

    owner = owner or default_owner_id()
    host = CollectorHost(
        sink or wiring.pipeline_sink,
        name=owner,
        health_sink=wiring.health_sink if health is ... else health,
        # The device health is also the heartbeat that `read_elsewhere` reads: fresh within a lease time.
        health_every=ttl / 3,
        thread_cleanup=wiring.close_db_connections if sink is None else None,
        # Stopped while the database is away: what could not be stored waits on disk for the next collector.
        spool=Spool(Path(settings.VAR_DIR) / "spool") if sink is None else None,
    )
    host.start()
    book = LeaseBook.from_url(redis_url, owner, ttl=ttl)
    keeper = LeaseKeeper(host, book, load_specs or wiring.device_specs,
                         interval=interval or max(0.5, ttl / 3), info=info,
                         db_cleanup=wiring.close_db_connections if load_specs is None else None,
                         read_elsewhere=wiring.read_elsewhere if health is ... else None)
    stop = stop or asyncio.Event()
    watcher = None
    if keep_running is not None:
        async def watch() -> None:
            while not stop.is_set():
                if not keep_running():
                    logger.warning("%s: told to stop", owner)
                    stop.set()
                    return
                await asyncio.sleep(1.0)
        watcher = asyncio.create_task(watch())
    logger.info("%s: collector process started (lease ttl %.1f s)", owner, ttl)
    try:
        await keeper.run(stop)
    finally:
        if watcher is not None:
            watcher.cancel()
        logger.info("%s: collector process stopped", owner)
