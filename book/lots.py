"""FIFO tax lots: what a trade closes, what it opens, and the P&L it realizes.

A pure engine (no database): the services read a position's open TaxLots into `Lot`s, call
`apply_trade`, and store the result as LotRelief rows, reduced TaxLots and at most one new
TaxLot. `replay` runs the same function over a whole trade history, so a rebuild equals the
incremental result by construction.

Conventions
- Quantities are signed: a long lot is positive, a short lot negative. All open lots of a
  position have one sign; a trade first closes lots of the opposite sign, oldest first, and
  whatever is left of it opens one new lot (so a trade through zero flips the position).
- Prices are cash per unit of quantity (a bond held as face amount and quoted per 100 of
  face is passed at price / 100).
- Costs (commission + fees) belong to the trade: on a buy they are paid on top, on a sell
  they come out of the proceeds. A trade that both closes and opens splits its costs pro
  rata by quantity; the closing share is rounded to 4 dp and the opening share is the rest,
  so the two add up to the costs exactly.
- A lot's unit cost includes its costs: a long lot costs (qty x price + costs) / qty per
  unit; a short lot is carried at its net proceeds, (qty x price - costs) / qty per unit.
- Each relief records the closing trade's unit value net of costs, `unit_proceeds`: for a
  sale, (qty x price - costs) / qty received per unit; for a cover, (qty x price + costs) /
  qty paid per unit. Realized P&L = (unit_proceeds - unit_cost) x relief quantity, the
  quantity signed like the lot: selling a long at 15 bought at 10 makes +5/unit, covering a
  short at 8 sold at 10 makes +2/unit.

Rounding (ROUND_HALF_EVEN, the places of book/models/fields.py)
- A new lot's unit cost and a relief's unit proceeds: quantized once to 8 dp (PriceField).
  Quantities are never rounded: they only add and subtract.
- Realized P&L: worked exactly from cash (not from the rounded unit proceeds) against the
  lots' stored unit costs, and the trade's total quantized once to 4 dp (MoneyField). The
  reliefs get the differences of the rounded running totals, so each is within 0.0001 of
  its exact value and they sum to the trade's total exactly.
- So cash paid and received, realized P&L and the remaining cost basis agree to within
  0.00005 per trade plus half a unit of the 8th place per unit opened (the unit cost is
  all a TaxLot keeps of a lot's cost).
Arithmetic runs at 60 significant digits so that no product of stored values is rounded.

Corporate actions
- A split of `ratio` new units per old one (`apply_split`: 2, 3, 1.5 for 3:2, 0.1 for a
  1:10 reverse split) multiplies each open lot's quantity by the ratio (rounded to the 6 dp
  of QuantityField; fractions of a unit are kept, no cash in lieu) and divides its unit cost
  by it (8 dp), so the lot's cost is unchanged up to that rounding; nothing is realized.
- A bond's redemption at maturity closes every open lot at the redemption price, with no
  costs: it is `apply_trade` of the whole position, a sale of a long (a purchase to cover
  a short) at 1 per unit of face.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Final, Literal

Side = Literal["buy", "sell"]

MONEY_PLACES: Final = Decimal("0.0001")  # MoneyField: 4 dp
QUANTITY_PLACES: Final = Decimal("0.000001")  # QuantityField: 6 dp
PRICE_PLACES: Final = Decimal("0.00000001")  # PriceField: 8 dp
_PRECISION: Final = 60  # 24-digit fields multiplied together still fit exactly
_ZERO: Final = Decimal(0)


@dataclass(frozen=True)
class Lot:
    """An open tax lot: when it opened, how much is left (signed) and its unit cost with
    costs included. lot_id is the stored TaxLot's id; None for a lot not stored yet."""

    lot_id: int | None
    open_date: dt.date
    quantity: Decimal
    unit_cost: Decimal


@dataclass(frozen=True)
class Relief:
    """Part of one lot closed by a trade: the quantity (signed like the lot), the lot's unit
    cost, the closing trade's unit value net of costs, and the P&L realized."""

    lot_id: int | None
    quantity: Decimal
    unit_cost: Decimal
    unit_proceeds: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True)
class TradeLotResult:
    """What one trade does to a position's lots: the parts of lots it closes (reliefs, FIFO
    order), what is left open of the lots it was given (FIFO order, reduced, fully closed
    ones dropped), and the lot it opens, if any, which goes after them."""

    reliefs: list[Relief]
    remaining: list[Lot]
    new_lot: Lot | None
    realized_pnl: Decimal

    @property
    def open_lots(self) -> list[Lot]:
        """Every lot open after the trade, FIFO: the remaining ones, then the new one."""
        return [*self.remaining, self.new_lot] if self.new_lot else list(self.remaining)


