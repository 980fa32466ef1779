"""Recon's step of the tick pipeline (../shared/DESIGN.md step 4): trade recon on what
arrived or fell due this tick; position recon on every custodian statement received this
tick (a late statement is reconciled when it arrives, as of its own time); at day end,
escalation of breaks past the age threshold."""

from __future__ import annotations

from typing import TYPE_CHECKING

from book.models import CustodianStatement

from . import metrics
from .services import escalations_run, statement_reconcile, trade_recon_tick

if TYPE_CHECKING:
    from opssuite.pipeline import TickContext


def tick_step(tick: TickContext) -> None:
    runs = []
    run = trade_recon_tick(tick=tick.number, sim_time=tick.sim_time, day=tick.sim_date)
    if run is not None:
        runs.append(run)
    for statement in (
        CustodianStatement.objects.filter(received_tick=tick.number)
        .select_related("custody_account")
        .order_by("as_of", "id")
    ):
        runs.append(statement_reconcile(statement, tick=tick.number, sim_time=tick.sim_time))
    if tick.slot.is_day_end:
        escalations_run(day=tick.sim_date, tick=tick.number)
    metrics.runs_observe(runs)
