"""On PostgreSQL, the observation table becomes partitioned by month of `ts` (see monitoring/partitions.py).

The table is rebuilt: the rows are copied into a partitioned table of the same columns, with a
partition per month that holds rows (and last month to two months ahead) and a default one;
the primary key becomes (id, ts) and ids go on from the same number. The other constraints and
indexes come back under their own names. Nothing changes on SQLite, nor in Django's model.
"""

from datetime import UTC, datetime, timedelta

from django.db import migrations

PARENT = "monitoring_observation"
OLD = f"{PARENT}_unpartitioned"
DEFAULT = f"{PARENT}_default"
SEQUENCE = f"{PARENT}_id_seq"


def _month(ts):
    ts = ts.astimezone(UTC)
    return datetime(ts.year, ts.month, 1, tzinfo=UTC)


def _next(start):
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def _definitions(cursor, table):
    """(constraints as (name, definition) but the primary key, index definitions not behind a constraint)."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype IN ('u', 'f') ORDER BY conname", [table])
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = %s::regclass AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY i.indexrelid", [table])
    return constraints, [row[0] for row in cursor.fetchall()]


def _restore(cursor, table, constraints, indexes, source):
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    for definition in indexes:
        cursor.execute(definition.replace(f"ON public.{source} ", f"ON {table} ").replace(
            f"ON {source} ", f"ON {table} ").replace(f"ON ONLY public.{source} ", f"ON {table} "))


def _set_aside(cursor):
    """Rename the table to OLD and free its constraint and index names; (constraints, indexes) to restore."""
    cursor.execute(f'ALTER TABLE "{PARENT}" RENAME TO "{OLD}"')
    constraints, indexes = _definitions(cursor, OLD)
    for name, _ in constraints:
        cursor.execute(f'ALTER TABLE "{OLD}" DROP CONSTRAINT "{name}"')
    for definition in indexes:
        cursor.execute(f'DROP INDEX "{definition.split()[2 if definition.startswith("CREATE INDEX") else 3]}"')
    cursor.execute(f'ALTER TABLE "{OLD}" DROP CONSTRAINT "{PARENT}_pkey"')
    return constraints, indexes


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        constraints, indexes = _set_aside(cursor)
        cursor.execute(f'CREATE TABLE "{PARENT}" (LIKE "{OLD}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS) '
                       "PARTITION BY RANGE (ts)")
        cursor.execute(f'CREATE TABLE "{DEFAULT}" PARTITION OF "{PARENT}" DEFAULT')
        cursor.execute(f'SELECT DISTINCT date_trunc(\'month\', ts AT TIME ZONE \'UTC\') FROM "{OLD}"')
        starts = {month.replace(tzinfo=UTC) for (month,) in cursor.fetchall()}
        now = _month(datetime.now(UTC))
        start = _month(now - timedelta(days=1))
        while start <= _next(_next(now)):
            starts.add(start)
            start = _next(start)
        for start in sorted(starts):
            cursor.execute(f'CREATE TABLE "{PARENT}_y{start.year:04d}m{start.month:02d}" PARTITION OF "{PARENT}" '
                           "FOR VALUES FROM (%s) TO (%s)", [start, _next(start)])
        cursor.execute(f'INSERT INTO "{PARENT}" SELECT * FROM "{OLD}"')
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{OLD}"')
        (top,) = cursor.fetchone()
        cursor.execute(f'DROP TABLE "{OLD}"')
        # Partitioned tables take no identity column before PostgreSQL 17: a sequence of its own.
        cursor.execute(f'CREATE SEQUENCE "{SEQUENCE}" OWNED BY "{PARENT}".id')
        cursor.execute("SELECT setval(%s, %s, %s)", [SEQUENCE, max(top, 1), top > 0])
        cursor.execute(f'ALTER TABLE "{PARENT}" ALTER COLUMN id SET DEFAULT nextval(\'"{SEQUENCE}"\')')
        cursor.execute(f'ALTER TABLE "{PARENT}" ADD CONSTRAINT "{PARENT}_pkey" PRIMARY KEY (id, ts)')
        _restore(cursor, PARENT, constraints, indexes, OLD)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        constraints, indexes = _set_aside(cursor)
        cursor.execute(f'CREATE TABLE "{PARENT}" (LIKE "{OLD}" INCLUDING CONSTRAINTS)')
        cursor.execute(f'INSERT INTO "{PARENT}" SELECT * FROM "{OLD}"')
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{OLD}"')
        (top,) = cursor.fetchone()
        cursor.execute(f'DROP TABLE "{OLD}" CASCADE')
        cursor.execute(f'ALTER TABLE "{PARENT}" ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY')
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('\"{PARENT}\"', 'id'), %s, %s)", [max(top, 1), top > 0])
        cursor.execute(f'ALTER TABLE "{PARENT}" ADD CONSTRAINT "{PARENT}_pkey" PRIMARY KEY (id)')
        _restore(cursor, PARENT, constraints, indexes, OLD)


class Migration(migrations.Migration):

    dependencies = [
        ("monitoring", "0006_pruned_observations"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
