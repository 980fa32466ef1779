"""Trade recon over the book's own records: the broker's executions (fills) against the
confirmations brokers sent back, and against the trades booked from them — each tick, for
what arrived or fell due. The matching itself is recon.engine's, the same engine the file
import uses; this module only decides *what is compared with what* (the match key).

Brokers confirm at different grains, and the key follows the confirmation:
- a confirmation that names a trade id is matched with that trade's fill (or, for a trade
  allocated from a block, with the block's fills);
- a per-order confirmation with no trade id (an order booked as several trades) is matched
  with all of the order's fills, aggregated (sum of quantity, volume-weighted price);
- a per-fill confirmation with no trade id (a block's fill, allocated later) is matched
  with the order's fill nearest in time.
An execution is due a confirmation after its broker's lag plus a grace
(`ReconSettings.confirmation_grace_ticks`); no confirmation by then is a
missing_confirmation break, which clears if the confirmation turns up later.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q

from book.models import (
    BrokerConfirmation,
    Execution,
    Order,
    OrderStatus,
    Trade,
    TradeStatus,
)

BOND_CLASSES = ("govt_bond", "corp_bond")
FINISHED = (OrderStatus.FILLED, OrderStatus.EXPIRED, OrderStatus.CANCELLED)


@dataclass
class KeyInfo:
    """What one match key stands for on our side."""

    key: str
    fills: list[Execution] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    mandate_id: int | None = None
    instrument_id: int | None = None
    order_ids: list[str] = field(default_factory=list)


@dataclass
class TradeInputs:
    executions: list[dict]
    confirmations: list[dict]
    pnl: list[dict]
    keys: dict[str, KeyInfo]


def _conf_key(conf: BrokerConfirmation, nearest_fill: dict[int, str]) -> str:
    if conf.trade_id:
        return conf.trade_id
    if conf.pk in nearest_fill:
        return nearest_fill[conf.pk]
    return conf.order_id or f"?{conf.confirmation_id}"


def _nearest_fills(confs: list[BrokerConfirmation]) -> dict[int, str]:
    """Per-fill confirmations without a trade id: the order's fill nearest in time."""
    loose = [c for c in confs if not c.trade_id and c.order_id and not c.broker.confirms_per_order]
    if not loose:
        return {}
    fills: dict[str, list[Execution]] = defaultdict(list)
    for fill in Execution.objects.filter(
        order__order_id__in={c.order_id for c in loose}
    ).select_related("order"):
        fills[fill.order.order_id].append(fill)
    out: dict[int, str] = {}
    for conf in loose:
        candidates = fills.get(conf.order_id)
        if candidates:
            best = min(
                candidates,
                key=lambda f: (
                    abs((f.executed_at - conf.executed_at).total_seconds()),
                    abs(f.quantity - conf.quantity),
                ),
            )
            out[conf.pk] = best.execution_id
    return out


def _key_of_fill(fill: Execution, per_order: bool) -> str:
    """The key a broker's confirmation of this fill will carry (see the module docstring)."""
    if per_order:
        order_trades = list(fill.order.trades.all())
        return order_trades[0].trade_id if len(order_trades) == 1 else fill.order.order_id
    trades = sorted(fill.trades.all(), key=lambda t: t.pk)
    return trades[0].trade_id if trades else fill.execution_id


def due_keys(tick: int, grace: int) -> set[str]:
    """Keys whose executions fall due a confirmation at `tick`: per-fill brokers' fills of
    tick - lag - grace, and per-order brokers' finished orders whose last fill was then.
    One indexed lookup per broker, however long the history."""
    from book.models import Broker

    wanted = Q()
    for broker_id, lag in Broker.objects.values_list("pk", "confirmation_lag_ticks"):
        wanted |= Q(order__broker_id=broker_id, tick=tick - lag - grace)
    keys: set[str] = set()
    fills = (
        Execution.objects.filter(wanted)
        .select_related("order__broker")
        .prefetch_related("trades", "order__trades", "order__executions")
    )
    for fill in fills:
        broker = fill.order.broker
        if broker.confirms_per_order:
            if fill.order.status not in FINISHED:
                continue
            if max(e.tick or 0 for e in fill.order.executions.all()) != fill.tick:
                continue
        keys.add(_key_of_fill(fill, broker.confirms_per_order))
    return keys


