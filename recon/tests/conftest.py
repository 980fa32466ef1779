"""Fixtures for the recon's tests: a demo universe and short simulated runs."""

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


def use_scenario(name: str, **rates: float) -> None:
    scenarios_ensure()
    scenario = Scenario.objects.get(name=name)
    if rates:
        scenario.fault_rates = {**scenario.fault_rates, **rates}
        scenario.save(update_fields=["fault_rates"])
    Clock.objects.filter(pk=1).update(scenario=scenario)


@pytest.fixture
def sim_universe(db):  # noqa: ANN001
    sim_universe_load(seed=SEED, scale="demo", start_date=dt.date(2015, 1, 2))


@pytest.fixture(scope="module")
def settled_book(django_db_setup, django_db_blocker):  # noqa: ANN001, ANN201
    """A clean run long enough for trades to settle (equities are T+3 in January 2015):
    four sessions and the next morning's first intraday snapshot. Built once per module and
    committed; each test runs inside its own rolled-back transaction (the `db` fixture), and
    the module's data is flushed at the end."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        sim_universe_load(seed=SEED, scale="demo", start_date=dt.date(2015, 1, 2))
        use_scenario("clean")
        run_ticks(4 * DAY + 8)
        yield
        call_command("flush", interactive=False, verbosity=0)
