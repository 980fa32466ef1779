"""Dividends, coupons and management fees in the book."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from book.models import CashBalance, CashMovement, FeeAccrual, IncomeEntitlement
from book.services import (
    capital_flow_record,
    corporate_action_announce,
    entitlements_record,
    fee_accrue,
    fees_pay,
    holdings_before,
    settlements_process,
    trade_book,
)

D = Decimal
MONDAY = dt.datetime(2015, 3, 2, 15, 0, tzinfo=dt.UTC)


def _buy(ref, quantity, when=MONDAY, mandate=None):
    return trade_book(
        mandate_id=(mandate or ref.mandate).pk,
        instrument_id=ref.equity.pk,
        side="buy",
        quantity=D(quantity),
        price=D("10"),
        trade_time=when,
        broker_id=ref.broker.pk,
        trader_id=ref.trader.pk,
        commission=D(0),
    )


def test_holders_of_record_exclude_trades_on_the_ex_date(ref):
    _buy(ref, "100")
    _buy(ref, "50", when=MONDAY + dt.timedelta(days=2), mandate=ref.other_mandate)  # Wednesday
    assert holdings_before(ref.equity.pk, dt.date(2015, 3, 4)) == {ref.mandate.pk: D("100")}
    assert holdings_before(ref.equity.pk, dt.date(2015, 3, 5)) == {
        ref.mandate.pk: D("100"),
        ref.other_mandate.pk: D("50"),
    }


def test_a_dividend_accrues_on_the_ex_date_and_is_paid_on_the_pay_date(ref):
    _buy(ref, "100")
    action = corporate_action_announce(
        instrument=ref.equity,
        kind="cash_dividend",
        ex_date=dt.date(2015, 3, 10),
        pay_date=dt.date(2015, 3, 31),
        amount_per_unit=D("0.25"),
    )
    again = corporate_action_announce(
        instrument=ref.equity,
        kind="cash_dividend",
        ex_date=dt.date(2015, 3, 10),
        pay_date=dt.date(2015, 3, 31),
        amount_per_unit=D("0.25"),
    )
    assert again.pk == action.pk
    holders = holdings_before(ref.equity.pk, action.ex_date)
    rows = entitlements_record(
        instrument=ref.equity,
        kind="dividend",
        ex_date=action.ex_date,
        pay_date=action.pay_date,
        amount_per_unit=action.amount_per_unit,
        holders=holders,
        corporate_action=action,
    )
    assert [(r.quantity, r.amount, r.status) for r in rows] == [(D("100"), D("25.0000"), "accrued")]  # noqa: E501
    assert (
        entitlements_record(
            instrument=ref.equity,
            kind="dividend",
            ex_date=action.ex_date,
            pay_date=action.pay_date,
            amount_per_unit=action.amount_per_unit,
            holders=holders,
        )
        == []
    )
    settlements_process(as_of=dt.date(2015, 3, 30))
    assert IncomeEntitlement.objects.get().status == "accrued"
    settlements_process(as_of=dt.date(2015, 3, 31))
    assert IncomeEntitlement.objects.get().status == "paid"
    move = CashMovement.objects.get(kind="dividend")
    assert (move.amount, move.status) == (D("25.0000"), "settled")


def test_a_dividend_needs_a_positive_amount_and_a_later_pay_date(ref):
    with pytest.raises(ValidationError) as refused:
        corporate_action_announce(
            instrument=ref.equity,
            kind="cash_dividend",
            ex_date=dt.date(2015, 3, 10),
            pay_date=dt.date(2015, 3, 9),
            amount_per_unit=D("0"),
        )
    assert {"pay_date", "amount_per_unit"} <= set(refused.value.message_dict)


def test_fees_accrue_daily_and_are_paid_from_cash(ref):
    capital_flow_record(
        mandate=ref.mandate,
        kind="subscription",
        amount=D("1000000"),
        nav_per_unit=D("100"),
        trade_date=dt.date(2015, 3, 2),
    )  # noqa: E501
    rate = ref.mandate.management_fee_rate
    first = fee_accrue(
        mandate=ref.mandate, accrual_date=dt.date(2015, 3, 2), nav_basis=D("1000000")
    )  # noqa: E501
    assert first.amount == (D("1000000") * rate / 365).quantize(D("0.0001"))
    assert (
        fee_accrue(mandate=ref.mandate, accrual_date=dt.date(2015, 3, 2), nav_basis=D("1")) is None
    )  # noqa: E501
    fee_accrue(mandate=ref.mandate, accrual_date=dt.date(2015, 3, 3), nav_basis=D("1000000"))
    paid = fees_pay(mandate=ref.mandate, pay_date=dt.date(2015, 3, 31))
    assert paid == first.amount * 2
    assert not FeeAccrual.objects.filter(paid=False).exists()
    assert fees_pay(mandate=ref.mandate, pay_date=dt.date(2015, 3, 31)) == 0
    settlements_process(as_of=dt.date(2015, 3, 31))
    cash = CashBalance.objects.get(mandate=ref.mandate, currency="USD")
    assert cash.settled == D("1000000") - paid
