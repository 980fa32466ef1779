"""Setting up what the simulator trades: the universe, its factor loadings, the mandates'
initial capital, and the clock's seed and first session."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from book.calendar import is_business_day, next_business_day
from book.models import CapitalFlow, Mandate
from book.services import capital_flow_record, universe_load
from book.universe import build_universe

from ..models import Clock, SimInstrument
from .clock import clock_get

INITIAL_NAV_PER_UNIT = Decimal("100")


@dataclass(frozen=True)
class SimUniverseSummary:
    instruments_created: int
    mandates_created: int
    mandates_funded: int


@transaction.atomic
def sim_universe_load(
    *, seed: int, scale: str = "demo", start_date: dt.date | None = None, actor: Any = None
) -> SimUniverseSummary:
    """Load the universe of `seed` and `scale`, its simulator parameters, and fund each new
    mandate with its initial capital at 100 per unit on the first session. Safe to repeat."""
    clock = clock_get()
    start = start_date or clock.start_date
    if not is_business_day(start):
        start = next_business_day(start)
    universe = build_universe(seed=seed, scale=scale, as_of=start)
    loaded = universe_load(universe=universe, inception_date=start, actor=actor)
    have = set(SimInstrument.objects.values_list("instrument_id", flat=True))
    SimInstrument.objects.bulk_create(
        [
            SimInstrument(
                instrument_id=loaded.instruments[spec.ticker],
                beta=Decimal(str(spec.beta)),
                sector_beta=Decimal(str(spec.sector_beta)),
                idio_vol=Decimal(str(spec.idio_vol)),
                initial_price=Decimal(str(spec.initial_price)),
                credit_spread_bp=Decimal(str(spec.credit_spread_bp)),
                dividend_yield=Decimal(str(spec.dividend_yield)),
            )
            for spec in universe.instruments
            if loaded.instruments[spec.ticker] not in have
        ],
        batch_size=500,
    )
    funded = 0
    capital = {spec.code: spec.initial_capital for spec in universe.mandates}
    for mandate in Mandate.objects.filter(code__in=capital):
        if CapitalFlow.objects.filter(mandate=mandate).exists():
            continue
        capital_flow_record(
            mandate=mandate,
            kind="subscription",
            amount=capital[mandate.code],
            nav_per_unit=INITIAL_NAV_PER_UNIT,
            trade_date=mandate.inception_date,
            actor=actor,
        )
        funded += 1
    if clock.last_tick == 0:
        Clock.objects.filter(pk=1).update(seed=seed, start_date=start)
    return SimUniverseSummary(loaded.instruments_created, loaded.mandates_created, funded)
