"""Observations of the demo plant (demo/plant.yaml) as import CSV: a few hours of a believable line."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

# Machine → (ideal seconds per part, counter width in bits).
MACHINES = {
    "L1-FILL": (1.0, 16), "L1-CAP": (0.9, 16), "L1-LABEL": (0.8, 32),
    "L2-SEAM": (0.5, 32), "L2-PACK": (2.0, 16),
}
READ_EVERY = timedelta(seconds=10)  # the demo machines' expected interval
# Every machine runs through the last stretch of the history, so a test can stop one there.
QUIET_TAIL = timedelta(minutes=12)


def history_csv(start: datetime, end: datetime, seed: int = 7, machines: dict | None = None) -> str:
    """CSV (ts,machine,signal,value) from `start` to `end`: runs, stops with fault codes, counts, rejects.

    Every machine runs without a break through the last QUIET_TAIL before `end`. Readings come
    every 10 s, so no machine falls into no-data.
    """
    rng = random.Random(seed)
    rows = ["ts,machine,signal,value"]
    for code, (cycle, bits) in (machines or MACHINES).items():
        total = rng.randrange(1000, 50000)
        rejects = 0
        ts = start
        running = True
        rows.append(f"{ts.isoformat()},{code},running,true")
        rows.append(f"{ts.isoformat()},{code},fault,0")
        # Stretches alternate running and stopped; the last one runs until `end`.
        switch_at = ts + timedelta(minutes=rng.uniform(8, 30))
        while ts < end:
            ts = min(ts + READ_EVERY, end)
            in_tail = end - ts <= QUIET_TAIL
            if (ts >= switch_at and not in_tail) or (in_tail and not running):
                running = not running
                rows.append(f"{ts.isoformat()},{code},running,{'true' if running else 'false'}")
                if running:
                    rows.append(f"{ts.isoformat()},{code},fault,0")
                    switch_at = ts + timedelta(minutes=rng.uniform(8, 35))
                else:
                    fault = rng.choice([0, 1, 1, 2, 3, 4])
                    rows.append(f"{ts.isoformat()},{code},fault,{fault}")
                    long_stop = rng.random() < 0.5
                    switch_at = ts + timedelta(minutes=rng.uniform(3, 14) if long_stop else rng.uniform(0.5, 1.5))
            if running:
                made = int(READ_EVERY.total_seconds() / cycle * rng.uniform(0.72, 0.95))
                total = (total + made) % (1 << bits)
                if rng.random() < 0.08:
                    rejects += rng.randint(1, 3)
            rows.append(f"{ts.isoformat()},{code},total_count,{total}")
            rows.append(f"{ts.isoformat()},{code},reject_count,{rejects}")
    return "\n".join(rows) + "\n"
