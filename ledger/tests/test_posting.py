"""Posting: idempotency, conflicts, closed periods, reversals, the chain and its check."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from book.models import AppendOnlyError
from ledger import selectors
from ledger.engine import Line, reversal
from ledger.models import JournalEntry, JournalLine, LedgerBalance
from ledger.services import (
    LedgerConflict,
    PeriodClosed,
    chart_ensure,
    draft_from_request,
    journals_post,
    period_close,
)

D = Decimal
DAY = dt.date(2015, 1, 5)


def _manual(ref, key="adj-1", amount="100.00", day=DAY, adjusts=None, lines=None):  # noqa: ANN001
    return draft_from_request(
        source_key=key,
        mandate=ref.mandate.code,
        base_currency="USD",
        accounting_date=day,
        description="Capital injection",
        lines=lines
        or [
            ("1000", "USD", "D", D(amount), None, ""),
            ("3000", "USD", "C", D(amount), None, ""),
        ],
        rates={},
        adjusts_date=adjusts,
    )


@pytest.fixture
def chart(ref):  # noqa: ANN001
    chart_ensure()
    return ref


def test_replaying_a_posting_adds_nothing(chart):  # noqa: ANN001
    first = journals_post([_manual(chart)])
    again = journals_post([_manual(chart)])
    assert len(first.posted) == 1 and again.posted == [] and again.skipped == ["adj-1"]
    assert JournalEntry.objects.count() == 1 and JournalLine.objects.count() == 2


def test_same_key_with_another_payload_is_refused(chart):  # noqa: ANN001
    journals_post([_manual(chart)])
    with pytest.raises(LedgerConflict, match="adj-1"):
        journals_post([_manual(chart, amount="101.00")])
    assert JournalEntry.objects.count() == 1


def test_unbalanced_or_malformed_entries_are_refused_whole(chart):  # noqa: ANN001
    good = _manual(chart, key="good")
    bad = _manual(
        chart,
        key="bad",
        lines=[("1000", "USD", "D", D("100"), None, ""), ("3000", "USD", "C", D("99"), None, "")],
    )
    with pytest.raises(ValidationError) as err:
        journals_post([good, bad])
    assert "differ by 1" in str(err.value.message_dict["lines"])
    mixed = _manual(
        chart,
        key="mixed",
        lines=[
            ("1000", "USD", "D", D("100"), None, ""),
            ("3000", "EUR", "C", D("100"), D("1"), ""),
        ],
    )
    with pytest.raises(ValidationError, match="in EUR"):
        journals_post([mixed])
    unknown = _manual(
        chart,
        key="unknown",
        lines=[("1999", "USD", "D", D("1"), None, ""), ("3000", "USD", "C", D("1"), None, "")],
    )
    with pytest.raises(ValidationError, match="unknown account"):
        journals_post([unknown])
    no_instrument = _manual(
        chart,
        key="noinstr",
        lines=[("1100", "USD", "D", D("1"), None, ""), ("3000", "USD", "C", D("1"), None, "")],
    )
    with pytest.raises(ValidationError, match="per instrument"):
        journals_post([no_instrument])
    assert not JournalEntry.objects.exists()  # the good one went with the bad


def test_closed_period_refuses_postings_but_takes_adjustments(chart, admin_user):  # noqa: ANN001
    journals_post([_manual(chart, key="before")])
    period_close(through=DAY, actor=admin_user)
    with pytest.raises(PeriodClosed) as err:
        journals_post([_manual(chart, key="late")])
    assert "accounting_date" in err.value.message_dict
    with pytest.raises(ValidationError, match="already closed"):
        period_close(through=DAY, actor=admin_user)
    adjustment = _manual(chart, key="late-adj", day=DAY + dt.timedelta(days=1), adjusts=DAY)
    posted = journals_post([adjustment]).posted[0]
    assert posted.adjusts_date == DAY and posted.accounting_date > DAY
    # The closed day's trial balance is what it was when it closed.
    tb = selectors.trial_balance(chart.mandate, as_of=DAY)
    assert {(r["account"], r["balance"]) for r in tb.rows} == {("1000", D(100)), ("3000", D(100))}


def _balances(ref):  # noqa: ANN001
    tb = selectors.trial_balance(ref.mandate, as_of=DAY + dt.timedelta(days=3))
    return {(r["account"], r["currency"]): (r["balance"], r["base_balance"]) for r in tb.rows}


def test_a_reversal_restores_the_balances_exactly(chart):  # noqa: ANN001
    journals_post([_manual(chart, key="keep", amount="5")])
    before = _balances(chart)
    original = _manual(chart, key="oops", amount="123.4567")
    journals_post([original])
    journals_post([reversal(original, accounting_date=DAY + dt.timedelta(days=2), reason="typo")])
    assert _balances(chart) == before  # turnover grew; every balance is back
    with pytest.raises(ValidationError, match="already reversed"):
        journals_post(
            [reversal(original, accounting_date=DAY, reason="again", source_key="oops:rev2")]
        )


def test_journals_cannot_be_changed_through_the_orm(chart):  # noqa: ANN001
    entry = journals_post([_manual(chart)]).posted[0]
    with pytest.raises(AppendOnlyError):
        JournalEntry.objects.filter(pk=entry.pk).update(description="edited")
    with pytest.raises(AppendOnlyError):
        JournalLine.objects.all().delete()
    line = JournalLine.objects.first()
    line.amount = D(1)
    with pytest.raises(AppendOnlyError):
        line.save()


def test_verify_finds_tampering_the_database_allows(chart):  # noqa: ANN001
    journals_post([_manual(chart, key=f"k{i}", amount=str(10 + i)) for i in range(5)])
    assert selectors.ledger_verify().ok
    # Stored balances are not append-only: changing one is caught by the recomputation.
    LedgerBalance.objects.filter(account_id="1000").update(debit=D("999"))
    report = selectors.ledger_verify()
    assert not report.ok and "stored day balance" in report.problems[0]


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_sqlite_refuses_raw_updates_and_verify_finds_raw_deletes(chart):  # noqa: ANN001
    journals_post([_manual(chart, key=f"k{i}", amount=str(10 + i)) for i in range(3)])
    with connection.cursor() as cursor:
        with pytest.raises(Exception, match="append-only"):
            cursor.execute("UPDATE ledger_journalline SET amount = 1")
        cursor.execute(
            "DELETE FROM ledger_journalline WHERE id = (SELECT max(id) FROM ledger_journalline)"
        )
    problems = " ".join(selectors.ledger_verify().problems)
    assert "unbalanced" in problems and "hash does not match" in problems


def test_the_chain_links_every_entry_in_order(chart):  # noqa: ANN001
    journals_post([_manual(chart, key="a")])
    journals_post([_manual(chart, key="b"), _manual(chart, key="c")])
    entries = list(JournalEntry.objects.order_by("seq"))
    assert [e.journal_id for e in entries] == ["J-000001", "J-000002", "J-000003"]
    assert entries[0].prev_hash == "0" * 64
    assert [e.prev_hash for e in entries[1:]] == [e.entry_hash for e in entries[:-1]]


def test_base_amounts_round_to_the_largest_line(chart):  # noqa: ANN001
    from ledger.engine import _Builder

    builder = _Builder("USD", {"EUR": D("1.1234567")})
    for amount in ("0.0003", "0.0003", "0.0003"):
        builder.add("1000", "EUR", D(amount))
    builder.add("3000", "EUR", D("-0.0009"))
    lines = builder.lines()
    assert sum(ln.signed_base for ln in lines) == 0
    assert all(isinstance(ln, Line) for ln in lines)
