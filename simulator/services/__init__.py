"""Every write of the simulator: the clock and ticks, market state, activity, faults."""

from .clock import (
    TickConflict,
    clock_get,
    clock_pause,
    clock_resume,
    simulation_configure,
    tick_claim,
    tick_complete,
    tick_fail,
)
from .market import MarketTick, day_anchors, market_tick
from .universe import SimUniverseSummary, sim_universe_load

__all__ = [
    "MarketTick",
    "SimUniverseSummary",
    "day_anchors",
    "market_tick",
    "sim_universe_load",
    "TickConflict",
    "clock_get",
    "clock_pause",
    "clock_resume",
    "simulation_configure",
    "tick_claim",
    "tick_complete",
    "tick_fail",
]
