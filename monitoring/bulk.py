"""Writing many rows by the database's fastest door: COPY and array statements on PostgreSQL, executemany elsewhere.

The pipeline's hot path writes thousands of rows a second for hundreds of machines at once.
Django's `bulk_create` and `bulk_update` build a model instance and a statement of their own for
each batch, which costs several times what storing the rows does; a statement per row costs a
round trip each on PostgreSQL. Here a batch is one COPY or one statement over arrays there (one
executemany on SQLite, whose statements cost no round trip). Times are aware datetimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from string import Formatter

from django.db import connection, models


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert `rows` (values of `columns`) into the model's table."""
    if not rows:
        return
    table, names = _table(model), ", ".join(connection.ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        times = [i for i, column in enumerate(columns)
                 if model._meta.get_field(column).get_internal_type() == "DateTimeField"]
        if times:
            rows = [_adapted(row, times) for row in rows]
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})", rows)


def update_rows(model: type[models.Model], assignments: str, keys: Sequence[str], values: Sequence[str],
                types: Sequence[str], rows: list[tuple]) -> None:
    """UPDATE the model's row matching each of `rows` on the `keys` columns.

    A row holds the values of `keys` then of `values` (PostgreSQL `types` for all of them, in that
    order); `assignments` is the SET clause, naming a row's values as {name}.
    """
    if not rows:
        return
    table, quote = _table(model), connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            names = [*keys, *values]
            cursor.execute(
                f"UPDATE {table} SET {assignments.format(**{name: f'v.{name}' for name in values})} "
                f"FROM {_unnest(names, types)} WHERE "
                + " AND ".join(f"{table}.{quote(key)} = v.{key}" for key in keys),
                [list(column) for column in zip(*rows)],
            )
            return
        order = [field for _, field, _, _ in Formatter().parse(assignments) if field]
        where = " AND ".join(f"{quote(key)} = %s" for key in keys)
        positions = {name: i for i, name in enumerate([*keys, *values])}
        cursor.executemany(
            f"UPDATE {table} SET {assignments.format(**{name: '%s' for name in values})} WHERE {where}",
            [_adapted(tuple(row[positions[name]] for name in [*order, *keys]), None) for row in rows],
        )


def delete_rows(model: type[models.Model], keys: Sequence[str], types: Sequence[str], rows: list[tuple]) -> None:
    """DELETE the model's row matching each of `rows` (values of the `keys` columns, of PostgreSQL `types`)."""
    if not rows:
        return
    table, quote = _table(model), connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"DELETE FROM {table} USING {_unnest(keys, types)} WHERE "
                + " AND ".join(f"{table}.{quote(key)} = v.{key}" for key in keys),
                [list(column) for column in zip(*rows)],
            )
            return
        cursor.executemany(f"DELETE FROM {table} WHERE " + " AND ".join(f"{quote(key)} = %s" for key in keys),
                           [_adapted(row, None) for row in rows])


def upsert_rows(model: type[models.Model], columns: Sequence[str], types: Sequence[str], conflict: str,
                rows: list[tuple]) -> None:
    """Insert `rows` (values of `columns`); where one's `conflict` column is taken, update that row instead."""
    if not rows:
        return
    table, quote = _table(model), connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    update = ", ".join(f"{quote(column)} = EXCLUDED.{quote(column)}" for column in columns if column != conflict)
    on_conflict = f"ON CONFLICT ({quote(conflict)}) DO UPDATE SET {update}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"INSERT INTO {table} ({names}) SELECT * FROM {_unnest(columns, types)} {on_conflict}",
                           [list(column) for column in zip(*rows)])
            return
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))}) {on_conflict}",
                           [_adapted(row, None) for row in rows])


def db_time(moment: datetime) -> object:
    """An aware datetime as the database takes it in a raw statement."""
    return _sqlite_time(moment) if connection.vendor == "sqlite" else connection.ops.adapt_datetimefield_value(moment)


def _sqlite_time(moment: datetime) -> str:
    if moment.tzinfo is UTC:
        return str(moment.replace(tzinfo=None))  # what Django's adapter makes of it, for a fifth of the cost
    return connection.ops.adapt_datetimefield_value(moment)


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _unnest(names: Sequence[str], types: Sequence[str]) -> str:
    arrays = ", ".join(f"%s::{kind}[]" for kind in types)
    return f"unnest({arrays}) AS v({', '.join(names)})"


def _adapted(row: tuple, times: list[int] | None) -> tuple:
    """The row with its datetimes (those at `times`, or all) as SQLite takes them."""
    values = list(row)
    for i in times if times is not None else range(len(values)):
        if isinstance(values[i], datetime):
            values[i] = _sqlite_time(values[i])
    return tuple(values)
