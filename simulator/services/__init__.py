"""Every write of the simulator: the clock and ticks, market state, activity, faults."""

from .clock import (
    TickConflict,
    clock_get,
    clock_pause,
    clock_resume,
    tick_claim,
    tick_complete,
    tick_fail,
)

__all__ = [
    "TickConflict",
    "clock_get",
    "clock_pause",
    "clock_resume",
    "tick_claim",
    "tick_complete",
    "tick_fail",
]
