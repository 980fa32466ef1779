"""Property tests over random sequences of book events (hypothesis): whatever happens in
the book, every entry balances, every trial balance balances, the stored balances equal a
recomputation from the lines, the ledger agrees with the book, and a reversal restores the
prior balances exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from book.models import Trade
from book.services import capital_flow_record, fee_accrue, trade_amend, trade_book, trade_cancel
from ledger import selectors
from ledger.engine import reversal
from ledger.services import chart_ensure, draft_from_request, journals_post, ledger_sync

from .conftest import fx_quote

DAYS = [dt.date(2015, 1, 5), dt.date(2015, 1, 6), dt.date(2015, 1, 7)]
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)
trade_op = st.tuples(
    st.just("trade"),
    st.sampled_from(["buy", "buy", "sell"]),
    st.integers(0, 2),  # which instrument: two equities and EURUSD
    st.integers(1, 400),
    money,
    st.decimals(min_value=Decimal(0), max_value=Decimal(20), places=2),
)
ops = st.lists(
    st.one_of(
        trade_op,
        trade_op,
        st.tuples(st.just("cancel"), st.integers(0, 50)),
        st.tuples(st.just("amend"), st.integers(0, 50), money),
        st.tuples(st.just("fee"), st.integers(100_000, 10_000_000)),
        st.tuples(st.just("flow"), st.sampled_from(["subscription", "redemption"]), money),
        st.tuples(
            st.just("sync"),
        ),
    ),
    min_size=1,
    max_size=14,
)


def _apply(ref, op, day: dt.date) -> None:  # noqa: ANN001
    kind = op[0]
    if kind == "trade":
        _, side, which, quantity, price, commission = op
        instrument = (ref.equity, ref.equity2, ref.fx)[which]
        if instrument.asset_class == "fx":
            price = (Decimal("1") + price / Decimal(50_000)).quantize(Decimal("0.0001"))
            commission = Decimal(0)
        trade_book(
            mandate_id=ref.mandate.pk,
            instrument_id=instrument.pk,
            side=side,
            quantity=Decimal(quantity),
            price=price,
            commission=commission,
            trade_time=dt.datetime(day.year, day.month, day.day, 16, tzinfo=dt.UTC),
            broker_id=ref.broker.pk,
            trader_id=ref.trader.pk,
        )
    elif kind in ("cancel", "amend"):
        live = list(Trade.objects.exclude(status="cancelled").order_by("id"))
        if not live:
            return
        trade = live[op[1] % len(live)]
        if kind == "cancel":
            trade_cancel(trade_id=trade.trade_id, reason="property test")
        elif trade.instrument.asset_class != "fx":
            trade_amend(trade_id=trade.trade_id, changes={"price": op[2]}, reason="property test")
    elif kind == "fee":
        fee_accrue(mandate=ref.mandate, accrual_date=day, nav_basis=Decimal(op[1]))
    elif kind == "flow":
        amount = op[2]
        if op[1] == "redemption" and amount / Decimal(100) > ref.mandate.units_outstanding:
            return
        capital_flow_record(
            mandate=ref.mandate,
            kind=op[1],
            amount=amount,
            nav_per_unit=Decimal(100),
            trade_date=day,
        )
    elif kind == "sync":
        ledger_sync(day=day)


@SETTINGS
@given(sequence=ops)
def test_random_book_events_keep_the_ledger_whole(ref, sequence):  # noqa: ANN001
    with transaction.atomic():
        fx_quote(ref.fx, "1.2000")
        chart_ensure()
        for index, op in enumerate(sequence):
            _apply(ref, op, DAYS[min(index // 5, 2)])
        ledger_sync(day=DAYS[-1])
        report = selectors.ledger_verify()
        assert report.ok, report.problems
        for day in DAYS:
            for basis in ("trade", "settlement"):
                assert selectors.trial_balance(ref.mandate, as_of=day, basis=basis).totals[
                    "balanced"
                ]
        differences = selectors.ledger_vs_book(ref.mandate)["differences"]
        assert differences == [], differences
        transaction.set_rollback(True)


line = st.tuples(
    st.sampled_from(["1000", "1200", "1300", "2000", "2100", "3000", "4200", "5100"]),
    st.sampled_from(["USD", "EUR"]),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1000000"), places=4),
)


@SETTINGS
@given(lines=st.lists(line, min_size=1, max_size=6))
def test_a_reversal_restores_the_prior_balances_exactly(ref, lines):  # noqa: ANN001
    with transaction.atomic():
        fx_quote(ref.fx, "1.2000")
        chart_ensure()
        day = DAYS[0]
        # A balanced entry from random debits: each currency's debits against 3100.
        entry_lines = [(a, c, "D", amount, None, "") for a, c, amount in lines]
        for currency in {c for _, c, _ in lines}:
            total = sum(amount for _, c, amount in lines if c == currency)
            entry_lines.append(("3100", currency, "C", total, None, ""))
        rates = {"EUR": Decimal("1.2")}

        def snapshot() -> dict:
            tb = selectors.trial_balance(ref.mandate, as_of=DAYS[-1])
            return {(r["account"], r["currency"]): r["base_balance"] for r in tb.rows}

        journals_post(
            [
                draft_from_request(
                    source_key="base",
                    mandate=ref.mandate.code,
                    base_currency="USD",
                    accounting_date=day,
                    description="base",
                    lines=[
                        ("1000", "USD", "D", Decimal("1"), None, ""),
                        ("3000", "USD", "C", Decimal("1"), None, ""),
                    ],
                    rates=rates,
                )
            ]
        )
        before = snapshot()
        draft = draft_from_request(
            source_key="random",
            mandate=ref.mandate.code,
            base_currency="USD",
            accounting_date=day,
            description="random",
            lines=entry_lines,
            rates=rates,
        )
        journals_post([draft])
        journals_post([reversal(draft, accounting_date=DAYS[1], reason="property")])
        assert snapshot() == before
        assert selectors.ledger_verify().ok
        transaction.set_rollback(True)
