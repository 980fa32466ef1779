"""The simulator's step of the tick pipeline: the market (then activity, confirmations,
custodian feed and faults, as they are built)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models import Clock
from .services.market import market_tick

if TYPE_CHECKING:
    from opssuite.pipeline import TickContext


def tick_step(tick: TickContext) -> None:
    seed = Clock.objects.values_list("seed", flat=True).get(pk=1)
    market_tick(slot=tick.slot, seed=seed)
