"""Statements over many rows for the billing run's batches: a batch's rows of one table in
one statement (a few hundred rows per statement), each row with its own values and, for
an UPDATE, its own guard, the rows changed counted over all; and the model instances of
rows read or made in bulk.

- INSERT and UPDATE on PostgreSQL: one `INSERT ... SELECT FROM unnest(...)` and one
  `UPDATE ... FROM unnest(...)`, one array parameter per column (the guard of an UPDATE
  in the join: a row whose guard fails is not in the count). The statement's text is the
  same whatever the rows, so psycopg parses it once: a VALUES list of thousands of
  placeholders cost more in psycopg's Python parser than the server spent running it.
- On SQLite one `executemany` of the one-row statement (prepared once, each row bound in
  C: faster than a multi-row VALUES list, and there is no UPDATE ... FROM); an INSERT whose
  generated ids are wanted back is one multi-row INSERT ... RETURNING.

Django's bulk_update builds a CASE arm per row and field and compiles each as an
expression, and bulk_create compiles every value: for a batch of 500 that cost more than
the billing itself (bench/billing_run.py); and PostgreSQL pays for every statement it
runs, so one per row is what its bare-SQL baseline there costs. These are the rows the
ORM writes, the values converted as the fields convert them (dates, JSON, related
objects). Only the billing actions use them, on their own tables.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from enum import Enum

from django.db import connection
from django.db.models import NOT_PROVIDED
from django.db.models.base import ModelState
from django.db.models.expressions import RawSQL
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init
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
    columns = _converted(fields, [list(column) for column in zip(*rows, strict=True)])
    if connection.vendor == "postgresql":
        return _update_from_arrays(model, fields, len(set_fields), columns, set_sql, where_sql)
    params = list(zip(*columns, strict=True))
    quote = connection.ops.quote_name
    assignments = [f"{quote(field.column)} = %s" for field in fields[:len(set_fields)]]
    conditions = [f"{quote(field.column)} = %s" for field in fields[len(set_fields):]]
    sql = (f"UPDATE {quote(model._meta.db_table)} SET {', '.join([*assignments, *filter(None, [set_sql])])}"
           f" WHERE {' AND '.join([*conditions, *filter(None, [where_sql])])}")
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        return cursor.rowcount


def _update_from_arrays(model, fields, setting: int, columns: list[list], set_sql: str, where_sql: str) -> int:
    """PostgreSQL: UPDATE t SET a = v.c0 ... FROM unnest(a0, a1, ...) AS v WHERE t.x = v.cN
    ..., one array per column, cast to its column's type (an array parameter has no column
    to take it from)."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = [f"c{index}" for index in range(len(fields))]
    assignments = [f"{quote(field.column)} = v.{name}"
                   for field, name in zip(fields[:setting], names[:setting], strict=True)]
    conditions = [f"{table}.{quote(field.column)} = v.{name}"
                  for field, name in zip(fields[setting:], names[setting:], strict=True)]
    sql = (f"UPDATE {table} SET {', '.join([*assignments, *filter(None, [set_sql])])} "
           f"FROM {_unnest(fields)} AS v ({', '.join(names)}) "
           f"WHERE {' AND '.join([*conditions, *filter(None, [where_sql])])}")
    return _execute(sql, columns)[0]


def _unnest(fields) -> str:
    """unnest of one array parameter per field, sent in binary (%b): psycopg's text form of
    an array of instants costs about 18 µs a value in Python, its binary form 5 µs. A JSON
    field's values come as JSON text (see _converter), cast by the server."""
    return "unnest(" + ", ".join(f"CAST(%b AS {field.db_type(connection)}[])" for field in fields) + ")"


def _converted(fields, columns: list[list]) -> list[list]:
    """Each column's values as parameters, converted as its field converts them (see
    _converter), a column at a time: these loops run for every cell of a batch."""
    converted = []
    for field, values in zip(fields, columns, strict=True):
        convert = _converter(field)
        if convert is None:
            converted.append([value.value if isinstance(value, Enum) else value for value in values])
        else:
            converted.append([None if value is None else convert(value) for value in values])
    return converted


