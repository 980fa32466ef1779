"""Booking trades, and everything a booking moves: positions, FIFO lots, realized P&L,
projected cash, the trade's first version and its event.

`trades_book` books a batch (a tick books hundreds): a fixed number of queries however many
trades or positions there are. `trade_book` is the one-trade form the API and tests use.
Amendments and cancellations never rewrite a trade's history: they add a TradeVersion,
then recompute the lots of that mandate and instrument by replaying its live trades.

A position's history is replayed in date order: trades by trade date (booking order within
a date), and each corporate action applied to it (a split, a bond's redemption) before the
trades of its effective date. Bookings normally arrive in that order; a trade dated before
what a position has already seen (a back-dated manual booking, a confirmation extracted
days later) makes the booking replay that position, so incremental == rebuilt always.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import bulk, calendar, events, lots
from ..models import (
    ActionApplication,
    ActionKind,
    AssetClass,
    Broker,
    CashBalance,
    CashKind,
    CashMovement,
    CashStatus,
    Instrument,
    LotRelief,
    Mandate,
    Position,
    Side,
    TaxLot,
    Trade,
    Trader,
    TradeSource,
    TradeStatus,
    TradeVersion,
)
from .events import events_append_many, events_record_many
from .sequences import ids_next

NEW_YORK = ZoneInfo("America/New_York")
MONEY = Decimal("0.0001")
ZERO = Decimal(0)
BOND_CLASSES = (AssetClass.GOVT_BOND, AssetClass.CORP_BOND)
LIVE_STATUSES = (
    TradeStatus.NEW,
    TradeStatus.EXECUTED,
    TradeStatus.CONFIRMED,
    TradeStatus.AMENDED,
    TradeStatus.SETTLED,
)


# The choices' values, read once (`.values` builds a new list at every call).
_SIDES = frozenset(Side.values)
_SOURCES = frozenset(TradeSource.values)


def money(value: Decimal) -> Decimal:
    """Money as stored: 4 dp, ROUND_HALF_EVEN."""
    return value.quantize(MONEY, rounding=ROUND_HALF_EVEN)


def plain(value: Decimal) -> str:
    """A number as people write it in a payload: no trailing zeros, no exponent (2, 1.5,
    0.1, 100)."""
    return format(value.normalize(), "f")


def trade_date_of(trade_time: dt.datetime) -> dt.date:
    """The trade date is the New York date of the trade time (US market convention)."""
    return trade_time.astimezone(NEW_YORK).date()


@dataclass(frozen=True)
class TradeRequest:
    """What is needed to book one trade. Commission None means the broker's schedule."""

    mandate_id: int
    instrument_id: int
    side: str
    quantity: Decimal
    price: Decimal
    trade_time: dt.datetime
    broker_id: int
    trader_id: int
    source: str = TradeSource.MANUAL
    commission: Decimal | None = None
    fees: Decimal = ZERO
    order_id: int | None = None
    execution_id: int | None = None
    settlement_date: dt.date | None = None
    status: str = TradeStatus.EXECUTED
    tick: int | None = None
    # The sim time it is booked at (the clock's, for a booking by hand): a trade time after
    # it is refused. None: the trade time (the simulator books as trades happen).
    sim_time: dt.datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Economics:
    gross: Decimal
    commission: Decimal
    fees: Decimal
    accrued_interest: Decimal
    net: Decimal
    trade_date: dt.date
    settlement_date: dt.date


def _bond_accrued(instrument: Instrument, quantity: Decimal, settlement: dt.date) -> Decimal:
    from risk.pricing import BondSpec, accrued_interest

    spec = BondSpec.from_terms(instrument.bond_terms)
    per_100 = Decimal(str(accrued_interest(spec, settlement)))
    return money(per_100 * quantity / Decimal(100))


