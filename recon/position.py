"""Position recon: what the custodian should hold for a mandate as of a statement, compared
line by line with what it says it holds, and why each difference is there.

The custodian reports *settled* holdings and cash. The book is kept on trade date, so the
comparison is against the book's **expected settled** view as of the statement's time:

    expected = trade-date position as of `as_of`
               - trades booked by then that are not contractually due yet

A trade is contractually due in an end-of-day statement on and after its settlement date,
in an intraday snapshot after it (settlement happens through the day and is final at the
close). Normal settlement lag therefore opens no break: it is counted in the run's summary
(`explained_by_pending`) and shown on every break's detail, not hidden. What does open a
break is a difference the contract does not explain, classified by what does explain it:

- timing: the difference is exactly the trades (or cash) due by now that the custodian has
  not settled — a failed or late settlement, which clears when it settles;
- corporate_action: a split the book has not applied (units), a dividend it has not booked
  (cash);
- missing_trade: one side has the position and the other has none at all, or the
  difference is exactly a trade the book cancelled;
- unknown: the custodian reports an id the security master does not know;
- quantity_error: both sides hold the instrument and nothing explains the difference;
- price: quantities agree but the market values do not (only when the statement carries
  market values).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, Sum

from book import events as book_events
from book.lots import split_quantity
from book.models import (
    ActionApplication,
    ActionKind,
    CashMovement,
    CashStatus,
    CorporateAction,
    CustodianStatement,
    Event,
    IncomeEntitlement,
    Instrument,
    Mandate,
    Position,
    StatementKind,
    Trade,
    TradeStatus,
)
from book.services.settlement import SETTLEABLE

from .models import Classification

ZERO = Decimal(0)
CANDIDATE_LIMIT = 10
DIVIDEND_LOOKBACK_DAYS = 45
LATE_WINDOW_TICKS = 60  # how far back a statement's receipt may lag its time, in ticks


@dataclass
class Found:
    """A difference found by a run, before it becomes (or refreshes) a Break."""

    identity: str
    break_type: str
    classification: str
    explanation: str = ""
    mandate_id: int | None = None
    custody_account_id: int | None = None
    instrument_id: int | None = None
    reported_id: str = ""
    currency: str = ""
    trade_id: str = ""
    match_key: str = ""
    trade_ids: list[str] = dataclasses.field(default_factory=list)
    field: str = ""
    internal_value: str = ""
    external_value: str = ""
    difference: str = ""
    detail: dict = dataclasses.field(default_factory=dict)
    candidates: list[dict] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class Tol:
    quantity_abs: Decimal = ZERO
    quantity_rel_pct: Decimal = ZERO
    market_value_abs: Decimal = ZERO
    cash_abs: Decimal = ZERO

    def quantity_ok(self, diff: Decimal, reference: Decimal) -> bool:
        allowed = max(self.quantity_abs, abs(reference) * self.quantity_rel_pct / 100)
        return abs(diff) <= allowed


def _fmt(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format(value.normalize(), "f") if value else "0"
    return text


def _signed(side: str, quantity: Decimal) -> Decimal:
    return quantity if side == "buy" else -quantity


def _trade_candidate(row: dict, why: str) -> dict:
    return {
        "type": "trade",
        "trade_id": row["trade_id"],
        "side": row["side"],
        "quantity": _fmt(row["quantity"]),
        "trade_date": row["trade_date"].isoformat(),
        "settlement_date": row["settlement_date"].isoformat(),
        "status": row["status"],
        "why": why,
    }


def _due(kind: str, as_of_date: dt.date, settlement_date: dt.date) -> bool:
    """Is something settling on `settlement_date` expected settled in this statement?"""
    if kind == StatementKind.END_OF_DAY:
        return settlement_date <= as_of_date
    return settlement_date < as_of_date


@dataclass
class BookView:
    """The book's side of one statement."""

    trade_date: dict[int, Decimal]
    expected: dict[int, Decimal]
    pending: dict[int, list[dict]]  # not yet due: explains trade date vs expected
    due_unsettled: dict[int, list[dict]]  # due, not settled in the book either
    cancelled: dict[int, list[dict]]
    unapplied_splits: dict[int, list[dict]]
    recent: dict[int, list[dict]]
    cash_expected: dict[str, Decimal]
    cash_due_unsettled: dict[str, list[dict]]
    unbooked_dividends: dict[str, list[dict]]
    instruments: dict[int, tuple[str, str, str]]  # id -> (ticker, isin, asset class)


