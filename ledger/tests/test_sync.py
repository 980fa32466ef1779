"""The ledger over a simulated run: everything the book did is posted, every trial balance
balances, the chain verifies, and ledger and book agree - or the check names the trades."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Count

from book.models import CapitalFlow, FeeAccrual, IncomeEntitlement, Mandate, Trade
from book.services import trade_book, trade_cancel
from ledger import selectors
from ledger.models import JournalEntry, LedgerBalance

from .conftest import DAY, run_ticks, use_scenario


@pytest.fixture
def two_days(sim_universe):  # noqa: ANN001
    use_scenario("clean")
    run_ticks(2 * DAY)


def test_a_run_posts_everything_and_balances_every_day(two_days):  # noqa: ANN001
    live = Trade.objects.exclude(status="cancelled")
    posted = set(
        JournalEntry.objects.filter(kind="trade", reversed_by__isnull=True).values_list(
            "trade_id", flat=True
        )
    )
    assert posted == set(live.values_list("trade_id", flat=True))
    settled = set(live.filter(status="settled").values_list("trade_id", flat=True))
    assert settled and settled <= set(
        JournalEntry.objects.filter(kind="settlement").values_list("trade_id", flat=True)
    )
    keys = set(JournalEntry.objects.values_list("source_key", flat=True))
    assert {f"flow:{f}" for f in CapitalFlow.objects.values_list("flow_id", flat=True)} <= keys
    assert {
        f"income:{i}" for i in IncomeEntitlement.objects.values_list("income_id", flat=True)
    } <= keys
    assert (
        FeeAccrual.objects.exclude(amount=0).count()
        == JournalEntry.objects.filter(kind="fee").count()
    )
    assert JournalEntry.objects.filter(kind="mtm").values("accounting_date").distinct().count() == 2
    days = sorted(set(LedgerBalance.objects.values_list("day", flat=True)))
    for mandate in Mandate.objects.all():
        for day in days:
            for basis in ("trade", "settlement"):
                tb = selectors.trial_balance(mandate, as_of=day, basis=basis)
                assert tb.totals["balanced"], (mandate.code, day, basis, tb.totals)
            sheet = selectors.balance_sheet(mandate, as_of=day)
            assert sheet["balanced"], (mandate.code, day)
    assert selectors.ledger_verify().ok
    assert selectors.ledger_vs_book()["differences"] == []
    # The trace of a trade shows its journals.
    trade_id = next(iter(settled))
    journals = selectors.journals_of_trade(trade_id)
    assert {j["kind"] for j in journals} >= {"trade", "settlement"}


def test_replaying_the_sync_posts_nothing_new(two_days):  # noqa: ANN001
    count = JournalEntry.objects.count()
    call_command("ledger_sync")  # re-reads the last ten days of trades and the cash
    assert JournalEntry.objects.count() == count


def test_ledger_vs_book_names_a_trade_the_ledger_has_not_posted(two_days):  # noqa: ANN001
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
    report = selectors.ledger_vs_book(mandate)
    payable = [d for d in report["differences"] if d["check"] == "payable"]
    assert payable and manual.trade_id in payable[0]["trade_ids"]
    assert any(d["check"] == "securities_at_cost" for d in report["differences"])
    # The next sync posts it, and the ledger and the book agree again.
    call_command("ledger_sync")
    assert selectors.ledger_vs_book(mandate)["differences"] == []
    # A cancellation: the reversal and the re-checked FIFO keep them in agreement.
    trade_cancel(trade_id=manual.trade_id, reason="test")
    call_command("ledger_sync")
    assert selectors.ledger_vs_book(mandate)["differences"] == []
    assert JournalEntry.objects.filter(trade_id=manual.trade_id, kind="reversal").exists()
    assert selectors.ledger_verify().ok


def test_verify_ledger_command(two_days, capsys):  # noqa: ANN001
    call_command("verify_ledger")
    assert "ledger verified" in capsys.readouterr().out
    LedgerBalance.objects.filter(pk=LedgerBalance.objects.first().pk).update(debit=Decimal("1"))
    with pytest.raises(Exception, match="FAILED"):
        call_command("verify_ledger")


def test_the_posting_sync_is_bounded_per_tick(two_days, django_assert_max_num_queries):  # noqa: ANN001
    from opssuite import pipeline

    with django_assert_max_num_queries(400):
        assert pipeline.tick_advance(worker="t").outcome == "ran"
    assert JournalEntry.objects.values("tick").annotate(n=Count("id")).exists()
