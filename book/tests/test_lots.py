"""FIFO tax lots: what each trade closes and opens, the P&L it realizes, and the
invariants that must hold over any history of trades."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from book.lots import (
    Lot,
    Relief,
    TradeLotResult,
    TradeTerms,
    apply_split,
    apply_trade,
    position_from_lots,
    replay,
    with_new_lot_id,
)

D = Decimal
DAY1 = dt.date(2016, 1, 19)
DAY2 = dt.date(2016, 1, 20)
DAY3 = dt.date(2016, 1, 21)


def trade(lots, side, quantity, price, costs="0", day=DAY3) -> TradeLotResult:
    return apply_trade(
        lots, side=side, quantity=D(quantity), unit_price=D(price), costs=D(costs), trade_date=day
    )


# --- examples --------------------------------------------------------------------------


def test_a_sale_relieves_the_oldest_lots_first():
    # GIVEN 100 bought at 10, then 100 at 12
    lots = [Lot(1, DAY1, D(100), D(10)), Lot(2, DAY2, D(100), D(12))]
    # WHEN 150 are sold at 15
    result = trade(lots, "sell", "150", "15")
    # THEN all of lot 1 and half of lot 2 are relieved, at 5 and 3 a unit
    assert result.reliefs == [
        Relief(
            lot_id=1, quantity=D(100), unit_cost=D(10), unit_proceeds=D(15), realized_pnl=D(500)
        ),
        Relief(lot_id=2, quantity=D(50), unit_cost=D(12), unit_proceeds=D(15), realized_pnl=D(150)),
    ]
    assert result.realized_pnl == D("650.0000")
    assert result.remaining == [Lot(2, DAY2, D(50), D(12))]
    assert result.new_lot is None
    assert position_from_lots(result.remaining) == (D(50), D("600.0000"))


def test_buy_costs_go_into_the_lot_and_sell_costs_come_out_of_proceeds():
    # GIVEN a buy of 100 at 10 with 5 of commission and fees
    bought = trade([], "buy", "100", "10", costs="5", day=DAY1)
    assert bought.new_lot == Lot(None, DAY1, D(100), D("10.05"))
    assert bought.reliefs == [] and bought.realized_pnl == 0
    lots = [with_new_lot_id(bought, 7).new_lot]
    # WHEN all 100 are sold at 12 with 4 of costs
    sold = trade(lots, "sell", "100", "12", costs="4")
    # THEN the sale nets 11.96 a unit against a cost of 10.05: 1196 - 1005
    assert sold.reliefs == [Relief(7, D(100), D("10.05"), D("11.96"), D("191.0000"))]
    assert sold.remaining == [] and sold.new_lot is None


def test_unit_costs_are_rounded_to_8_places_and_pnl_to_4():
    # GIVEN 3 bought at 10 with 1 of costs: 31/3 a unit
    bought = trade([], "buy", "3", "10", costs="1", day=DAY1)
    assert bought.new_lot.unit_cost == D("10.33333333")
    # WHEN they are sold at 10 without costs: 30 - 3 x 10.33333333 = -0.99999999
    sold = trade([with_new_lot_id(bought, 1).new_lot], "sell", "3", "10")
    # THEN the loss is the stored unit cost's, quantized half-even to 4 places
    assert sold.realized_pnl == D("-1.0000")
    assert str(sold.realized_pnl) == "-1.0000"


def test_a_loss_that_rounds_away_is_booked_as_zero_not_minus_zero():
    result = trade([Lot(1, DAY1, D(1), D("10.00000001"))], "sell", "1", "10")
    assert str(result.realized_pnl) == "0.0000"


def test_reliefs_add_up_to_the_trade_total_exactly():
    # GIVEN three one-unit lots at 1
    lots = [Lot(n, DAY1, D(1), D(1)) for n in (1, 2, 3)]
    # WHEN 3 are sold at 10 with 0.01 of costs: 29.99 of proceeds, 9.99666... a unit
    result = trade(lots, "sell", "3", "10", costs="0.01")
    # THEN each relief is within 0.0001 of 8.99666..., and together they are 26.99
    assert [r.realized_pnl for r in result.reliefs] == [D("8.9967"), D("8.9966"), D("8.9967")]
    assert result.realized_pnl == D("26.9900")
    assert result.reliefs[0].unit_proceeds == D("9.99666667")


def test_a_sale_beyond_the_long_lots_flips_to_a_short_lot():
    # GIVEN a long lot of 100 at 10
    lots = [Lot(1, DAY1, D(100), D(10))]
    # WHEN 300 are sold at 9 with 9 of costs
    result = trade(lots, "sell", "300", "9", costs="9")
    # THEN 100 close with a third of the costs (897 of proceeds, 1000 of cost) ...
    assert result.reliefs == [Relief(1, D(100), D(10), D("8.97"), D("-103.0000"))]
    # ... and 200 open short, carried at their net proceeds, (1800 - 6) / 200
    assert result.new_lot == Lot(None, DAY3, D(-200), D("8.97"))
    assert result.remaining == []
    assert result.open_lots == [result.new_lot]
    assert position_from_lots(result.open_lots) == (D(-200), D("-1794.0000"))


def test_a_flip_splits_costs_so_the_parts_add_up_to_the_costs():
    # GIVEN a long lot of 1; WHEN 3 are sold at 10 with 0.01 of costs (0.00333... to close)
    result = trade([Lot(1, DAY1, D(1), D(10))], "sell", "3", "10", costs="0.01")
    # THEN the closing part bears 0.0033 and the short lot the other 0.0067
    assert result.realized_pnl == D("-0.0033")
    assert result.new_lot.unit_cost == D("9.99665000")  # (20 - 0.0067) / 2


def test_a_short_sold_at_10_and_covered_at_8_gains_2_a_unit():
    # GIVEN a short sale of 100 at 10
    sold = trade([], "sell", "100", "10", day=DAY1)
    assert sold.new_lot == Lot(None, DAY1, D(-100), D(10))
    lots = [with_new_lot_id(sold, 1).new_lot]
    # WHEN it is covered at 8
    covered = trade(lots, "buy", "100", "8")
    # THEN the relief is signed like the lot and gains 200
    assert covered.reliefs == [Relief(1, D(-100), D(10), D(8), D("200.0000"))]
    assert covered.remaining == [] and covered.new_lot is None


def test_costs_on_a_short_and_its_cover_both_reduce_the_gain():
    sold = trade([], "sell", "100", "10", costs="2", day=DAY1)  # nets 9.98 a unit
    covered = trade([with_new_lot_id(sold, 1).new_lot], "buy", "100", "8", costs="2")
    assert covered.reliefs[0].unit_cost == D("9.98")
    assert covered.reliefs[0].unit_proceeds == D("8.02")  # paid, costs included
    assert covered.realized_pnl == D("196.0000")


def test_a_buy_beyond_the_short_lots_opens_a_long_lot():
    lots = [Lot(1, DAY1, D(-50), D(10)), Lot(2, DAY2, D(-50), D(11))]
    result = trade(lots, "buy", "120", "10.5", costs="12")
    # 100 covered with 10 of costs (paying 10.60 a unit), 20 opened with the other 2
    assert [(r.lot_id, r.quantity, r.realized_pnl) for r in result.reliefs] == [
        (1, D(-50), D("-30.0000")),
        (2, D(-50), D("20.0000")),
    ]
    assert result.new_lot == Lot(None, DAY3, D(20), D("10.6"))
    assert result.open_lots == [result.new_lot]


def test_selling_exactly_the_position_leaves_no_lot():
    lots = [Lot(1, DAY1, D("100.5"), D(10)), Lot(2, DAY2, D("49.5"), D(12))]
    result = trade(lots, "sell", "150", "11", costs="3")
    assert result.open_lots == []
    assert result.new_lot is None
    assert sum(r.quantity for r in result.reliefs) == D(150)
    assert position_from_lots(result.remaining) == (D(0), D(0))


def test_a_buy_into_a_long_position_adds_a_lot_at_the_back():
    lots = [Lot(1, DAY1, D(100), D(10))]
    result = trade(lots, "buy", "10", "11")
    assert result.reliefs == [] and result.realized_pnl == 0
    assert result.remaining == lots
    assert result.open_lots == [lots[0], Lot(None, DAY3, D(10), D(11))]


def test_replay_names_each_lot_by_the_trade_that_opened_it():
    history = [
        TradeTerms("buy", D(100), D(10), D(0), DAY1),
        TradeTerms("buy", D(100), D(12), D(0), DAY2),
        TradeTerms("sell", D(150), D(15), D(0), DAY3),
    ]
    rebuilt = replay(history)
    assert rebuilt.lots == [Lot(1, DAY2, D(50), D(12))]
    assert [r.lot_id for r in rebuilt.reliefs] == [0, 1]
    assert [len(r.reliefs) for r in rebuilt.results] == [0, 0, 2]
    assert rebuilt.results[1].new_lot == Lot(1, DAY2, D(100), D(12))  # its original size
    assert rebuilt.realized_pnl == D("650.0000")


@pytest.mark.parametrize(
    ("lots", "kwargs", "error"),
    [
        ([], {"quantity": 100.0}, TypeError),
        ([], {"costs": 1}, TypeError),
        ([], {"quantity": D("NaN")}, TypeError),
        ([], {"quantity": D(0)}, ValueError),
        ([], {"costs": D(-1)}, ValueError),
        ([], {"unit_price": D(-1)}, ValueError),
        ([], {"side": "short"}, ValueError),
        ([Lot(1, DAY1, D(0), D(10))], {}, ValueError),
        ([Lot(1, DAY1, D(10), D(10)), Lot(2, DAY1, D(-10), D(10))], {}, ValueError),
    ],
)
def test_bad_input_is_refused(lots, kwargs, error):
    terms = {
        "side": "buy",
        "quantity": D(10),
        "unit_price": D(10),
        "costs": D(0),
        "trade_date": DAY3,
        **kwargs,
    }
    with pytest.raises(error):
        apply_trade(lots, **terms)


# --- splits ----------------------------------------------------------------------------


def test_a_split_multiplies_quantities_and_divides_unit_costs():
    lots = [Lot(1, DAY1, D(100), D(10)), Lot(2, DAY2, D(50), D("12.34567891"))]
    split = apply_split(lots, D(3))
    assert split == [Lot(1, DAY1, D(300), D("3.33333333")), Lot(2, DAY2, D(150), D("4.11522630"))]
    # Short lots split the same way; a 1:10 reverse split keeps fractions of a unit.
    assert apply_split([Lot(3, DAY1, D(-105), D(8))], D("0.1")) == [Lot(3, DAY1, D("-10.5"), D(80))]
    with pytest.raises(ValueError):
        apply_split(lots, D(0))
    with pytest.raises(TypeError):
        apply_split(lots, 2.0)


# --- properties over random histories ------------------------------------------------

quantities = st.one_of(
    st.integers(min_value=1, max_value=20_000).map(D),  # shares
    st.decimals(min_value=D("0.01"), max_value=D("250000"), places=2),  # face, currency
)
prices = st.one_of(
    st.decimals(min_value=D("0.01"), max_value=D("2000"), places=4),  # equities, bonds
    st.decimals(min_value=D("0.5"), max_value=D("200"), places=6),  # FX rates
)
costs = st.one_of(st.just(D(0)), st.decimals(min_value=D(0), max_value=D("250"), places=2))
# A quantity of None means "exactly the open position": histories that go flat matter most.
steps = st.lists(
    st.tuples(st.sampled_from(["buy", "sell"]), st.one_of(st.none(), quantities), prices, costs),
    max_size=25,
)


def as_history(raw_steps) -> list[TradeTerms]:
    history: list[TradeTerms] = []
    position = D(0)
    for index, (side, quantity, price, cost) in enumerate(raw_steps):
        if quantity is None:
            if position == 0:
                quantity = D(100)
            else:
                quantity = abs(position)
                side = "sell" if position > 0 else "buy"
        position += quantity if side == "buy" else -quantity
        day = DAY1 + dt.timedelta(days=index)
        history.append(TradeTerms(side, quantity, price, cost, day))
    return history


def one_by_one(history: list[TradeTerms]) -> tuple[list[Lot], list[TradeLotResult]]:
    """What the services do: apply each trade to the stored lots, store the new lot."""
    lots: list[Lot] = []
    results: list[TradeLotResult] = []
    for index, terms in enumerate(history):
        result = apply_trade(
            lots,
            side=terms.side,
            quantity=terms.quantity,
            unit_price=terms.unit_price,
            costs=terms.costs,
            trade_date=terms.trade_date,
        )
        if result.new_lot is not None:
            result = with_new_lot_id(result, index)
        results.append(result)
        lots = result.open_lots
    return lots, results


@settings(deadline=None)
@given(steps)
def test_lots_hold_the_net_quantity_traded(raw_steps):
    history = as_history(raw_steps)
    lots, _ = one_by_one(history)
    net = sum((t.quantity if t.side == "buy" else -t.quantity for t in history), D(0))
    assert position_from_lots(lots)[0] == net
    assert sum((lot.quantity for lot in lots), D(0)) == net


@settings(deadline=None)
@given(steps)
def test_applying_trades_one_by_one_equals_replaying_them(raw_steps):
    history = as_history(raw_steps)
    lots, results = one_by_one(history)
    rebuilt = replay(history)
    assert rebuilt.lots == lots
    assert rebuilt.results == results


@settings(deadline=None)
@given(steps)
def test_cash_realized_pnl_and_cost_basis_agree(raw_steps):
    # Cash in from sales - cash out on buys + the cost still carried in open lots is what
    # the history has realized, up to the documented rounding: 0.00005 per trade and for
    # the position's basis, and half the 8th place per unit opened.
    history = as_history(raw_steps)
    lots, results = one_by_one(history)
    cash = sum(
        (
            t.quantity * t.unit_price - t.costs
            if t.side == "sell"
            else -(t.quantity * t.unit_price + t.costs)
            for t in history
        ),
        D(0),
    )
    realized = sum((r.realized_pnl for r in results), D(0))
    _, cost_basis = position_from_lots(lots)
    opened = sum((abs(r.new_lot.quantity) for r in results if r.new_lot), D(0))
    bound = D("0.00005") * (len(history) + 1) + opened * D("0.000000005")
    assert abs(cash + cost_basis - realized) <= bound


@settings(deadline=None)
@given(steps)
def test_open_lots_are_never_empty_and_share_one_sign(raw_steps):
    _, results = one_by_one(as_history(raw_steps))
    for result in results:
        assert all(lot.quantity != 0 for lot in result.open_lots)
        assert all(relief.quantity != 0 for relief in result.reliefs)
        assert len({lot.quantity > 0 for lot in result.open_lots}) <= 1


@settings(deadline=None)
@given(steps)
def test_each_relief_agrees_with_its_unit_values_and_the_trade_total(raw_steps):
    _, results = one_by_one(as_history(raw_steps))
    for result in results:
        assert sum((r.realized_pnl for r in result.reliefs), D(0)) == result.realized_pnl
        assert result.realized_pnl == result.realized_pnl.quantize(D("0.0001"))
        for relief in result.reliefs:
            from_units = (relief.unit_proceeds - relief.unit_cost) * relief.quantity
            bound = D("0.0001") + abs(relief.quantity) * D("0.000000005")
            assert abs(relief.realized_pnl - from_units) <= bound


ratios = st.sampled_from([D(2), D(3), D("1.5"), D("0.1"), D(4), D("0.5")])


@settings(deadline=None)
@given(steps, ratios)
def test_a_split_keeps_the_cost_basis_up_to_the_unit_cost_rounding(raw_steps, ratio):
    lots, _ = one_by_one(as_history(raw_steps))
    split = apply_split(lots, ratio)
    quantity, basis = position_from_lots(lots)
    split_quantity, split_basis = position_from_lots(split)
    assert split_quantity == (quantity * ratio).quantize(D("0.000001"))
    assert [lot.lot_id for lot in split] == [lot.lot_id for lot in lots]
    # Half the 8th place of unit cost per unit held after the split, and the basis rounding.
    bound = D("0.0001") + abs(split_quantity) * D("0.000000005")
    assert abs(split_basis - basis) <= bound
