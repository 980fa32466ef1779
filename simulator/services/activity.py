"""The activity step of a tick: capital flows, rebalancing orders (single and block),
partial fills, allocations and the trades they book, FX to fund foreign purchases.

The only writer of Order, AllocationTarget and Execution; trades are booked through
book.services (trades_book), flows through book.services (capital_flow_record).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
from django.conf import settings

from book import bulk, calendar
from book.models import (
    AllocationTarget,
    BenchmarkWeight,
    BondTerms,
    Broker,
    CashBalance,
    Execution,
    Instrument,
    Mandate,
    Order,
    OrderStatus,
    Position,
    TimeInForce,
    Trader,
    TradeSource,
)
from book.services import TradeRequest, capital_flow_record, ids_next, trades_book

from .. import activity
from ..calendar import TickSlot
from ..market import STREAM_ACTIVITY
from .market import MarketTick, universe_key

OPEN = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
REBALANCE_SLOT = 1  # 10:00 New York: after the open settles
FLOW_PROBABILITY = 0.06  # chance a mandate sees a subscription or redemption on a day
FX_TO_USD = {
    "EUR": ("EURUSD", False),
    "GBP": ("GBPUSD", False),
    "JPY": ("USDJPY", True),
    "CHF": ("USDCHF", True),
}  # noqa: E501


@dataclass(frozen=True)
class ActivitySummary:
    orders: int
    executions: int
    trades: int
    flows: int


def _rng(seed: int, slot: TickSlot, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng(
        np.random.SeedSequence([seed, slot.sim_date.toordinal(), STREAM_ACTIVITY, slot.slot, salt])
    )


@dataclass
class _Book:
    """What the step needs to know about instruments and mandates (a few queries)."""

    key: tuple[Any, ...]
    instruments: dict[int, Instrument]
    by_ticker: dict[str, int]
    mandates: dict[str, Mandate]
    brokers: list[Broker]
    traders: list[Trader]


_book_cache: dict[tuple[Any, ...], dict[int, Instrument]] = {}


def _load() -> _Book:
    key = universe_key()
    if key not in _book_cache:
        _book_cache.clear()
        _book_cache[key] = Instrument.objects.filter(active=True, sim__isnull=False).in_bulk()
    instruments = _book_cache[key]
    return _Book(
        key=key,
        instruments=instruments,
        by_ticker={i.ticker: pk for pk, i in instruments.items()},
        mandates={m.code: m for m in Mandate.objects.filter(active=True).order_by("code")},
        brokers=list(Broker.objects.order_by("code")),
        traders=list(Trader.objects.order_by("code")),
    )


def _usd_per_unit(currency: str, book: _Book, prices: dict[int, float]) -> float:
    if currency == "USD":
        return 1.0
    pair, inverted = FX_TO_USD[currency]
    rate = prices.get(book.by_ticker.get(pair, -1))
    if not rate:
        return float("nan")
    return 1.0 / rate if inverted else rate


def _unit_values(book: _Book, prices: dict[int, float]) -> dict[int, float]:
    """Base-currency (USD) value of one unit of each instrument: price x FX (bonds per face)."""
    values = {}
    for pk, instrument in book.instruments.items():
        price = prices.get(pk)
        if price is None or instrument.asset_class == "fx":
            continue
        per_unit = price / 100.0 if instrument.asset_class in ("govt_bond", "corp_bond") else price
        values[pk] = per_unit * _usd_per_unit(instrument.currency_id, book, prices)
    return values


def _navs(
    book: _Book, prices: dict[int, float]
) -> tuple[dict[str, float], dict[str, dict[int, float]]]:  # noqa: E501
    """Each mandate's NAV estimate in USD (positions at model prices + projected cash)."""
    values = _unit_values(book, prices)
    holdings: dict[str, dict[int, float]] = defaultdict(dict)
    code_of = {m.pk: code for code, m in book.mandates.items()}
    for mandate_id, instrument_id, quantity in Position.objects.filter(
        mandate_id__in=code_of
    ).values_list("mandate_id", "instrument_id", "quantity"):
        holdings[code_of[mandate_id]][instrument_id] = float(quantity)
    navs = {code: 0.0 for code in book.mandates}
    for code, held in holdings.items():
        navs[code] += sum(q * values.get(i, 0.0) for i, q in held.items())
    for mandate_id, currency, projected in CashBalance.objects.filter(
        mandate_id__in=code_of
    ).values_list("mandate_id", "currency_id", "projected"):
        fx = _usd_per_unit(currency, book, prices)
        if not np.isnan(fx):
            navs[code_of[mandate_id]] += float(projected) * fx
    return navs, holdings


