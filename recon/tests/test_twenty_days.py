"""The issue's run: twenty sessions with the default fault scenario (130-minute ticks, so
three a session, the last the day end: the same sessions, settlements, statements and day
ends at an eighth of the ticks). Every injected confirmation fault becomes a break of its
type and no other trade break exists; every custodian quantity fault is a position break;
every failed settlement shows as timing, naming its trade; breaks age and escalate."""

from __future__ import annotations

from book.models import Event
from opssuite.testing_runs import simulate
from recon.models import Break, BreakStatus, Classification, ReconRun
from simulator.models import InjectedFault

from .test_sim_recon import assert_confirmation_faults_found


def test_twenty_days_of_the_default_scenario(db):  # noqa: ANN001
    run = simulate(scenario="default", seed=20150102, days=20, tick_minutes=130)
    assert run.days == 20 and run.ticks == 60
    trade_breaks = list(Break.objects.filter(recon="trade"))
    assert_confirmation_faults_found(trade_breaks, last_tick=run.ticks)
    position = list(Break.objects.filter(recon="position"))
    custodian = InjectedFault.objects.filter(kind="custodian_quantity")
    assert custodian.exists()
    for fault in custodian:
        assert any(
            b.instrument_id == fault.instrument_id
            and b.mandate_id == fault.mandate_id
            and b.break_type == "position_quantity"
            and b.classification in (Classification.QUANTITY_ERROR, Classification.MISSING_TRADE)
            for b in position
        ), fault.detail
    failed = InjectedFault.objects.filter(kind="failed_settlement")
    assert failed.exists()
    for fault in failed:
        # The position line's break names the trade while it is due and unsettled (the
        # same line may break again later for another trade: the event log keeps both).
        assert Event.objects.filter(
            trade_id=fault.trade_id,
            kind__in=("recon.break_opened", "recon.break_reopened"),
            payload__classification=Classification.TIMING,
        ).exists(), fault.trade_id
    # Every break a position run raised is explained by an injected fault's instrument or
    # trade, or by a missed corporate action: nothing from ordinary settlement lag.
    explained_instruments = set(
        InjectedFault.objects.exclude(instrument_id=None).values_list("instrument_id", flat=True)
    )
    explained_trades = set(
        InjectedFault.objects.exclude(trade_id="").values_list("trade_id", flat=True)
    )
    for brk in position:
        assert (
            brk.instrument_id in explained_instruments
            or set(brk.trade_ids) & explained_trades
            or brk.classification in (Classification.CORPORATE_ACTION, Classification.TIMING)
        ), (brk.identity, brk.classification, brk.explanation)
    # Statements of every session were reconciled; cleared breaks name the statement.
    assert ReconRun.objects.filter(kind="position").count() >= 20 * 5
    for brk in position:
        if brk.status == BreakStatus.RESOLVED:
            assert brk.resolution.startswith("cleared at statement S-")
    # Breaks left open long enough were escalated at a day end.
    old = [b for b in trade_breaks if b.status == BreakStatus.OPEN and b.first_seen_tick < 30]
    assert old and all(b.escalated for b in old)
