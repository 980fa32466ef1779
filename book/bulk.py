"""Fast writes of many rows, for the tick's hot paths.

Django's `bulk_update` builds one `CASE WHEN id = ... THEN ...` per row and field, which
PostgreSQL plans and runs slowly for a few hundred rows, and `bulk_create` spends most of
its time building and preparing model instances. These helpers send plain parameterised
statements instead (updates by `executemany`: pipelined by psycopg 3, a reused prepared
statement in sqlite3; inserts as multi-row INSERTs, or COPY on PostgreSQL), through the
same tables, so constraints and triggers apply as they would to the ORM's statements.
Every value goes through its field's `get_db_prep_save`, so Decimals, dates, datetimes
and JSON reach the database exactly as the ORM would send them.

Use them where no model instance is needed back: no ids are returned, no signals are sent,
and field defaults are not applied (pass every column the insert needs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections, models, router


def _columns(model: type[models.Model], names: Sequence[str]) -> list[models.Field]:
    opts = model._meta
    return [opts.get_field(name) for name in names]


def _executemany(
    connection: Any, sql: str, fields: Sequence[Any], rows: list[Sequence[Any]]
) -> int:  # noqa: E501
    """Run `sql` once per row, each value prepared as its field would store it."""
    params = [
        [f.get_db_prep_save(value, connection) for f, value in zip(fields, row, strict=True)]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
    return len(params)


def rows_update(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    using: str | None = None,
) -> int:
    """`UPDATE t SET f1 = %s, ... WHERE id = %s` for each row (the values of `fields`, then
    the primary key): what `bulk_update` does, one row a statement. Returns the rows sent."""
    rows = list(rows)
    if not rows:
        return 0
    using = using or router.db_for_write(model)
    connection = connections[using]
    quote = connection.ops.quote_name
    columns = _columns(model, fields) + [model._meta.pk]
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        quote(model._meta.db_table),
        ", ".join(f"{quote(f.column)} = %s" for f in columns[:-1]),
        quote(columns[-1].column),
    )
    return _executemany(connection, sql, columns, rows)


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
    (what `filter(...).update(a=F("a") + x)` does, one statement for all rows)."""
    rows = list(rows)
    if not rows:
        return 0
    using = using or router.db_for_write(model)
    connection = connections[using]
    quote = connection.ops.quote_name
    amount_fields = _columns(model, amounts)
    key_fields = _columns(model, keys)
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
    using = using or router.db_for_write(model)
    connection = connections[using]
    quote = connection.ops.quote_name
    opts = model._meta
    columns = _columns(model, fields)  # get_field takes attnames too ("instrument_id")
    if connection.vendor == "postgresql":
        return _copy_insert(connection, opts.db_table, columns, rows)
    head = "INSERT INTO {} ({}) VALUES ".format(
        quote(opts.db_table), ", ".join(quote(f.column) for f in columns)
    )
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    max_params = connection.features.max_query_params or 30_000
    batch = max(1, min(1000, max_params // len(columns)))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            params: list[Any] = []
            for row in chunk:
                params.extend(
                    f.get_db_prep_save(value, connection)
                    for f, value in zip(columns, row, strict=True)
                )
            cursor.execute(head + ", ".join([one] * len(chunk)), params)
    return len(rows)


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
    prepared = [
        [f.get_db_prep_save(value, connection) for f, value in zip(columns, row, strict=True)]
        for row in rows
    ]

    def copy(sql: str, params: list[list[Any]], many: bool, context: dict[str, Any]) -> None:
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors, context["cursor"].cursor.copy(sql) as stream:
            for row in params:
                stream.write_row(row)

    with connection.cursor() as cursor:
        cursor._execute_with_wrappers(sql, prepared, many=True, executor=copy)
    return len(rows)