def nav_estimates(prices: dict[int, float]) -> dict[str, float]:
    """Each active mandate's NAV estimate in USD at these model prices."""
    return _navs(_load(), prices)[0]


def _flows(*, slot: TickSlot, seed: int, book: _Book, navs: dict[str, float]) -> int:
    rng = _rng(seed, slot, 1)
    count = 0
    for code, mandate in book.mandates.items():
        roll, size, direction = rng.random(), rng.uniform(0.01, 0.04), rng.random()
        if roll >= FLOW_PROBABILITY or navs[code] <= 0 or mandate.units_outstanding <= 0:
            continue
        nav_per_unit = (Decimal(str(navs[code])) / mandate.units_outstanding).quantize(
            Decimal("0.000001"), rounding=ROUND_HALF_EVEN
        )
        amount = Decimal(str(round(navs[code] * size, 2)))
        capital_flow_record(
            mandate=mandate,
            kind="subscription" if direction < 0.6 else "redemption",
            amount=amount,
            nav_per_unit=nav_per_unit,
            trade_date=slot.sim_date,
            settlement_date=slot.sim_date,
            tick=slot.number,
            sim_time=slot.sim_time,
        )
        count += 1
    return count


_targets_cache: dict[tuple[Any, ...], dict[str, dict[int, float]]] = {}


def _targets(seed: int, book: _Book) -> dict[str, dict[int, float]]:
    """Target weights by mandate: fixed for a seed, universe and set of benchmarks, so
    computed once per process (benchmarks are keyed by their ids and weights)."""
    lines = tuple(
        BenchmarkWeight.objects.filter(mandate__in=book.mandates.values())
        .order_by("id")
        .values_list("id", "weight")
    )
    key = (seed, book.key, lines, tuple(book.mandates))
    if key not in _targets_cache:
        _targets_cache.clear()
        _targets_cache[key] = _targets_compute(seed, book)
    return _targets_cache[key]


def _targets_compute(seed: int, book: _Book) -> dict[str, dict[int, float]]:
    candidates = [
        activity.Candidate(pk, i.asset_class, i.sector)
        for pk, i in sorted(book.instruments.items())
        if i.asset_class != "fx"
    ]
    lines: dict[int, list[tuple[str, str, float]]] = defaultdict(list)
    for line in BenchmarkWeight.objects.filter(mandate__in=book.mandates.values()):
        if line.instrument_id:
            lines[line.mandate_id].append(
                ("instrument", str(line.instrument_id), float(line.weight))
            )  # noqa: E501
        elif line.sector:
            lines[line.mandate_id].append(("sector", line.sector, float(line.weight)))
        else:
            lines[line.mandate_id].append(("asset_class", line.asset_class, float(line.weight)))
    return {
        code: activity.targets(
            seed=seed, mandate_code=code, benchmark=lines[m.pk], candidates=candidates
        )
        for code, m in book.mandates.items()
    }


