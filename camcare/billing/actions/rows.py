"""Statements over many rows for the billing run's batches: a batch's rows of one table in
one statement (a few hundred rows per statement), each row with its own values and, for
an UPDATE, its own guard, the rows changed counted over all.

- INSERT: one multi-row `INSERT ... VALUES (...), (...)`, on SQLite and PostgreSQL.
- UPDATE: on PostgreSQL one `UPDATE ... FROM (VALUES ...)`, the guard in the join (a row
  whose guard fails is not in the count); on SQLite one `executemany` of the one-row
  UPDATE (one statement prepared once, in-process: as fast, and no UPDATE ... FROM).

Django's bulk_update builds a CASE arm per row and field and compiles each as an
expression, and bulk_create compiles every value: for a batch of 500 that cost more than
the billing itself (bench/billing_run.py); and PostgreSQL pays for every statement it
runs, so one per row is what its bare-SQL baseline there costs. These are the rows the
ORM writes, the values converted as the fields convert them (dates, JSON, related
objects). Only the billing actions use them, on their own tables.
"""

from __future__ import annotations

from contextlib import contextmanager
from enum import Enum

from django.db import connection
from django.utils import timezone

MAX_PARAMETERS = 30_000  # per statement: under SQLite's 32,766 and PostgreSQL's 65,535


def update_each(model, *, set_fields: list[str], where_fields: list[str], rows: list[tuple],
                set_sql: str = "", where_sql: str = "") -> int:
    """For each row of `rows` (values of set_fields, then of where_fields): UPDATE model
    SET set_fields = ... [, set_sql] WHERE where_fields = ... [AND where_sql]. `set_sql`
    and `where_sql` are fragments on the table's own columns (see `column`). Returns how
    many rows changed in all."""
    if not rows:
        return 0
    fields = [model._meta.get_field(name) for name in (*set_fields, *where_fields)]
    converters = [_converter(field) for field in fields]
    params = [tuple(None if value is None else convert(value) for convert, value in zip(converters, row, strict=True))
              for row in rows]
    if connection.vendor == "postgresql":
        return _update_from_values(model, fields, len(set_fields), params, set_sql, where_sql)
    quote = connection.ops.quote_name
    assignments = [f"{quote(field.column)} = %s" for field in fields[:len(set_fields)]]
    conditions = [f"{quote(field.column)} = %s" for field in fields[len(set_fields):]]
    sql = (f"UPDATE {quote(model._meta.db_table)} SET {', '.join([*assignments, *filter(None, [set_sql])])}"
           f" WHERE {' AND '.join([*conditions, *filter(None, [where_sql])])}")
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        return cursor.rowcount


def _update_from_values(model, fields, setting: int, params: list[tuple], set_sql: str, where_sql: str) -> int:
    """PostgreSQL: UPDATE t SET a = v.c0 ... FROM (VALUES ...) AS v WHERE t.x = v.cN ..., each
    value cast to its column's type (a VALUES list has no column to take it from)."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = [f"c{index}" for index in range(len(fields))]
    cells = "(" + ", ".join(f"CAST(%s AS {field.db_type(connection)})" for field in fields) + ")"
    assignments = [f"{quote(field.column)} = v.{name}"
                   for field, name in zip(fields[:setting], names[:setting], strict=True)]
    conditions = [f"{table}.{quote(field.column)} = v.{name}"
                  for field, name in zip(fields[setting:], names[setting:], strict=True)]
    changed = 0
    for part in _parts(params, len(fields)):
        sql = (f"UPDATE {table} SET {', '.join([*assignments, *filter(None, [set_sql])])} "
               f"FROM (VALUES {', '.join([cells] * len(part))}) AS v ({', '.join(names)}) "
               f"WHERE {' AND '.join([*conditions, *filter(None, [where_sql])])}")
        changed += _execute(sql, [value for row in part for value in row])
    return changed


def column(model, name: str) -> str:
    """The quoted column of a model's field, for the raw fragments of update_each."""
    return connection.ops.quote_name(model._meta.get_field(name).column)


def insert_rows(model, rows: list[dict], *, skip_conflicts_on: str | None = None) -> None:
    """INSERT one row per dict of `rows` (keys: field names, a relation as its object or by
    its attname), a few hundred rows per statement: what bulk_create writes, without a
    model instance and a compiled expression per value. A field left out takes its
    default (auto_now_add: now); `skip_conflicts_on` names a unique field whose duplicates
    are skipped (ON CONFLICT DO NOTHING, as SQLite and PostgreSQL both say it)."""
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
    cells = "(" + ", ".join(["%s"] * len(fields)) + ")"
    for part in _parts(params, len(fields)):
        _execute(f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
                 f"VALUES {', '.join([cells] * len(part))}{conflict}", [value for row in part for value in row])


def values_of(instance) -> dict:
    """{attname: value} of a model instance's concrete fields, for insert_rows."""
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def execute_many(sql: str, params: list[tuple]) -> int:
    """`sql` once per parameter tuple (one executemany), in the current transaction; the
    rows changed in all. For statements that are one per row by nature (the bench's
    bare-SQL baseline)."""
    if connection.vendor == "postgresql":
        with _server_binding() as cursor:
            cursor.executemany(sql, params)
            return cursor.rowcount
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        return cursor.rowcount


def _parts(params: list[tuple], width: int):
    size = max(1, MAX_PARAMETERS // max(1, width))
    return (params[start:start + size] for start in range(0, len(params), size))


def _execute(sql: str, params: list) -> int:
    if connection.vendor == "postgresql":
        with _server_binding() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@contextmanager
def _server_binding():
    """A psycopg cursor that sends the parameters apart from the statement: Django's own
    client-binding cursor quotes every value into the SQL in Python, which for thousands
    of values costs more than the statement. Django's exceptions, as its cursor raises."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


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