def trade_economics(request: TradeRequest, instrument: Instrument, broker: Broker) -> Economics:
    """Gross, costs, accrued interest and net cash of a trade (no database)."""
    trade_date = trade_date_of(request.trade_time)
    settlement = request.settlement_date or calendar.settlement_date(
        instrument.asset_class, trade_date
    )
    if instrument.asset_class in BOND_CLASSES:
        # Bonds: quantity is face amount, price per 100 of face; no commission (dealt net).
        gross = money(request.quantity * request.price / Decimal(100))
        accrued = _bond_accrued(instrument, request.quantity, settlement)
        default_commission = ZERO
    elif instrument.asset_class == AssetClass.FX:
        # FX spot: quantity in the base currency, price the rate; gross in quote currency.
        gross = money(request.quantity * request.price)
        accrued = ZERO
        default_commission = ZERO
    else:
        gross = money(request.quantity * request.price)
        accrued = ZERO
        default_commission = max(
            broker.min_commission, money(gross * broker.commission_bps / Decimal(10_000))
        )
    commission = money(request.commission if request.commission is not None else default_commission)
    fees = money(request.fees)
    if request.side == Side.BUY:
        net = gross + commission + fees + accrued
    else:
        net = gross - commission - fees + accrued
    return Economics(gross, commission, fees, accrued, money(net), trade_date, settlement)