def _orders_create(
    *,
    slot: TickSlot,
    seed: int,
    book: _Book,
    prices: dict[int, float],
    navs: dict[str, float],
    holdings: dict[str, dict[int, float]],
    rebalance: bool,
) -> int:
    rng = _rng(seed, slot, 2)
    values = _unit_values(book, prices)
    asset_classes = {pk: i.asset_class for pk, i in book.instruments.items()}
    ideas: list[activity.OrderIdea] = []
    targets = _targets(seed, book)
    rate = settings.OPSSUITE_ORDERS_PER_MANDATE_TICK
    for code, mandate in book.mandates.items():
        if rebalance:
            ideas += activity.rebalance(
                mandate_code=code,
                nav=navs[code],
                target_weights=targets[code],
                holdings=holdings.get(code, {}),
                unit_values=values,
                asset_classes=asset_classes,
                drift_band=float(mandate.drift_band),
            )
        elif rate > 0:
            ideas += activity.tactical(
                mandate_code=code,
                nav=navs[code],
                holdings=holdings.get(code, {}),
                target_weights=targets[code],
                unit_values=values,
                asset_classes=asset_classes,
                count=int(rng.poisson(rate)),
                rng=rng,
            )
    ideas = _settling_before_maturity(ideas, slot.sim_date)
    ideas += _fx_funding(book=book, ideas=ideas, prices=prices)
    grouped: dict[tuple[int, str], list[activity.OrderIdea]] = defaultdict(list)
    for idea in ideas:
        grouped[(idea.instrument_id, idea.side)].append(idea)
    order_ids = ids_next("O", len(grouped))
    orders, targets_rows = [], []
    for order_id, ((instrument_id, side), group) in zip(
        order_ids, sorted(grouped.items()), strict=True
    ):  # noqa: E501
        broker = book.brokers[int(rng.integers(len(book.brokers)))]
        trader = book.traders[int(rng.integers(len(book.traders)))]
        orders.append(
            (
                order_id,
                book.mandates[group[0].mandate_code].pk if len(group) == 1 else None,
                instrument_id,
                side,
                sum(i.quantity for i in group),
                Decimal(0),
                TimeInForce.DAY.value,
                OrderStatus.OPEN.value,
                broker.pk,
                trader.pk,
                (
                    "fx funding"
                    if asset_classes[instrument_id] == "fx"
                    else ("rebalance" if rebalance else "tactical")
                ),
                slot.sim_date,
                slot.number,
                slot.sim_time,
            )
        )
        if len(group) > 1:
            # (index of the order, mandate, quantity): the order's id is known once stored
            targets_rows += [
                (len(orders) - 1, book.mandates[i.mandate_code].pk, i.quantity) for i in group
            ]
    # Plain rows (book.bulk), the orders' ids taken up front for their allocation targets.
    order_pks = bulk.rows_insert_ids(Order, _ORDER_COLUMNS, orders)
    bulk.rows_insert(
        AllocationTarget,
        ["order_id", "mandate_id", "quantity"],
        [(order_pks[index], mandate_id, quantity) for index, mandate_id, quantity in targets_rows],
    )
    return len(orders)


_ORDER_COLUMNS = (
    "order_id",
    "mandate_id",
    "instrument_id",
    "side",
    "quantity",
    "filled_quantity",
    "time_in_force",
    "status",
    "broker_id",
    "trader_id",
    "reason",
    "trade_date",
    "created_tick",
    "created_sim_time",
)


def _settling_before_maturity(
    ideas: list[activity.OrderIdea], day: dt.date
) -> list[activity.OrderIdea]:
    """Drop orders in bonds that would settle on or after their maturity date: in its last
    days a bond is held to be redeemed (the book refuses such trades)."""
    bonds = [i for i in ideas if i.asset_class in ("govt_bond", "corp_bond")]
    if not bonds:
        return ideas
    horizon = day + dt.timedelta(days=10)  # past any settlement cycle
    maturing = dict(
        BondTerms.objects.filter(
            instrument_id__in={i.instrument_id for i in bonds}, maturity_date__lte=horizon
        ).values_list("instrument_id", "maturity_date")
    )
    return [
        idea
        for idea in ideas
        if idea.instrument_id not in maturing
        or calendar.settlement_date(idea.asset_class, day) < maturing[idea.instrument_id]
    ]


def _fx_funding(
    *, book: _Book, ideas: list[activity.OrderIdea], prices: dict[int, float]
) -> list[activity.OrderIdea]:  # noqa: E501
    """FX spot orders buying the foreign currency that equity purchases will need."""
    need: dict[tuple[str, str], float] = defaultdict(float)
    for idea in ideas:
        instrument = book.instruments[idea.instrument_id]
        if instrument.currency_id == "USD" or instrument.asset_class == "fx":
            continue
        price = prices.get(idea.instrument_id, 0.0)
        sign = 1 if idea.side == "buy" else -1
        need[(idea.mandate_code, instrument.currency_id)] += sign * float(idea.quantity) * price
    if not need:
        return []
    cash = {
        (code, currency): float(projected)
        for code, currency, projected in CashBalance.objects.filter(
            mandate__code__in={code for code, _ in need}
        ).values_list("mandate__code", "currency_id", "projected")
    }
    funding = []
    for (code, currency), amount in sorted(need.items()):
        shortfall = amount - cash.get((code, currency), 0.0)
        if shortfall <= 0:
            continue
        pair, inverted = FX_TO_USD[currency]
        pair_id = book.by_ticker.get(pair)
        rate = prices.get(pair_id) if pair_id else None
        if not rate:
            continue
        shortfall *= 1.02  # a little over, for slippage and costs
        if inverted:  # USDJPY: sell USD, receive JPY
            quantity = Decimal(str(round(shortfall / rate, 0)))
            funding.append(activity.OrderIdea(code, pair_id, "fx", "sell", quantity))
        else:  # EURUSD: buy EUR with USD
            quantity = Decimal(str(round(shortfall, 0)))
            funding.append(activity.OrderIdea(code, pair_id, "fx", "buy", quantity))
    return funding


