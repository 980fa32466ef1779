"""Fixtures for the ledger's tests: a demo universe and a short simulated run."""

from __future__ import annotations

import datetime as dt

import pytest

from opssuite import pipeline
from simulator.models import Clock, Scenario
from simulator.services import sim_universe_load
from simulator.services.faults import scenarios_ensure

SEED = 20150102
DAY = 26  # ticks in a session of 15-minute ticks


def run_ticks(ticks: int) -> None:
    for _ in range(ticks):
        result = pipeline.tick_advance(worker="test")
        assert result.outcome == "ran", result


def use_scenario(name: str) -> None:
    scenarios_ensure()
    Clock.objects.filter(pk=1).update(scenario=Scenario.objects.get(name=name))


@pytest.fixture
def sim_universe(db):  # noqa: ANN001
    sim_universe_load(seed=SEED, scale="demo", start_date=dt.date(2015, 1, 2))


AS_OF = dt.date(2015, 1, 2)


class Ref:
    """Handles on a loaded demo universe (no simulation run)."""

    def __init__(self) -> None:
        from book.models import Broker, Instrument, Mandate, Trader

        self.mandate = Mandate.objects.get(code="GEQ")
        self.equity = Instrument.objects.filter(asset_class="equity", currency="USD").first()
        self.equity2 = Instrument.objects.filter(asset_class="equity", currency="USD")[1]
        self.govt_bond = Instrument.objects.filter(asset_class="govt_bond").first()
        self.fx = Instrument.objects.get(ticker="EURUSD")
        self.broker = Broker.objects.get(code="GSCO")
        self.trader = Trader.objects.first()


def fx_quote(pair, rate: str, *, tick: int = 1) -> None:  # noqa: ANN001
    """The primary FX source's quote the ledger converts with."""
    from decimal import Decimal

    from simulator.models import FxQuote, Vendor

    FxQuote.objects.create(
        tick=tick,
        pair=pair,
        source=Vendor.PRIMARY,
        rate=Decimal(rate),
        sim_time=dt.datetime(2015, 1, 2, 21, tzinfo=dt.UTC),
    )


@pytest.fixture
def ref(db) -> Ref:  # noqa: ANN001
    from book.services import universe_load
    from book.universe import build_universe

    universe_load(universe=build_universe(seed=11, scale="demo", as_of=AS_OF), inception_date=AS_OF)
    return Ref()
