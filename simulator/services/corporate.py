"""Corporate actions in the simulated world, through the book's services: splits announced
a week ahead (at a day's close) and applied to the holders' lots on the morning of their
ex-date, and bonds redeemed at par on their maturity date (at the close, after the final
coupon).

A holder the operations team "missed" (fault `missed_corporate_action`, per holder of a
split) is not split in the book, though the custodian splits its holding all the same:
its statements show the split quantity until the book applies the split (the ground truth
keeps the quantities before and after, so the custodian's side stays true to the world).
"""

from __future__ import annotations

import datetime as dt

from book.calendar import previous_business_day
from book.lots import split_quantity
from book.models import (
    ActionApplication,
    ActionKind,
    BondTerms,
    CorporateAction,
    Instrument,
    Position,
)
from book.services import bond_redeem, corporate_action_apply
from book.services.income import corporate_actions_announce
from book.services.trading import plain

from .. import corporate
from ..calendar import TickSlot
from ..models import FaultKind
from .faults import FaultDice, fault_rates
from .market import universe_arrays


def splits_announce(*, slot: TickSlot, seed: int) -> int:
    """Announce the splits going ex within the next SPLIT_ANNOUNCE_DAYS (idempotent)."""
    universe = universe_arrays()
    horizon = slot.sim_date + dt.timedelta(days=corporate.SPLIT_ANNOUNCE_DAYS)
    upcoming = corporate.split_schedule(seed, universe.equity_key, slot.sim_date, horizon)
    if not upcoming:
        return 0
    instruments = Instrument.objects.in_bulk({s.instrument_id for s in upcoming})
    corporate_actions_announce(
        [
            {
                "instrument": instruments[s.instrument_id],
                "kind": ActionKind.SPLIT,
                "ex_date": s.ex_date,
                "pay_date": s.ex_date,
                "ratio": s.ratio,
                "tick": slot.number,
                "sim_time": slot.sim_time,
            }
            for s in upcoming
            if s.instrument_id in instruments
        ]
    )
    return len(upcoming)


def splits_day_start(*, slot: TickSlot, seed: int) -> int:
    """Apply the splits that go ex today to every holder, before anyone trades; a missed
    holder is a fault. Returns how many holdings were split."""
    actions = list(
        CorporateAction.objects.filter(kind=ActionKind.SPLIT, ex_date=slot.sim_date)
        .select_related("instrument")
        .order_by("instrument_id")
    )
    if not actions:
        return 0
    dice = FaultDice(
        seed=seed,
        sim_date=slot.sim_date,
        slot=slot.slot,
        stream=7,
        rates=fault_rates(),
        tick=slot.number,
        sim_time=slot.sim_time,
    )
    applied = 0
    for action in actions:
        done = set(
            ActionApplication.objects.filter(corporate_action=action).values_list(
                "mandate_id", flat=True
            )
        )
        held = (
            Position.objects.filter(instrument_id=action.instrument_id)
            .exclude(quantity=0)
            .exclude(mandate_id__in=done)
            .order_by("mandate_id")
            .values_list("mandate_id", "quantity")
        )
        missed = []
        for mandate_id, quantity in held:
            if not dice.roll(FaultKind.MISSED_CORPORATE_ACTION):
                continue
            missed.append(mandate_id)
            after = split_quantity(quantity, action.ratio)
            dice.record(
                FaultKind.MISSED_CORPORATE_ACTION,
                magnitude=float(after - quantity),
                mandate_id=mandate_id,
                instrument_id=action.instrument_id,
                detail={
                    "action": ActionKind.SPLIT.value,
                    "ex_date": action.ex_date.isoformat(),
                    "ratio": plain(action.ratio),
                    "quantity_before": str(quantity),
                    "quantity_after": str(after),
                },
            )
        applied += len(
            corporate_action_apply(
                action=action,
                tick=slot.number,
                sim_time=slot.sim_time,
                skip_mandate_ids=missed,
            )
        )
    dice.save()
    return applied


def maturities_day_end(*, slot: TickSlot) -> int:
    """Redeem the bonds maturing today (or since the last session, when the maturity date
    fell on a weekend or holiday): paid today. Call after the day's coupons, which pay the
    final coupon to the holders of record."""
    since = previous_business_day(slot.sim_date)
    due = (
        BondTerms.objects.filter(
            maturity_date__gt=since, maturity_date__lte=slot.sim_date, instrument__active=True
        )
        .select_related("instrument")
        .order_by("instrument_id")
    )
    redeemed = 0
    for terms in due:
        redeemed += len(
            bond_redeem(
                instrument=terms.instrument,
                pay_date=slot.sim_date,
                tick=slot.number,
                sim_time=slot.sim_time,
            )
        )
    return redeemed