_TRADE_FIELDS = (
    "trade_id",
    "instrument_id",
    "side",
    "quantity",
    "trade_date",
    "settlement_date",
    "status",
    "trade_time",
)


def book_view(mandate: Mandate, statement: CustodianStatement) -> BookView:
    as_of = statement.as_of
    as_of_date = as_of.date()
    kind = statement.kind
    trade_date = {
        i: q
        for i, q in Position.objects.filter(mandate=mandate)
        .exclude(instrument__asset_class__in=("fx", "cash"))
        .values_list("instrument_id", "quantity")
    }
    live = Trade.objects.filter(mandate=mandate).exclude(status=TradeStatus.CANCELLED)
    securities = ~Q(instrument__asset_class__in=("fx", "cash"))
    for row in live.filter(securities, trade_time__gt=as_of).values(*_TRADE_FIELDS):
        # Booked after the statement's time: not in the book as of then.
        trade_date[row["instrument_id"]] = trade_date.get(row["instrument_id"], ZERO) - _signed(
            row["side"], row["quantity"]
        )
    applied = defaultdict(list)
    for instrument_id, effective, ratio in ActionApplication.objects.filter(
        mandate=mandate, corporate_action__kind=ActionKind.SPLIT
    ).values_list("instrument_id", "effective_date", "corporate_action__ratio"):
        applied[instrument_id].append((effective, ratio))
    pending: dict[int, list[dict]] = defaultdict(list)
    due_unsettled: dict[int, list[dict]] = defaultdict(list)
    expected = dict(trade_date)
    # Trades the book settled after the statement's time (a late statement, or a failed
    # settlement that has settled since): as of the statement they were not settled.
    settled_later = set(
        Event.objects.filter(
            kind=book_events.TRADE_SETTLED,
            mandate=mandate.code,
            tick__gte=(statement.received_tick or 0) - LATE_WINDOW_TICKS,
            sim_time__gt=as_of,
        ).values_list("trade_id", flat=True)
    )
    open_rows = live.filter(securities, trade_time__lte=as_of).filter(
        Q(settlement_date__gte=as_of_date)
        | Q(status__in=SETTLEABLE)
        | Q(trade_id__in=settled_later)
    )
    for row in open_rows.values(*_TRADE_FIELDS):
        instrument_id = row["instrument_id"]
        quantity = _signed(row["side"], row["quantity"])
        for effective, ratio in applied.get(instrument_id, ()):
            if row["trade_date"] < effective <= as_of_date:
                quantity = split_quantity(quantity, ratio)  # the position counts split units
        if not _due(kind, as_of_date, row["settlement_date"]):
            expected[instrument_id] = expected.get(instrument_id, ZERO) - quantity
            pending[instrument_id].append({**row, "signed": quantity})
        elif row["status"] in SETTLEABLE or row["trade_id"] in settled_later:
            due_unsettled[instrument_id].append({**row, "signed": quantity})
    window = as_of_date - dt.timedelta(days=10)
    cancelled: dict[int, list[dict]] = defaultdict(list)
    for row in Trade.objects.filter(
        mandate=mandate, status=TradeStatus.CANCELLED, trade_date__gte=window
    ).values(*_TRADE_FIELDS):
        cancelled[row["instrument_id"]].append(row)
    splits: dict[int, list[dict]] = defaultdict(list)
    done = {
        (a["corporate_action_id"])
        for a in ActionApplication.objects.filter(mandate=mandate).values("corporate_action_id")
    }
    held = set(trade_date) | {
        i
        for i, _ in ActionApplication.objects.filter(mandate=mandate).values_list(
            "instrument_id", "id"
        )
    }
    for action in CorporateAction.objects.filter(
        kind=ActionKind.SPLIT,
        ex_date__lte=as_of_date,
        ex_date__gte=as_of_date - dt.timedelta(days=DIVIDEND_LOOKBACK_DAYS),
        instrument_id__in=held,
    ).values("id", "instrument_id", "ex_date", "ratio"):
        if action["id"] not in done:
            splits[action["instrument_id"]].append(action)
    instruments = {
        pk: (ticker, isin or "", asset_class)
        for pk, ticker, isin, asset_class in Instrument.objects.filter(
            pk__in=set(trade_date)
        ).values_list("pk", "ticker", "isin", "asset_class")
    }
    recent: dict[int, list[dict]] = defaultdict(list)
    # Cash: every movement contractually due by the statement, settled or not.
    cash_expected: dict[str, Decimal] = defaultdict(lambda: ZERO)
    cash_due_unsettled: dict[str, list[dict]] = defaultdict(list)
    movements = CashMovement.objects.filter(mandate=mandate).exclude(status=CashStatus.CANCELLED)
    settled_before = (
        movements.filter(value_date__lt=as_of_date - dt.timedelta(days=7))
        .values("currency_id")
        .annotate(total=Sum("amount"))
    )
    for row in settled_before:
        cash_expected[row["currency_id"]] += row["total"]
    for row in movements.filter(value_date__gte=as_of_date - dt.timedelta(days=7)).values(
        "currency_id", "amount", "value_date", "status", "kind", "reference", "trade__trade_id"
    ):
        if not _due(kind, as_of_date, row["value_date"]):
            continue
        cash_expected[row["currency_id"]] += row["amount"]
        if row["status"] == CashStatus.PROJECTED or row["trade__trade_id"] in settled_later:
            cash_due_unsettled[row["currency_id"]].append(row)
    # Projected movements due long ago (failed for a week or more) are in the sum above;
    # name them too.
    for row in movements.filter(
        value_date__lt=as_of_date - dt.timedelta(days=7), status=CashStatus.PROJECTED
    ).values(
        "currency_id", "amount", "value_date", "status", "kind", "reference", "trade__trade_id"
    ):
        cash_due_unsettled[row["currency_id"]].append(row)
    booked = set(
        IncomeEntitlement.objects.filter(mandate=mandate).values_list(
            "corporate_action_id", flat=True
        )
    )
    unbooked: dict[str, list[dict]] = defaultdict(list)
    for action in CorporateAction.objects.filter(
        kind=ActionKind.CASH_DIVIDEND,
        pay_date__lte=as_of_date,
        pay_date__gte=as_of_date - dt.timedelta(days=DIVIDEND_LOOKBACK_DAYS),
        instrument_id__in=held,
    ).values(
        "id",
        "instrument_id",
        "instrument__ticker",
        "ex_date",
        "pay_date",
        "amount_per_unit",
        "currency_id",
    ):
        if action["id"] in booked or not _due(kind, as_of_date, action["pay_date"]):
            continue
        estimate = trade_date.get(action["instrument_id"], ZERO) * action["amount_per_unit"]
        unbooked[action["currency_id"]].append({**action, "estimate": estimate})
    return BookView(
        trade_date=trade_date,
        expected=expected,
        pending=pending,
        due_unsettled=due_unsettled,
        cancelled=cancelled,
        unapplied_splits=splits,
        recent=recent,
        cash_expected=dict(cash_expected),
        cash_due_unsettled=cash_due_unsettled,
        unbooked_dividends=unbooked,
        instruments=instruments,
    )


