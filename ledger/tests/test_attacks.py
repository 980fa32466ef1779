"""Attacks on the ledger that PostgreSQL itself must stop: each is rejected and the book
is unchanged (same journals, `ledger_verify` clean). Runs against a real PostgreSQL in the
stack pass of `make test` and in CI."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, connections, transaction

from ledger import selectors
from ledger.models import JournalEntry, JournalLine, PeriodClose
from ledger.services import chart_ensure, draft_from_request, journals_post

pytestmark = pytest.mark.postgres

D = Decimal
DAY = dt.date(2015, 1, 5)


def _draft(mandate, key: str, amount: str = "100.00"):  # noqa: ANN001
    return draft_from_request(
        source_key=key,
        mandate=mandate.code,
        base_currency=mandate.base_currency_id,
        accounting_date=DAY,
        description="Capital injection",
        lines=[
            ("1000", "USD", "D", D(amount), None, ""),
            ("3000", "USD", "C", D(amount), None, ""),
        ],
        rates={},
    )


@pytest.fixture
def posted(ref):  # noqa: ANN001
    """A committed book of three entries (transactional tests commit for real)."""
    chart_ensure()
    journals_post([_draft(ref.mandate, f"seed-{i}", f"{100 + i}.00") for i in range(3)])
    return ref


def _snapshot() -> tuple:
    return (
        list(JournalEntry.objects.order_by("seq").values_list("journal_id", "entry_hash")),
        list(JournalLine.objects.order_by("id").values_list("id", "side", "amount")),
    )


def _assert_unchanged(before: tuple) -> None:
    assert _snapshot() == before
    report = selectors.ledger_verify()
    assert report.ok, report.problems


def _line_values(
    entry_id: int, mandate_id: int, account: str, ccy: str, side: str, amount: str, no: int = 1
):
    return (entry_id, no, mandate_id, account, ccy, side, D(amount), D(amount), D(1))


INSERT_LINE = (
    "INSERT INTO ledger_journalline (entry_id, line_no, mandate_id, account_id, currency, side,"
    " amount, base_amount, fx_rate) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_journalline SET amount = amount + 1",
        "DELETE FROM ledger_journalline",
        "UPDATE ledger_journalentry SET description = 'edited'",
        "DELETE FROM ledger_journalentry",
    ],
)
def test_raw_sql_cannot_edit_or_delete_journals(posted, sql):  # noqa: ANN001
    before = _snapshot()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    _assert_unchanged(before)


@pytest.mark.django_db(transaction=True)
def test_a_line_cannot_be_added_to_a_posted_entry(posted):  # noqa: ANN001
    before = _snapshot()
    entry = JournalEntry.objects.order_by("seq").first()
    with pytest.raises(DatabaseError, match="already posted"), transaction.atomic():
        JournalLine.objects.bulk_create(
            [
                JournalLine(
                    entry=entry,
                    line_no=9,
                    mandate_id=entry.mandate_id,
                    account_id="1000",
                    currency="USD",
                    side="D",
                    amount=D(1),
                    base_amount=D(1),
                    fx_rate=D(1),
                ),
                JournalLine(
                    entry=entry,
                    line_no=10,
                    mandate_id=entry.mandate_id,
                    account_id="3000",
                    currency="USD",
                    side="C",
                    amount=D(1),
                    base_amount=D(1),
                    fx_rate=D(1),
                ),
            ]
        )
    _assert_unchanged(before)


def _raw_entry(cursor, mandate_id: int, key: str, day: dt.date = DAY) -> int:  # noqa: ANN001
    cursor.execute(
        "INSERT INTO ledger_journalentry (journal_id, seq, mandate_id, kind, accounting_date,"
        " effective_date, effective_kind, settles_on, recorded_at, description, source_key,"
        " payload_hash, actor, prev_hash, entry_hash) VALUES (%s, %s, %s, 'manual', %s, %s,"
        " 'value', %s, now(), 'attack', %s, 'x', 'attacker', 'x', %s) RETURNING id",
        [f"X-{key}", 10_000 + len(key), mandate_id, day, day, day, key, f"hash-{key}"],
    )
    return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("case", "lines", "message"),
    [
        ("unbalanced", [("1000", "USD", "D", "100"), ("3000", "USD", "C", "99")], "base"),
        ("mixed", [("1000", "USD", "D", "100"), ("3000", "EUR", "C", "100")], "balance in"),
        ("single", [("1000", "USD", "D", "100")], "line"),
        ("empty", [], "0 line"),
    ],
)
def test_unbalanced_entries_are_rejected_at_commit(posted, case, lines, message):  # noqa: ANN001
    before = _snapshot()
    mandate_id = posted.mandate.pk
    # The deferred constraint trigger fires when the atomic block commits.
    with (
        pytest.raises(DatabaseError, match=message),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        entry_id = _raw_entry(cursor, mandate_id, case)
        for no, (account, ccy, side, amount) in enumerate(lines, start=1):
            cursor.execute(
                INSERT_LINE, _line_values(entry_id, mandate_id, account, ccy, side, amount, no)
            )
    _assert_unchanged(before)


@pytest.mark.django_db(transaction=True)
def test_the_orm_bulk_create_of_an_unbalanced_entry_is_rejected(posted):  # noqa: ANN001
    before = _snapshot()
    with pytest.raises(DatabaseError, match="does not balance"), transaction.atomic():
        entry = JournalEntry.objects.create(
            journal_id="X-1",
            seq=999,
            mandate=posted.mandate,
            kind="manual",
            accounting_date=DAY,
            effective_date=DAY,
            effective_kind="value",
            settles_on=DAY,
            recorded_at=dt.datetime(2015, 1, 5, tzinfo=dt.UTC),
            description="attack",
            source_key="attack",
            payload_hash="x",
            prev_hash="x",
            entry_hash="attack",
        )
        JournalLine.objects.bulk_create(
            [
                JournalLine(
                    entry=entry,
                    line_no=n,
                    mandate=posted.mandate,
                    account_id=a,
                    currency="USD",
                    side=s,
                    amount=D(v),
                    base_amount=D(v),
                    fx_rate=D(1),
                )
                for n, (a, s, v) in enumerate([("1000", "D", "50"), ("3000", "C", "40")])
            ]
        )
    _assert_unchanged(before)


@pytest.mark.django_db(transaction=True)
def test_a_posting_into_a_closed_period_is_rejected_by_the_database(posted):  # noqa: ANN001
    PeriodClose.objects.create(
        through=DAY, closed_at=dt.datetime(2015, 1, 6, tzinfo=dt.UTC), closed_by="admin"
    )
    before = _snapshot()
    with (
        pytest.raises(DatabaseError, match="closed through"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        _raw_entry(cursor, posted.mandate.pk, "closed")
    _assert_unchanged(before)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM ledger_periodclose")


@pytest.mark.django_db(transaction=True)
def test_checks_reject_negative_or_sideless_lines(posted):  # noqa: ANN001
    before = _snapshot()
    mandate_id = posted.mandate.pk
    for bad in (("1000", "USD", "X", "1"), ("1000", "USD", "D", "-1")):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            entry_id = _raw_entry(cursor, mandate_id, f"check-{bad[2]}{bad[3]}")
            cursor.execute(INSERT_LINE, _line_values(entry_id, mandate_id, *bad))
    _assert_unchanged(before)


@pytest.mark.django_db(transaction=True)
def test_two_workers_posting_the_same_event_post_it_once(posted):  # noqa: ANN001
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            result = journals_post([_draft(posted.mandate, "same-event", "7.00")])
            outcomes.append(len(result.posted))
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == [0, 1], outcomes
    assert JournalEntry.objects.filter(source_key="same-event").count() == 1
    assert selectors.ledger_verify().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "clear",
    [
        "DELETE FROM ledger_pendingcheck",
        "UPDATE ledger_pendingcheck SET entry_ids = '{}'",
        "TRUNCATE ledger_pendingcheck",
    ],
)
def test_a_session_cannot_clear_the_pending_balance_check(posted, clear):  # noqa: ANN001
    """The check runs once per transaction from a pending row; only the check may clear it."""
    before = _snapshot()
    mandate_id = posted.mandate.pk
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        entry_id = _raw_entry(cursor, mandate_id, "clear")
        cursor.execute(INSERT_LINE, _line_values(entry_id, mandate_id, "1000", "USD", "D", "5"))
        cursor.execute(clear)  # refused here, or the commit's check refuses the entry
    _assert_unchanged(before)


@pytest.mark.django_db(transaction=True)
def test_lines_added_after_an_early_check_are_checked_too(posted):  # noqa: ANN001
    before = _snapshot()
    mandate_id = posted.mandate.pk
    with (
        pytest.raises(DatabaseError, match="balance"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        entry_id = _raw_entry(cursor, mandate_id, "early")
        cursor.execute(INSERT_LINE, _line_values(entry_id, mandate_id, "1000", "USD", "D", "5", 1))
        cursor.execute(INSERT_LINE, _line_values(entry_id, mandate_id, "3000", "USD", "C", "5", 2))
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the check runs and passes here
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute(INSERT_LINE, _line_values(entry_id, mandate_id, "1000", "USD", "D", "1", 3))
    _assert_unchanged(before)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"account": "9999"}, "not in the chart"),
        ({"mandate": "other"}, "mandate"),
        ({"entry": "missing"}, "no journal entry"),
    ],
)
def test_lines_must_name_their_entry_its_mandate_and_a_chart_account(posted, line, message):  # noqa: ANN001
    from book.models import Mandate

    before = _snapshot()
    mandate_id = posted.mandate.pk
    other = Mandate.objects.exclude(pk=mandate_id).first().pk
    with (
        pytest.raises(DatabaseError, match=message),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        entry_id = _raw_entry(cursor, mandate_id, f"line-{message[:8]}")
        cursor.execute(
            INSERT_LINE,
            _line_values(
                entry_id + 10_000 if line.get("entry") else entry_id,
                other if line.get("mandate") else mandate_id,
                line.get("account", "1000"),
                "USD",
                "D",
                "5",
            ),
        )
    _assert_unchanged(before)


@pytest.mark.django_db(transaction=True)
def test_the_chart_keeps_its_accounts(posted):  # noqa: ANN001
    with (
        pytest.raises(DatabaseError, match="part of the chart"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM ledger_account WHERE code = '1000'")
    assert selectors.ledger_verify().ok
