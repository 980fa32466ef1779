"""Position recon: book (expected settled) vs custodian statements, break identity, aging,
auto-clearing, classification and tolerances."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from book.calendar import add_business_days
from book.models import (
    CorporateAction,
    CustodianStatement,
    Event,
    Mandate,
    Position,
    Trade,
)
from book.services import HoldingIn, StatementIn, statements_record, trade_cancel
from recon import selectors, services
from recon.models import Break, BreakAction, BreakStatus, Classification, ReconRun, Tolerance

from .conftest import DAY, run_ticks, use_scenario


@pytest.fixture
def morning(settled_book, db):  # noqa: ANN001
    """Day five's first intraday snapshot of a clean run (conftest.settled_book), with
    settled holdings; each test changes it inside its own transaction."""


@pytest.fixture
def one_day(sim_universe):  # noqa: ANN001
    use_scenario("clean")
    run_ticks(DAY)


def _latest(mandate: Mandate) -> CustodianStatement:
    return (
        CustodianStatement.objects.filter(custody_account=mandate.custody_account)
        .order_by("-as_of", "-id")
        .first()
    )


def restate(
    base: CustodianStatement,
    *,
    quantities: dict[str, Decimal | None] | None = None,
    add: list[HoldingIn] | None = None,
    cash: dict[str, Decimal] | None = None,
    as_of: dt.datetime | None = None,
    market_values: dict[str, Decimal] | None = None,
) -> CustodianStatement:
    """A copy of `base` with some lines changed (None drops a line)."""
    quantities = quantities or {}
    holdings = []
    for h in base.holdings.all():
        if h.reported_id in quantities and quantities[h.reported_id] is None:
            continue
        holdings.append(
            HoldingIn(
                reported_id=h.reported_id,
                quantity=quantities.get(h.reported_id, h.quantity),
                instrument_id=h.instrument_id,
                market_value=(market_values or {}).get(h.reported_id),
            )
        )
    (row,) = statements_record(
        [
            StatementIn(
                custody_account_id=base.custody_account_id,
                kind=base.kind,
                as_of=as_of or base.as_of,
                received_at=as_of or base.received_at,
                received_tick=base.received_tick,
                source="import",
                holdings=holdings + list(add or []),
                cash={**dict(base.cash.values_list("currency_id", "amount")), **(cash or {})},
            )
        ]
    )
    return row


def reconcile(statement: CustodianStatement, business_days: int = 0) -> ReconRun:
    """Reconcile as if on the statement's day, or `business_days` later."""
    later = add_business_days(statement.as_of.date(), business_days)
    sim_time = statement.as_of + (later - statement.as_of.date())
    return services.statement_reconcile(statement, tick=statement.received_tick, sim_time=sim_time)


def _a_holding(statement: CustodianStatement):  # noqa: ANN202
    return statement.holdings.exclude(quantity=0).order_by("reported_id").first()


def test_a_clean_session_reconciles_without_breaks_pending_settlement_explained(one_day):  # noqa: ANN001
    # The tick pipeline reconciled every statement as it arrived.
    statements = list(CustodianStatement.objects.order_by("received_tick", "id"))
    assert {s.kind for s in statements} == {"intraday", "eod"}
    runs = list(ReconRun.objects.filter(kind="position"))
    assert {r.statement_id for r in runs} == {s.pk for s in statements}
    assert Break.objects.count() == 0, list(Break.objects.values("identity", "explanation"))
    assert all(r.summary["breaks"] == 0 and r.status == "completed" for r in runs)
    # Trades not due yet were compared, explained, and counted - not hidden.
    assert sum(r.summary["explained_by_pending"] for r in runs) > 0
    assert sum(r.summary["lines_compared"] for r in runs) > 0