@dataclass(frozen=True)
class TradeTerms:
    """The terms of one trade that the lot engine needs, for `replay`."""

    side: Side
    quantity: Decimal
    unit_price: Decimal
    costs: Decimal
    trade_date: dt.date


@dataclass(frozen=True)
class Replay:
    """A position rebuilt from its trades: the open lots at the end, and what each trade
    did (aligned with the trades given). A lot's lot_id is the index of the trade that
    opened it, so every relief names its lot's opening trade."""

    lots: list[Lot]
    results: list[TradeLotResult]

    @property
    def reliefs(self) -> list[Relief]:
        """Every relief of the history, in booking order."""
        return [relief for result in self.results for relief in result.reliefs]

    @property
    def realized_pnl(self) -> Decimal:
        return sum((result.realized_pnl for result in self.results), _ZERO)


def _money(value: Decimal) -> Decimal:
    rounded = value.quantize(MONEY_PLACES, rounding=ROUND_HALF_EVEN)
    # A loss smaller than half the 4th place rounds to -0.0000; book it as 0.0000.
    return rounded if rounded else rounded.copy_abs()


def _price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN)


def _require_decimal(name: str, value: object) -> None:
    # Floats would bring binary rounding into the books; refuse them at the door.
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"{name} must be a finite Decimal, got {value!r}")


def _check_open_lots(lots: Sequence[Lot]) -> int:
    """The sign shared by the open lots (0 when there are none)."""
    sign = 0
    for lot in lots:
        _require_decimal("a lot's quantity", lot.quantity)
        _require_decimal("a lot's unit cost", lot.unit_cost)
        if lot.quantity == 0:
            raise ValueError(f"lot {lot.lot_id} has no quantity left: pass only open lots")
        lot_sign = 1 if lot.quantity > 0 else -1
        if sign and lot_sign != sign:
            raise ValueError("open lots are both long and short: a position has one sign")
        sign = lot_sign
    return sign


def apply_trade(
    lots: Sequence[Lot],
    *,
    side: Side,
    quantity: Decimal,
    unit_price: Decimal,
    costs: Decimal,
    trade_date: dt.date,
) -> TradeLotResult:
    """What one trade does to a position's open lots (given oldest first).

    A buy covers short lots, oldest first, and opens a long lot with what is left; a sell
    closes long lots and opens a short lot with what is left. The new lot has lot_id None,
    opens on trade_date and is not in `remaining`: store it, give it its id, and append it
    (`open_lots` / `with_new_lot_id` do this). See the module docstring for costs and
    rounding.
    """
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
    for name, value in (("quantity", quantity), ("unit_price", unit_price), ("costs", costs)):
        _require_decimal(name, value)
    if quantity <= 0:
        raise ValueError(f"a trade's quantity is positive, got {quantity}")
    if unit_price < 0:
        raise ValueError(f"a trade's price cannot be negative, got {unit_price}")
    if costs < 0:
        raise ValueError(f"a trade's costs cannot be negative, got {costs}")
    direction = 1 if side == "buy" else -1
    open_sign = _check_open_lots(lots)

    with localcontext(prec=_PRECISION):
        # FIFO: take from the oldest lot of the opposite sign until the trade is used up.
        to_close = quantity if open_sign == -direction else _ZERO
        closed: list[tuple[Lot, Decimal]] = []  # (lot, relief quantity signed like the lot)
        remaining: list[Lot] = []
        for lot in lots:
            take = min(abs(lot.quantity), to_close)
            if take:
                to_close -= take
                relief_quantity = take if lot.quantity > 0 else -take
                closed.append((lot, relief_quantity))
                left = lot.quantity - relief_quantity
                if left:
                    remaining.append(dataclasses.replace(lot, quantity=left))
            else:
                remaining.append(lot)
        closing_quantity = sum((abs(q) for _, q in closed), _ZERO)
        opening_quantity = quantity - closing_quantity

        if opening_quantity == 0:
            closing_costs = costs
        else:
            closing_costs = _money(costs * closing_quantity / quantity)
        opening_costs = costs - closing_costs

        reliefs = _reliefs(closed, direction, closing_quantity, unit_price, closing_costs)
        realized = _money(sum((relief.realized_pnl for relief in reliefs), _ZERO))

        new_lot = None
        if opening_quantity:
            # A buy pays its costs on top; a sell (short) receives its price less costs.
            opening_cash = opening_quantity * unit_price + direction * opening_costs
            new_lot = Lot(
                lot_id=None,
                open_date=trade_date,
                quantity=direction * opening_quantity,
                unit_cost=_price(opening_cash / opening_quantity),
            )

    return TradeLotResult(
        reliefs=reliefs, remaining=remaining, new_lot=new_lot, realized_pnl=realized
    )


