"""Simulated runs shared by the tests of several apps: built once a test session, asserted
on by as many modules as need them (the ledger's, recon's, data quality's), instead of each
module simulating its own.

    def test_something(twenty_day_run, db):  # db: what the test writes is rolled back
        assert twenty_day_run.days == 20
        ...

How it stays out of the other tests' way (pytest-django's session-fixture recipe, with
django_db_blocker): the run is simulated once, on first use, into the session's test
database and committed there, as the tick pipeline commits in production; the tests that
use it are moved to the end of the session (after pytest-django's own ordering, so after
the transactional tests too, whose flush would empty it), so no other test sees its rows;
the database is flushed when the session ends. A test using a run must not be
transactional (`transaction=True` would flush it for the next one): take `db`, so what it
writes is rolled back.

Registered for every app by the root conftest.py (`pytest_plugins`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

# Fixtures that commit a run and flush it after: their tests go last (see above).
RUN_FIXTURES = ("twenty_day_run", "settled_book")


@dataclass(frozen=True)
class SimRun:
    """What a shared run is: enough for a test to say what it asserted on."""

    scenario: str
    seed: int
    scale: str
    days: int
    tick_minutes: int
    ticks: int  # the last tick run (ticks are numbered from 1)
    start_date: dt.date
    end_date: dt.date  # the last session simulated
    seconds: float  # wall time it took to build


def simulate(
    *,
    scenario: str,
    seed: int,
    days: int,
    scale: str = "demo",
    tick_minutes: int = 15,
    start_date: dt.date = dt.date(2015, 1, 2),
) -> SimRun:
    """Load a universe and run the tick pipeline for `days` sessions (every tick, with its
    day ends) under `scenario`, committing as it goes. Expects an empty database."""
    from opssuite import pipeline
    from simulator.calendar import ticks_per_day
    from simulator.models import Clock, Scenario
    from simulator.services import sim_universe_load
    from simulator.services.faults import scenarios_ensure

    started = time.perf_counter()
    sim_universe_load(seed=seed, scale=scale, start_date=start_date)
    scenarios_ensure()
    Clock.objects.filter(pk=1).update(
        scenario=Scenario.objects.get(name=scenario),
        tick_minutes=tick_minutes,
        seed=seed,
    )
    ticks = days * ticks_per_day(tick_minutes)
    for _ in range(ticks):
        result = pipeline.tick_advance(worker="testing-run")
        if result.outcome != "ran":
            raise RuntimeError(f"the shared run stopped: {result}")
    clock = Clock.objects.get(pk=1)
    return SimRun(
        scenario=scenario,
        seed=seed,
        scale=scale,
        days=days,
        tick_minutes=tick_minutes,
        ticks=clock.last_tick,
        start_date=clock.slot_for(1).sim_date,
        end_date=clock.slot_for(clock.last_tick).sim_date,
        seconds=round(time.perf_counter() - started, 1),
    )


@pytest.fixture(scope="session")
def twenty_day_run(django_db_setup, django_db_blocker) -> Iterator[SimRun]:  # noqa: ANN001
    """Twenty sessions of the demo universe (the smallest that trades) on the clean
    scenario: every trade, settlement, income, fee and day end the book and the ledger
    make of them. Ticks of 130 minutes (three a session, the last one the day end): the
    same sessions and day ends as 15-minute ticks at an eighth of the ticks (60), and the
    order flow still trades."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        run = simulate(scenario="clean", seed=20150102, days=20, tick_minutes=130)
    yield run
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on a shared run go last, in their order (see the module docstring)."""
    on_run = [i for i in items if set(getattr(i, "fixturenames", ())) & set(RUN_FIXTURES)]
    if on_run:
        chosen = set(map(id, on_run))
        items[:] = [i for i in items if id(i) not in chosen] + on_run
