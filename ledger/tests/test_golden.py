"""A hand-worked sequence gives exactly the expected balances (GIVEN the book's own
services, WHEN the ledger syncs, THEN every account holds what a person worked out)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from book.models import FeeAccrual, Trade
from book.services import (
    entitlements_record,
    fee_accrue,
    settlements_process,
    trade_book,
    trade_cancel,
)
from ledger import selectors
from ledger.models import JournalEntry
from ledger.services import ledger_sync

from .conftest import fx_quote

D = Decimal
MON = dt.date(2015, 1, 5)
TUE = dt.date(2015, 1, 6)


def _at(day: dt.date, hour: int = 15) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def _book(ref, instrument, side, quantity, price, commission, day=MON):  # noqa: ANN001
    return trade_book(
        mandate_id=ref.mandate.pk,
        instrument_id=instrument.pk,
        side=side,
        quantity=D(quantity),
        price=D(price),
        commission=D(commission),
        trade_time=_at(day),
        broker_id=ref.broker.pk,
        trader_id=ref.trader.pk,
    )


def _balances(mandate, as_of: dt.date, basis: str = "trade") -> dict[tuple[str, str], Decimal]:
    tb = selectors.trial_balance(mandate, as_of=as_of, basis=basis)
    assert tb.totals["balanced"], tb.totals
    return {(r["account"], r["currency"]): r["balance"] for r in tb.rows}


def test_hand_worked_sequence(ref):  # noqa: ANN001
    fx_quote(ref.fx, "1.1000")
    # Buy 100 @ 10 + 1.00 commission: cost 1,001 (costs are part of cost, like the lots).
    _book(ref, ref.equity, "buy", "100", "10", "1.00")
    # Sell 40 @ 15 - 1.00: proceeds 599, FIFO cost 40 x 10.01 = 400.40, realized 198.60.
    _book(ref, ref.equity, "sell", "40", "15", "1.00")
    # Buy EUR 1,000 at 1.10: EUR owed to us, USD 1,100 owed by us, through 3200.
    _book(ref, ref.fx, "buy", "1000", "1.10", "0")
    # A buy that is then cancelled: posted, then reversed; nothing else moves.
    wrong = _book(ref, ref.equity, "buy", "10", "20", "1.00")
    ledger_sync(day=MON)
    trade_cancel(trade_id=wrong.trade_id, reason="booked in error")
    # A dividend of 0.50 on the 60 shares left, and a day's management fee.
    entitlements_record(
        instrument=ref.equity,
        kind="dividend",
        ex_date=TUE,
        pay_date=dt.date(2015, 1, 8),
        amount_per_unit=D("0.5"),
        holders={ref.mandate.pk: D(60)},
    )
    fee_accrue(mandate=ref.mandate, accrual_date=TUE, nav_basis=D("3650000"))
    fee = FeeAccrual.objects.get(mandate=ref.mandate, accrual_date=TUE).amount
    ledger_sync(day=TUE)

    assert _balances(ref.mandate, TUE) == {
        ("1100", "USD"): D("600.60"),  # 1,001 - 400.40 (the 201 buy and its reversal net out)
        ("1200", "USD"): D("599"),
        ("1200", "EUR"): D("1000"),
        ("1300", "USD"): D("30"),
        ("2000", "USD"): D("2101"),  # 1,001 equity + 1,100 for the euros
        ("2100", "USD"): fee,
        ("3200", "EUR"): D("1000"),  # credit-normal: EUR bought
        ("3200", "USD"): D("-1100"),  # USD sold: a debit on a credit-normal account
        ("4000", "USD"): D("198.60"),
        ("4200", "USD"): D("30"),
        ("5100", "USD"): fee,
    }
    assert fee == (D("3650000") * ref.mandate.management_fee_rate / 365).quantize(D("0.0001"))
    reversal = JournalEntry.objects.get(kind="reversal", trade_id=wrong.trade_id)
    assert reversal.reversal_of.trade_id == wrong.trade_id
    # The other trades of that mandate and instrument were re-checked and left alone.
    assert JournalEntry.objects.filter(kind="trade").count() == 4

    # Settlement: cash moves against the receivables and payables, which empty.
    settlements_process(as_of=dt.date(2015, 1, 9))
    ledger_sync(day=dt.date(2015, 1, 9), day_end=True)
    after = _balances(ref.mandate, dt.date(2015, 1, 9))
    assert after[("1000", "USD")] == D("599") - D("2101") + D("30")
    assert after[("1000", "EUR")] == D("1000")
    assert ("1200", "USD") not in after and ("2000", "USD") not in after
    assert ("1300", "USD") not in after
    assert selectors.ledger_vs_book(ref.mandate)["differences"] == []
    assert selectors.ledger_verify().ok


def test_settlement_basis_waits_for_settlement(ref):  # noqa: ANN001
    _book(ref, ref.equity, "buy", "100", "10", "1.00")
    ledger_sync(day=MON)
    trade = Trade.objects.get()
    # On the trade basis the purchase is on the books on the trade date ...
    assert _balances(ref.mandate, MON)[("1100", "USD")] == D("1001")
    # ... on the settlement basis only from its settlement date.
    assert _balances(ref.mandate, MON, "settlement") == {}
    settlements_process(as_of=trade.settlement_date)
    ledger_sync(day=trade.settlement_date, day_end=True)
    settled = _balances(ref.mandate, trade.settlement_date, "settlement")
    assert settled == {("1000", "USD"): D("-1001"), ("1100", "USD"): D("1001")}


def test_a_bond_redeemed_at_maturity_is_posted_like_a_sale_at_par(ref):  # noqa: ANN001
    from book.services import bond_redeem

    bond = ref.govt_bond
    _book(ref, bond, "buy", "100000", "98.5", "0")
    ledger_sync(day=MON)
    trade = Trade.objects.get()
    settlements_process(as_of=trade.settlement_date)
    ledger_sync(day=trade.settlement_date, day_end=True)
    maturity = bond.bond_terms.maturity_date
    bond_redeem(instrument=bond, pay_date=maturity)
    ledger_sync(day=maturity)
    at_maturity = _balances(ref.mandate, maturity)
    assert ("1100", "USD") not in at_maturity  # the lots' cost came out
    assert at_maturity[("1200", "USD")] == D("100000")  # par to come
    assert at_maturity[("4000", "USD")] == D("1500")  # 100,000 - 98,500
    settlements_process(as_of=maturity)
    ledger_sync(day=maturity, day_end=True)
    assert ("1200", "USD") not in _balances(ref.mandate, maturity)
    assert selectors.ledger_vs_book(ref.mandate)["differences"] == []
    assert selectors.ledger_verify().ok