def _reliefs(
    closed: list[tuple[Lot, Decimal]],
    direction: int,
    closing_quantity: Decimal,
    unit_price: Decimal,
    closing_costs: Decimal,
) -> list[Relief]:
    if not closed:
        return []
    # Cash per unit of the closing part, net of its costs: a sale (direction -1) receives
    # price less costs, a cover (direction +1) pays price plus costs.
    closing_cash = closing_quantity * unit_price + direction * closing_costs
    unit_proceeds = _price(closing_cash / closing_quantity)
    # P&L is worked from cash, not from the rounded unit_proceeds. Each lot's share of the
    # closing cash is signed like the lot (a sale receives, a cover pays); the shares add up
    # to the closing cash, which the last relief's running total uses exactly, so the
    # total carries no division rounding.
    lot_sign = 1 if closed[0][1] > 0 else -1
    exact_total = lot_sign * closing_cash - sum((q * lot.unit_cost for lot, q in closed), _ZERO)
    reliefs: list[Relief] = []
    exact_running = _ZERO
    booked_running = _ZERO
    for index, (lot, relief_quantity) in enumerate(closed):
        if index == len(closed) - 1:
            exact_running = exact_total
        else:
            share = closing_cash * relief_quantity / closing_quantity
            exact_running += share - relief_quantity * lot.unit_cost
        # Rounding the running total (not each relief) keeps every relief within 0.0001
        # of exact and makes the reliefs add up to the rounded total exactly.
        booked = _money(exact_running)
        reliefs.append(
            Relief(
                lot_id=lot.lot_id,
                quantity=relief_quantity,
                unit_cost=lot.unit_cost,
                unit_proceeds=unit_proceeds,
                realized_pnl=booked - booked_running,
            )
        )
        booked_running = booked
    return reliefs


def split_quantity(quantity: Decimal, ratio: Decimal) -> Decimal:
    """A quantity after a split of `ratio`, as QuantityField stores it (6 dp, half even)."""
    _require_decimal("quantity", quantity)
    _require_decimal("ratio", ratio)
    with localcontext(prec=_PRECISION):
        return (quantity * ratio).quantize(QUANTITY_PLACES, rounding=ROUND_HALF_EVEN)


def apply_split(lots: Sequence[Lot], ratio: Decimal) -> list[Lot]:
    """The open lots (oldest first) after a split of `ratio` new units per old one: each
    quantity times the ratio, each unit cost divided by it. Same lots, same order, same
    ids and open dates; nothing realized, no cash. See the module docstring for rounding."""
    _require_decimal("ratio", ratio)
    if ratio <= 0:
        raise ValueError(f"a split's ratio is positive, got {ratio}")
    _check_open_lots(lots)
    with localcontext(prec=_PRECISION):
        return [
            dataclasses.replace(
                lot,
                quantity=split_quantity(lot.quantity, ratio),
                unit_cost=_price(lot.unit_cost / ratio),
            )
            for lot in lots
        ]


def position_from_lots(lots: Iterable[Lot]) -> tuple[Decimal, Decimal]:
    """A position's quantity and cost basis from its open lots, both signed (a short
    position's basis is the net proceeds it is carried at, negative). The basis is rounded
    to 4 dp once, after summing."""
    quantity = _ZERO
    basis = _ZERO
    with localcontext(prec=_PRECISION):
        for lot in lots:
            quantity += lot.quantity
            basis += lot.quantity * lot.unit_cost
        return quantity, _money(basis)


def replay(trades: Iterable[TradeTerms]) -> Replay:
    """Rebuild a position from nothing by applying its trades in booking order.

    The lot a trade opens gets the trade's index in `trades` as its lot_id; map it to the
    stored TaxLot of that opening trade. Each result's new_lot carries that id too, with
    its original quantity, so closed lots can be rebuilt as well as open ones.
    """
    lots: list[Lot] = []
    results: list[TradeLotResult] = []
    for index, trade in enumerate(trades):
        result = apply_trade(
            lots,
            side=trade.side,
            quantity=trade.quantity,
            unit_price=trade.unit_price,
            costs=trade.costs,
            trade_date=trade.trade_date,
        )
        if result.new_lot is not None:
            result = with_new_lot_id(result, index)
        lots = result.open_lots
        results.append(result)
    return Replay(lots=lots, results=results)


def with_new_lot_id(result: TradeLotResult, lot_id: int) -> TradeLotResult:
    """The same result with its new lot given an id, as the service does once it has
    stored the TaxLot and the next trade must name it."""
    if result.new_lot is None:
        raise ValueError("this trade opened no lot")
    return dataclasses.replace(result, new_lot=dataclasses.replace(result.new_lot, lot_id=lot_id))
