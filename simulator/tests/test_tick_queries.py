"""A whole tick's queries do not grow with the number of positions (issue 3, Performance):
the same tick, run once over a few holdings and once over ten times as many or more, sends
about the same number of statements."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from book.models import Broker, Instrument, Mandate, Position, Trader, TradeSource
from book.services import TradeRequest, trades_book
from opssuite import pipeline
from simulator.models import Clock, Scenario, Tick
from simulator.services import sim_universe_load
from simulator.services.faults import scenarios_ensure

SEED = 20150102
STATEMENT_TICK = 8  # an intraday custodian snapshot: every holding line is reported
# Statements whose number may differ between the two runs for reasons other than holdings
# (an id sequence created on first use, a block order's allocation, a fill or not).
SLACK = 6


def _run_to(number: int) -> None:
    while Clock.objects.get(pk=1).last_tick < number:
        result = pipeline.tick_advance(worker="test")
        assert result.outcome == "ran", result


def _holdings(lines_per_mandate: int) -> int:
    """Book `lines_per_mandate` equity lines for every mandate (a lift-out at the last
    tick's time, settling that day) and return how many positions there are."""
    last = Tick.objects.order_by("-number").first()
    equities = list(
        Instrument.objects.filter(asset_class="equity", currency="USD", active=True).order_by("id")
    )[:lines_per_mandate]
    broker, trader = Broker.objects.order_by("code").first(), Trader.objects.first()
    trades_book(
        [
            TradeRequest(
                mandate_id=mandate.pk,
                instrument_id=equity.pk,
                side="buy",
                quantity=Decimal(10),
                price=Decimal(50),
                trade_time=last.sim_time,
                broker_id=broker.pk,
                trader_id=trader.pk,
                source=TradeSource.IMPORT,
                settlement_date=last.sim_time.date(),
                tick=last.number,
            )
            for mandate in Mandate.objects.filter(active=True)
            for equity in equities
        ]
    )
    return Position.objects.count()


def _queries_of_statement_tick(lines_per_mandate: int) -> tuple[int, int]:
    """(positions, queries of the statement tick) in a world with that many lines a
    mandate; rolled back afterwards."""
    with transaction.atomic():
        _run_to(1)
        positions = _holdings(lines_per_mandate)
        _run_to(STATEMENT_TICK - 1)
        with CaptureQueriesContext(connection) as captured:
            _run_to(STATEMENT_TICK)
        transaction.set_rollback(True)
    return positions, len(captured.captured_queries)


def test_a_ticks_queries_do_not_grow_with_the_positions(db):  # noqa: ANN001
    # GIVEN the demo universe, fault-free, and two worlds: a few holdings, and many
    sim_universe_load(seed=SEED, scale="demo", start_date=dt.date(2015, 1, 2))
    scenarios_ensure()
    Clock.objects.filter(pk=1).update(scenario=Scenario.objects.get(name="clean"))
    # WHEN the same tick (one that reports every holding line to the custodian) runs in each
    few, small = _queries_of_statement_tick(2)
    many, large = _queries_of_statement_tick(60)
    # THEN ten times the positions cost no more statements, give or take a few
    assert many >= 10 * few, (few, many)
    assert large <= small + SLACK, (small, large)
