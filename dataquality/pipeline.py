"""Data quality's step of the tick pipeline (../shared/DESIGN.md step 3): every check over
this tick's prices, FX, holdings, statements and curve, before recon, the ledger and
reporting read them; alerts raised, refreshed or cleared; the run stored."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import metrics
from .services import tick_check

if TYPE_CHECKING:
    from opssuite.pipeline import TickContext


def tick_step(tick: TickContext) -> None:
    run = tick_check(tick=tick.number, sim_time=tick.sim_time, is_day_end=tick.slot.is_day_end)
    metrics.runs_observe(run)
