"""Recording what arrives from outside: broker confirmations and custodian statements.

Whoever delivers them (the simulator, document extraction, a file import) records them
here, as received: wrong values included, since finding them is recon's job."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from .. import bulk, events
from ..models import (
    BrokerConfirmation,
    CustodianCash,
    CustodianHolding,
    CustodianStatement,
    CustodyAccount,
    FeedSource,
)
from .events import events_append_many
from .sequences import ids_next


@dataclass(frozen=True)
class ConfirmationIn:
    broker_id: int
    ticker: str
    side: str
    quantity: Decimal
    price: Decimal
    executed_at: dt.datetime
    received_at: dt.datetime
    source: str
    trade_id: str = ""
    order_id: str = ""
    commission: Decimal = Decimal(0)
    settlement_date: dt.date | None = None
    received_tick: int | None = None


_CONFIRMATION_COLUMNS = (
    "confirmation_id",
    "broker_id",
    "trade_id",
    "order_id",
    "ticker",
    "side",
    "quantity",
    "price",
    "commission",
    "executed_at",
    "settlement_date",
    "source",
    "received_tick",
    "received_at",
)


@transaction.atomic
def confirmations_record(confirmations: list[ConfirmationIn]) -> list[BrokerConfirmation]:
    if not confirmations:
        return []
    errors: dict[str, list[str]] = {}
    for index, c in enumerate(confirmations):
        prefix = "" if len(confirmations) == 1 else f"{index}."
        if c.quantity <= 0:
            errors[f"{prefix}quantity"] = ["must be positive"]
        if c.price <= 0:
            errors[f"{prefix}price"] = ["must be positive"]
        if c.source not in FeedSource.values:
            errors[f"{prefix}source"] = [f"must be one of {', '.join(FeedSource.values)}"]
        if c.executed_at.tzinfo is None:
            errors[f"{prefix}executed_at"] = ["must be timezone-aware"]
    if errors:
        raise ValidationError(errors)
    ids = ids_next("C", len(confirmations))
    rows = [
        BrokerConfirmation(
            confirmation_id=confirmation_id,
            broker_id=c.broker_id,
            trade_id=c.trade_id,
            order_id=c.order_id,
            ticker=c.ticker,
            side=c.side,
            quantity=c.quantity,
            price=c.price,
            commission=c.commission,
            executed_at=c.executed_at,
            settlement_date=c.settlement_date,
            source=c.source,
            received_tick=c.received_tick,
            received_at=c.received_at,
        )
        for confirmation_id, c in zip(ids, confirmations, strict=True)
    ]
    # Plain rows (book.bulk): a tick records a few hundred confirmations.
    bulk.instances_insert(rows, _CONFIRMATION_COLUMNS)
    events_append_many(
        [
            {
                "kind": events.CONFIRMATIONS_RECEIVED,
                "source": events.Source.BOOK,
                "trade_id": c.trade_id or None,
                "instrument": c.ticker.strip().upper(),
                "tick": c.received_tick,
                "sim_time": c.received_at,
                "payload": {"confirmation_id": cid, "order_id": c.order_id, "source": c.source},
            }
            for cid, c in zip(ids, confirmations, strict=True)
        ]
    )
    return rows


@dataclass(frozen=True)
class HoldingIn:
    reported_id: str
    quantity: Decimal
    instrument_id: int | None = None
    price: Decimal | None = None
    market_value: Decimal | None = None


@dataclass(frozen=True)
class StatementIn:
    custody_account_id: int
    kind: str
    as_of: dt.datetime
    received_at: dt.datetime
    source: str
    received_tick: int | None = None
    holdings: list[HoldingIn] = field(default_factory=list)
    cash: dict[str, Decimal] = field(default_factory=dict)


@transaction.atomic
def statements_record(statements: list[StatementIn]) -> list[CustodianStatement]:
    """Custodian statements with their holding and cash lines, as received."""
    if not statements:
        return []
    accounts = CustodyAccount.objects.select_related("mandate").in_bulk(
        {s.custody_account_id for s in statements}
    )
    ids = ids_next("S", len(statements))
    rows = CustodianStatement.objects.bulk_create(
        [
            CustodianStatement(
                statement_id=statement_id,
                custody_account_id=s.custody_account_id,
                kind=s.kind,
                as_of=s.as_of,
                received_tick=s.received_tick,
                received_at=s.received_at,
                source=s.source,
            )
            for statement_id, s in zip(ids, statements, strict=True)
        ]
    )
    if any(row.pk is None for row in rows):
        raise RuntimeError("the database returned no ids from a bulk insert of statements")
    # Plain inserts (book.bulk): a snapshot brings ~8,000 holding lines and nothing needs
    # their ids back; building a model instance a line costs more than the insert.
    bulk.rows_insert(
        CustodianHolding,
        ["statement_id", "instrument_id", "reported_id", "quantity", "price", "market_value"],
        [
            (row.pk, h.instrument_id, h.reported_id, h.quantity, h.price, h.market_value)
            for row, s in zip(rows, statements, strict=True)
            for h in s.holdings
        ],
    )
    bulk.rows_insert(
        CustodianCash,
        ["statement_id", "currency_id", "amount"],
        [
            (row.pk, currency, amount)
            for row, s in zip(rows, statements, strict=True)
            for currency, amount in sorted(s.cash.items())
        ],
    )
    events_append_many(
        [
            {
                "kind": events.STATEMENT_RECEIVED,
                "source": events.Source.BOOK,
                "mandate": getattr(accounts[s.custody_account_id], "mandate", None)
                and accounts[s.custody_account_id].mandate.code
                or "",
                "tick": s.received_tick,
                "sim_time": s.received_at,
                "payload": {
                    "statement_id": row.statement_id,
                    "kind": s.kind,
                    "as_of": s.as_of.isoformat(),
                    "holdings": len(s.holdings),
                },
            }
            for row, s in zip(rows, statements, strict=True)
        ]
    )
    return rows