def classify_quantity(
    *,
    expected: Decimal,
    custodian: Decimal | None,
    book_has: bool,
    known: bool,
    due_unsettled: list[dict],
    cancelled: list[dict],
    splits: list[dict],
) -> tuple[str, str, list[dict]]:
    """(classification, explanation, candidates) of a quantity difference."""
    held = custodian if custodian is not None else ZERO
    diff = held - expected
    candidates: list[dict] = []
    if not known:
        return (
            Classification.UNKNOWN,
            "the custodian reports an id the security master does not know",
            [],
        )
    if due_unsettled:
        candidates = [
            _trade_candidate(r, "due, not settled at the custodian") for r in due_unsettled
        ]
        unsettled = sum((r["signed"] for r in due_unsettled), ZERO)
        if diff == -unsettled:
            ids = ", ".join(r["trade_id"] for r in due_unsettled[:CANDIDATE_LIMIT])
            return (
                Classification.TIMING,
                f"due and not settled at the custodian: {ids} (failed or late settlement)",
                candidates,
            )
    for split in splits:
        if expected and (diff > 0) == (split["ratio"] > 1):
            implied = held / expected if expected else None
            return (
                Classification.CORPORATE_ACTION,
                f"split {split['ratio']}:1 ex {split['ex_date']} not applied in the book"
                + (f" (custodian/book = {implied:.4f})" if implied else ""),
                [
                    {
                        "type": "corporate_action",
                        "action_id": split["id"],
                        "kind": "split",
                        "ratio": _fmt(split["ratio"]),
                        "ex_date": split["ex_date"].isoformat(),
                        "why": "split not applied in the book",
                    },
                    *candidates,
                ],
            )
    for row in cancelled:
        if diff == _signed(row["side"], row["quantity"]):
            return (
                Classification.MISSING_TRADE,
                f"the custodian holds {row['trade_id']}, which the book cancelled",
                [_trade_candidate(row, "cancelled in the book, settled at the custodian")],
            )
    if custodian is None:
        return (
            Classification.MISSING_TRADE,
            "the book holds it; the custodian reports no position",
            candidates,
        )
    if not book_has or not expected:
        return (
            Classification.MISSING_TRADE,
            "the custodian holds it; the book has no settled position",
            candidates,
        )
    return (
        Classification.QUANTITY_ERROR,
        "both hold it; no pending trade or corporate action explains the difference",
        candidates,
    )


