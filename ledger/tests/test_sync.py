"""The ledger over a simulated run - the issue's done-when, on the shared twenty-session
run (opssuite/testing_runs.py, built once a test session): every trade, settlement, income,
fee and day end is posted; the trial balance balances for every mandate, day and basis;
verify_ledger passes; ledger and book agree on the clean scenario, and the check names the
trades the ledger has not posted.

These tests run at the end of the session (the first one pays for the run) and take `db`:
what they write is rolled back, so each sees the run as it was built."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Count

from book.models import CapitalFlow, FeeAccrual, IncomeEntitlement, Mandate, Trade
from book.services import trade_book, trade_cancel
from ledger import selectors
from ledger.models import JournalEntry, LedgerBalance

# Building the run (60 ticks) counts against the first test's timeout: measured 20-140 s
# on SQLite and 30-80 s on PostgreSQL, test database creation included, as the load of
# the 2 shared CPUs went.
pytestmark = pytest.mark.timeout(1800)


def test_twenty_days_post_everything_the_book_did(twenty_day_run, db):  # noqa: ANN001
    # GIVEN twenty sessions on the clean scenario
    assert twenty_day_run.days == 20 and twenty_day_run.scenario == "clean"
    kinds = Counter(JournalEntry.objects.values_list("kind", flat=True))
    for kind in ("trade", "settlement", "income", "fee", "flow", "mtm", "fx_revaluation"):
        assert kinds[kind] > 0, (kind, kinds)
    live = Trade.objects.exclude(status="cancelled")
    # THEN every live trade has its trade-date posting, every settled one its settlement
    posted = set(
        JournalEntry.objects.filter(kind="trade", reversed_by__isnull=True).values_list(
            "trade_id", flat=True
        )
    )
    assert posted == set(live.values_list("trade_id", flat=True))
    settled = set(live.filter(status="settled").values_list("trade_id", flat=True))
    assert settled
    assert settled <= set(
        JournalEntry.objects.filter(kind="settlement").values_list("trade_id", flat=True)
    )
    # ... every flow, income entitlement and fee accrual its entry
    keys = set(JournalEntry.objects.values_list("source_key", flat=True))
    assert {f"flow:{f}" for f in CapitalFlow.objects.values_list("flow_id", flat=True)} <= keys
    incomes = set(IncomeEntitlement.objects.values_list("income_id", flat=True))
    assert {f"income:{i}" for i in incomes} <= keys
    assert (
        FeeAccrual.objects.exclude(amount=0).count()
        == JournalEntry.objects.filter(kind="fee").count()
    )
    # ... and every session its mark-to-market
    marked = set(JournalEntry.objects.filter(kind="mtm").values_list("accounting_date", flat=True))
    assert len(marked) == twenty_day_run.days
    assert max(marked) == twenty_day_run.end_date


def test_the_trial_balance_balances_for_every_mandate_and_day(twenty_day_run, db):  # noqa: ANN001
    days = sorted(set(LedgerBalance.objects.values_list("day", flat=True)))
    assert len(days) >= twenty_day_run.days
    for mandate in Mandate.objects.all():
        for day in days:
            for basis in ("trade", "settlement"):
                tb = selectors.trial_balance(mandate, as_of=day, basis=basis)
                assert tb.totals["balanced"], (mandate.code, day, basis, tb.totals)
            assert selectors.balance_sheet(mandate, as_of=day)["balanced"], (mandate.code, day)


def test_verify_ledger_passes(twenty_day_run, db, capsys):  # noqa: ANN001
    call_command("verify_ledger")
    assert "ledger verified" in capsys.readouterr().out


def test_ledger_and_book_agree_and_a_trade_not_posted_is_named(twenty_day_run, db):  # noqa: ANN001
    # GIVEN the clean run: no difference at all
    assert selectors.ledger_vs_book()["differences"] == []
    # WHEN a trade is booked and the ledger has not synced yet (the seam the check is for)
    mandate = Mandate.objects.get(code="GEQ")
    some = Trade.objects.filter(mandate=mandate, instrument__asset_class="equity").first()
    last = Trade.objects.order_by("-trade_time").first()
    manual = trade_book(
        mandate_id=mandate.pk,
        instrument_id=some.instrument_id,
        side="buy",
        quantity=Decimal("10"),
        price=Decimal("50"),
        trade_time=last.trade_time,
        broker_id=some.broker_id,
        trader_id=some.trader_id,
    )
    # THEN the check names it
    report = selectors.ledger_vs_book(mandate)
    payable = [d for d in report["differences"] if d["check"] == "payable"]
    assert payable and manual.trade_id in payable[0]["trade_ids"]
    assert any(d["check"] == "securities_at_cost" for d in report["differences"])
    # ... and the next sync posts it: they agree again
    call_command("ledger_sync")
    assert selectors.ledger_vs_book(mandate)["differences"] == []
    # A cancellation: the reversal and the re-checked FIFO keep them in agreement.
    trade_cancel(trade_id=manual.trade_id, reason="test")
    call_command("ledger_sync")
    assert selectors.ledger_vs_book(mandate)["differences"] == []
    assert JournalEntry.objects.filter(trade_id=manual.trade_id, kind="reversal").exists()
    assert selectors.ledger_verify().ok


def test_replaying_the_sync_posts_nothing_new(twenty_day_run, db):  # noqa: ANN001
    count = JournalEntry.objects.count()
    call_command("ledger_sync")  # re-reads the last ten days of trades and the cash
    assert JournalEntry.objects.count() == count


def test_a_trades_trace_shows_its_journals(twenty_day_run, db):  # noqa: ANN001
    trade_id = (
        Trade.objects.filter(status="settled")
        .order_by("trade_id")
        .values_list("trade_id", flat=True)
        .first()
    )
    assert {j["kind"] for j in selectors.journals_of_trade(trade_id)} >= {"trade", "settlement"}


def test_verify_ledger_finds_a_tampered_balance(twenty_day_run, db):  # noqa: ANN001
    LedgerBalance.objects.filter(pk=LedgerBalance.objects.first().pk).update(debit=Decimal("1"))
    with pytest.raises(Exception, match="FAILED"):
        call_command("verify_ledger")


def test_the_posting_sync_is_bounded_per_tick(twenty_day_run, db, django_assert_max_num_queries):  # noqa: ANN001
    from opssuite import pipeline

    with django_assert_max_num_queries(400):
        assert pipeline.tick_advance(worker="t").outcome == "ran"
    assert JournalEntry.objects.values("tick").annotate(n=Count("id")).exists()