def among(model, name: str, values) -> RawSQL:
    """The right-hand side of `<name>__in=` for many values, as one parameter: an array on
    PostgreSQL, a JSON list on SQLite. The ORM compiles an IN list value by value and
    psycopg parses a statement of hundreds of placeholders in Python; one parameter keeps
    the statement short and the same for every batch."""
    field = model._meta.get_field(name)
    if connection.vendor == "postgresql":
        return RawSQL(f"SELECT unnest(CAST(%s AS {field.db_type(connection)}[]))", [list(values)])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(list(values))])


def column(model, name: str) -> str:
    """The quoted column of a model's field, for the raw fragments of update_each."""
    return connection.ops.quote_name(model._meta.get_field(name).column)


def insert_rows(model, rows: list[dict], *, skip_conflicts_on: str | None = None,
                returning: tuple[str, ...] = ()) -> list[tuple]:
    """INSERT one row per dict of `rows` (keys: field names, a relation as its object or by
    its attname), a few hundred rows per statement: what bulk_create writes, without a
    model instance and a compiled expression per value. A field left out takes its
    default (auto_now_add: now); `skip_conflicts_on` names a unique field whose duplicates
    are skipped (ON CONFLICT DO NOTHING, as SQLite and PostgreSQL both say it). Returns
    the `returning` columns (e.g. ("id", "order_id")) of each row written, in no particular
    order (neither database promises one), as the database gives them."""
    if not rows:
        return []
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    now = timezone.now()
    raw = []
    for field in fields:
        name, attname, default = field.name, field.attname, _default(field, now)
        raw.append([row[name] if name in row else row[attname] if attname in row else default() for row in rows])
    columns = _converted(fields, raw)
    table, names = quote(meta.db_table), ", ".join(quote(field.column) for field in fields)
    conflict = f" ON CONFLICT ({quote(meta.get_field(skip_conflicts_on).column)}) DO NOTHING" if skip_conflicts_on else ""
    back = f" RETURNING {', '.join(quote(meta.get_field(name).column) for name in returning)}" if returning else ""
    if connection.vendor == "postgresql":
        return _execute(f"INSERT INTO {table} ({names}) SELECT * FROM {_unnest(fields)}{conflict}{back}",
                        columns, fetch=bool(returning))[1]
    params = list(zip(*columns, strict=True))
    if not returning:
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(fields))}){conflict}",
                               params)
        return []
    cells = "(" + ", ".join(["%s"] * len(fields)) + ")"
    written: list[tuple] = []
    for part in _parts(params, len(fields)):
        written += _execute(f"INSERT INTO {table} ({names}) VALUES {', '.join([cells] * len(part))}{conflict}{back}",
                            [value for row in part for value in row], fetch=True)[1]
    return written


def values_of(instance) -> dict:
    """{attname: value} of a model instance's concrete fields, for insert_rows."""
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


# ---------------------------------------------------------------- instances in bulk
# Model.__init__ sets each field through its descriptor and sends pre_init and post_init:
# about 30 µs an instance, as much as the rest of a renewal's rules in the billing run.
# These build the instances __init__ and from_db make (the same __dict__ and _state)
# directly, for a model whose fields are plain (a value in __dict__, or a foreign key's
# id) and that has no init listener: the billing run's. Any other goes through Django's.