def _validate(
    request: TradeRequest,
    instrument: Instrument | None,
    mandate: Mandate | None,
    broker: Broker | None,
    trader_ok: bool,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if mandate is None:
        errors["mandate"] = ["unknown mandate"]
    elif not mandate.active:
        errors["mandate"] = [f"mandate {mandate.code} is not active"]
    if instrument is None:
        errors["instrument"] = ["unknown instrument"]
    elif not instrument.active:
        errors["instrument"] = [f"instrument {instrument.ticker} is not active"]
    if broker is None:
        errors["broker"] = ["unknown broker"]
    if not trader_ok:
        errors["trader"] = ["unknown trader"]
    if request.side not in _SIDES:
        errors["side"] = ["must be buy or sell"]
    if not isinstance(request.quantity, Decimal) or request.quantity <= 0:
        errors["quantity"] = ["must be a positive decimal"]
    if not isinstance(request.price, Decimal) or request.price <= 0:
        errors["price"] = ["must be a positive decimal"]
    if request.commission is not None and request.commission < 0:
        errors["commission"] = ["must not be negative"]
    if request.fees < 0:
        errors["fees"] = ["must not be negative"]
    if request.source not in _SOURCES:
        errors["source"] = [f"must be one of {', '.join(TradeSource.values)}"]
    if request.trade_time.tzinfo is None:
        errors["trade_time"] = ["must be timezone-aware"]
    else:
        trade_date = trade_date_of(request.trade_time)
        if request.sim_time is not None and request.trade_time > request.sim_time:
            errors["trade_time"] = [
                f"{request.trade_time.isoformat()} is after the current sim time "
                f"{request.sim_time.isoformat()}"
            ]
        elif not calendar.is_business_day(trade_date):
            errors["trade_time"] = [f"{trade_date} is not a business day"]
        elif request.settlement_date is not None and request.settlement_date < trade_date:
            errors["settlement_date"] = [
                f"{request.settlement_date} is before the trade date {trade_date}"
            ]
        matures = _maturity(instrument)
        if matures is not None and instrument is not None:
            settles = request.settlement_date or calendar.settlement_date(
                instrument.asset_class, trade_date
            )
            if settles >= matures:
                errors.setdefault("instrument", []).append(
                    f"{instrument.ticker} matures on {matures}: a trade settling then or "
                    "later is not possible (the bond is redeemed)"
                )
    if instrument is not None and instrument.asset_class == AssetClass.CASH:
        errors.setdefault("instrument", []).append("cash is not traded; it moves with trades")
    return errors


def _maturity(instrument: Instrument | None) -> dt.date | None:
    """A bond's maturity date (its terms are fetched with it), else None."""
    if instrument is None or instrument.asset_class not in BOND_CLASSES:
        return None
    terms = getattr(instrument, "bond_terms", None)
    return terms.maturity_date if terms is not None else None


def _terms(trade: Trade) -> dict[str, Any]:
    """The economic terms of a trade, as its versions keep them."""
    return {
        "mandate": trade.mandate.code if trade.mandate_id else None,
        "instrument": trade.instrument.ticker if trade.instrument_id else None,
        "side": trade.side,
        "quantity": str(trade.quantity.quantize(Decimal("0.000001"))),
        "price": str(trade.price.quantize(Decimal("0.00000001"))),
        "gross": str(trade.gross),
        "commission": str(trade.commission),
        "fees": str(trade.fees),
        "accrued_interest": str(trade.accrued_interest),
        "net": str(trade.net),
        "currency": trade.currency_id,
        "trade_time": trade.trade_time.isoformat(),
        "trade_date": trade.trade_date.isoformat(),
        "settlement_date": trade.settlement_date.isoformat(),
        "broker": trade.broker.code if trade.broker_id else None,
        "trader": trade.trader.code if trade.trader_id else None,
    }


def _cash_legs(trade: Trade, instrument: Instrument) -> list[tuple[str, Decimal]]:
    """(currency, signed amount) of the cash a trade moves on its settlement date."""
    if instrument.asset_class == AssetClass.FX:
        base = trade.quantity if trade.side == Side.BUY else -trade.quantity
        return [(instrument.base_currency_id, base), (trade.currency_id, -base * trade.price)]
    signed = -trade.net if trade.side == Side.BUY else trade.net
    return [(trade.currency_id, signed)]


def _lot_unit_price(trade: Trade, instrument: Instrument) -> Decimal:
    """Cash per unit of quantity, as the lots engine takes it (bonds: price x face / 100)."""
    if instrument.asset_class in BOND_CLASSES:
        return trade.price / Decimal(100)
    return trade.price


@transaction.atomic
def trades_book(requests: list[TradeRequest], *, actor: Any = None) -> list[Trade]:
    """Book a batch of trades, in order. All or nothing: one invalid request books none."""
    if not requests:
        return []
    instruments = Instrument.objects.select_related("bond_terms").in_bulk(
        {r.instrument_id for r in requests}
    )
    mandates = Mandate.objects.in_bulk({r.mandate_id for r in requests})
    brokers = Broker.objects.in_bulk({r.broker_id for r in requests})
    traders = Trader.objects.in_bulk({r.trader_id for r in requests})
    all_errors: dict[str, list[str]] = {}
    for index, request in enumerate(requests):
        errors = _validate(
            request,
            instruments.get(request.instrument_id),
            mandates.get(request.mandate_id),
            brokers.get(request.broker_id),
            request.trader_id in traders,
        )
        for key, messages in errors.items():
            name = key if len(requests) == 1 else f"{index}.{key}"
            all_errors[name] = messages
    if all_errors:
        raise ValidationError(all_errors)

    trade_ids = ids_next("T", len(requests))
    booked_at = timezone.now()
    trades = []
    for trade_id, request in zip(trade_ids, requests, strict=True):
        instrument = instruments[request.instrument_id]
        econ = trade_economics(request, instrument, brokers[request.broker_id])
        trade = Trade(
            trade_id=trade_id,
            mandate_id=request.mandate_id,
            instrument_id=request.instrument_id,
            side=request.side,
            quantity=request.quantity,
            price=request.price,
            gross=econ.gross,
            commission=econ.commission,
            fees=econ.fees,
            accrued_interest=econ.accrued_interest,
            net=econ.net,
            currency_id=instrument.currency_id,
            trade_time=request.trade_time,
            trade_date=econ.trade_date,
            settlement_date=econ.settlement_date,
            broker_id=request.broker_id,
            trader_id=request.trader_id,
            order_id=request.order_id,
            execution_id=request.execution_id,
            source=request.source,
            status=request.status,
            tick=request.tick,
            booked_at=booked_at,
        )
        # The related rows already read, cached on the trade as passing them would (their
        # ids above are cheaper to set than the instances, through the descriptors).
        trade._state.fields_cache.update(
            mandate=mandates[request.mandate_id],
            instrument=instrument,
            broker=brokers[request.broker_id],
            trader=traders[request.trader_id],
        )
        trades.append(trade)
    _trades_insert(trades)
    actor_name = _actor_name(actor)
    # Versions, lots' reliefs, cash movements and events are written as plain rows (COPY on
    # PostgreSQL, book.bulk): nothing needs their ids back. Trades and new lots do, so their
    # ids are taken first from the tables' sequences (bulk.rows_insert_ids).
    bulk.rows_insert(
        TradeVersion,
        _VERSION_COLUMNS,
        [
            (
                t.pk,
                1,
                t.status,
                _terms(t),
                "booked",
                actor_name,
                t.tick,
                request.sim_time or t.trade_time,
                booked_at,
            )
            for t, request in zip(trades, requests, strict=True)
        ],
    )
    out_of_order = _apply_to_holdings(trades, instruments)
    for mandate_id, instrument_id in sorted(out_of_order):
        holdings_rebuild(mandate_id, instrument_id)
    _cash_book(trades, instruments)
    events_append_many(
        [
            {
                "kind": events.TRADE_BOOKED,
                "source": events.Source.BOOK,
                "actor": actor,
                "trade_id": t.trade_id,
                "instrument": t.instrument.ticker,
                "mandate": t.mandate.code,
                "tick": t.tick,
                "sim_time": request.sim_time or t.trade_time,
                "payload": {
                    "side": t.side,
                    "quantity": str(t.quantity),
                    "price": str(t.price),
                    "net": str(t.net),
                    "currency": t.currency_id,
                    "settlement_date": t.settlement_date.isoformat(),
                    "source": t.source,
                    **request.payload,
                },
            }
            for t, request in zip(trades, requests, strict=True)
        ]
    )
    return trades


_TRADE_COLUMNS = (
    "trade_id",
    "version",
    "mandate_id",
    "instrument_id",
    "side",
    "quantity",
    "price",
    "gross",
    "commission",
    "fees",
    "accrued_interest",
    "net",
    "currency_id",
    "trade_time",
    "trade_date",
    "settlement_date",
    "broker_id",
    "trader_id",
    "order_id",
    "execution_id",
    "source",
    "status",
    "tick",
    "booked_at",
)
_VERSION_COLUMNS = (
    "trade_id",
    "version",
    "status",
    "terms",
    "reason",
    "actor",
    "tick",
    "sim_time",
    "recorded_at",
)


def _trades_insert(trades: list[Trade]) -> None:
    """Insert new trades (every column set, booked_at included) and give them their ids:
    what bulk_create does, without preparing each instance's fields through the ORM."""
    bulk.instances_insert(trades, _TRADE_COLUMNS)


def trade_book(*, actor: Any = None, **fields: Any) -> Trade:
    """Book one trade (the fields of TradeRequest)."""
    return trades_book([TradeRequest(**fields)], actor=actor)[0]


def _actor_name(actor: Any) -> str:
    if actor is None or isinstance(actor, str):
        return actor or "system"
    return actor.get_username() if getattr(actor, "is_authenticated", False) else "system"


def _apply_to_holdings(
    trades: list[Trade], instruments: dict[int, Instrument]
) -> set[tuple[int, int]]:
    """Positions, lots and reliefs for a batch of trades, in booking order. Returns the
    (mandate, instrument) pairs a trade reached out of date order (dated before what the
    position had seen): the caller replays those (`holdings_rebuild`)."""
    keyed = [t for t in trades if instruments[t.instrument_id].asset_class != AssetClass.FX]
    if not keyed:
        return set()
    keys = {(t.mandate_id, t.instrument_id) for t in keyed}
    pairs = _pairs_filter(keys)
    # Plain tuples, not instances: a tick reads thousands of open lots.
    open_rows = list(
        TaxLot.objects.filter(pairs)
        .exclude(open_quantity=0)
        .order_by("id")
        .values_list("id", "mandate_id", "instrument_id", "open_date", "open_quantity", "unit_cost")
    )
    stored_quantity: dict[int, Decimal] = {row[0]: row[4] for row in open_rows}
    open_lots: dict[tuple[int, int], list[lots.Lot]] = defaultdict(list)
    for lot_id, mandate_id, instrument_id, open_date, open_quantity, unit_cost in open_rows:
        open_lots[(mandate_id, instrument_id)].append(
            lots.Lot(
                lot_id=lot_id, open_date=open_date, quantity=open_quantity, unit_cost=unit_cost
            )
        )
    position_rows = list(
        Position.objects.filter(pairs).values_list(
            "id", "mandate_id", "instrument_id", "realized_pnl", "latest_date"
        )
    )
    positions = {(m, i): (pk, realized_pnl) for pk, m, i, realized_pnl, _ in position_rows}
    # The latest date each position has seen, kept up as the batch goes.
    latest: dict[tuple[int, int], dt.date] = {
        (m, i): seen for _, m, i, _, seen in position_rows if seen is not None
    }
    out_of_order: set[tuple[int, int]] = set()

    # temporary negative id -> the new lot's columns (_LOT_COLUMNS but open_quantity)
    new_lot_rows: dict[int, tuple[Any, ...]] = {}
    pending_reliefs: list[tuple[lots.Relief, Trade]] = []
    realized: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    next_temp = -1
    for trade in keyed:
        key = (trade.mandate_id, trade.instrument_id)
        seen = latest.get(key)
        if seen is not None and trade.trade_date < seen:
            out_of_order.add(key)
        elif seen is None or trade.trade_date > seen:
            latest[key] = trade.trade_date
        result = lots.apply_trade(
            open_lots[key],
            side=trade.side,
            quantity=trade.quantity,
            unit_price=_lot_unit_price(trade, instruments[trade.instrument_id]),
            costs=trade.commission + trade.fees,
            trade_date=trade.trade_date,
        )
        # `remaining` ends with the new lot (id None): it gets a temporary id until stored.
        remaining = [lot for lot in result.remaining if lot.lot_id is not None]
        if result.new_lot is not None:
            temp_id = next_temp
            next_temp -= 1
            new_lot_rows[temp_id] = (
                trade.mandate_id,
                trade.instrument_id,
                trade.pk,
                result.new_lot.open_date,
                result.new_lot.quantity,
                result.new_lot.unit_cost,
            )
            remaining.append(
                lots.Lot(
                    temp_id,
                    result.new_lot.open_date,
                    result.new_lot.quantity,
                    result.new_lot.unit_cost,
                )
            )  # noqa: E501
        open_lots[key] = remaining
        for relief in result.reliefs:
            pending_reliefs.append((relief, trade))
        realized[key] += result.realized_pnl

    # Write back what is left open of every lot touched (stored and new).
    left = {lot.lot_id: lot.quantity for key_lots in open_lots.values() for lot in key_lots}
    changed = []
    for lot_id, stored in stored_quantity.items():
        quantity = left.get(lot_id, ZERO)
        if quantity != stored:
            changed.append((quantity, lot_id))
    bulk.rows_update(TaxLot, ["open_quantity"], changed)
    created = bulk.rows_insert_ids(
        TaxLot,
        _LOT_COLUMNS,
        [(*row, left.get(temp_id, ZERO)) for temp_id, row in new_lot_rows.items()],
    )
    real_id = dict(zip(new_lot_rows, created, strict=True))
    bulk.rows_insert(
        LotRelief,
        _RELIEF_COLUMNS,
        [
            (
                real_id.get(relief.lot_id, relief.lot_id),
                trade.pk,
                relief.quantity,
                relief.unit_cost,
                relief.unit_proceeds,
                relief.realized_pnl,
            )
            for relief, trade in pending_reliefs
        ],
    )

    last_tick = {(t.mandate_id, t.instrument_id): t.tick for t in keyed}
    to_update, to_create = [], []
    for key in keys:
        quantity, cost = lots.position_from_lots(open_lots[key])
        position = positions.get(key)
        if position is None:
            to_create.append(
                (
                    key[0],
                    key[1],
                    quantity,
                    money(cost),
                    realized[key],
                    last_tick[key],
                    latest[key],
                )
            )
        else:
            pk, realized_pnl = position
            to_update.append(
                (
                    quantity,
                    money(cost),
                    realized_pnl + realized[key],
                    last_tick[key],
                    latest[key],
                    pk,
                )
            )
    bulk.rows_insert(Position, _POSITION_COLUMNS, to_create)
    bulk.rows_update(
        Position,
        ["quantity", "cost_basis", "realized_pnl", "updated_tick", "latest_date"],
        to_update,
    )
    return out_of_order


_LOT_COLUMNS = (
    "mandate_id",
    "instrument_id",
    "opening_trade_id",
    "open_date",
    "original_quantity",
    "unit_cost",
    "open_quantity",
)
_RELIEF_COLUMNS = (
    "lot_id",
    "closing_trade_id",
    "quantity",
    "unit_cost",
    "unit_proceeds",
    "realized_pnl",
)
_POSITION_COLUMNS = (
    "mandate_id",
    "instrument_id",
    "quantity",
    "cost_basis",
    "realized_pnl",
    "updated_tick",
    "latest_date",
)
_CASH_COLUMNS = (
    "mandate_id",
    "currency_id",
    "amount",
    "kind",
    "trade_id",
    "reference",
    "value_date",
    "status",
    "tick",
)


def _pairs_filter(keys: set[tuple[int, int]]) -> Q:
    """Rows of exactly these (mandate, instrument) pairs: one term a mandate, so the
    (mandate, instrument) indexes are used and no other pair's rows are read."""
    by_mandate: dict[int, list[int]] = defaultdict(list)
    for mandate_id, instrument_id in sorted(keys):
        by_mandate[mandate_id].append(instrument_id)
    condition = Q()
    for mandate_id, instrument_ids in by_mandate.items():
        condition |= Q(mandate_id=mandate_id, instrument_id__in=instrument_ids)
    return condition


def _cash_book(trades: list[Trade], instruments: dict[int, Instrument]) -> None:
    movements = []
    for trade in trades:
        for currency, amount in _cash_legs(trade, instruments[trade.instrument_id]):
            movements.append(
                (
                    trade.mandate_id,
                    currency,
                    money(amount),
                    CashKind.TRADE.value,
                    trade.pk,
                    trade.trade_id,
                    trade.settlement_date,
                    CashStatus.PROJECTED.value,
                    trade.tick,
                )
            )
    bulk.rows_insert(CashMovement, _CASH_COLUMNS, movements)
    cash_balances_add([(m[0], m[1], ZERO, m[2]) for m in movements])


def cash_balances_add(deltas: list[tuple[int, str, Decimal, Decimal]]) -> None:
    """Add (settled, projected) amounts to the balances of (mandate, currency)."""
    totals: dict[tuple[int, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for mandate_id, currency, settled, projected in deltas:
        totals[(mandate_id, currency)][0] += settled
        totals[(mandate_id, currency)][1] += projected
    if not totals:
        return
    existing = {
        (b.mandate_id, b.currency_id): b
        for b in CashBalance.objects.filter(
            mandate_id__in={m for m, _ in totals}, currency_id__in={c for _, c in totals}
        )
    }
    missing = [
        CashBalance(mandate_id=m, currency_id=c) for (m, c) in totals if (m, c) not in existing
    ]
    if missing:
        # ignore_conflicts: a concurrent booking may have created the same balance row.
        CashBalance.objects.bulk_create(missing, ignore_conflicts=True)
    # Additions in the database (SET settled = settled + %s), so two workers adding to
    # one balance never lose an addition; one executemany instead of an UPDATE a balance.
    bulk.rows_add(
        CashBalance,
        ["settled", "projected"],
        ["mandate", "currency"],
        [(s, p, m, c) for (m, c), (s, p) in totals.items()],
    )


def _version_add(
    trade: Trade,
    *,
    status: str,
    reason: str,
    actor: Any,
    tick: int | None,
    sim_time: dt.datetime | None,
) -> None:
    trade.version += 1
    trade.status = status
    TradeVersion.objects.create(
        trade=trade,
        version=trade.version,
        status=status,
        terms=_terms(trade),
        reason=reason,
        actor=_actor_name(actor),
        tick=tick,
        sim_time=sim_time,
    )


def _cash_reverse(trade: Trade) -> None:
    """Cancel a trade's still-projected cash movements (settled cash is not undone here)."""
    open_moves = list(trade.cash_movements.filter(status=CashStatus.PROJECTED))
    for move in open_moves:
        move.status = CashStatus.CANCELLED
    CashMovement.objects.bulk_update(open_moves, ["status"])
    cash_balances_add([(m.mandate_id, m.currency_id, ZERO, -m.amount) for m in open_moves])


def holdings_rebuild(mandate_id: int, instrument_id: int) -> None:
    """Recompute one position, its lots and reliefs from its live trades and the corporate
    actions applied to it, in date order: trades by trade date (booking order within a
    date), each action before the trades of its effective date."""
    instrument = Instrument.objects.get(pk=instrument_id)
    if instrument.asset_class == AssetClass.FX:
        return
    trades = list(
        Trade.objects.filter(
            mandate_id=mandate_id, instrument_id=instrument_id, status__in=LIVE_STATUSES
        ).order_by("id")
    )
    applications = list(
        ActionApplication.objects.filter(mandate_id=mandate_id, instrument_id=instrument_id)
        .select_related("corporate_action")
        .order_by("effective_date", "id")
    )
    LotRelief.objects.filter(lot__mandate_id=mandate_id, lot__instrument_id=instrument_id).delete()
    TaxLot.objects.filter(mandate_id=mandate_id, instrument_id=instrument_id).delete()
    Position.objects.filter(mandate_id=mandate_id, instrument_id=instrument_id).delete()
    steps: list[tuple[tuple[dt.date, int, int], Trade | ActionApplication]] = [
        ((t.trade_date, 1, t.pk), t) for t in trades
    ]
    steps += [((a.effective_date, 0, a.pk), a) for a in applications]
    steps.sort(key=lambda step: step[0])
    segment: list[Trade] = []
    for _, step in steps:
        if isinstance(step, Trade):
            segment.append(step)
            continue
        if segment:
            _apply_to_holdings(segment, {instrument_id: instrument})
            segment = []
        action_to_holdings(step)
    if segment:
        _apply_to_holdings(segment, {instrument_id: instrument})


def _open_lots(mandate_id: int, instrument_id: int) -> list[TaxLot]:
    return list(
        TaxLot.objects.filter(mandate_id=mandate_id, instrument_id=instrument_id)
        .exclude(open_quantity=0)
        .order_by("id")
    )


def _as_lots(rows: list[TaxLot]) -> list[lots.Lot]:
    return [lots.Lot(r.pk, r.open_date, r.open_quantity, r.unit_cost) for r in rows]


def action_to_holdings(application: ActionApplication) -> None:
    """What one applied corporate action does to its position's lots, as of now: a split
    multiplies the open lots (quantity x ratio, unit cost / ratio), a redemption closes
    them at the redemption price with the P&L it realizes (LotRelief rows that name the
    application). The application gets the quantities before and after (and, for a
    redemption, what it realized). Used when an action is applied and when a position is
    replayed, so both give the same lots."""
    action = application.corporate_action
    key = (application.mandate_id, application.instrument_id)
    position = Position.objects.filter(mandate_id=key[0], instrument_id=key[1]).first()
    rows = _open_lots(*key)
    before = position.quantity if position is not None else ZERO
    realized = ZERO
    if action.kind == ActionKind.SPLIT:
        after_lots = lots.apply_split(_as_lots(rows), action.ratio)
        for row, lot in zip(rows, after_lots, strict=True):
            row.original_quantity = lots.split_quantity(row.original_quantity, action.ratio)
            row.open_quantity = lot.quantity
            row.unit_cost = lot.unit_cost
        TaxLot.objects.bulk_update(rows, ["original_quantity", "open_quantity", "unit_cost"])
    elif action.kind == ActionKind.REDEMPTION:
        after_lots = []
        held = sum((row.open_quantity for row in rows), ZERO)
        if held:
            result = lots.apply_trade(
                _as_lots(rows),
                side=Side.SELL if held > 0 else Side.BUY,
                quantity=abs(held),
                unit_price=action.amount_per_unit,
                costs=ZERO,
                trade_date=application.effective_date,
            )
            for row in rows:
                row.open_quantity = ZERO
            TaxLot.objects.bulk_update(rows, ["open_quantity"])
            LotRelief.objects.bulk_create(
                [
                    LotRelief(
                        lot_id=relief.lot_id,
                        closing_action=application,
                        quantity=relief.quantity,
                        unit_cost=relief.unit_cost,
                        unit_proceeds=relief.unit_proceeds,
                        realized_pnl=relief.realized_pnl,
                    )
                    for relief in result.reliefs
                ]
            )
            realized = result.realized_pnl
    else:
        raise ValueError(f"a {action.kind} does not change holdings")
    quantity, cost = lots.position_from_lots(after_lots)
    if position is not None:
        position.quantity = quantity
        position.cost_basis = money(cost)
        position.realized_pnl += realized
        position.updated_tick = application.tick
        position.latest_date = max(
            position.latest_date or application.effective_date, application.effective_date
        )
        position.save(
            update_fields=["quantity", "cost_basis", "realized_pnl", "updated_tick", "latest_date"]
        )
    changed = (
        application.quantity_before != before
        or application.quantity_after != quantity
        or application.realized_pnl != realized
    )
    application.quantity_before, application.quantity_after = before, quantity
    application.realized_pnl = realized
    if changed:
        # Just applied; or replayed after trades before it were amended or cancelled.
        application.save(update_fields=["quantity_before", "quantity_after", "realized_pnl"])


@transaction.atomic
def trade_cancel(
    *,
    trade_id: str,
    reason: str,
    actor: Any = None,
    tick: int | None = None,
    sim_time: dt.datetime | None = None,
) -> Trade:
    trade = _trade_for_change(trade_id, reason)
    _version_add(
        trade,
        status=TradeStatus.CANCELLED,
        reason=reason,
        actor=actor,
        tick=tick,
        sim_time=sim_time,
    )
    trade.save(update_fields=["version", "status"])
    _cash_reverse(trade)
    holdings_rebuild(trade.mandate_id, trade.instrument_id)
    events_record_many(
        [
            {
                "kind": events.TRADE_CANCELLED,
                "source": events.Source.BOOK,
                "actor": actor,
                "trade_id": trade.trade_id,
                "instrument": trade.instrument.ticker,
                "mandate": trade.mandate.code,
                "tick": tick,
                "sim_time": sim_time,
                "payload": {"version": trade.version, "reason": reason},
            }
        ]
    )
    return trade


AMENDABLE = ("quantity", "price", "commission", "fees", "settlement_date", "trade_time")


@transaction.atomic
def trade_amend(
    *,
    trade_id: str,
    changes: dict[str, Any],
    reason: str,
    actor: Any = None,
    tick: int | None = None,
    sim_time: dt.datetime | None = None,
) -> Trade:
    """New terms for a trade: a new version; cash and lots follow the new terms."""
    unknown = sorted(set(changes) - set(AMENDABLE))
    if unknown:
        raise ValidationError({name: ["cannot be amended"] for name in unknown})
    if not changes:
        raise ValidationError({"changes": ["nothing to amend"]})
    trade = _trade_for_change(trade_id, reason)
    before = _terms(trade)
    request = TradeRequest(
        mandate_id=trade.mandate_id,
        instrument_id=trade.instrument_id,
        side=trade.side,
        quantity=changes.get("quantity", trade.quantity),
        price=changes.get("price", trade.price),
        trade_time=changes.get("trade_time", trade.trade_time),
        broker_id=trade.broker_id,
        trader_id=trade.trader_id,
        source=trade.source,
        commission=changes.get("commission", trade.commission),
        fees=changes.get("fees", trade.fees),
        settlement_date=changes.get("settlement_date", trade.settlement_date),
        # A new trade time is checked against the sim time of the change (the trade's own
        # time was checked when it was booked).
        sim_time=sim_time if "trade_time" in changes else None,
    )
    errors = _validate(request, trade.instrument, trade.mandate, trade.broker, True)
    if errors:
        raise ValidationError(errors)
    econ = trade_economics(request, trade.instrument, trade.broker)
    _cash_reverse(trade)
    for name, value in asdict(econ).items():
        setattr(trade, name, value)
    trade.quantity, trade.price, trade.trade_time = (
        request.quantity,
        request.price,
        request.trade_time,
    )  # noqa: E501
    _version_add(
        trade, status=TradeStatus.AMENDED, reason=reason, actor=actor, tick=tick, sim_time=sim_time
    )
    trade.save()
    _cash_book([trade], {trade.instrument_id: trade.instrument})
    holdings_rebuild(trade.mandate_id, trade.instrument_id)
    events_record_many(
        [
            {
                "kind": events.TRADE_AMENDED,
                "source": events.Source.BOOK,
                "actor": actor,
                "trade_id": trade.trade_id,
                "instrument": trade.instrument.ticker,
                "mandate": trade.mandate.code,
                "tick": tick,
                "sim_time": sim_time,
                "payload": {
                    "version": trade.version,
                    "reason": reason,
                    "before": before,
                    "after": _terms(trade),
                },  # noqa: E501
            }
        ]
    )
    return trade


def _trade_for_change(trade_id: str, reason: str) -> Trade:
    if not reason or not reason.strip():
        raise ValidationError({"reason": ["a reason is required"]})
    trade = (
        Trade.objects.select_for_update(of=("self",))
        .select_related("mandate", "instrument", "instrument__bond_terms", "broker", "trader")
        .filter(trade_id=trade_id)
        .first()
    )
    if trade is None:
        raise Trade.DoesNotExist(f"no trade {trade_id}")
    if trade.status == TradeStatus.CANCELLED:
        raise ValidationError({"trade_id": [f"{trade_id} is cancelled"]})
    if trade.status == TradeStatus.SETTLED:
        raise ValidationError({"trade_id": [f"{trade_id} has settled: book a correcting trade"]})
    return trade
