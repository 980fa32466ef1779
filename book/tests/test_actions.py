"""Corporate actions on holdings: splits on their ex-date, bonds redeemed at maturity, and
positions replayed in date order (actions before the trades of their date)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from book import events
from book.models import (
    ActionApplication,
    BondTerms,
    CashBalance,
    CashMovement,
    CorporateAction,
    Event,
    Instrument,
    LotRelief,
    Mandate,
    Position,
    TaxLot,
)
from book.selectors import positions_as_of
from book.services import (
    bond_redeem,
    corporate_action_announce,
    corporate_action_apply,
    positions_rebuild,
    settlements_process,
    trade_book,
)

D = Decimal
MONDAY = dt.datetime(2015, 3, 2, 15, 0, tzinfo=dt.UTC)
TUESDAY, WEDNESDAY = MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=2)


def _trade(ref, side, quantity, price, when=MONDAY, mandate=None, instrument=None, **extra):
    return trade_book(
        mandate_id=(mandate or ref.mandate).pk,
        instrument_id=(instrument or ref.equity).pk,
        side=side,
        quantity=D(quantity),
        price=D(price),
        trade_time=when,
        broker_id=ref.broker.pk,
        trader_id=ref.trader.pk,
        commission=D(0),
        **extra,
    )


def _split(ref, ratio, ex_date=dt.date(2015, 3, 4), instrument=None):
    return corporate_action_announce(
        instrument=instrument or ref.equity,
        kind="split",
        ex_date=ex_date,
        pay_date=ex_date,
        ratio=D(ratio),
    )


def _position(ref, mandate=None, instrument=None):
    return Position.objects.get(mandate=mandate or ref.mandate, instrument=instrument or ref.equity)


def _open_lots(ref, mandate=None, instrument=None):
    return list(
        TaxLot.objects.filter(mandate=mandate or ref.mandate, instrument=instrument or ref.equity)
        .exclude(open_quantity=0)
        .order_by("open_date", "id")
        .values_list("open_date", "original_quantity", "open_quantity", "unit_cost")
    )


def _books():
    positions = sorted(
        Position.objects.values_list(
            "mandate_id", "instrument_id", "quantity", "cost_basis", "realized_pnl"
        )
    )
    lots = sorted(
        TaxLot.objects.exclude(open_quantity=0).values_list(
            "mandate_id",
            "instrument_id",
            "open_date",
            "original_quantity",
            "open_quantity",
            "unit_cost",
        )
    )
    reliefs = sorted(
        LotRelief.objects.values_list(
            "lot__mandate_id", "lot__open_date", "quantity", "unit_proceeds", "realized_pnl"
        )
    )
    return positions, lots, reliefs


# --- splits ------------------------------------------------------------------------------


def test_a_split_multiplies_the_open_lots_and_keeps_the_cost(ref):
    # GIVEN two lots, one partly sold
    _trade(ref, "buy", "100", "10")
    _trade(ref, "buy", "50", "12")
    _trade(ref, "sell", "30", "11")
    before = _position(ref)
    assert (before.quantity, before.cost_basis, before.realized_pnl) == (D(120), D(1300), D(30))
    cash_moves = CashMovement.objects.count()
    # WHEN a 2-for-1 split goes ex on Wednesday
    applied = corporate_action_apply(action=_split(ref, "2"), tick=7)
    # THEN each open lot doubles at half the unit cost; cost and realized P&L stay
    assert [(a.quantity_before, a.quantity_after) for a in applied] == [(D(120), D(240))]
    after = _position(ref)
    assert (after.quantity, after.cost_basis, after.realized_pnl) == (D(240), D(1300), D(30))
    assert _open_lots(ref) == [
        (dt.date(2015, 3, 2), D(200), D(140), D(5)),
        (dt.date(2015, 3, 2), D(100), D(100), D(6)),
    ]
    assert CashMovement.objects.count() == cash_moves  # no cash
    event = Event.objects.get(kind=events.ACTION_APPLIED)
    assert (event.mandate, event.instrument, event.tick) == ("GEQ", ref.equity.ticker, 7)
    assert event.payload == {
        "application_id": applied[0].application_id,
        "action": "split",
        "ex_date": "2015-03-04",
        "ratio": "2",
        "quantity_before": "120.000000",
        "quantity_after": "240.000000",
        "cost_basis": "1300.0000",
    }
    # AND a sale after the split realizes P&L against the split cost
    _trade(ref, "sell", "240", "6", when=WEDNESDAY)
    assert _position(ref).realized_pnl == D(30) + D(240 * 6 - 1300)


def test_applying_a_split_twice_does_nothing_the_second_time(ref):
    _trade(ref, "buy", "100", "10")
    action = _split(ref, "3")
    assert len(corporate_action_apply(action=action)) == 1
    lots, events_before = _open_lots(ref), Event.objects.count()
    assert corporate_action_apply(action=action) == []
    assert _open_lots(ref) == lots and _position(ref).quantity == D(300)
    assert Event.objects.count() == events_before
    assert ActionApplication.objects.count() == 1


@pytest.mark.parametrize(
    "ratio, bought, quantity, unit_cost",
    [
        ("1.5", "101", D("151.5"), D("6.66666667")),  # 3:2 keeps the half share
        ("0.1", "105", D("10.5"), D("100")),  # 1:10 reverse split
    ],
)
def test_fractional_and_reverse_splits_keep_fractions_and_cost(
    ref, ratio, bought, quantity, unit_cost
):
    _trade(ref, "buy", bought, "10")
    corporate_action_apply(action=_split(ref, ratio))
    position = _position(ref)
    assert position.quantity == quantity
    assert position.cost_basis == D(bought) * 10  # within the unit cost's 8-dp rounding
    assert _open_lots(ref)[0][2:] == (quantity, unit_cost)


def test_a_split_only_touches_holders_and_can_skip_and_later_apply_one(ref):
    _trade(ref, "buy", "100", "10")
    _trade(ref, "buy", "40", "10", mandate=ref.other_mandate)
    _trade(ref, "buy", "10", "10", instrument=ref.equity2)
    action = _split(ref, "2")
    # A holder the operations team missed is skipped ...
    applied = corporate_action_apply(action=action, skip_mandate_ids=[ref.other_mandate.pk])
    assert [a.mandate_id for a in applied] == [ref.mandate.pk]
    assert _position(ref, mandate=ref.other_mandate).quantity == D(40)
    assert _position(ref, instrument=ref.equity2).quantity == D(10)
    # ... and applied when found: only that holder moves.
    later = corporate_action_apply(action=action)
    assert [a.mandate_id for a in later] == [ref.other_mandate.pk]
    assert _position(ref, mandate=ref.other_mandate).quantity == D(80)
    assert _position(ref).quantity == D(200)


def test_a_split_applied_late_leaves_the_trades_of_its_ex_date_alone(ref):
    # GIVEN a holding, and a purchase on the ex-date booked (in split units) first
    _trade(ref, "buy", "100", "10")
    _trade(ref, "buy", "10", "5.5", when=WEDNESDAY)
    # WHEN the split is applied afterwards
    applied = corporate_action_apply(action=_split(ref, "2"))
    # THEN only the holding before the ex-date is split
    assert [(a.quantity_before, a.quantity_after) for a in applied] == [(D(100), D(200))]
    assert _position(ref).quantity == D(210)
    assert _open_lots(ref) == [
        (dt.date(2015, 3, 2), D(200), D(200), D(5)),
        (dt.date(2015, 3, 4), D(10), D(10), D("5.5")),
    ]
    books = _books()
    positions_rebuild()
    assert _books() == books


def test_a_trade_dated_before_an_applied_split_is_replayed_in_date_order(ref):
    # GIVEN a split applied on Wednesday to Monday's holding
    _trade(ref, "buy", "100", "10")
    corporate_action_apply(action=_split(ref, "2"))
    _trade(ref, "buy", "20", "5.2", when=WEDNESDAY)
    # WHEN Tuesday's purchase is booked late (pre-split units and price)
    _trade(ref, "buy", "50", "10.4", when=TUESDAY, source="manual")
    # THEN it is split too, and its lot sits between Monday's and Wednesday's (FIFO by date)
    assert _position(ref).quantity == D(200 + 100 + 20)
    assert _open_lots(ref) == [
        (dt.date(2015, 3, 2), D(200), D(200), D(5)),
        (dt.date(2015, 3, 3), D(100), D(100), D("5.2")),
        (dt.date(2015, 3, 4), D(20), D(20), D("5.2")),
    ]
    assert ActionApplication.objects.get().quantity_before == D(150)
    books = _books()
    positions_rebuild()
    assert _books() == books


def test_positions_as_of_a_date_count_the_split_from_its_ex_date(ref):
    _trade(ref, "buy", "100", "10")
    corporate_action_apply(action=_split(ref, "2"))
    _trade(ref, "sell", "30", "5", when=WEDNESDAY)

    def quantity(day):
        rows = [
            r for r in positions_as_of(day, mandate=ref.mandate) if r["ticker"] == ref.equity.ticker
        ]  # noqa: E501
        return rows[0]["quantity"] if rows else None

    assert quantity(dt.date(2015, 3, 3)) == D(100)
    assert quantity(dt.date(2015, 3, 4)) == D(170) == _position(ref).quantity


def test_only_a_split_with_a_ratio_is_applied_to_holdings(ref):
    dividend = corporate_action_announce(
        instrument=ref.equity,
        kind="cash_dividend",
        ex_date=dt.date(2015, 3, 4),
        pay_date=dt.date(2015, 3, 20),
        amount_per_unit=D("0.5"),
    )
    with pytest.raises(ValidationError) as refused:
        corporate_action_apply(action=dividend)
    assert "kind" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        _split(ref, "1")
    assert "ratio" in refused.value.message_dict


# --- redemptions at maturity -------------------------------------------------------------


@pytest.fixture
def bond(ref) -> Instrument:
    return Instrument.objects.select_related("bond_terms").get(pk=ref.govt_bond.pk)


def test_a_bond_held_at_maturity_is_redeemed_at_par(ref, bond):
    # GIVEN a long bought below par, a long bought above par, and a short
    third = Mandate.objects.exclude(pk__in=[ref.mandate.pk, ref.other_mandate.pk]).first()
    _trade(ref, "buy", "100000", "98.5", instrument=bond)
    _trade(ref, "buy", "50000", "101", instrument=bond, mandate=ref.other_mandate)
    _trade(ref, "sell", "10000", "100.5", instrument=bond, mandate=third)
    maturity = bond.bond_terms.maturity_date
    pay_date = maturity + dt.timedelta(days=2)  # as if it matured on a holiday
    # WHEN it is redeemed
    applied = bond_redeem(instrument=bond, pay_date=pay_date, tick=40)
    # THEN every holding is closed at 100, realizing proceeds less cost, with cash to come
    got = {a.mandate_id: (a.quantity_before, a.cash_amount, a.realized_pnl) for a in applied}
    assert got == {
        ref.mandate.pk: (D(100000), D(100000), D(1500)),
        ref.other_mandate.pk: (D(50000), D(50000), D(-500)),
        third.pk: (D(-10000), D(-10000), D(50)),
    }
    for mandate, realized in ((ref.mandate, 1500), (ref.other_mandate, -500), (third, 50)):
        position = _position(ref, mandate=mandate, instrument=bond)
        assert (position.quantity, position.cost_basis, position.realized_pnl) == (0, 0, realized)
    assert not _open_lots(ref, instrument=bond)
    reliefs = LotRelief.objects.filter(closing_action__isnull=False)
    assert sorted(reliefs.values_list("quantity", "unit_proceeds")) == [
        (D(-10000), D(1)),
        (D(50000), D(1)),
        (D(100000), D(1)),
    ]
    moves = CashMovement.objects.filter(kind="maturity")
    assert sorted(moves.values_list("amount", "value_date", "status")) == [
        (D(-10000), pay_date, "projected"),
        (D(50000), pay_date, "projected"),
        (D(100000), pay_date, "projected"),
    ]
    redeemed = Event.objects.get(kind=events.BOND_REDEEMED, mandate=ref.mandate.code)
    assert redeemed.payload == {
        "application_id": next(a.application_id for a in applied if a.mandate == ref.mandate),
        "maturity_date": maturity.isoformat(),
        "pay_date": pay_date.isoformat(),
        "quantity": "100000.000000",
        "redemption_price": "100",
        "proceeds": "100000.0000",
        "cost": "98500.0000",
        "realized_pnl": "1500.0000",
        "currency": "USD",
    }
    # AND the bond is no longer traded
    bond.refresh_from_db()
    assert not bond.active
    assert Event.objects.filter(kind=events.BOND_MATURED, instrument=bond.ticker).count() == 1
    with pytest.raises(ValidationError):
        _trade(ref, "buy", "1000", "100", instrument=bond, when=MONDAY)
    # AND the proceeds settle on the pay date
    settlements_process(as_of=pay_date)
    cash = CashBalance.objects.get(mandate=ref.mandate, currency="USD")
    assert cash.settled == D(100000) - D(98500) - _trade_accrued(ref, bond)


def _trade_accrued(ref, bond):
    trade = bond.trades.get(mandate=ref.mandate)
    return trade.accrued_interest


def test_a_redemption_is_applied_once_and_replayed_by_a_rebuild(ref, bond):
    _trade(ref, "buy", "20000", "99", instrument=bond)
    _trade(ref, "sell", "5000", "99.5", instrument=bond, when=TUESDAY)
    maturity = bond.bond_terms.maturity_date
    assert len(bond_redeem(instrument=bond, pay_date=maturity)) == 1
    moves, events_before = CashMovement.objects.count(), Event.objects.count()
    assert bond_redeem(instrument=bond, pay_date=maturity) == []
    assert (CashMovement.objects.count(), Event.objects.count()) == (moves, events_before)
    books = _books()
    positions_rebuild()
    assert _books() == books


def test_only_a_bond_is_redeemed_and_not_before_it_matures(ref, bond):
    with pytest.raises(ValidationError) as refused:
        bond_redeem(instrument=ref.equity, pay_date=dt.date(2030, 1, 2))
    assert "instrument" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        bond_redeem(instrument=bond, pay_date=bond.bond_terms.maturity_date - dt.timedelta(days=1))
    assert "pay_date" in refused.value.message_dict
    assert not CorporateAction.objects.exists()


def test_a_bond_trade_must_settle_before_the_bond_matures(ref, bond):
    # GIVEN a bond maturing on Wednesday (government bonds settle T+1)
    BondTerms.objects.filter(instrument=bond).update(maturity_date=WEDNESDAY.date())
    _trade(ref, "buy", "1000", "100", instrument=bond)  # settles Tuesday: fine
    for when in (TUESDAY, WEDNESDAY):  # settling on or after the maturity date
        with pytest.raises(ValidationError) as refused:
            _trade(ref, "buy", "1000", "100", instrument=bond, when=when)
        assert "matures on 2015-03-04" in refused.value.message_dict["instrument"][0]


# --- admin -------------------------------------------------------------------------------


def test_the_admin_shows_applications_and_applies_a_missed_split(ref, bond, client, admin_user):
    _trade(ref, "buy", "100", "10")
    action = _split(ref, "2")
    _trade(ref, "buy", "20000", "99", instrument=bond)
    bond_redeem(instrument=bond, pay_date=bond.bond_terms.maturity_date)
    client.force_login(admin_user)
    for url in (
        "/admin/book/actionapplication/",
        "/admin/book/lotrelief/",
        f"/admin/book/corporateaction/{action.pk}/change/",
    ):
        assert client.get(url).status_code == 200, url
    # The operations team applies the split it missed, from the corporate actions list.
    response = client.post(
        "/admin/book/corporateaction/",
        {"action": "_apply_splits", "_selected_action": [action.pk]},
    )
    assert response.status_code == 302
    assert _position(ref).quantity == D(200)
    applied = Event.objects.get(kind=events.ACTION_APPLIED)
    assert applied.actor == admin_user.username
