"""A break queue built the way production builds it, for the API, page and browser tests:
a clean simulated morning, then custodian statements that differ from the book (recorded
with book.services.statements_record), reconciled by recon.services.statement_reconcile -
one run some business days ago, one more recent - so the queue holds breaks of several
types, classifications and ages, one of them touching a trade the book cancelled.

And the small TradeRecon files the file-run tests upload.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from book.calendar import add_business_days
from book.models import CustodianStatement, Instrument, Mandate, Position, Trade
from book.services import HoldingIn, StatementIn, statements_record, trade_cancel
from recon import selectors, services
from recon.models import Break, ReconRun

OLD_AGE = 12  # business days: the >10 bucket
NEW_AGE = 2  # the 2-3 bucket


def restate(
    base: CustodianStatement,
    *,
    quantities: dict[str, Decimal] | None = None,
    add: list[HoldingIn] | None = None,
    cash: dict[str, Decimal] | None = None,
) -> CustodianStatement:
    """The custodian's copy of `base` with some lines changed, as received."""
    quantities = quantities or {}
    holdings = [
        HoldingIn(
            reported_id=h.reported_id,
            quantity=quantities.get(h.reported_id, h.quantity),
            instrument_id=h.instrument_id,
        )
        for h in base.holdings.all()
    ]
    (row,) = statements_record(
        [
            StatementIn(
                custody_account_id=base.custody_account_id,
                kind=base.kind,
                as_of=base.as_of,
                received_at=base.received_at,
                received_tick=base.received_tick,
                source="import",
                holdings=holdings + list(add or []),
                cash={**dict(base.cash.values_list("currency_id", "amount")), **(cash or {})},
            )
        ]
    )
    return row


@dataclass
class Queue:
    """Handles on the breaks made: by what they are."""

    today: dt.date
    outside: Break  # an instrument the book never held; old (>10 business days)
    cancelled_trade: Break  # touches `trade_id`
    cash: Break
    unknown: Break
    trade_id: str
    old_run: ReconRun
    new_run: ReconRun

    @property
    def all(self) -> list[Break]:
        return [self.outside, self.cancelled_trade, self.cash, self.unknown]


def _at(day: dt.date, like: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(day, like.timetz())


def build_queue() -> Queue:
    """Needs a simulated morning (the demo universe and a few clean ticks): the book has
    traded, nothing has settled, and the custodian's snapshot is empty - so what the
    custodian's copies below add is what differs."""
    today = selectors.today()
    mandate = Mandate.objects.get(code="GEQ")
    base = (
        CustodianStatement.objects.filter(custody_account=mandate.custody_account)
        .order_by("-as_of", "-id")
        .first()
    )
    # A buy the book cancelled but the custodian settled: a missing trade naming it.
    trade = (
        Trade.objects.filter(mandate=mandate, instrument__asset_class="equity", side="buy")
        .exclude(status="cancelled")
        .select_related("instrument")
        .order_by("id")
        .first()
    )
    trade_cancel(trade_id=trade.trade_id, reason="booked twice", actor="desk")
    # An instrument the book never held, at the custodian.
    outside = (
        Instrument.objects.filter(asset_class="equity")
        .exclude(pk__in=Position.objects.filter(mandate=mandate).values("instrument_id"))
        .exclude(pk__in=Trade.objects.filter(mandate=mandate).values("instrument_id"))
        .order_by("ticker")
        .first()
    )
    stray = HoldingIn(reported_id=outside.isin, quantity=Decimal(100), instrument_id=outside.pk)
    old_day = add_business_days(today, -OLD_AGE)
    new_day = add_business_days(today, -NEW_AGE)
    old_run = services.statement_reconcile(
        restate(base, add=[stray]), tick=base.received_tick, sim_time=_at(old_day, base.as_of)
    )
    settled = HoldingIn(
        reported_id=trade.instrument.isin or trade.instrument.ticker,
        quantity=trade.quantity,
        instrument_id=trade.instrument_id,
    )
    unknown = HoldingIn(reported_id="XX0000000000", quantity=Decimal(3))
    usd = dict(base.cash.values_list("currency_id", "amount")).get("USD", Decimal(0))
    new_run = services.statement_reconcile(
        restate(base, add=[stray, settled, unknown], cash={"USD": usd + Decimal("1234.56")}),
        tick=base.received_tick,
        sim_time=_at(new_day, base.as_of),
    )
    return Queue(
        today=today,
        outside=Break.objects.get(instrument_id=outside.pk),
        cancelled_trade=Break.objects.get(instrument_id=trade.instrument_id),
        cash=Break.objects.get(break_type="cash_balance"),
        unknown=Break.objects.get(reported_id="XX0000000000"),
        trade_id=trade.trade_id,
        old_run=old_run,
        new_run=new_run,
    )


# --- TradeRecon files ----------------------------------------------------------------------

EXECUTIONS = (
    "trade_id,ticker,quantity,price,timestamp\n"
    "T1,AAPL,100,150.00,2024-01-02T10:00:00Z\n"
    "T2,MSFT,200,300.00,2024-01-02T10:01:00.000Z\n"
    "T3,GOOG,50,100.00,2024-01-02T10:02:00Z\n"
    "T4,AMZN,10,50.00,2024-01-02T10:03:00Z\n"
    "T5,TSLA,1,10.00,not-a-time\n"
    'T6,NVDA,"1,000",20.00,2024-01-02T10:04:00\n'
)
CONFIRMATIONS = (
    "trade_id,ticker,quantity,price,timestamp\n"
    # Formatting noise and both tolerance edges: still a match.
    " T1 , aapl ,100,150.005,2024-01-02T10:00:00.100Z\n"
    "T2,MSFT,250,300.00,2024-01-02T10:01:00Z\n"
    "T3,GOOG,50,100.01,2024-01-02T10:02:00Z\n"
    'T6,NVDA,"1,000",20.00,2024-01-02T10:04:00.000Z\n'
    "T9,IBM,5,120.00,2024-01-02T10:05:00Z\n"
)
PNL = "trade_id,pnl_impact,commission\nT1,14999.00,1.00\nT3,4990.00,0\n"
EXPECTED_BREAKS = [
    ("T2", "quantity_mismatch"),
    ("T3", "pnl_inconsistent"),
    ("T3", "price_mismatch"),
    ("T4", "missing_confirmation"),
    ("T9", "unexpected_confirmation"),
]
