"""Appending many rows by the database's fastest door: COPY on PostgreSQL, one executemany elsewhere.

The pipeline's hot path writes thousands of rows a second; Django's `bulk_create` builds a
model instance and a multi-row INSERT for each, which costs several times what storing them does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from django.db import connection, models


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert `rows` (values of `columns`, times as aware datetimes) into the model's table."""
    if not rows:
        return
    ops = connection.ops
    table = ops.quote_name(model._meta.db_table)
    names = ", ".join(ops.quote_name(column) for column in columns)
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


def execute_many(sql: str, rows: list[tuple]) -> None:
    """Run `sql` once per row, in one call (psycopg pipelines it): updates and deletes by key."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        rows = [tuple(db_time(value) if isinstance(value, datetime) else value for value in row) for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def db_time(moment: datetime) -> object:
    """An aware datetime as the database takes it in a raw statement."""
    if moment.tzinfo is UTC and connection.vendor == "sqlite":
        return str(moment.replace(tzinfo=None))  # what Django's adapter makes of it, for a fifth of the cost
    return connection.ops.adapt_datetimefield_value(moment)


def _adapted(row: tuple, times: list[int]) -> tuple:
    values = list(row)
    for i in times:
        if values[i] is not None:
            values[i] = db_time(values[i])
    return tuple(values)