def inputs_for(keys: set[str], extra_confirmations: list[BrokerConfirmation]) -> TradeInputs:
    """Both sides of every key in `keys` (and of the keys of `extra_confirmations`)."""
    confs = list(extra_confirmations)
    nearest = _nearest_fills(confs)
    keys = set(keys) | {_conf_key(c, nearest) for c in confs}
    infos: dict[str, KeyInfo] = {k: KeyInfo(key=k) for k in keys}
    trade_keys = [k for k in keys if k.startswith("T-")]
    order_keys = [k for k in keys if k.startswith("O-")]
    fill_keys = [k for k in keys if k.startswith("X-")]
    trades = {
        t.trade_id: t
        for t in Trade.objects.filter(trade_id__in=trade_keys).select_related(
            "instrument", "execution", "order"
        )
    }
    order_ids: set[int] = set()
    for key in trade_keys:
        trade = trades.get(key)
        if trade is None:
            continue
        info = infos[key]
        info.trades = [trade]
        info.mandate_id, info.instrument_id = trade.mandate_id, trade.instrument_id
        if trade.execution_id:
            info.fills = [trade.execution]
        elif trade.order_id:
            order_ids.add(trade.order_id)
    orders = {
        o.order_id: o
        for o in Order.objects.filter(order_id__in=order_keys).prefetch_related(
            "trades__instrument"
        )
    }
    order_ids |= {o.pk for o in orders.values()}
    fills_by_order: dict[int, list[Execution]] = defaultdict(list)
    for fill in Execution.objects.filter(order_id__in=order_ids).order_by("id"):
        fills_by_order[fill.order_id].append(fill)
    for key in trade_keys:
        trade = trades.get(key)
        if trade is not None and not trade.execution_id and trade.order_id:
            infos[key].fills = fills_by_order.get(trade.order_id, [])
    for key in order_keys:
        order = orders.get(key)
        if order is None:
            continue
        info = infos[key]
        info.fills = fills_by_order.get(order.pk, [])
        info.trades = list(order.trades.all())
        info.mandate_id, info.instrument_id = order.mandate_id, order.instrument_id
    for fill in Execution.objects.filter(execution_id__in=fill_keys).prefetch_related(
        "order__trades__instrument"
    ):
        info = infos[fill.execution_id]
        info.fills = [fill]
        # A block's fill: the trades allocated from the block, once it is allocated.
        info.trades = list(fill.order.trades.all())
        info.mandate_id, info.instrument_id = fill.order.mandate_id, fill.order.instrument_id
    # Orders and instruments for the fills' tickers and sides.
    all_orders = Order.objects.in_bulk({f.order_id for info in infos.values() for f in info.fills})
    instruments = {
        o.pk: o.instrument
        for o in Order.objects.filter(pk__in=list(all_orders)).select_related("instrument")
    }
    executions: list[dict] = []
    pnl: list[dict] = []
    for key, info in infos.items():
        info.order_ids = sorted({all_orders[f.order_id].order_id for f in info.fills})
        for fill in info.fills:
            order = all_orders[fill.order_id]
            executions.append(
                {
                    "trade_id": key,
                    "ticker": instruments[order.pk].ticker,
                    "quantity": fill.quantity,
                    "price": fill.price,
                    "timestamp": fill.executed_at,
                    "side": order.side,
                }
            )
        live = [t for t in info.trades if t.status != TradeStatus.CANCELLED]
        # A block's single fill is allocated with the rest of the block: its trades are
        # the whole order's, so there is no per-fill consideration to check.
        if (
            info.fills
            and live
            and not key.startswith("X-")
            and all(t.instrument.asset_class not in BOND_CLASSES for t in live)
        ):
            # The booked trades' consideration less commission: what P&L and the ledger
            # were given. Bonds are left out (gross carries face / 100 and accrued).
            commission = sum((t.commission for t in live), Decimal(0))
            pnl.append(
                {
                    "trade_id": key,
                    "pnl_impact": sum((t.gross for t in live), Decimal(0)) - commission,
                    "commission": commission,
                }
            )
    # Every confirmation of every key, not only the new ones (duplicates, late ones).
    fill_orders = {all_orders[f.order_id].order_id for k in fill_keys for f in infos[k].fills}
    stored = list(
        BrokerConfirmation.objects.filter(trade_id__in=trade_keys).select_related("broker")
    ) + list(
        BrokerConfirmation.objects.filter(
            trade_id="", order_id__in=set(order_keys) | fill_orders
        ).select_related("broker")
    )
    by_pk = {c.pk: c for c in stored}
    for conf in confs:
        by_pk.setdefault(conf.pk, conf)
    nearest = _nearest_fills(list(by_pk.values()))
    confirmations = []
    for conf in sorted(by_pk.values(), key=lambda c: c.pk):
        key = _conf_key(conf, nearest)
        if key not in infos:
            continue
        confirmations.append(
            {
                "trade_id": key,
                "ticker": conf.ticker,
                "quantity": conf.quantity,
                "price": conf.price,
                "timestamp": conf.executed_at,
                "side": conf.side,
                "confirmation_id": conf.confirmation_id,
            }
        )
    return TradeInputs(executions=executions, confirmations=confirmations, pnl=pnl, keys=infos)
