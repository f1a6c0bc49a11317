"""Monthly partitions of the observation table on PostgreSQL: a month of raw history is one table, dropped whole.

On PostgreSQL, migration 0007 makes `monitoring_observation` a table partitioned by the month of
`ts` (UTC). Its primary key becomes (id, ts), since every key of a partitioned table holds the
partition key; ids still come from one sequence. A month's partition is made before the first
row of that month is stored (`ensure`, from the pipeline, remembered per process) and ahead of
time by the hourly retention task (`ensure_around`). A default partition takes rows that reach
the table another way for a month that has none yet; they move into the month's partition when
it is made.

Retention (`monitoring.retention`) drops the partitions that lie wholly before the horizon of
every machine with rows in them (`drop_pruned`), after copying out the rows a replay starts from
(the last reading of each device signal); the rest goes row by row as on SQLite. On SQLite there
is one table and nothing here does anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import OperationalError, connection, transaction

PARENT = "monitoring_observation"
DEFAULT = f"{PARENT}_default"
SEQUENCE = f"{PARENT}_id_seq"
# One lock for every change of the table's partitions, taken after the pipeline's machine locks.
LOCK_KEY = 7_413_275_001
# Months made ahead of now, so that the pipeline seldom makes one while it stores.
MONTHS_AHEAD = 2
# Retention waits this long for the table at most before it drops a partition (next hour, else).
DROP_LOCK_TIMEOUT = "5s"

_known: set[datetime] = set()


def month_of(ts: datetime) -> datetime:
    """The first instant (UTC) of the month `ts` falls in."""
    ts = ts.astimezone(UTC)
    return datetime(ts.year, ts.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def partition_name(start: datetime) -> str:
    return f"{PARENT}_y{start.year:04d}m{start.month:02d}"


def active() -> bool:
    """Whether the observation table is partitioned here (PostgreSQL after migration 0007)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                       "WHERE c.relname = %s AND pg_table_is_visible(c.oid)", [PARENT])
        return cursor.fetchone() is not None


def ensure(first: datetime, last: datetime) -> None:
    """Make the partitions of the months from `first` to `last` that do not exist yet (PostgreSQL only).

    Inside the caller's transaction: a partition made for a batch that rolls back goes with it.
    """
    if connection.vendor != "postgresql":
        return
    months = []
    month = month_of(first)
    while month <= last:
        if month not in _known:
            months.append(month)
        month = next_month(month)
    if not months or not active():
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        for month in months:
            _make(cursor, month)
    # Remembered at once: should this transaction roll back, that month's rows go to the default
    # partition until `ensure_around` or a later process makes it, which is still right, only slower.
    _known.update(months)


def ensure_around(now: datetime) -> None:
    """The partitions of last month, this month and the next `MONTHS_AHEAD`."""
    start = month_of(month_of(now) - timedelta(days=1))
    end = month_of(now)
    for _ in range(MONTHS_AHEAD):
        end = next_month(end)
    ensure(start, end)


def _make(cursor, start: datetime) -> None:
    """Make `start`'s month partition unless it exists, moving its rows out of the default partition."""
    name, end = partition_name(start), next_month(start)
    cursor.execute("SELECT 1 FROM pg_class WHERE relname = %s AND pg_table_is_visible(oid)", [name])
    if cursor.fetchone() is not None:
        return
    # Made beside the table, filled, then attached: ATTACH takes a lighter lock on the table than
    # CREATE ... PARTITION OF, so the other writers go on meanwhile.
    cursor.execute(f'CREATE TABLE "{name}" (LIKE "{PARENT}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    cursor.execute(f'WITH moved AS (DELETE FROM "{DEFAULT}" WHERE ts >= %s AND ts < %s RETURNING *) '
                   f'INSERT INTO "{name}" SELECT * FROM moved', [start, end])
    cursor.execute(f'ALTER TABLE "{name}" ADD CONSTRAINT "{name}_month" CHECK (ts >= %s AND ts < %s)', [start, end])
    cursor.execute(f'ALTER TABLE "{PARENT}" ATTACH PARTITION "{name}" FOR VALUES FROM (%s) TO (%s)', [start, end])
    cursor.execute(f'ALTER TABLE "{name}" DROP CONSTRAINT "{name}_month"')


def months() -> list[tuple[str, datetime, datetime]]:
    """The month partitions attached to the table: (name, start, end), oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s AND c.relname <> %s ORDER BY c.relname",
            [PARENT, DEFAULT],
        )
        names = [row[0] for row in cursor.fetchall()]
    found = []
    for name in names:
        start = datetime(int(name[-7:-3]), int(name[-2:]), 1, tzinfo=UTC)
        found.append((name, start, next_month(start)))
    return found


def drop_pruned(machine_ids: Iterable[int], horizons: dict[int, datetime], device_signals: Iterable[str]) -> int:
    """Drop the month partitions wholly before the horizon of every machine with rows in them.

    `horizons`: the machines' retention horizons (`PrunedObservations.before`). The last reading
    of each device signal of each machine in a dropped month is kept (in the default partition):
    a replay from a horizon starts from the readings before it. Returns about how many rows went
    (the table statistics' count: counting a month's rows would read them all).
    """
    if not horizons or not active():
        return 0
    import psycopg

    signals, machine_ids = list(device_signals), list(machine_ids)
    dropped = 0
    latest = max(horizons.values())
    for name, start, end in months():
        if end > latest:
            break
        behind = [machine for machine in machine_ids if machine in horizons and horizons[machine] >= end]
        ahead = [machine for machine in machine_ids if machine not in behind]
        with connection.cursor() as cursor:
            # A machine with rows here and no horizon past the month keeps the month (an index probe each).
            cursor.execute(f'SELECT 1 FROM "{name}" WHERE machine_id = ANY(%s) LIMIT 1', [ahead])
            if cursor.fetchone() is not None:
                break
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'")
                # A table with deferred foreign-key checks still to run cannot be dropped: run them now.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [name])
                estimate = max(cursor.fetchone()[0], 0)
                cursor.execute(f'ALTER TABLE "{PARENT}" DETACH PARTITION "{name}"')
                # The table has no partition for this month now: these rows go to the default one.
                cursor.execute(
                    f'INSERT INTO "{PARENT}" SELECT latest.* FROM unnest(%s::bigint[]) AS m(id) '
                    f"CROSS JOIN unnest(%s::text[]) AS s(signal) CROSS JOIN LATERAL ("
                    f'SELECT * FROM "{name}" o WHERE o.machine_id = m.id AND o.signal = s.signal '
                    f"ORDER BY o.ts DESC, o.revision DESC LIMIT 1) AS latest",
                    [behind, signals],
                )
                cursor.execute(f'DROP TABLE "{name}"')
        except OperationalError as error:
            if not isinstance(error.__cause__, psycopg.errors.LockNotAvailable):
                raise
            break  # the table was busy past the lock timeout: the next run tries again
        _known.discard(start)
        dropped += estimate
    return dropped


def forget() -> None:
    """Forget which months this process made (tests that rebuild the table)."""
    _known.clear()
