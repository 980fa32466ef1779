"""Trading activity, confirmations, settlement, statements and faults from a real run."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Count, Sum

from book import calendar
from book.models import (
    BrokerConfirmation,
    CustodianStatement,
    Execution,
    Order,
    Position,
    TaxLot,
    Trade,
)
from book.services import positions_rebuild
from opssuite import pipeline
from simulator.models import Clock, InjectedFault, Price, Scenario
from simulator.services import sim_universe_load
from simulator.services.faults import scenarios_ensure

SEED = 20150102
DAY = 26  # ticks in a session of 15-minute ticks


def _run(ticks: int) -> None:
    for _ in range(ticks):
        result = pipeline.tick_advance(worker="test")
        assert result.outcome == "ran", result


def _use(scenario: str) -> None:
    scenarios_ensure()
    Clock.objects.filter(pk=1).update(scenario=Scenario.objects.get(name=scenario))


@pytest.fixture
def universe(db):  # noqa: ANN001
    sim_universe_load(seed=SEED, scale="demo", start_date=dt.date(2015, 1, 2))


@pytest.fixture
def two_clean_days(universe):  # noqa: ANN001
    _use("clean")
    _run(2 * DAY)


def test_orders_fill_in_parts_and_book_trades(two_clean_days):
    assert Trade.objects.filter(source="simulator").count() > 100
    multi = Order.objects.annotate(n=Count("executions")).filter(n__gt=1)
    assert multi.exists(), "no order filled in several executions"
    for order in Order.objects.all():
        filled = order.executions.aggregate(q=Sum("quantity"))["q"] or Decimal(0)
        assert filled == order.filled_quantity, order.order_id
    for trade in Trade.objects.all()[:200]:
        expected = calendar.settlement_date(trade.instrument.asset_class, trade.trade_date)
        assert trade.settlement_date == expected, trade.trade_id


def test_block_orders_are_allocated_in_full_to_their_mandates(two_clean_days):
    blocks = Order.objects.filter(mandate__isnull=True, filled_quantity__gt=0)
    assert blocks.exists()
    for block in blocks:
        allocated = block.trades.aggregate(q=Sum("quantity"))["q"]
        assert allocated == block.filled_quantity, block.order_id
        assert set(block.trades.values_list("mandate_id", flat=True)) <= set(
            block.targets.values_list("mandate_id", flat=True)
        )


def test_fills_are_near_the_mid_and_pay_the_spread(two_clean_days):
    for fill in Execution.objects.select_related("order")[:300]:
        gap = (fill.price - fill.mid_price) / fill.mid_price
        signed = gap if fill.order.side == "buy" else -gap
        assert Decimal("-0.0005") < signed < Decimal("0.01"), fill.execution_id


def test_with_no_faults_every_fill_is_confirmed_once_and_statements_match(two_clean_days):
    assert not InjectedFault.objects.exists()
    per_fill = Execution.objects.filter(
        order__broker__confirms_per_order=False, tick__lte=2 * DAY - 4
    )  # noqa: E501
    confirmed = BrokerConfirmation.objects.filter(order_id__in=per_fill.values("order__order_id"))
    assert confirmed.count() >= per_fill.count()
    for fill in per_fill[:100]:
        match = BrokerConfirmation.objects.filter(
            order_id=fill.order.order_id, quantity=fill.quantity, price=fill.price
        )  # noqa: E501
        assert match.count() >= 1, fill.execution_id
    statement = CustodianStatement.objects.filter(kind="eod").order_by("-id").first()
    mandate = statement.custody_account.mandate
    held = {h.instrument_id: h.quantity for h in statement.holdings.all()}
    settled = defaultdict(Decimal)
    for trade in Trade.objects.filter(mandate=mandate, status="settled").exclude(
        instrument__asset_class="fx"
    ):  # noqa: E501
        settled[trade.instrument_id] += trade.signed_quantity
    assert held == {k: v for k, v in settled.items() if v}


def test_positions_rebuilt_from_trades_equal_the_incremental_ones(two_clean_days):
    def snapshot():
        return (
            sorted(
                Position.objects.values_list(
                    "mandate_id", "instrument_id", "quantity", "cost_basis", "realized_pnl"
                )
            ),  # noqa: E501
            sorted(
                TaxLot.objects.exclude(open_quantity=0).values_list(
                    "mandate_id", "instrument_id", "open_quantity", "unit_cost"
                )
            ),  # noqa: E501
        )

    before = snapshot()
    positions_rebuild()
    assert snapshot() == before


def _trades_and_prices_hash() -> str:
    trades = Trade.objects.order_by("trade_id").values_list(
        "trade_id",
        "mandate__code",
        "instrument__ticker",
        "side",
        "quantity",
        "price",
        "net",
        "trade_time",  # noqa: E501
    )
    prices = Price.objects.order_by("tick", "instrument__ticker", "vendor").values_list(
        "tick", "instrument__ticker", "vendor", "price"
    )  # noqa: E501
    return hashlib.sha256(repr((list(trades), list(prices))).encode()).hexdigest()


def test_same_seed_same_trades_and_prices(universe):
    _use("default")
    hashes = []
    for seed in (SEED, SEED, SEED + 7):
        with transaction.atomic():
            Clock.objects.filter(pk=1).update(seed=seed)
            _run(DAY + 4)
            hashes.append(_trades_and_prices_hash())
            transaction.set_rollback(True)
    assert hashes[0] == hashes[1]
    assert hashes[2] != hashes[0]


def test_injected_faults_are_recorded_and_visible_in_the_data(universe):
    _use("stressed")
    _run(2 * DAY)
    faults = InjectedFault.objects.all()
    kinds = set(faults.values_list("kind", flat=True))
    assert {"price_spike", "confirmation_price"} & kinds
    for fault in faults.filter(kind="price_spike"):
        published = Price.objects.get(
            tick=fault.tick, instrument=fault.instrument, vendor="primary"
        ).price  # noqa: E501
        assert float(published) == pytest.approx(fault.detail["published"])
        assert float(published) != pytest.approx(fault.detail["expected"])
    for fault in faults.filter(kind="missing_price"):
        assert not Price.objects.filter(
            tick=fault.tick, instrument=fault.instrument, vendor="primary"
        ).exists()  # noqa: E501
    for fault in faults.filter(kind="late_statement"):
        late = CustodianStatement.objects.filter(
            custody_account__mandate=fault.mandate, kind="eod", as_of=fault.sim_time
        )  # noqa: E501
        assert late.get().received_tick > fault.tick
