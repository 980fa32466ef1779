"""Day-end income in the simulated world: dividends announced ahead of their ex-dates and
accrued to the holders of record, bond coupons paid on their dates (the final one on the
maturity date, before the bond is redeemed), splits announced ahead, bonds redeemed at
maturity, management fees accrued daily and paid at month end. A dividend the operations
team "missed" (a fault) is not booked, though the custodian still pays it: recon should
find the cash difference.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal

from book.calendar import (
    add_business_days,
    is_business_day,
    next_business_day,
    previous_business_day,
)
from book.models import ActionKind, BondTerms, CorporateAction, IncomeKind, Mandate
from book.services import fee_accrue, fees_pay
from book.services.income import (
    corporate_actions_announce,
    entitlements_record_many,
    fees_accrue_many,
    holdings_before_many,
)
from risk.pricing import BondSpec, cashflow_schedule

from ..calendar import TickSlot
from ..corporate import DIVIDEND_ANNOUNCE_DAYS, dividend_ex_dates
from ..models import FaultKind, SimInstrument
from .corporate import maturities_day_end, splits_announce
from .faults import FaultDice, fault_rates

ANNOUNCE_DAYS_AHEAD = DIVIDEND_ANNOUNCE_DAYS
PAY_LAG_BUSINESS_DAYS = 15


def _announce(slot: TickSlot, prices: dict[int, float]) -> None:
    horizon = slot.sim_date + dt.timedelta(days=ANNOUNCE_DAYS_AHEAD)
    payers = SimInstrument.objects.filter(
        dividend_yield__gt=0, instrument__active=True, instrument__asset_class="equity"
    ).select_related("instrument")
    existing = set(
        CorporateAction.objects.filter(
            ex_date__gte=slot.sim_date, ex_date__lte=horizon
        ).values_list(  # noqa: E501
            "instrument_id", "ex_date"
        )
    )
    announcements = []
    for sim in payers:
        for ex_date in dividend_ex_dates(sim.instrument_id, horizon.year):
            if not slot.sim_date < ex_date <= horizon or (sim.instrument_id, ex_date) in existing:
                continue
            price = prices.get(sim.instrument_id)
            if not price:
                continue
            amount = (Decimal(str(price)) * sim.dividend_yield / 4).quantize(
                Decimal("0.0001"), rounding=ROUND_HALF_EVEN
            )
            if amount <= 0:
                continue
            announcements.append(
                {
                    "instrument": sim.instrument,
                    "kind": ActionKind.CASH_DIVIDEND,
                    "ex_date": ex_date,
                    "pay_date": add_business_days(ex_date, PAY_LAG_BUSINESS_DAYS),
                    "amount_per_unit": amount,
                    "tick": slot.number,
                }
            )
    corporate_actions_announce(announcements)


def _dividends(slot: TickSlot, dice: FaultDice) -> None:
    actions = list(
        CorporateAction.objects.filter(
            ex_date=slot.sim_date, kind=ActionKind.CASH_DIVIDEND
        ).select_related("instrument")
    )
    # The holders of every dividend going ex today, then the day's entitlements in one
    # batch (the same rows, ids and events as one call a dividend).
    holders_of = holdings_before_many([a.instrument_id for a in actions], slot.sim_date)
    items = []
    for action in actions:
        holders = holders_of[action.instrument_id]
        booked = {}
        for mandate_id, quantity in sorted(holders.items()):
            if dice.roll(FaultKind.MISSED_CORPORATE_ACTION):
                dice.record(
                    FaultKind.MISSED_CORPORATE_ACTION,
                    magnitude=float(quantity * action.amount_per_unit),
                    mandate_id=mandate_id,
                    instrument_id=action.instrument_id,
                    detail={
                        "action": ActionKind.CASH_DIVIDEND.value,
                        "ex_date": action.ex_date.isoformat(),
                        "currency": action.currency_id,
                        "pay_date": action.pay_date.isoformat(),
                        "quantity": str(quantity),
                        "amount_per_unit": str(action.amount_per_unit),
                    },
                )
                continue
            booked[mandate_id] = quantity
        items.append(
            {
                "instrument": action.instrument,
                "kind": IncomeKind.DIVIDEND,
                "ex_date": action.ex_date,
                "pay_date": action.pay_date,
                "amount_per_unit": action.amount_per_unit,
                "holders": booked,
                "corporate_action": action,
                "tick": slot.number,
                "sim_time": slot.sim_time,
            }
        )
    entitlements_record_many(items)


def _coupons(slot: TickSlot) -> None:
    # A maturity (and its final coupon) on a weekend or holiday is paid on the next
    # session: bonds maturing since the last session are still due their coupon today.
    since = previous_business_day(slot.sim_date)
    bonds = BondTerms.objects.filter(
        maturity_date__gt=since, issue_date__lt=slot.sim_date, instrument__active=True
    ).select_related("instrument")
    paying = []
    for terms in bonds:
        spec = BondSpec.from_terms(terms)
        schedule = cashflow_schedule(spec, since)
        if slot.sim_date not in schedule.dates and not _paid_today(schedule.dates, slot.sim_date):
            continue
        paying.append(terms)
    holders_of = holdings_before_many([t.instrument_id for t in paying], slot.sim_date)
    entitlements_record_many(
        [
            {
                "instrument": terms.instrument,
                "kind": IncomeKind.COUPON,
                "ex_date": slot.sim_date,
                "pay_date": slot.sim_date,
                "amount_per_unit": Decimal(str(float(terms.coupon_rate) / terms.frequency)),
                "holders": holders_of[terms.instrument_id],
                "tick": slot.number,
                "sim_time": slot.sim_time,
            }
            for terms in paying
        ]
    )


def _paid_today(dates: list[dt.date] | tuple[dt.date, ...], today: dt.date) -> bool:
    """A coupon date on a weekend or holiday is paid on the next business day."""
    return any(
        not is_business_day(d) and next_business_day(d) == today and d < today for d in dates
    )


def _fees(slot: TickSlot, navs: dict[str, float]) -> None:
    last_of_month = next_business_day(slot.sim_date).month != slot.sim_date.month
    accruals = []
    for mandate in Mandate.objects.filter(active=True, management_fee_rate__gt=0):
        nav = navs.get(mandate.code)
        if nav is None or nav <= 0:
            continue
        accruals.append((mandate, slot.sim_date, Decimal(str(round(nav, 4)))))
    if not last_of_month:
        fees_accrue_many(accruals, tick=slot.number)  # one batch: the same rows and events
        return
    for mandate, day, nav_basis in accruals:  # accrue then pay, mandate by mandate
        fee_accrue(mandate=mandate, accrual_date=day, nav_basis=nav_basis, tick=slot.number)
        fees_pay(mandate=mandate, pay_date=slot.sim_date, tick=slot.number)


def income_day_end(
    *,
    slot: TickSlot,
    seed: int,
    prices: dict[int, float],
    navs: Callable[[], dict[str, float]],
) -> None:
    """All of the day's income, corporate actions and fees, at the close (before
    settlement). Coupons come before redemptions (the final coupon goes to the holders of
    record); `navs` is asked after both, so the fee accrues on a NAV that holds a matured
    bond's proceeds rather than a bond no longer priced."""
    dice = FaultDice(
        seed=seed,
        sim_date=slot.sim_date,
        slot=slot.slot,
        stream=5,
        rates=fault_rates(),
        tick=slot.number,
        sim_time=slot.sim_time,
    )
    _announce(slot, prices)
    splits_announce(slot=slot, seed=seed)
    _dividends(slot, dice)
    _coupons(slot)
    maturities_day_end(slot=slot)
    _fees(slot, navs())
    dice.save()


def missed_income_cash(mandate_id: int, as_of: dt.date) -> dict[str, Decimal]:
    """Dividend cash the custodian received for a mandate that the book missed (ground
    truth the simulator keeps, so its custodian statements stay true to the world)."""
    from ..models import InjectedFault

    missed: dict[str, Decimal] = {}
    for fault in InjectedFault.objects.filter(
        kind=FaultKind.MISSED_CORPORATE_ACTION, mandate_id=mandate_id
    ):
        if fault.detail.get("action", ActionKind.CASH_DIVIDEND) != ActionKind.CASH_DIVIDEND:
            continue  # a missed split moves units, not cash (see feeds.statements_tick)
        if dt.date.fromisoformat(fault.detail["pay_date"]) <= as_of:
            currency = fault.detail["currency"]
            amount = Decimal(fault.detail["quantity"]) * Decimal(fault.detail["amount_per_unit"])
            missed[currency] = missed.get(currency, Decimal(0)) + amount
    return missed
