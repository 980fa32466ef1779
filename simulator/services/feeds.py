"""What the outside world sends back: broker confirmations (after each broker's lag, per
fill or per order), settlement at the custodian on the settlement date, and custodian
statements (intraday snapshots and the end-of-day statement) — each with the scenario's
faults injected, and recorded as ground truth."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import Q, Sum

from book.lots import split_quantity
from book.models import (
    ActionApplication,
    ActionKind,
    Broker,
    CashBalance,
    Execution,
    Mandate,
    Order,
    OrderStatus,
    Position,
    StatementKind,
    Trade,
)
from book.services import (
    ConfirmationIn,
    HoldingIn,
    StatementIn,
    confirmations_record,
    settlements_process,
    statements_record,
)
from book.services.settlement import SETTLEABLE

from ..calendar import TickSlot
from ..models import FaultKind, InjectedFault
from .faults import FaultDice, fault_rates

INTRADAY_SNAPSHOT_EVERY = 8  # ticks
LATE_STATEMENT_DELAY_TICKS = 3
SECURITIES = ("equity", "govt_bond", "corp_bond")


def _dice(seed: int, slot: TickSlot, stream: int) -> FaultDice:
    return FaultDice(
        seed=seed,
        sim_date=slot.sim_date,
        slot=slot.slot,
        stream=stream,
        rates=fault_rates(),
        tick=slot.number,
        sim_time=slot.sim_time,
    )


def _reported_ticker(ticker: str, dice: FaultDice) -> str:
    """Brokers do not all format tickers alike (case, padding): noise, not a fault."""
    roll = dice.rng.random()
    if roll < 0.1:
        return ticker.lower()
    if roll < 0.15:
        return f" {ticker} "
    return ticker


def confirmations_tick(*, slot: TickSlot, seed: int) -> int:
    """Confirmations due this tick: per fill for most brokers (fills `lag` ticks ago), per
    order for brokers that aggregate (orders whose last fill was `lag` ticks ago)."""
    dice = _dice(seed, slot, 2)
    incoming: list[tuple[ConfirmationIn, str, int | None]] = []
    brokers = list(Broker.objects.order_by("code"))
    per_fill = [b for b in brokers if not b.confirms_per_order]
    for broker in per_fill:
        due_tick = slot.number - broker.confirmation_lag_ticks
        fills = (
            Execution.objects.filter(order__broker=broker, tick=due_tick)
            .select_related("order__instrument")
            .prefetch_related("trades")
            .order_by("id")
        )
        for fill in fills:
            trade = next(iter(fill.trades.all()), None)
            incoming.append(
                (
                    ConfirmationIn(
                        broker_id=broker.pk,
                        ticker=fill.order.instrument.ticker,
                        side=fill.order.side,
                        quantity=fill.quantity,
                        price=fill.price,
                        executed_at=fill.executed_at,
                        received_at=slot.sim_time,
                        received_tick=slot.number,
                        source="simulator",
                        trade_id=trade.trade_id if trade else "",
                        order_id=fill.order.order_id,
                        commission=trade.commission if trade else Decimal(0),
                        settlement_date=trade.settlement_date if trade else None,
                    ),
                    trade.trade_id if trade else "",
                    fill.order.mandate_id,
                )
            )
    for broker in (b for b in brokers if b.confirms_per_order):
        due_tick = slot.number - broker.confirmation_lag_ticks
        # Orders with a fill at the due tick (an indexed lookup), kept when that fill
        # was their last one and they are finished: history does not slow this down.
        orders = (
            Order.objects.filter(
                broker=broker,
                status__in=(OrderStatus.FILLED, OrderStatus.EXPIRED),
                pk__in=Execution.objects.filter(tick=due_tick).values("order_id"),
            )
            .select_related("instrument")
            .prefetch_related("executions", "trades")
            .order_by("id")
        )
        for order in orders:
            fills = list(order.executions.all())
            if max(f.tick or 0 for f in fills) != due_tick:
                continue
            quantity = sum((f.quantity for f in fills), Decimal(0))
            if quantity <= 0:
                continue
            average = (sum(f.quantity * f.price for f in fills) / quantity).quantize(
                Decimal("0.00000001"), rounding=ROUND_HALF_EVEN
            )
            trades = list(order.trades.all())
            single = trades[0] if len(trades) == 1 else None
            incoming.append(
                (
                    ConfirmationIn(
                        broker_id=broker.pk,
                        ticker=order.instrument.ticker,
                        side=order.side,
                        quantity=quantity,
                        price=average,
                        executed_at=max(f.executed_at for f in fills),
                        received_at=slot.sim_time,
                        received_tick=slot.number,
                        source="simulator",
                        trade_id=single.trade_id if single else "",
                        order_id=order.order_id,
                        commission=sum((t.commission for t in trades), Decimal(0)),
                        settlement_date=single.settlement_date if single else None,
                    ),
                    single.trade_id if single else "",
                    order.mandate_id,
                )
            )
    sent = _confirmation_faults(dice, incoming)
    confirmations_record(sent)
    dice.save()
    return len(sent)


def _confirmation_faults(
    dice: FaultDice, incoming: list[tuple[ConfirmationIn, str, int | None]]
) -> list[ConfirmationIn]:
    sent: list[ConfirmationIn] = []
    for confirmation, trade_id, mandate_id in incoming:
        where = {
            "trade_id": trade_id,
            "mandate_id": mandate_id,
            "detail": {"order_id": confirmation.order_id},
        }  # noqa: E501
        ticker = _reported_ticker(confirmation.ticker, dice)
        if dice.roll(FaultKind.MISSING_CONFIRMATION):
            dice.record(FaultKind.MISSING_CONFIRMATION, **where)
            continue
        changes: dict[str, object] = {"ticker": ticker}
        if dice.roll(FaultKind.CONFIRMATION_PRICE):
            size = float(dice.rng.choice([-1.0, 1.0]) * dice.rng.uniform(0.002, 0.03))
            changes["price"] = (confirmation.price * Decimal(str(1 + size))).quantize(
                Decimal("0.0001")
            )  # noqa: E501
            dice.record(FaultKind.CONFIRMATION_PRICE, magnitude=size, **where)
        if dice.roll(FaultKind.CONFIRMATION_QUANTITY):
            size = float(dice.rng.uniform(0.01, 0.1))
            delta = max(
                Decimal(1), (confirmation.quantity * Decimal(str(size))).to_integral_value()
            )  # noqa: E501
            changes["quantity"] = confirmation.quantity + delta * (
                1 if dice.rng.random() < 0.5 else -1
            )  # noqa: E501
            if changes["quantity"] <= 0:
                changes["quantity"] = confirmation.quantity + delta
            dice.record(FaultKind.CONFIRMATION_QUANTITY, magnitude=float(delta), **where)
        if dice.roll(FaultKind.CONFIRMATION_TIME):
            drift_ms = int(dice.rng.integers(250, 5000))
            changes["executed_at"] = confirmation.executed_at + dt.timedelta(milliseconds=drift_ms)
            dice.record(FaultKind.CONFIRMATION_TIME, magnitude=drift_ms, **where)
        if dice.roll(FaultKind.CONFIRMATION_SIDE):
            changes["side"] = "sell" if confirmation.side == "buy" else "buy"
            dice.record(FaultKind.CONFIRMATION_SIDE, **where)
        reported = ConfirmationIn(**{**confirmation.__dict__, **changes})
        sent.append(reported)
        if dice.roll(FaultKind.DUPLICATE_CONFIRMATION):
            sent.append(reported)
            dice.record(FaultKind.DUPLICATE_CONFIRMATION, **where)
    return sent


def settlement_day_end(*, slot: TickSlot, seed: int) -> None:
    """The custodian settles what is due today; a few trades fail (and stay due)."""
    dice = _dice(seed, slot, 3)
    due = list(
        Trade.objects.filter(status__in=SETTLEABLE, settlement_date__lte=slot.sim_date)
        .order_by("id")
        .values_list("trade_id", "mandate_id", "instrument_id")
    )
    failed = set()
    for (trade_id, mandate_id, instrument_id), hit in zip(
        due, dice.hits(FaultKind.FAILED_SETTLEMENT, len(due)), strict=True
    ):
        if hit:
            failed.add(trade_id)
            dice.record(
                FaultKind.FAILED_SETTLEMENT,
                trade_id=trade_id,
                mandate_id=mandate_id,
                instrument_id=instrument_id,
            )  # noqa: E501
    settlements_process(
        as_of=slot.sim_date,
        tick=slot.number,
        sim_time=slot.sim_time,
        failed_trade_ids=frozenset(failed),  # noqa: E501
    )
    dice.save()


def _custodian_cash(
    book_cash: dict[str, Decimal], mandate_id: int, day: dt.date
) -> dict[str, Decimal]:  # noqa: E501
    """The custodian's cash: the settled book cash, plus any income it received that the
    book missed (the custodian does not miss a dividend)."""
    from .income import missed_income_cash

    cash = dict(book_cash)
    for currency, amount in missed_income_cash(mandate_id, day).items():
        cash[currency] = cash.get(currency, Decimal(0)) + amount
    return {k: v for k, v in cash.items() if v}


def _settled_holdings(day: dt.date) -> dict[int, dict[int, list]]:
    """What the custodian holds settled for each mandate: {mandate: {instrument:
    [reported id, quantity]}}.

    Settled = the trade-date position less what has traded but not settled yet (a handful
    of trades): cheap, however long the history. A pending trade dated before a split the
    book applied counts in split units (the custodian delivers it split). A split the book
    missed (a fault) is applied here: the custodian split its holding all the same."""
    settled: dict[int, dict[int, list]] = defaultdict(dict)
    for mandate_id, instrument_id, isin, ticker, quantity in Position.objects.filter(
        instrument__asset_class__in=SECURITIES
    ).values_list(
        "mandate_id", "instrument_id", "instrument__isin", "instrument__ticker", "quantity"
    ):  # noqa: E501
        settled[mandate_id][instrument_id] = [isin or ticker, quantity]
    pending = list(
        Trade.objects.filter(status__in=SETTLEABLE, instrument__asset_class__in=SECURITIES)
        .values("mandate_id", "instrument_id", "trade_date")
        .annotate(
            bought=Sum("quantity", filter=Q(side="buy")),
            sold=Sum("quantity", filter=Q(side="sell")),
        )
    )
    net = {
        (r["mandate_id"], r["instrument_id"], r["trade_date"]): (r["bought"] or Decimal(0))
        - (r["sold"] or Decimal(0))
        for r in pending
    }
    applied = defaultdict(list)
    if net:
        for mandate_id, instrument_id, ex_date, ratio in ActionApplication.objects.filter(
            corporate_action__kind=ActionKind.SPLIT,
            effective_date__gt=min(d for _, _, d in net),
        ).values_list("mandate_id", "instrument_id", "effective_date", "corporate_action__ratio"):
            applied[(mandate_id, instrument_id)].append((ex_date, ratio))
    for (mandate_id, instrument_id, trade_date), quantity in sorted(net.items()):
        line = settled[mandate_id].get(instrument_id)
        if line is None:
            continue
        for ex_date, ratio in sorted(applied.get((mandate_id, instrument_id), [])):
            if ex_date > trade_date:
                quantity = split_quantity(quantity, ratio)
        line[1] -= quantity
    for mandate_id, instrument_id, ex_date, ratio, before in _missed_splits(day):
        line = settled[mandate_id].get(instrument_id)
        if line is None:
            continue
        # Of the holding at the ex-date, what has settled the book counts unsplit.
        unsplit = before - sum(
            (
                q
                for (m, i, trade_date), q in net.items()
                if (m, i) == (mandate_id, instrument_id) and trade_date < ex_date
            ),
            Decimal(0),
        )
        line[1] += split_quantity(unsplit, ratio) - unsplit
    return settled


def _missed_splits(day: dt.date) -> list[tuple[int, int, dt.date, Decimal, Decimal]]:
    """(mandate, instrument, ex-date, ratio, quantity before) of each split the book missed
    (ground truth) and has not applied since, with an ex-date by `day`."""
    faults = [
        fault
        for fault in InjectedFault.objects.filter(
            kind=FaultKind.MISSED_CORPORATE_ACTION, detail__action=ActionKind.SPLIT.value
        ).order_by("id")
        if dt.date.fromisoformat(fault.detail["ex_date"]) <= day
    ]
    if not faults:
        return []
    since_applied = set(
        ActionApplication.objects.filter(
            corporate_action__kind=ActionKind.SPLIT,
            instrument_id__in={f.instrument_id for f in faults},
        ).values_list("mandate_id", "instrument_id", "effective_date")
    )
    missed = []
    for fault in faults:
        ex_date = dt.date.fromisoformat(fault.detail["ex_date"])
        if (fault.mandate_id, fault.instrument_id, ex_date) in since_applied:
            continue
        missed.append(
            (
                fault.mandate_id,
                fault.instrument_id,
                ex_date,
                Decimal(fault.detail["ratio"]),
                Decimal(fault.detail["quantity_before"]),
            )
        )
    return missed


def statements_tick(*, slot: TickSlot, seed: int) -> int:
    """Custodian statements: an end-of-day statement per account at the close (after
    settlement), and an intraday snapshot every few ticks; settled holdings and cash."""
    if slot.is_day_end:
        kind = StatementKind.END_OF_DAY
    elif slot.number % INTRADAY_SNAPSHOT_EVERY == 0:
        kind = StatementKind.INTRADAY
    else:
        return 0
    dice = _dice(seed, slot, 4)
    mandates = list(
        Mandate.objects.filter(active=True).select_related("custody_account").order_by("code")
    )  # noqa: E501
    settled = _settled_holdings(slot.sim_date)
    settled = {
        mandate_id: {i: (rid, q) for i, (rid, q) in lines.items() if q}
        for mandate_id, lines in settled.items()
    }
    cash = defaultdict(dict)
    for mandate_id, currency, amount in CashBalance.objects.values_list(
        "mandate_id", "currency_id", "settled"
    ):  # noqa: E501
        cash[mandate_id][currency] = amount
    statements = []
    for mandate in mandates:
        holdings = []
        for instrument_id, (reported_id, quantity) in sorted(settled.get(mandate.pk, {}).items()):
            if dice.roll(FaultKind.CUSTODIAN_QUANTITY):
                delta = max(Decimal(1), (abs(quantity) * Decimal("0.05")).to_integral_value())
                dice.record(
                    FaultKind.CUSTODIAN_QUANTITY,
                    magnitude=float(delta),
                    mandate_id=mandate.pk,
                    instrument_id=instrument_id,
                    detail={"statement_kind": kind},
                )  # noqa: E501
                quantity = quantity - delta
            holdings.append(
                HoldingIn(reported_id=reported_id, quantity=quantity, instrument_id=instrument_id)
            )  # noqa: E501
        late = kind == StatementKind.END_OF_DAY and dice.roll(FaultKind.LATE_STATEMENT)
        received_tick = slot.number + (LATE_STATEMENT_DELAY_TICKS if late else 0)
        if late:
            dice.record(
                FaultKind.LATE_STATEMENT,
                magnitude=LATE_STATEMENT_DELAY_TICKS,
                mandate_id=mandate.pk,
            )  # noqa: E501
        statements.append(
            StatementIn(
                custody_account_id=mandate.custody_account_id,
                kind=kind,
                as_of=slot.sim_time,
                received_at=slot.sim_time
                + dt.timedelta(minutes=15 * (received_tick - slot.number)),
                received_tick=received_tick,
                source="simulator",
                holdings=holdings,
                cash=_custodian_cash(cash[mandate.pk], mandate.pk, slot.sim_date),
            )
        )
    statements_record(statements)
    dice.save()
    return len(statements)