def new_instance(model, **values):
    """model(**values), unsaved: each concrete field's default, then `values`, by field
    name (a relation as its object, checked and cached by its descriptor as __init__
    does) or by attname."""
    if not _plain(model):
        return model(**values)
    instance = model.__new__(model)
    instance._state = ModelState()  # adding, no database yet: what __init__ leaves
    attrs = instance.__dict__
    constants, calls = _DEFAULTS[model]
    attrs.update(constants)
    for attname, default in calls:
        attrs[attname] = default()
    by_name = _PLAIN[model]
    for name, value in values.items():
        field = by_name.get(name)
        if field is not None and field.is_relation:
            setattr(instance, name, value)
        elif field is not None:
            attrs[field.attname] = value
        elif name in attrs:  # a foreign key by its attname (account_id)
            attrs[name] = value
        else:
            raise TypeError(f"{model.__name__}() got an unexpected keyword argument '{name}'")
    return instance


def from_db_values(model, rows, *, alias: str | None = None) -> list:
    """model.from_db(alias, every concrete field, row) for each row of the concrete fields'
    values in their order, converted as the ORM converts them (values_list's rows)."""
    names = [field.attname for field in model._meta.concrete_fields]
    db = alias or connection.alias
    if not _plain(model):
        return [model.from_db(db, names, row) for row in rows]
    made = []
    for row in rows:
        instance = model.__new__(model)
        instance.__dict__.update(zip(names, row, strict=True))
        state = instance._state = ModelState()
        state.adding, state.db = False, db
        made.append(instance)
    return made


def cache_related(instance, name: str, related) -> None:
    """What select_related leaves: `instance.<name>` is `related`, read with it."""
    instance._meta.get_field(name).set_cached_value(instance, related)


_PLAIN: dict = {}  # model -> {field name: concrete field}, for the models found plain
# model -> ({attname: constant default}, [(attname, callable default)]): what get_default
# gives each field, worked out once (a callable default is still called per instance).
_DEFAULTS: dict = {}


def _plain(model) -> bool:
    if model not in _PLAIN:
        fields = model._meta.concrete_fields
        plain = not (pre_init.has_listeners(model) or post_init.has_listeners(model)) and all(
            type(getattr(model, field.attname, None)) in (DeferredAttribute, ForeignKeyDeferredAttribute)
            for field in fields)
        _PLAIN[model] = {field.name: field for field in fields} if plain else None
        _DEFAULTS[model] = ({field.attname: field.get_default() for field in fields if not _called(field)},
                            [(field.attname, field.get_default) for field in fields if _called(field)])
    return _PLAIN[model] is not None


def _called(field) -> bool:
    """Whether the field's default is made per instance (a callable default, as
    Field.get_default calls it)."""
    return field.has_default() and callable(field.default) or field.db_default is not NOT_PROVIDED


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


def _execute(sql: str, params: list, *, fetch: bool = False) -> tuple[int, list[tuple]]:
    """(rows changed, rows returned when `fetch`)."""
    if connection.vendor == "postgresql":
        with _server_binding() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount, [tuple(row) for row in cursor.fetchall()] if fetch else []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount, [tuple(row) for row in cursor.fetchall()] if fetch else []


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
    a related object as its key; None for the rest, taken as it is (an enum member as its
    value)."""
    internal = field.get_internal_type()
    if internal == "DateTimeField":
        adapted: dict = {}  # a batch repeats a few instants many times (period starts, now)

        def adapt(value):
            if value not in adapted:
                adapted[value] = connection.ops.adapt_datetimefield_value(value)
            return adapted[value]

        return adapt
    if internal == "JSONField" and connection.vendor == "postgresql":
        # The JSON text, for an array parameter (_unnest): psycopg dumps an array of its
        # Jsonb wrappers at about 45 µs a value, an array of text at 4 µs.
        return lambda value: json.dumps(value, cls=field.encoder)
    if internal == "JSONField":
        return lambda value: field.get_db_prep_save(value, connection)
    if field.is_relation:
        return lambda value: getattr(value, "pk", value)
    return None


def _default(field, now):
    """The value of a field a row leaves out, as a function (a callable default is called
    per row, as Django does)."""
    if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
        return lambda: now
    if field.has_default() and callable(field.default):
        return field.get_default
    constant = field.get_default()
    return lambda: constant