@dataclass(slots=True)
class _OpenOrder:
    """An open order as the fill step needs it (a plain row: hundreds are open a tick)."""

    pk: int
    order_id: str
    mandate_id: int | None
    instrument_id: int
    side: str
    quantity: Decimal
    filled_quantity: Decimal
    time_in_force: str
    broker_id: int
    trader_id: int
    status: str
    asset_class: str


_OPEN_ORDER_COLUMNS = (
    "id",
    "order_id",
    "mandate_id",
    "instrument_id",
    "side",
    "quantity",
    "filled_quantity",
    "time_in_force",
    "broker_id",
    "trader_id",
    "status",
    "instrument__asset_class",
)
_EXECUTION_COLUMNS = (
    "execution_id",
    "order_id",
    "quantity",
    "price",
    "mid_price",
    "executed_at",
    "tick",
    "venue",
)


def _execute(
    *, slot: TickSlot, seed: int, market_tick: MarketTick, tick_minutes: int
) -> tuple[int, int]:  # noqa: E501
    """Fill open orders for this tick; book what single orders filled; allocate blocks that
    completed (or, at the close, whatever a block filled before it expired)."""
    rng = _rng(seed, slot, 3)
    orders = [
        _OpenOrder(*row)
        for row in Order.objects.filter(status__in=OPEN)
        .order_by("id")
        .values_list(*_OPEN_ORDER_COLUMNS)
    ]
    if not orders:
        return 0, 0
    execution_ids = iter(ids_next("X", len(orders)))
    # (execution_id, order, quantity, price, mid, executed_at, tick, venue) per fill
    executions: list[tuple[Any, ...]] = []
    singles: list[tuple[_OpenOrder, int]] = []  # (order, index of its fill)
    touched: list[_OpenOrder] = []
    to_allocate: list[_OpenOrder] = []
    tick_start = slot.sim_time - dt.timedelta(minutes=tick_minutes)
    for order in orders:
        asset_class = order.asset_class
        mid = market_tick.prices.get(order.instrument_id)
        quantity = Decimal(0)
        if mid and not np.isnan(mid):
            quantity = activity.fill_quantity(
                remaining=order.quantity - order.filled_quantity,
                original=order.quantity,
                lot=activity.LOT[asset_class],
                rng=rng,
            )
        if quantity > 0:
            price, _ = activity.execution_price(
                mid=mid, side=order.side, asset_class=asset_class, vix=market_tick.vix, rng=rng
            )
            millis = int(rng.integers(0, tick_minutes * 60_000))
            executed_at = tick_start + dt.timedelta(milliseconds=millis)
            executions.append(
                (
                    next(execution_ids),
                    order.pk,
                    quantity,
                    price,
                    Decimal(str(round(mid, 8))),
                    executed_at,
                    slot.number,
                    "XNYS" if asset_class == "equity" else "OTC",
                )
            )
            order.filled_quantity += quantity
            if order.mandate_id is not None:
                singles.append((order, len(executions) - 1))
        done = order.filled_quantity >= order.quantity
        expired = slot.is_day_end and order.time_in_force == TimeInForce.DAY and not done
        if done:
            order.status = OrderStatus.FILLED
        elif expired:
            order.status = OrderStatus.EXPIRED
        elif order.filled_quantity > 0:
            order.status = OrderStatus.PARTIALLY_FILLED
        if quantity > 0 or done or expired:
            touched.append(order)
        if order.mandate_id is None and (done or expired) and order.filled_quantity > 0:
            to_allocate.append(order)
    # Plain rows (book.bulk), ids taken up front: each single-mandate fill's trade points
    # at its fill.
    fill_pks = bulk.rows_insert_ids(Execution, _EXECUTION_COLUMNS, executions)
    bulk.rows_update(
        Order,
        ["filled_quantity", "status"],
        [(order.filled_quantity, order.status, order.pk) for order in touched],
    )
    requests = [
        _single_request(order, executions[index], fill_pks[index], slot) for order, index in singles
    ]
    requests += _allocations(to_allocate, slot)
    trades = trades_book(requests) if requests else []
    return len(executions), len(trades)


