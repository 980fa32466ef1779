"""Fast writes of many rows, for the tick's hot paths.

Django's `bulk_update` builds one `CASE WHEN id = ... THEN ...` per row and field, which
PostgreSQL plans and runs slowly for a few hundred rows, and `bulk_create` spends most of
its time building and preparing model instances. These helpers send plain parameterised
statements instead, through the same tables, so constraints and triggers apply as they
would to the ORM's statements:
- inserts: COPY on PostgreSQL, multi-row INSERTs on SQLite; with `rows_insert_ids`, the
  new rows' primary keys come back (PostgreSQL: taken from the table's own sequence in one
  query before the COPY, `ids_reserve`; SQLite: INSERT ... RETURNING, as bulk_create does);
- updates: on PostgreSQL one `UPDATE ... FROM unnest(<an array a column>)` (one
  statement planned once, instead of one a row, and a parameter a column rather than a
  value to quote and send); on SQLite `executemany` (a reused prepared statement, in
  process);
- additions (`rows_add`): the same, adding in the database (SET a = a + v.a).
Every value reaches the database as the ORM would send it: through its field's
`get_db_prep_save`, except where that is known to return the value unchanged (on
PostgreSQL: an int for an integer column, a str for a text one, a Decimal for a numeric
one, a date for a date column, an aware datetime for a timestamp one), which COPY takes as
is. JSON can be handed over already serialised (`JsonText`): it is then written as is.

Use them where no model instance is needed back: no signals are sent, and field defaults
are not applied (pass every column the insert needs).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import connections, models, router


class JsonText(str):
    """A JSON value already serialised (json.dumps with the field's encoder): the bulk
    helpers write it as is instead of serialising it again."""


def _columns(model: type[models.Model], names: Sequence[str]) -> list[models.Field]:
    opts = model._meta
    return [opts.get_field(name) for name in names]


def _connection(model: type[models.Model], using: str | None) -> Any:
    return connections[using or router.db_for_write(model)]


def _prepare(field: models.Field, value: Any, connection: Any) -> Any:
    if isinstance(value, JsonText):
        if connection.vendor == "postgresql":
            from psycopg.types.json import Jsonb

            return Jsonb(str(value), dumps=str)  # already serialised: sent as is
        return str(value)
    return field.get_db_prep_save(value, connection)


def _executemany(
    connection: Any, sql: str, fields: Sequence[Any], rows: list[Sequence[Any]]
) -> int:  # noqa: E501
    """Run `sql` once per row, each value prepared as its field would store it."""
    params = [
        [_prepare(f, value, connection) for f, value in zip(fields, row, strict=True)]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
    return len(params)


def _array_update(
    connection: Any,
    table: str,
    assignments: Sequence[str],
    fields: Sequence[models.Field],
    keys: Sequence[models.Field],
    rows: list[Sequence[Any]],
) -> None:
    """PostgreSQL: one `UPDATE t SET <assignments> FROM unnest(%s, ...) AS v(...) WHERE
    t.k = v.k`, a parameter a column (an array of its values), however many rows.
    `assignments` are SQL over t and v (`"a" = v."a"`). A statement with a parameter a
    value (VALUES lists, executemany) costs more to build, send and plan than the update
    itself."""
    quote = connection.ops.quote_name
    columns = [*fields, *keys]
    arrays = ", ".join(f"CAST(%s AS {f.cast_db_type(connection)}[])" for f in columns)
    names = ", ".join(quote(f.column) for f in columns)
    where = " AND ".join(f"t.{quote(k.column)} = v.{quote(k.column)}" for k in keys)
    params = [[_prepare(f, row[i], connection) for row in rows] for i, f in enumerate(columns)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(table)} AS t SET {', '.join(assignments)} "
            f"FROM unnest({arrays}) AS v({names}) WHERE {where}",
            params,
        )


def rows_update(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    using: str | None = None,
) -> int:
    """`UPDATE t SET f1 = %s, ... WHERE id = %s` for each row (the values of `fields`, then
    the primary key): what `bulk_update` does. A key given twice takes its last values.
    Returns the rows sent."""
    rows = list(rows)
    if not rows:
        return 0
    connection = _connection(model, using)
    quote = connection.ops.quote_name
    columns = _columns(model, fields)
    pk = model._meta.pk
    if connection.vendor == "postgresql":
        last = {row[-1]: row for row in rows}  # one row a key: the last one, as in sequence
        _array_update(
            connection,
            model._meta.db_table,
            [f"{quote(f.column)} = v.{quote(f.column)}" for f in columns],
            columns,
            [pk],
            list(last.values()),
        )
        return len(rows)
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        quote(model._meta.db_table),
        ", ".join(f"{quote(f.column)} = %s" for f in columns),
        quote(pk.column),
    )
    return _executemany(connection, sql, [*columns, pk], rows)


def rows_add(
    model: type[models.Model],
    amounts: Sequence[str],
    keys: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    using: str | None = None,
) -> int:
    """`UPDATE t SET a = a + %s, ... WHERE k1 = %s AND ...` for each row (amounts, then keys):
    additions in the database, so two writers adding to one row never lose an addition
    (what `filter(...).update(a=F("a") + x)` does, one statement for all rows). Rows with
    the same keys add up."""
    rows = list(rows)
    if not rows:
        return 0
    connection = _connection(model, using)
    quote = connection.ops.quote_name
    amount_fields = _columns(model, amounts)
    key_fields = _columns(model, keys)
    if connection.vendor == "postgresql":
        n = len(amount_fields)
        totals: dict[tuple[Any, ...], list[Any]] = {}
        for row in rows:
            key = tuple(row[n:])
            if key in totals:
                totals[key] = [a + b for a, b in zip(totals[key], row[:n], strict=True)]
            else:
                totals[key] = list(row[:n])
        _array_update(
            connection,
            model._meta.db_table,
            [
                f"{quote(f.column)} = t.{quote(f.column)} + v.{quote(f.column)}"
                for f in amount_fields
            ],
            amount_fields,
            key_fields,
            [(*amount, *key) for key, amount in totals.items()],
        )
        return len(rows)
    sql = "UPDATE {} SET {} WHERE {}".format(
        quote(model._meta.db_table),
        ", ".join(f"{quote(f.column)} = {quote(f.column)} + %s" for f in amount_fields),
        " AND ".join(f"{quote(f.column)} = %s" for f in key_fields),
    )
    return _executemany(connection, sql, amount_fields + key_fields, rows)


def rows_insert(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    using: str | None = None,
) -> int:
    """INSERT plain rows (values in the order of `fields`, attribute names such as
    `instrument_id`), many rows a statement. Returns the rows inserted; no ids."""
    rows = list(rows)
    if not rows:
        return 0
    connection = _connection(model, using)
    columns = _columns(model, fields)  # get_field takes attnames too ("instrument_id")
    if connection.vendor == "postgresql":
        return _copy_insert(connection, model._meta.db_table, columns, rows)
    _multirow_insert(connection, model._meta.db_table, columns, rows)
    return len(rows)


def rows_insert_ids(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    using: str | None = None,
) -> list[int]:
    """`rows_insert`, and the primary keys of the new rows, in the order of `rows`.
    PostgreSQL: the keys are taken from the table's sequence first (`ids_reserve`, one
    query), then the rows COPied with them; SQLite: INSERT ... RETURNING."""
    rows = list(rows)
    if not rows:
        return []
    connection = _connection(model, using)
    columns = _columns(model, fields)
    pk = model._meta.pk
    if connection.vendor == "postgresql":
        ids = ids_reserve(model, len(rows), using=connection.alias)
        _copy_insert(
            connection,
            model._meta.db_table,
            [pk, *columns],
            [(pk_value, *row) for pk_value, row in zip(ids, rows, strict=True)],
        )
        return ids
    return _multirow_insert(connection, model._meta.db_table, columns, rows, returning=pk)


def instances_insert(
    objs: Sequence[models.Model], fields: Sequence[str], *, using: str | None = None
) -> None:
    """`bulk_create` for unsaved instances of one model whose `fields` (attribute names:
    every column but the key) are all set: their rows are inserted with `rows_insert_ids`
    and the instances get their keys, as saved ones. No pre_save (auto_now values must be
    set already), no signals."""
    if not objs:
        return
    model = type(objs[0])
    ids = rows_insert_ids(
        model, fields, [tuple(obj.__dict__[name] for name in fields) for obj in objs], using=using
    )
    db = using or router.db_for_write(model)
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = db


def ids_reserve(model: type[models.Model], count: int, *, using: str | None = None) -> list[int]:
    """PostgreSQL: `count` new primary keys for `model`'s table, from the sequence behind
    its auto key, in one query (ascending: the order inserts would have taken them)."""
    connection = _connection(model, using)
    if connection.vendor != "postgresql":
        raise NotImplementedError("ids are reserved from a sequence on PostgreSQL only")
    if count < 1:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _multirow_insert(
    connection: Any,
    table: str,
    columns: list[models.Field],
    rows: list[Sequence[Any]],
    returning: models.Field | None = None,
) -> list[int]:
    quote = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(
        quote(table), ", ".join(quote(f.column) for f in columns)
    )
    tail = f" RETURNING {quote(returning.column)}" if returning is not None else ""
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    max_params = connection.features.max_query_params or 30_000
    batch = max(1, min(1000, max_params // len(columns)))
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            params: list[Any] = []
            for row in chunk:
                params.extend(
                    _prepare(f, value, connection) for f, value in zip(columns, row, strict=True)
                )
            cursor.execute(head + ", ".join([one] * len(chunk)) + tail, params)
            if returning is not None:
                ids.extend(row[0] for row in cursor.fetchall())
    return ids


# Values COPY takes as they are, by field type: what get_db_prep_save returns unchanged on
# PostgreSQL (the JSON of a JSONField is serialised here, with the field's encoder).
_AS_IS: dict[str, tuple[type, ...]] = {
    "AutoField": (int,),
    "BigAutoField": (int,),
    "SmallAutoField": (int,),
    "IntegerField": (int,),
    "BigIntegerField": (int,),
    "SmallIntegerField": (int,),
    "PositiveIntegerField": (int,),
    "PositiveBigIntegerField": (int,),
    "PositiveSmallIntegerField": (int,),
    "CharField": (str,),
    "TextField": (str,),
    "DecimalField": (Decimal,),
    "DateField": (dt.date,),
    "BooleanField": (bool,),
}


def _copy_preparer(field: models.Field, connection: Any) -> Callable[[Any], Any]:
    target = field.target_field if field.is_relation else field
    kind = target.get_internal_type()
    prep = field.get_db_prep_save
    if kind == "JSONField":
        dumps = json.JSONEncoder if field.encoder is None else field.encoder  # type: ignore[attr-defined]

        def as_json(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, JsonText):
                return str(value)
            return json.dumps(value, cls=dumps)

        return as_json
    if kind == "DateTimeField":

        def as_timestamp(value: Any) -> Any:
            if value is None or (type(value) is dt.datetime and value.tzinfo is not None):
                return value
            return prep(value, connection)

        return as_timestamp
    accepted = _AS_IS.get(kind)
    if accepted is None:
        return lambda value: prep(value, connection)
    exact = frozenset(accepted)

    def as_is(value: Any) -> Any:
        if value is None or type(value) in exact:
            return value
        return prep(value, connection)

    return as_is


def _copy_insert(
    connection: Any, table: str, columns: list[models.Field], rows: list[Sequence[Any]]
) -> int:
    """PostgreSQL: COPY ... FROM STDIN, several times faster than a multi-row INSERT for the
    thousands of rows a tick writes. Constraints, defaults and row triggers apply to COPY
    as to INSERT. It runs through the connection's execute wrappers (query counters,
    instrumentation) and its error translation, like any statement of the ORM's."""
    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN".format(
        quote(table), ", ".join(quote(f.column) for f in columns)
    )
    preparers = [_copy_preparer(f, connection) for f in columns]
    prepared = [[p(value) for p, value in zip(preparers, row, strict=True)] for row in rows]

    def copy(sql: str, params: list[list[Any]], many: bool, context: dict[str, Any]) -> None:
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors, context["cursor"].cursor.copy(sql) as stream:
            for row in params:
                stream.write_row(row)

    with connection.cursor() as cursor:
        cursor._execute_with_wrappers(sql, prepared, many=True, executor=copy)
    return len(rows)
