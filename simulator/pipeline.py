"""The simulator's step of the tick pipeline: the market, then the trading activity it
drives (flows, orders, fills, bookings), then what comes back from outside (confirmations,
settlement at the custodian, statements)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models import Clock
from .services.activity import activity_tick
from .services.market import market_tick

if TYPE_CHECKING:
    from opssuite.pipeline import TickContext


def tick_step(tick: TickContext) -> None:
    seed, tick_minutes = Clock.objects.values_list("seed", "tick_minutes").get(pk=1)
    market = market_tick(slot=tick.slot, seed=seed)
    activity_tick(slot=tick.slot, seed=seed, market_tick=market, tick_minutes=tick_minutes)