def _single_request(
    order: _OpenOrder, execution: tuple[Any, ...], execution_pk: int, slot: TickSlot
) -> TradeRequest:
    execution_id, _, quantity, price, _, executed_at, _, _ = execution
    return TradeRequest(
        mandate_id=order.mandate_id,
        instrument_id=order.instrument_id,
        side=order.side,
        quantity=quantity,
        price=price,
        trade_time=executed_at,
        broker_id=order.broker_id,
        trader_id=order.trader_id,
        source=TradeSource.SIMULATOR,
        order_id=order.pk,
        execution_id=execution_pk,
        tick=slot.number,
        payload={"order_id": order.order_id, "execution_id": execution_id},
    )


def _allocations(orders: list[_OpenOrder], slot: TickSlot) -> list[TradeRequest]:  # noqa: E501
    """One trade per mandate of each finished block, at the block's average price."""
    if not orders:
        return []
    pks = [order.pk for order in orders]
    fills: dict[int, list[tuple[Decimal, Decimal, dt.datetime]]] = defaultdict(list)
    for execution in Execution.objects.filter(order_id__in=pks).values_list(
        "order_id", "quantity", "price", "executed_at"
    ):  # noqa: E501
        fills[execution[0]].append(execution[1:])
    targets_of: dict[int, list[tuple[int, str, Decimal]]] = defaultdict(list)
    for order_pk, mandate_id, code, quantity in AllocationTarget.objects.filter(
        order_id__in=pks
    ).values_list("order_id", "mandate_id", "mandate__code", "quantity"):
        targets_of[order_pk].append((mandate_id, code, quantity))
    requests = []
    for order in orders:
        filled = sum(q for q, _, _ in fills[order.pk])
        if filled <= 0:
            continue
        average = (sum(q * p for q, p, _ in fills[order.pk]) / filled).quantize(
            Decimal("0.00000001"), rounding=ROUND_HALF_EVEN
        )
        last_fill = max(t for _, _, t in fills[order.pk])
        targets = {code: quantity for _, code, quantity in targets_of[order.pk]}
        mandate_ids = {code: mandate_id for mandate_id, code, _ in targets_of[order.pk]}
        split = activity.allocate(filled, targets, activity.LOT[order.asset_class])
        for code, quantity in sorted(split.items()):
            requests.append(
                TradeRequest(
                    mandate_id=mandate_ids[code],
                    instrument_id=order.instrument_id,
                    side=order.side,
                    quantity=quantity,
                    price=average,
                    trade_time=last_fill,
                    broker_id=order.broker_id,
                    trader_id=order.trader_id,
                    source=TradeSource.SIMULATOR,
                    order_id=order.pk,
                    tick=slot.number,
                    payload={
                        "order_id": order.order_id,
                        "allocation": True,
                        "block_filled": str(filled),
                    },  # noqa: E501
                )
            )
    return requests


def activity_tick(
    *, slot: TickSlot, seed: int, market_tick: MarketTick, tick_minutes: int
) -> ActivitySummary:  # noqa: E501
    """All of one tick's trading activity, in the order a desk would see it."""
    book = _load()
    flows = orders = 0
    tactical = settings.OPSSUITE_ORDERS_PER_MANDATE_TICK > 0 and not slot.is_day_end
    if slot.slot in (0, REBALANCE_SLOT) or tactical:
        navs, holdings = _navs(book, market_tick.prices)
        if slot.slot == 0:
            flows = _flows(slot=slot, seed=seed, book=book, navs=navs)
        orders = _orders_create(
            slot=slot,
            seed=seed,
            book=book,
            prices=market_tick.prices,
            navs=navs,
            holdings=holdings,
            rebalance=slot.slot == REBALANCE_SLOT,
        )
    executions, trades = _execute(
        slot=slot, seed=seed, market_tick=market_tick, tick_minutes=tick_minutes
    )  # noqa: E501
    return ActivitySummary(orders=orders, executions=executions, trades=trades, flows=flows)