def classify_cash(
    *, diff: Decimal, due_unsettled: list[dict], dividends: list[dict]
) -> tuple[str, str, list[dict]]:
    candidates = [
        {
            "type": "cash",
            "trade_id": r.get("trade__trade_id") or "",
            "kind": r["kind"],
            "reference": r["reference"],
            "amount": _fmt(r["amount"]),
            "value_date": r["value_date"].isoformat(),
            "why": "due, not settled at the custodian",
        }
        for r in due_unsettled
    ]
    unsettled = sum((r["amount"] for r in due_unsettled), ZERO)
    if due_unsettled and diff == -unsettled:
        return (
            Classification.TIMING,
            "cash due and not settled at the custodian (failed or late settlement)",
            candidates,
        )
    dividend_candidates = [
        {
            "type": "corporate_action",
            "action_id": d["id"],
            "kind": "cash_dividend",
            "instrument": d["instrument__ticker"],
            "pay_date": d["pay_date"].isoformat(),
            "estimate": _fmt(d["estimate"].quantize(Decimal("0.01"))),
            "why": "dividend paid, not booked",
        }
        for d in dividends
    ]
    if dividends and diff > 0:
        return (
            Classification.CORPORATE_ACTION,
            "the custodian received dividends the book has not booked",
            dividend_candidates + candidates,
        )
    return (
        Classification.UNKNOWN,
        "no pending settlement or unbooked income explains the difference",
        dividend_candidates + candidates,
    )
