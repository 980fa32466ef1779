"""What the outside world sends back: broker confirmations (after each broker's lag, per
fill or per order), settlement at the custodian on the settlement date, and custodian
statements (intraday snapshots and the end-of-day statement) — each with the scenario's
faults injected, and recorded as ground truth."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

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
    order for brokers that aggregate (orders whose last fill was `lag` ticks ago).

    Read as plain rows, a few queries for all brokers together: a tick confirms a few
    hundred fills."""
    dice = _dice(seed, slot, 2)
    incoming: list[tuple[ConfirmationIn, str, int | None]] = []
    brokers = list(Broker.objects.order_by("code"))
    due = {b.pk: slot.number - b.confirmation_lag_ticks for b in brokers}
    per_fill = [b for b in brokers if not b.confirms_per_order]
    fills_of: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    if per_fill:
        when = Q()
        for broker in per_fill:
            when |= Q(order__broker_id=broker.pk, tick=due[broker.pk])
        for row in (
            Execution.objects.filter(when)
            .order_by("id")
            .values_list(
                "id",
                "order__broker_id",
                "order__instrument__ticker",
                "order__side",
                "quantity",
                "price",
                "executed_at",
                "order__order_id",
                "order__mandate_id",
            )
        ):
            fills_of[row[1]].append(row)
    # The trade of each fill (the latest, should there be several), as prefetching did.
    trade_of: dict[int, tuple[str, Decimal, dt.date]] = {}
    fill_ids = [row[0] for rows in fills_of.values() for row in rows]
    if fill_ids:
        for execution_id, trade_id, commission, settles in (
            Trade.objects.filter(execution_id__in=fill_ids)
            .order_by("id")
            .values_list("execution_id", "trade_id", "commission", "settlement_date")
        ):
            trade_of[execution_id] = (trade_id, commission, settles)
    for broker in per_fill:
        for (
            fill_pk,
            _,
            ticker,
            side,
            quantity,
            price,
            executed_at,
            order_id,
            mandate_id,
        ) in fills_of[broker.pk]:
            trade = trade_of.get(fill_pk)
            incoming.append(
                (
                    ConfirmationIn(
                        broker_id=broker.pk,
                        ticker=ticker,
                        side=side,
                        quantity=quantity,
                        price=price,
                        executed_at=executed_at,
                        received_at=slot.sim_time,
                        received_tick=slot.number,
                        source="simulator",
                        trade_id=trade[0] if trade else "",
                        order_id=order_id,
                        commission=trade[1] if trade else Decimal(0),
                        settlement_date=trade[2] if trade else None,
                    ),
                    trade[0] if trade else "",
                    mandate_id,
                )
            )
    per_order = [b for b in brokers if b.confirms_per_order]
    if per_order:
        incoming += _order_confirmations(slot, per_order, due)
    sent = _confirmation_faults(dice, incoming)
    confirmations_record(sent)
    dice.save()
    return len(sent)


def _order_confirmations(
    slot: TickSlot, brokers: list[Broker], due: dict[int, int]
) -> list[tuple[ConfirmationIn, str, int | None]]:
    """One confirmation per finished order whose last fill was at its broker's due tick."""
    # Orders with a fill at the due tick (an indexed lookup), kept when that fill was
    # their last one and they are finished: history does not slow this down.
    when = Q()
    for broker in brokers:
        when |= Q(
            broker_id=broker.pk,
            pk__in=Execution.objects.filter(tick=due[broker.pk]).values("order_id"),
        )
    orders = list(
        Order.objects.filter(when, status__in=(OrderStatus.FILLED, OrderStatus.EXPIRED))
        .order_by("id")
        .values_list("id", "broker_id", "instrument__ticker", "side", "order_id", "mandate_id")
    )
    if not orders:
        return []
    pks = [row[0] for row in orders]
    fills: dict[int, list[tuple[Decimal, Decimal, dt.datetime, int | None]]] = defaultdict(list)
    for order_pk, *fill in (
        Execution.objects.filter(order_id__in=pks)
        .order_by("id")
        .values_list("order_id", "quantity", "price", "executed_at", "tick")
    ):
        fills[order_pk].append(tuple(fill))
    trades: dict[int, list[tuple[str, Decimal, dt.date]]] = defaultdict(list)
    for order_pk, *trade in (
        Trade.objects.filter(order_id__in=pks)
        .order_by("-id")
        .values_list("order_id", "trade_id", "commission", "settlement_date")
    ):
        trades[order_pk].append(tuple(trade))
    by_broker: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in orders:
        by_broker[row[1]].append(row)
    incoming = []
    for broker in brokers:
        for order_pk, _, ticker, side, order_id, mandate_id in by_broker[broker.pk]:
            order_fills = fills[order_pk]
            if max(tick or 0 for *_, tick in order_fills) != due[broker.pk]:
                continue
            quantity = sum((q for q, _, _, _ in order_fills), Decimal(0))
            if quantity <= 0:
                continue
            average = (sum(q * p for q, p, _, _ in order_fills) / quantity).quantize(
                Decimal("0.00000001"), rounding=ROUND_HALF_EVEN
            )
            order_trades = trades[order_pk]
            single = order_trades[0] if len(order_trades) == 1 else None
            incoming.append(
                (
                    ConfirmationIn(
                        broker_id=broker.pk,
                        ticker=ticker,
                        side=side,
                        quantity=quantity,
                        price=average,
                        executed_at=max(t for _, _, t, _ in order_fills),
                        received_at=slot.sim_time,
                        received_tick=slot.number,
                        source="simulator",
                        trade_id=single[0] if single else "",
                        order_id=order_id,
                        commission=sum((c for _, c, _ in order_trades), Decimal(0)),
                        settlement_date=single[2] if single else None,
                    ),
                    single[0] if single else "",
                    mandate_id,
                )
            )
    return incoming


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
        lines = sorted(settled.get(mandate.pk, {}).items())
        # One draw a line, as rolling line by line would (the same stream, in one call).
        hits = dice.hits(FaultKind.CUSTODIAN_QUANTITY, len(lines)).tolist()
        for (instrument_id, (reported_id, quantity)), hit in zip(lines, hits, strict=True):
            if hit:
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
