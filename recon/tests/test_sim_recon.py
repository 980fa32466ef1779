"""Recon over simulated runs, as the tick pipeline runs it: every injected confirmation
fault and custodian break becomes a break of the right type, nothing else does, failed
settlements are timing, and breaks clear when their cause goes away."""

from __future__ import annotations

from collections import Counter

import pytest

from book.models import Event
from recon.models import Break, BreakStatus, Classification, ReconRun
from simulator.models import InjectedFault

from .conftest import DAY, run_ticks, use_scenario

# Fault kind (simulator ground truth) -> the break type recon must raise for it.
CONFIRMATION_FAULTS = {
    "confirmation_price": "price_mismatch",
    "confirmation_quantity": "quantity_mismatch",
    "confirmation_time": "timestamp_drift",
    "confirmation_side": "side_mismatch",
    "missing_confirmation": "missing_confirmation",
    "duplicate_confirmation": "duplicate_confirmation",
}


# A fault is recorded at the tick its confirmation would have arrived; it is missing once
# the grace (ReconSettings.confirmation_grace_ticks, 2 by default) has passed too.
MISSING_DUE_WITHIN = 2


def fault_breaks(fault: InjectedFault, breaks: list[Break]) -> list[Break]:
    """The breaks that stand for one confirmation fault: its type, and its trade or order."""
    wanted = CONFIRMATION_FAULTS[fault.kind]
    order_id = (fault.detail or {}).get("order_id")
    return [
        b
        for b in breaks
        if b.break_type == wanted
        and (
            (fault.trade_id and fault.trade_id in (b.trade_ids or [b.match_key]))
            or (order_id and order_id in b.detail.get("order_ids", []))
        )
    ]


def assert_confirmation_faults_found(breaks: list[Break], *, last_tick: int) -> None:
    """Every confirmation fault is a break of its type, and every trade break is a fault;
    a missing confirmation counts once it is due (broker lag and grace after the fill)."""
    faults = [
        f
        for f in InjectedFault.objects.filter(kind__in=CONFIRMATION_FAULTS)
        if f.kind != "missing_confirmation" or f.tick <= last_tick - MISSING_DUE_WITHIN
    ]
    assert faults, "the scenario injected no confirmation fault: nothing was tested"
    missed = [(f.kind, f.trade_id, f.detail) for f in faults if not fault_breaks(f, breaks)]
    assert not missed, missed
    explained = {b.pk for f in faults for b in fault_breaks(f, breaks)}
    unexplained = [
        (b.break_type, b.match_key, b.internal_value, b.external_value)
        for b in breaks
        if b.pk not in explained
    ]
    assert not unexplained, unexplained


@pytest.fixture
def stressed_days(sim_universe):  # noqa: ANN001
    use_scenario("stressed")
    run_ticks(2 * DAY)


def test_every_confirmation_fault_is_a_break_of_its_type_and_nothing_else(stressed_days):  # noqa: ANN001
    trade_breaks = list(Break.objects.filter(recon="trade"))
    assert_confirmation_faults_found(trade_breaks, last_tick=2 * DAY)
    kinds = Counter(
        InjectedFault.objects.filter(kind__in=CONFIRMATION_FAULTS).values_list("kind", flat=True)
    )
    assert len(kinds) >= 4, kinds  # most kinds are exercised at this rate
    runs = ReconRun.objects.filter(kind="trade")
    assert runs.exists() and all(r.summary["matched"] >= 0 for r in runs)
    assert sum(r.summary["matched"] for r in runs) > len(trade_breaks)
    # Every break touching a trade is in that trade's trace (the event log).
    brk = next(b for b in trade_breaks if b.trade_id)
    assert Event.objects.filter(trade_id=brk.trade_id, kind="recon.break_opened").exists()


def test_custodian_faults_and_failed_settlements_are_classified(stressed_days):  # noqa: ANN001
    position_breaks = list(Break.objects.filter(recon="position"))
    failed = InjectedFault.objects.filter(kind="failed_settlement")
    assert failed.exists()
    for fault in failed:
        timing = [
            b
            for b in position_breaks
            if fault.trade_id in b.trade_ids and b.classification == Classification.TIMING
        ]
        assert timing, f"failed settlement of {fault.trade_id} not shown as timing"
    for fault in InjectedFault.objects.filter(kind="custodian_quantity"):
        found = [
            b
            for b in position_breaks
            if b.instrument_id == fault.instrument_id
            and b.mandate_id == fault.mandate_id
            and b.break_type == "position_quantity"
        ]
        assert found, f"custodian quantity fault {fault.pk} not found"
        assert found[0].classification in (
            Classification.QUANTITY_ERROR,
            Classification.MISSING_TRADE,
        ), found[0].explanation
    # A custodian fault is one statement's: the next statement clears it.
    cleared = [b for b in position_breaks if b.status == BreakStatus.RESOLVED]
    assert all(b.resolution.startswith("cleared at statement S-") for b in cleared)
    # Late statements were reconciled when they arrived (as of their own time).
    late = InjectedFault.objects.filter(kind="late_statement", tick__lt=2 * DAY - 3)
    for fault in late:
        assert ReconRun.objects.filter(
            kind="position", mandate_id=fault.mandate_id, tick=fault.tick + 3
        ).exists()


def test_a_clean_run_opens_no_break(sim_universe):  # noqa: ANN001
    use_scenario("clean")
    run_ticks(DAY + 4)
    assert ReconRun.objects.filter(kind="position").exists()
    assert ReconRun.objects.filter(kind="trade").exists()
    assert not Break.objects.exists(), list(
        Break.objects.values_list("identity", "explanation")[:10]
    )
