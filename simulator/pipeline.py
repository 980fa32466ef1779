"""The simulator's step of the tick pipeline: the market, then (at the open) the splits
going ex today applied to holdings, then the trading activity it drives (flows, orders,
fills, bookings), then what comes back from outside: broker confirmations, and at the
close income, corporate actions and fees, settlement at the custodian and its statements."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models import Clock
from .services.activity import activity_tick, nav_estimates
from .services.corporate import splits_day_start
from .services.feeds import confirmations_tick, settlement_day_end, statements_tick
from .services.income import income_day_end
from .services.market import market_tick

if TYPE_CHECKING:
    from opssuite.pipeline import TickContext


def tick_step(tick: TickContext) -> None:
    seed, tick_minutes = Clock.objects.values_list("seed", "tick_minutes").get(pk=1)
    slot = tick.slot
    market = market_tick(slot=slot, seed=seed)
    if slot.is_day_start:
        splits_day_start(slot=slot, seed=seed)
    activity_tick(slot=slot, seed=seed, market_tick=market, tick_minutes=tick_minutes)
    confirmations_tick(slot=slot, seed=seed)
    if slot.is_day_end:
        income_day_end(
            slot=slot,
            seed=seed,
            prices=market.prices,
            navs=lambda: nav_estimates(market.prices),
        )
        settlement_day_end(slot=slot, seed=seed)
    statements_tick(slot=slot, seed=seed)
