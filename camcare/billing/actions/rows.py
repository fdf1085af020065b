"""Statements over many rows for the billing run's batches: one UPDATE or INSERT per row,
sent as one `executemany` (one statement prepared once; psycopg pipelines it), each row
with its own values and, for an UPDATE, its own guard in the WHERE clause, the rows
changed counted over all.

Django's bulk_update builds a CASE arm per row and field and compiles each as an
expression, and bulk_create compiles every value: for a batch of 500 that cost more than
the billing itself (bench/billing_run.py). These are the statements the ORM sends for one
row, with the values converted as the fields convert them (dates, JSON, related objects),
on SQLite and PostgreSQL alike. Only billing actions use them, on their own tables.
"""

from __future__ import annotations

from enum import Enum

from django.db import connection
from django.utils import timezone


def update_each(model, *, set_fields: list[str], where_fields: list[str], rows: list[tuple],
                set_sql: str = "", where_sql: str = "") -> int:
    """UPDATE model SET set_fields = ... [, set_sql] WHERE where_fields = ... [AND where_sql]
    for each row of `rows` (values of set_fields then where_fields, in that order). Returns
    how many rows the statements changed in all."""
    if not rows:
        return 0
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in (*set_fields, *where_fields)]
    assignments = [f"{quote(field.column)} = %s" for field in fields[:len(set_fields)]]
    conditions = [f"{quote(field.column)} = %s" for field in fields[len(set_fields):]]
    sql = (f"UPDATE {quote(model._meta.db_table)} SET {', '.join([*assignments, *filter(None, [set_sql])])}"
           f" WHERE {' AND '.join([*conditions, *filter(None, [where_sql])])}")
    converters = [_converter(field) for field in fields]
    params = [tuple(None if value is None else convert(value) for convert, value in zip(converters, row, strict=True))
              for row in rows]
    return execute_many(sql, params)


def column(model, name: str) -> str:
    """The quoted column of a model's field, for the raw fragments of update_each."""
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _converter(field):
    """How a value of `field` becomes a parameter: dates and JSON as the backend stores them,
    a related object as its key, an enum member as its value, the rest as it is."""
    internal = field.get_internal_type()
    if internal == "DateTimeField":
        adapted: dict = {}  # a batch repeats a few instants many times (period starts, now)

        def adapt(value):
            if value not in adapted:
                adapted[value] = connection.ops.adapt_datetimefield_value(value)
            return adapted[value]

        return adapt
    if internal == "JSONField":
        return lambda value: field.get_db_prep_save(value, connection)
    if field.is_relation:
        return lambda value: getattr(value, "pk", value)
    return lambda value: value.value if isinstance(value, Enum) else value


def _default(field, now):
    """The value of a field a row leaves out, as a function (a callable default is called
    per row, as Django does)."""
    if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
        return lambda: now
    if field.has_default() and callable(field.default):
        return field.get_default
    constant = field.get_default()
    return lambda: constant


def insert_rows(model, rows: list[dict], *, skip_conflicts_on: str | None = None) -> None:
    """INSERT one row per dict of `rows` (keys: field names, a relation as its object or by
    its attname), one executemany: what bulk_create writes, without a model instance and a
    compiled expression per value. A field left out takes its default (auto_now_add: now);
    `skip_conflicts_on` names a unique field whose duplicates are skipped (ON CONFLICT DO
    NOTHING, as SQLite and PostgreSQL both say it)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    now = timezone.now()
    plan = [(field.name, field.attname, _default(field, now), _converter(field)) for field in fields]
    params = []
    for row in rows:
        values = []
        for name, attname, default, convert in plan:
            value = row[name] if name in row else row[attname] if attname in row else default()
            values.append(None if value is None else convert(value))
        params.append(tuple(values))
    conflict = f" ON CONFLICT ({quote(meta.get_field(skip_conflicts_on).column)}) DO NOTHING" if skip_conflicts_on else ""
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))}){conflict}")
    execute_many(sql, params)


def execute_many(sql: str, params: list[tuple]) -> int:
    """`sql` once per parameter tuple, in the current transaction; the rows changed in all.
    On PostgreSQL with a server-binding cursor: Django's client-binding cursor quotes every
    value in Python, which costs more than the statements (psycopg pipelines either)."""
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.executemany(sql, params)  # Django's exceptions, as its own cursor raises them
            return cursor.rowcount
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        return cursor.rowcount


def values_of(instance) -> dict:
    """{attname: value} of a model instance's concrete fields, for insert_rows."""
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}
