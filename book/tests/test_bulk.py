"""book.bulk: plain-SQL writes of many rows give the rows the ORM would have written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from book import bulk
from book.models import CashBalance, Event, Position
from book.services.events import events_append_many, events_record_many

D = Decimal
WHEN = dt.datetime(2015, 3, 2, 15, 0, tzinfo=dt.UTC)


def test_rows_update_writes_what_bulk_update_would(ref):
    # GIVEN two positions
    a = Position.objects.create(mandate=ref.mandate, instrument=ref.equity, quantity=D(1))
    b = Position.objects.create(mandate=ref.mandate, instrument=ref.equity2, quantity=D(2))
    # WHEN both are updated in one call
    sent = bulk.rows_update(
        Position,
        ["quantity", "cost_basis", "updated_tick"],
        [(D("10.5"), D("105.12346"), 7, a.pk), (D("-3"), D(0), None, b.pk)],
    )
    # THEN each row has its own values, rounded as the fields store them
    assert sent == 2
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.quantity, a.cost_basis, a.updated_tick) == (D("10.5"), D("105.1235"), 7)
    assert (b.quantity, b.cost_basis, b.updated_tick) == (D("-3"), D(0), None)
    assert bulk.rows_update(Position, ["quantity"], []) == 0


def test_rows_add_adds_in_the_database(ref):
    # GIVEN a balance that another writer changed after we last read it
    balance = CashBalance.objects.create(mandate=ref.mandate, currency_id="USD")
    CashBalance.objects.filter(pk=balance.pk).update(settled=D("5"), projected=D("7"))
    # WHEN amounts are added, twice for the same row
    bulk.rows_add(
        CashBalance,
        ["settled", "projected"],
        ["mandate", "currency"],
        [(D("1.25"), D("-2"), ref.mandate.pk, "USD"), (D(0), D("0.5"), ref.mandate.pk, "USD")],
    )
    # THEN no addition is lost
    balance.refresh_from_db()
    assert (balance.settled, balance.projected) == (D("6.25"), D("5.5"))


def test_rows_insert_writes_every_row_in_chunks(ref):
    # GIVEN more events than one SQLite statement can carry (999 parameters)
    records = [
        {
            "kind": "trade.booked",
            "source": "book",
            "trade_id": f"T-{n:06d}",
            "instrument": ref.equity.ticker,
            "mandate": ref.mandate.code,
            "tick": n,
            "sim_time": WHEN,
            "payload": {"n": n, "price": D("1.5")},
        }
        for n in range(250)
    ]
    # WHEN they are appended with plain inserts and once more through the ORM
    before = Event.objects.order_by("id").last().pk
    assert events_append_many(records) == 250
    events_record_many(records[:1])
    # THEN the rows read back as the ORM's own, in order
    rows = list(Event.objects.filter(pk__gt=before).order_by("id"))
    assert [e.tick for e in rows[:250]] == list(range(250))
    fast, orm = rows[0], rows[-1]
    for name in ("kind", "source", "actor", "trade_id", "instrument", "mandate", "sim_time"):
        assert getattr(fast, name) == getattr(orm, name)
    assert fast.payload == orm.payload == {"n": 0, "price": "1.5"}
    assert fast.wall_time is not None


def test_plain_writes_still_meet_the_tables_rules(ref):
    # GIVEN an event appended with a plain insert
    events_append_many([{"kind": "trade.booked", "source": "book", "tick": 1}])
    event = Event.objects.order_by("id").last()
    # THEN the event log stays append-only, and constraints still hold
    with pytest.raises(DatabaseError), transaction.atomic():  # the append-only trigger
        bulk.rows_update(Event, ["kind"], [("changed", event.pk)])
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.rows_insert(
            Position,
            ["mandate_id", "instrument_id", "quantity", "cost_basis", "realized_pnl"],
            [(ref.mandate.pk, ref.equity.pk, D(1), D(0), D(0))] * 2,
        )


def test_rows_insert_ids_returns_the_new_rows_keys_in_order(ref):
    # GIVEN positions to insert as plain rows
    rows = [
        (ref.mandate.pk, ref.equity.pk, D("1.5"), D(0), D(0), 3, dt.date(2015, 3, 2)),
        (ref.mandate.pk, ref.equity2.pk, D("-2"), D("7.25"), D(1), None, None),
    ]
    columns = [
        "mandate_id",
        "instrument_id",
        "quantity",
        "cost_basis",
        "realized_pnl",
        "updated_tick",
        "latest_date",
    ]
    # WHEN they are inserted with their keys asked back
    ids = bulk.rows_insert_ids(Position, columns, rows)
    # THEN each key names the row given at its place, and later inserts get later keys
    assert [Position.objects.values_list(*columns).get(pk=pk) for pk in ids] == rows
    assert ids == sorted(ids)
    later = Position.objects.create(mandate=ref.other_mandate, instrument=ref.equity)
    assert later.pk > ids[-1]
    assert bulk.rows_insert_ids(Position, columns, []) == []


def test_updates_take_the_last_values_given_and_calls_do_not_leak(ref):
    # GIVEN two positions and a balance, updated twice in one transaction
    a = Position.objects.create(mandate=ref.mandate, instrument=ref.equity, quantity=D(1))
    b = Position.objects.create(mandate=ref.mandate, instrument=ref.equity2, quantity=D(2))
    balance = CashBalance.objects.create(mandate=ref.mandate, currency_id="USD")
    with transaction.atomic():
        bulk.rows_update(Position, ["quantity"], [(D(5), a.pk), (D(6), b.pk), (D(7), a.pk)])
        bulk.rows_update(Position, ["quantity"], [(D(8), b.pk)])
        bulk.rows_add(
            CashBalance,
            ["settled", "projected"],
            ["mandate", "currency"],
            [(D(1), D(2), ref.mandate.pk, "USD")],
        )
    # THEN the last value given for a row wins, and nothing of the first call leaks into
    # the second
    a.refresh_from_db()
    b.refresh_from_db()
    balance.refresh_from_db()
    assert (a.quantity, b.quantity) == (D(7), D(8))
    assert (balance.settled, balance.projected) == (D(1), D(2))