def test_the_same_difference_is_the_same_break_one_day_older_then_it_clears(morning):  # noqa: ANN001
    mandate = Mandate.objects.get(code="GEQ")
    base = _latest(mandate)
    line = _a_holding(base)
    short = line.quantity - 7
    first = reconcile(restate(base, quantities={line.reported_id: short}))
    (brk,) = Break.objects.all()
    assert brk.break_type == "position_quantity"
    assert brk.classification == Classification.QUANTITY_ERROR
    assert Decimal(brk.difference) == Decimal(-7)
    assert brk.instrument_id == line.instrument_id and brk.mandate == mandate
    assert brk.first_run == first and brk.status == BreakStatus.OPEN
    # Next business day, the same difference: the same break, seen twice, one day older.
    again = reconcile(restate(base, quantities={line.reported_id: short}), business_days=1)
    brk.refresh_from_db()
    assert Break.objects.count() == 1
    assert brk.last_run == again and brk.times_seen == 2
    next_day = add_business_days(base.as_of.date(), 1)
    assert selectors.break_age(brk, next_day) == 1
    assert selectors.break_list(age="0-1", on=next_day).get() == brk
    assert not selectors.break_list(age="2-3", on=next_day).exists()
    two_later = add_business_days(next_day, 1)
    assert selectors.break_list(age="2-3", on=two_later).get() == brk
    assert selectors.break_list(age=">10", on=add_business_days(next_day, 10)).get() == brk
    # It disappears: auto-resolved, naming the statement that cleared it.
    clean = restate(base)
    reconcile(clean, business_days=1)
    brk.refresh_from_db()
    assert brk.status == BreakStatus.RESOLVED
    assert brk.resolution == f"cleared at statement {clean.statement_id}"
    assert brk.actions.filter(kind=BreakAction.Kind.AUTO_RESOLVED).exists()
    # Back again: the same break reopened, not a new one.
    reconcile(restate(base, quantities={line.reported_id: short}), business_days=2)
    brk.refresh_from_db()
    assert Break.objects.count() == 1 and brk.status == BreakStatus.OPEN
    assert [a.kind for a in brk.actions.all()] == ["opened", "auto_resolved", "reopened"]
    kinds = list(
        Event.objects.filter(kind__startswith="recon.break").values_list("kind", flat=True)
    )
    assert kinds == ["recon.break_opened", "recon.break_cleared", "recon.break_reopened"]


def test_classification_names_what_explains_each_difference(morning):  # noqa: ANN001
    from book.models import Instrument

    mandate = Mandate.objects.get(code="GEQ")
    base = _latest(mandate)
    held = list(base.holdings.exclude(quantity=0).order_by("reported_id"))
    # A trade the book holds, due and not settled (a failed settlement), is timing.
    pending = (
        Trade.objects.filter(
            mandate=mandate,
            instrument__asset_class="equity",
            status__in=("executed", "confirmed"),
            trade_date__lt=base.as_of.date(),
        )
        .order_by("id")
        .first()
    )
    Trade.objects.filter(pk=pending.pk).update(settlement_date=pending.trade_date)
    # An instrument the book does not hold at all: missing trade.
    outside = (
        Instrument.objects.filter(asset_class="equity")
        .exclude(pk__in=Position.objects.filter(mandate=mandate).values("instrument_id"))
        .first()
    )
    statement = restate(
        base,
        quantities={held[0].reported_id: held[0].quantity + 5},
        add=[
            HoldingIn(reported_id=outside.isin, quantity=Decimal(100), instrument_id=outside.pk),
            HoldingIn(reported_id="XX0000000000", quantity=Decimal(3)),
        ],
    )
    reconcile(statement)
    by_instrument = {b.instrument_id: b for b in Break.objects.all()}
    timing = by_instrument[pending.instrument_id]
    assert timing.classification == Classification.TIMING, timing.explanation
    assert pending.trade_id in timing.trade_ids
    assert timing in selectors.break_list(trade_id=pending.trade_id)
    assert [c["trade_id"] for c in timing.candidates if c["type"] == "trade"] == [pending.trade_id]
    assert by_instrument[held[0].instrument_id].classification == Classification.QUANTITY_ERROR
    assert by_instrument[outside.pk].classification == Classification.MISSING_TRADE
    unknown = Break.objects.get(reported_id="XX0000000000")
    assert unknown.classification == Classification.UNKNOWN and unknown.instrument is None
    # The break touching the trade is in its trace.
    assert Event.objects.filter(trade_id=pending.trade_id, kind="recon.break_opened").exists()


def test_a_split_the_book_missed_is_a_corporate_action(morning):  # noqa: ANN001
    mandate = Mandate.objects.get(code="GEQ")
    base = _latest(mandate)
    line = _a_holding(base)
    CorporateAction.objects.create(
        instrument_id=line.instrument_id,
        kind="split",
        ex_date=base.as_of.date(),
        pay_date=base.as_of.date(),
        ratio=Decimal(2),
        currency_id="USD",
    )
    reconcile(restate(base, quantities={line.reported_id: line.quantity * 2}))
    (brk,) = Break.objects.all()
    assert brk.classification == Classification.CORPORATE_ACTION
    assert brk.candidates[0]["kind"] == "split"


