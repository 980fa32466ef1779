"""Booking trades: economics, positions, FIFO lots, cash, versions, events, rebuild."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from book import events
from book.models import (
    ActionApplication,
    BondTerms,
    CashBalance,
    CashMovement,
    Event,
    LotRelief,
    Position,
    TaxLot,
    Trade,
    TradeVersion,
)
from book.services import (
    TradeRequest,
    bond_redeem,
    capital_flow_record,
    corporate_action_announce,
    corporate_action_apply,
    positions_rebuild,
    settlements_process,
    trade_amend,
    trade_book,
    trade_cancel,
    trades_book,
)

D = Decimal
# 2015-03-02 is a Monday; 10:00 New York = 15:00 UTC.
MONDAY = dt.datetime(2015, 3, 2, 15, 0, tzinfo=dt.UTC)


def book(
    ref,
    *,
    side="buy",
    quantity="100",
    price="10",
    instrument=None,
    mandate=None,
    when=MONDAY,
    **extra,
):  # noqa: E501
    return trade_book(
        mandate_id=(mandate or ref.mandate).pk,
        instrument_id=(instrument or ref.equity).pk,
        side=side,
        quantity=D(quantity),
        price=D(price),
        trade_time=when,
        broker_id=ref.broker.pk,
        trader_id=ref.trader.pk,
        **extra,
    )


def test_a_buy_books_economics_position_lot_cash_version_and_event(ref):
    trade = book(ref, quantity="1000", price="25.50")
    assert trade.trade_id == "T-000001"
    assert trade.gross == D("25500.0000")
    assert trade.commission == D("5.1000")  # 2 bp of 25,500 is above the 5.00 minimum
    assert trade.net == D("25505.1000")
    assert trade.trade_date == dt.date(2015, 3, 2)
    assert trade.settlement_date == dt.date(2015, 3, 5)  # T+3 in 2015
    position = Position.objects.get(mandate=ref.mandate, instrument=ref.equity)
    assert (position.quantity, position.cost_basis) == (D("1000"), D("25505.1000"))
    lot = TaxLot.objects.get()
    assert lot.open_quantity == D("1000") and lot.unit_cost == D("25.50510000")
    cash = CashBalance.objects.get(mandate=ref.mandate, currency="USD")
    assert (cash.settled, cash.projected) == (D("0"), D("-25505.1000"))
    assert TradeVersion.objects.get(trade=trade).version == 1
    booked = Event.objects.get(kind=events.TRADE_BOOKED)
    assert (booked.trade_id, booked.mandate) == ("T-000001", "GEQ")


def test_the_minimum_commission_applies_to_small_trades(ref):
    assert book(ref, quantity="10", price="10").commission == D("5.0000")


def test_a_sell_relieves_lots_first_in_first_out(ref):
    book(ref, quantity="100", price="10", commission=D("0"))
    book(ref, quantity="100", price="12", commission=D("0"))
    sale = book(ref, side="sell", quantity="150", price="15", commission=D("0"))
    reliefs = list(LotRelief.objects.filter(closing_trade=sale).order_by("id"))
    assert [(r.quantity, r.realized_pnl) for r in reliefs] == [
        (D("100"), D("500.0000")),
        (D("50"), D("150.0000")),
    ]
    position = Position.objects.get(mandate=ref.mandate, instrument=ref.equity)
    assert (position.quantity, position.cost_basis, position.realized_pnl) == (
        D("50"),
        D("600.0000"),
        D("650.0000"),
    )


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"quantity": D("-5")}, "quantity"),
        ({"price": D("0")}, "price"),
        ({"side": "short"}, "side"),
        ({"when": dt.datetime(2015, 3, 1, 15, 0, tzinfo=dt.UTC)}, "trade_time"),  # a Sunday
        ({"settlement_date": dt.date(2015, 2, 27)}, "settlement_date"),
        ({"fees": D("-1")}, "fees"),
    ],
)
def test_bad_trades_are_refused_naming_the_field_and_nothing_is_written(ref, changes, field):
    with pytest.raises(ValidationError) as refused:
        book(ref, **changes)
    assert field in refused.value.message_dict
    assert not Trade.objects.exists() and not CashMovement.objects.exists()


def test_an_unknown_instrument_is_refused(ref):
    with pytest.raises(ValidationError) as refused:
        trade_book(
            mandate_id=ref.mandate.pk,
            instrument_id=999999,
            side="buy",
            quantity=D(1),
            price=D(1),
            trade_time=MONDAY,
            broker_id=ref.broker.pk,
            trader_id=ref.trader.pk,
        )
    assert "instrument" in refused.value.message_dict


def test_fx_spot_moves_two_currencies_and_opens_no_position(ref):
    trade = book(ref, instrument=ref.fx, quantity="1000000", price="1.1200")
    assert trade.settlement_date == dt.date(2015, 3, 4)  # T+2
    legs = dict(CashMovement.objects.filter(trade=trade).values_list("currency", "amount"))
    assert legs == {"EUR": D("1000000.0000"), "USD": D("-1120000.0000")}
    assert not Position.objects.exists()


def test_amend_adds_a_version_and_moves_cash_and_lots_with_it(ref):
    trade = book(ref, quantity="100", price="10", commission=D("0"))
    amended = trade_amend(
        trade_id=trade.trade_id, changes={"price": D("11")}, reason="broker corrected price"
    )  # noqa: E501
    assert (amended.version, amended.status, amended.net) == (2, "amended", D("1100.0000"))
    versions = list(TradeVersion.objects.filter(trade=trade).order_by("version"))
    assert [v.terms["price"] for v in versions] == ["10.00000000", "11.00000000"]
    assert versions[1].reason == "broker corrected price"
    assert CashBalance.objects.get(mandate=ref.mandate, currency="USD").projected == D("-1100.0000")
    assert TaxLot.objects.get().unit_cost == D("11")
    with pytest.raises(ValidationError) as refused:
        trade_amend(trade_id=trade.trade_id, changes={"side": "sell"}, reason="x")
    assert "side" in refused.value.message_dict


def test_cancel_keeps_history_and_unwinds_position_and_cash(ref):
    trade = book(ref, quantity="100", price="10")
    cancelled = trade_cancel(trade_id=trade.trade_id, reason="booked to the wrong mandate")
    assert (cancelled.status, cancelled.version) == ("cancelled", 2)
    assert Trade.objects.filter(trade_id=trade.trade_id).exists()
    assert not Position.objects.filter(quantity__gt=0).exists()
    assert CashBalance.objects.get(mandate=ref.mandate, currency="USD").projected == D("0")
    kinds = list(Event.objects.filter(trade_id=trade.trade_id).values_list("kind", flat=True))
    assert kinds == [events.TRADE_BOOKED, events.TRADE_CANCELLED]
    with pytest.raises(ValidationError):
        trade_cancel(trade_id=trade.trade_id, reason="again")
    with pytest.raises(ValidationError) as no_reason:
        trade_amend(trade_id=book(ref).trade_id, changes={"price": D("9")}, reason=" ")
    assert "reason" in no_reason.value.message_dict


def test_settlement_moves_trades_and_cash_on_the_settlement_date(ref):
    capital_flow_record(
        mandate=ref.mandate,
        kind="subscription",
        amount=D("1000000"),
        nav_per_unit=D("100"),
        trade_date=dt.date(2015, 3, 2),
    )  # noqa: E501
    trade = book(ref, quantity="100", price="10", commission=D("0"))
    failing = book(ref, instrument=ref.equity2, quantity="10", price="10", commission=D("0"))
    early = settlements_process(as_of=dt.date(2015, 3, 4))
    assert early.trades_settled == 0
    summary = settlements_process(
        as_of=dt.date(2015, 3, 5), failed_trade_ids=frozenset({failing.trade_id})
    )  # noqa: E501
    assert (summary.trades_settled, summary.trades_failed) == (1, 1)
    trade.refresh_from_db()
    failing.refresh_from_db()
    assert (trade.status, failing.status) == ("settled", "executed")
    cash = CashBalance.objects.get(mandate=ref.mandate, currency="USD")
    assert cash.settled == D("1000000") - D("1000")
    assert cash.projected == D("1000000") - D("1000") - D("100")
    ref.mandate.refresh_from_db()
    assert ref.mandate.units_outstanding == D("10000")


def test_a_redemption_beyond_the_units_is_refused(ref):
    with pytest.raises(ValidationError) as refused:
        capital_flow_record(
            mandate=ref.mandate,
            kind="redemption",
            amount=D("1000"),
            nav_per_unit=D("100"),
            trade_date=dt.date(2015, 3, 2),
        )  # noqa: E501
    assert "amount" in refused.value.message_dict


def _snapshot():
    positions = sorted(
        Position.objects.values_list(
            "mandate_id", "instrument_id", "quantity", "cost_basis", "realized_pnl"
        )
    )  # noqa: E501
    lots = sorted(
        TaxLot.objects.exclude(open_quantity=0).values_list(
            "mandate_id",
            "instrument_id",
            "open_date",
            "original_quantity",
            "open_quantity",
            "unit_cost",
        )
    )  # noqa: E501
    reliefs = sorted(
        LotRelief.objects.values_list(
            "lot__mandate_id",
            "lot__instrument_id",
            "closing_trade__trade_id",
            "closing_action__application_id",
            "quantity",
            "realized_pnl",
        ),
        key=repr,
    )
    cash = sorted(CashBalance.objects.values_list("mandate_id", "currency", "settled", "projected"))
    return positions, lots, reliefs, cash


def _rebuilt():
    """The books as positions_rebuild makes them, without keeping its work."""
    with transaction.atomic():
        positions_rebuild()
        rebuilt = _snapshot()
        transaction.set_rollback(True)
    return rebuilt


def test_incremental_books_equal_a_rebuild_after_a_long_random_run(ref):
    # GIVEN a bond that matures on the fifth Monday, and two splits on the way: one applied
    # after trades of its ex-date were booked, one before; and a trade booked late
    rng = random.Random(42)
    bond = ref.govt_bond
    BondTerms.objects.filter(instrument=bond).update(maturity_date=dt.date(2015, 3, 30))
    bond.refresh_from_db()
    instruments = [ref.equity, ref.equity2, ref.fx, bond]
    mandates = [ref.mandate, ref.other_mandate]
    day = dt.datetime(2015, 3, 2, 15, 0, tzinfo=dt.UTC)
    splits = {
        9: (ref.equity, dt.date(2015, 3, 9), D(2)),  # late: Monday 9th's trades are booked
        15: (ref.equity2, dt.date(2015, 3, 23), D("0.1")),  # on time: before the 23rd's
    }
    booked: list[str] = []
    for batch in range(30):
        when = day + dt.timedelta(days=7 * (batch // 5))  # Mondays
        if batch in splits:
            instrument, ex_date, ratio = splits[batch]
            action = corporate_action_announce(
                instrument=instrument, kind="split", ex_date=ex_date, pay_date=ex_date, ratio=ratio
            )
            corporate_action_apply(action=action, tick=batch)
        if batch == 20:  # Monday 30th, before it trades: the bond is redeemed
            assert bond_redeem(instrument=bond, pay_date=when.date(), tick=batch)
            instruments.remove(bond)
        if batch == 12:  # a trade of Tuesday 3rd (before the first split) booked late
            book(
                ref,
                mandate=ref.other_mandate,
                quantity="37",
                price="20",
                when=day + dt.timedelta(days=1),
                source="manual",
            )
        requests = [
            TradeRequest(
                mandate_id=rng.choice(mandates).pk,
                instrument_id=rng.choice(instruments).pk,
                side=rng.choice(["buy", "buy", "sell"]),
                quantity=D(rng.randint(1, 500)),
                price=D(rng.randint(800, 1200)) / D(100),
                trade_time=when,
                broker_id=ref.broker.pk,
                trader_id=ref.trader.pk,
                source="simulator",
            )
            for _ in range(rng.randint(1, 8))
        ]
        booked += [t.trade_id for t in trades_book(requests)]
        open_ids = sorted(
            Trade.objects.exclude(status__in=["settled", "cancelled"]).values_list(
                "trade_id", flat=True
            )  # noqa: E501
        )
        if batch % 4 == 3 and open_ids:
            trade_amend(
                trade_id=rng.choice(open_ids),
                changes={"quantity": D(rng.randint(1, 300))},
                reason="fix",
            )  # noqa: E501
        if batch % 6 == 5 and open_ids:
            trade_cancel(trade_id=rng.choice(open_ids), reason="error")
        if batch % 5 == 4:
            settlements_process(as_of=when.date() + dt.timedelta(days=3))
        # After every batch, a rebuild (rolled back) gives what the bookings gave.
        assert _rebuilt() == _snapshot(), f"after batch {batch}"
    before = _snapshot()
    assert before[0] and before[1] and before[2] and before[3]
    # The run did what it set out to: splits applied, the bond redeemed, lots closed by it.
    assert ActionApplication.objects.filter(corporate_action__kind="split").count() >= 3
    assert LotRelief.objects.filter(closing_action__isnull=False).exists()
    assert not Position.objects.filter(instrument=bond).exclude(quantity=0).exists()
    # WHEN everything is rebuilt from trades and applied actions THEN nothing moves
    positions_rebuild()
    assert _snapshot() == before


def test_booking_queries_do_not_grow_with_the_batch(ref):
    def requests(n, offset):
        return [
            TradeRequest(
                mandate_id=ref.mandate.pk,
                instrument_id=(ref.equity if i % 2 else ref.equity2).pk,
                side="buy",
                quantity=D(10 + i),
                price=D("10"),
                trade_time=MONDAY,
                broker_id=ref.broker.pk,
                trader_id=ref.trader.pk,
                source="simulator",
            )
            for i in range(offset, offset + n)
        ]

    trades_book(requests(2, 0))  # positions exist from here on
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        trades_book(requests(5, 10))
    with CaptureQueriesContext(connection) as large:
        trades_book(requests(120, 100))

    # Inserts are chunked by the backend's parameter limit (SQLite: 999 per statement);
    # every other statement is one per batch, however many trades or positions.
    def not_inserts(captured):
        return [
            q["sql"][:40] for q in captured.captured_queries if not q["sql"].startswith("INSERT")
        ]  # noqa: E501

    assert len(not_inserts(large)) == len(not_inserts(small))
    assert len(large.captured_queries) < 60
