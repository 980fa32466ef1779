"""The ledger's step of the tick pipeline: journals for what the book did this tick, and at
day end settled cash, mark-to-market and FX revaluation (../shared/DESIGN.md step 5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .services import ledger_sync

if TYPE_CHECKING:
    from opssuite.pipeline import TickContext


def tick_step(tick: TickContext) -> None:
    ledger_sync(
        day=tick.sim_date,
        tick=tick.number,
        sim_time=tick.sim_time,
        day_end=tick.slot.is_day_end,
    )