def test_a_cancelled_trade_the_custodian_settled_is_a_missing_trade(morning):  # noqa: ANN001
    mandate = Mandate.objects.get(code="GEQ")
    base = _latest(mandate)
    trade = (
        Trade.objects.filter(
            mandate=mandate,
            instrument__asset_class="equity",
            side="buy",
            status__in=("executed", "confirmed"),
        )
        .order_by("id")
        .first()
    )
    trade_cancel(trade_id=trade.trade_id, reason="booked twice", actor="tester")
    line = base.holdings.filter(instrument_id=trade.instrument_id).first()
    if line is not None:
        statement = restate(base, quantities={line.reported_id: line.quantity + trade.quantity})
    else:
        statement = restate(
            base,
            add=[
                HoldingIn(
                    reported_id=trade.instrument.isin,
                    quantity=trade.quantity,
                    instrument_id=trade.instrument_id,
                )
            ],
        )
    reconcile(statement)
    brk = Break.objects.get(instrument_id=trade.instrument_id)
    assert brk.classification == Classification.MISSING_TRADE
    assert brk.trade_ids == [trade.trade_id]


def test_cash_a_dividend_paid_but_not_booked_is_a_corporate_action(morning):  # noqa: ANN001
    mandate = Mandate.objects.get(code="GEQ")
    base = _latest(mandate)
    line = _a_holding(base)
    CorporateAction.objects.create(
        instrument_id=line.instrument_id,
        kind="cash_dividend",
        ex_date=base.as_of.date() - dt.timedelta(days=1),
        pay_date=base.as_of.date() - dt.timedelta(days=1),
        amount_per_unit=Decimal("0.25"),
        currency_id="USD",
    )
    usd = base.cash.get(currency_id="USD").amount
    reconcile(restate(base, cash={"USD": usd + line.quantity * Decimal("0.25")}))
    (brk,) = Break.objects.all()
    assert brk.break_type == "cash_balance" and brk.currency == "USD"
    assert brk.classification == Classification.CORPORATE_ACTION
    assert brk.candidates[0]["kind"] == "cash_dividend"


def test_tolerances_per_asset_class_are_applied(morning):  # noqa: ANN001
    mandate = Mandate.objects.get(code="GEQ")
    base = _latest(mandate)
    line = _a_holding(base)
    Tolerance.objects.filter(asset_class="equity").update(quantity_abs=Decimal(2))
    run = reconcile(restate(base, quantities={line.reported_id: line.quantity - 2}))
    assert Break.objects.count() == 0 and run.summary["within_tolerance"] == 1
    reconcile(restate(base, quantities={line.reported_id: line.quantity - 3}))
    assert Break.objects.count() == 1
    Tolerance.objects.filter(asset_class="cash").update(cash_abs=Decimal(10))
    usd = base.cash.get(currency_id="USD").amount
    reconcile(restate(base, quantities={}, cash={"USD": usd + 9}))
    assert not Break.objects.filter(break_type="cash_balance").exists()


def test_market_values_are_compared_when_the_statement_carries_them(morning):  # noqa: ANN001
    from ledger.rates import closing_prices

    mandate = Mandate.objects.get(code="GEQ")
    base = _latest(mandate)
    line = _a_holding(base)
    price = closing_prices([line.instrument_id], base.received_tick)[line.instrument_id]
    right = (line.quantity * price).quantize(Decimal("0.01"))
    reconcile(restate(base, market_values={line.reported_id: right}))
    assert Break.objects.count() == 0
    reconcile(restate(base, market_values={line.reported_id: right + 50}))
    (brk,) = Break.objects.all()
    assert brk.break_type == "position_value" and brk.classification == Classification.PRICE
    assert Decimal(brk.difference) == Decimal(50)


def test_a_late_statement_after_a_newer_one_is_kept_but_changes_nothing(morning):  # noqa: ANN001
    mandate = Mandate.objects.get(code="GEQ")
    base = _latest(mandate)
    line = _a_holding(base)
    reconcile(restate(base, quantities={line.reported_id: line.quantity - 1}))
    (brk,) = Break.objects.all()
    older = restate(base, as_of=base.as_of - dt.timedelta(minutes=30))
    run = reconcile(older)
    assert run.status == "stale" and run.summary["stale"] is True
    brk.refresh_from_db()
    assert brk.status == BreakStatus.OPEN and brk.times_seen == 1
