"""Day-end movements of the book: settlement of trades and cash, capital flows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from .. import events
from ..models import (
    CapitalFlow,
    CashKind,
    CashMovement,
    CashStatus,
    FlowKind,
    IncomeEntitlement,
    IncomeStatus,
    Mandate,
    Trade,
    TradeStatus,
)
from .events import events_append_many, events_record_many
from .sequences import ids_next
from .trading import ZERO, cash_balances_add, money

SETTLEABLE = (TradeStatus.EXECUTED, TradeStatus.CONFIRMED, TradeStatus.AMENDED)


@dataclass(frozen=True)
class SettlementSummary:
    trades_settled: int
    trades_failed: int
    cash_movements_settled: int


@transaction.atomic
def settlements_process(
    *,
    as_of: dt.date,
    tick: int | None = None,
    sim_time: dt.datetime | None = None,
    failed_trade_ids: frozenset[str] = frozenset(),
) -> SettlementSummary:
    """Settle what is due on or before `as_of`: trades (securities and their cash) and the
    other projected cash (flows, income, fees). Trades named in `failed_trade_ids` fail
    to settle today: they stay due, and settle on a later day."""
    # Plain tuples, not instances: after a few days thousands of trades fall due at once.
    # The updates name the same rows by the same conditions (one set-based statement each,
    # in this transaction), not by a list of thousands of ids.
    due_trades = Trade.objects.filter(status__in=SETTLEABLE, settlement_date__lte=as_of).exclude(
        trade_id__in=failed_trade_ids
    )
    due = list(
        due_trades.order_by("id").values_list(
            "trade_id", "instrument__ticker", "mandate__code", "settlement_date"
        )
    )
    failed = Trade.objects.filter(
        status__in=SETTLEABLE, settlement_date__lte=as_of, trade_id__in=failed_trade_ids
    ).count()
    due_trades.update(status=TradeStatus.SETTLED)
    due_moves = CashMovement.objects.filter(
        status=CashStatus.PROJECTED, value_date__lte=as_of
    ).exclude(kind=CashKind.TRADE, trade__trade_id__in=failed_trade_ids)
    moves = list(due_moves.values_list("mandate_id", "currency_id", "amount", "kind", "reference"))
    due_moves.update(status=CashStatus.SETTLED)
    cash_balances_add(
        [(mandate_id, currency, amount, ZERO) for mandate_id, currency, amount, *_ in moves]
    )
    IncomeEntitlement.objects.filter(
        status=IncomeStatus.ACCRUED,
        income_id__in=[
            reference
            for *_, kind, reference in moves
            if kind in (CashKind.DIVIDEND, CashKind.COUPON)
        ],
    ).update(status=IncomeStatus.PAID)
    events_append_many(
        [
            {
                "kind": events.TRADE_SETTLED,
                "source": events.Source.BOOK,
                "trade_id": trade_id,
                "instrument": ticker,
                "mandate": code,
                "tick": tick,
                "sim_time": sim_time,
                "payload": {
                    "settlement_date": settlement_date.isoformat(),
                    "as_of": as_of.isoformat(),
                },
            }
            for trade_id, ticker, code, settlement_date in due
        ]
    )
    return SettlementSummary(len(due), failed, len(moves))


@transaction.atomic
def capital_flow_record(
    *,
    mandate: Mandate,
    kind: str,
    amount: Decimal,
    nav_per_unit: Decimal,
    trade_date: dt.date,
    settlement_date: dt.date | None = None,
    tick: int | None = None,
    sim_time: dt.datetime | None = None,
    actor: Any = None,
) -> CapitalFlow:
    """A subscription or redemption: units issued or redeemed at `nav_per_unit`, and the cash
    it brings or takes on the settlement date."""
    errors: dict[str, list[str]] = {}
    if kind not in FlowKind.values:
        errors["kind"] = ["must be subscription or redemption"]
    if amount <= 0:
        errors["amount"] = ["must be positive"]
    if nav_per_unit <= 0:
        errors["nav_per_unit"] = ["must be positive"]
    settlement_date = settlement_date or trade_date
    if settlement_date < trade_date:
        errors["settlement_date"] = ["is before the trade date"]
    units = (amount / nav_per_unit).quantize(Decimal("0.000001")) if nav_per_unit > 0 else ZERO
    if kind == FlowKind.REDEMPTION and units > mandate.units_outstanding:
        errors["amount"] = [f"redeems {units} units; only {mandate.units_outstanding} outstanding"]
    if errors:
        raise ValidationError(errors)
    amount = money(amount)
    flow = CapitalFlow.objects.create(
        flow_id=ids_next("F")[0],
        mandate=mandate,
        kind=kind,
        units=units,
        nav_per_unit=nav_per_unit,
        amount=amount,
        trade_date=trade_date,
        settlement_date=settlement_date,
        tick=tick,
    )
    signed_units = units if kind == FlowKind.SUBSCRIPTION else -units
    Mandate.objects.filter(pk=mandate.pk).update(
        units_outstanding=F("units_outstanding") + signed_units
    )  # noqa: E501
    mandate.refresh_from_db(fields=["units_outstanding"])
    signed = amount if kind == FlowKind.SUBSCRIPTION else -amount
    CashMovement.objects.create(
        mandate=mandate,
        currency_id=mandate.base_currency_id,
        amount=signed,
        kind=CashKind.SUBSCRIPTION if kind == FlowKind.SUBSCRIPTION else CashKind.REDEMPTION,
        reference=flow.flow_id,
        value_date=settlement_date,
        tick=tick,
    )
    cash_balances_add([(mandate.pk, mandate.base_currency_id, ZERO, signed)])
    events_record_many(
        [
            {
                "kind": events.CAPITAL_FLOW,
                "source": events.Source.BOOK,
                "actor": actor,
                "mandate": mandate.code,
                "tick": tick,
                "sim_time": sim_time,
                "payload": {
                    "flow_id": flow.flow_id,
                    "kind": kind,
                    "units": str(units),
                    "nav_per_unit": str(nav_per_unit),
                    "amount": str(amount),
                    "settlement_date": settlement_date.isoformat(),
                },
            }
        ]
    )
    return flow
