"""Income and fees: corporate actions, dividend and coupon entitlements (accrued on the
ex-date, cash on the pay date), and the management fee (accrued daily, paid monthly)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum

from .. import events
from ..models import (
    ActionKind,
    CashKind,
    CashMovement,
    CorporateAction,
    FeeAccrual,
    IncomeEntitlement,
    IncomeKind,
    Instrument,
    Mandate,
    Position,
    Trade,
)
from .events import events_record_many
from .sequences import ids_next
from .trading import LIVE_STATUSES, ZERO, cash_balances_add, money, plain


@transaction.atomic
def corporate_action_announce(
    *,
    instrument: Instrument,
    kind: str,
    ex_date: dt.date,
    pay_date: dt.date,
    amount_per_unit: Decimal = ZERO,
    ratio: Decimal = Decimal(1),
    tick: int | None = None,
    sim_time: dt.datetime | None = None,
) -> CorporateAction:
    """Announce a dividend, split or redemption (idempotent on instrument, kind, ex-date)."""
    return corporate_actions_announce(
        [
            {
                "instrument": instrument,
                "kind": kind,
                "ex_date": ex_date,
                "pay_date": pay_date,
                "amount_per_unit": amount_per_unit,
                "ratio": ratio,
                "tick": tick,
                "sim_time": sim_time,
            }
        ]
    )[0]


def _announcement_errors(
    kind: str, ex_date: dt.date, pay_date: dt.date, amount: Decimal, ratio: Decimal
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if kind not in ActionKind.values:
        errors["kind"] = [f"must be one of {', '.join(ActionKind.values)}"]
    if pay_date < ex_date:
        errors["pay_date"] = ["is before the ex-date"]
    if kind == ActionKind.CASH_DIVIDEND and amount <= 0:
        errors["amount_per_unit"] = ["a cash dividend pays a positive amount"]
    if kind == ActionKind.REDEMPTION and amount <= 0:
        errors["amount_per_unit"] = ["a redemption pays a positive price per unit of face"]
    if kind == ActionKind.SPLIT and (ratio <= 0 or ratio == 1):
        errors["ratio"] = ["a split gives a positive number of new units per old one, not 1"]
    return errors


@transaction.atomic
def corporate_actions_announce(announcements: list[dict[str, Any]]) -> list[CorporateAction]:
    """Announce many dividends or splits at once (each takes corporate_action_announce's
    keyword arguments): one read, one insert and one batch of events, in order. Idempotent
    on instrument, kind and ex-date, like the one-at-a-time form; all or nothing."""
    all_errors: dict[str, list[str]] = {}
    for index, a in enumerate(announcements):
        errors = _announcement_errors(
            a["kind"],
            a["ex_date"],
            a["pay_date"],
            a.get("amount_per_unit", ZERO),
            a.get("ratio", Decimal(1)),
        )
        for key, messages in errors.items():
            all_errors[key if len(announcements) == 1 else f"{index}.{key}"] = messages
    if all_errors:
        raise ValidationError(all_errors)
    if not announcements:
        return []
    keys = {(a["instrument"].pk, a["kind"], a["ex_date"]) for a in announcements}
    existing = {
        (action.instrument_id, action.kind, action.ex_date): action
        for action in CorporateAction.objects.filter(
            instrument_id__in={i for i, _, _ in keys},
            kind__in={k for _, k, _ in keys},
            ex_date__in={d for _, _, d in keys},
        )
        if (action.instrument_id, action.kind, action.ex_date) in keys
    }
    new: dict[tuple[int, str, dt.date], CorporateAction] = {}
    new_announcements = []
    for a in announcements:
        key = (a["instrument"].pk, a["kind"], a["ex_date"])
        if key in existing or key in new:
            continue
        new[key] = CorporateAction(
            instrument=a["instrument"],
            kind=a["kind"],
            ex_date=a["ex_date"],
            pay_date=a["pay_date"],
            amount_per_unit=a.get("amount_per_unit", ZERO),
            ratio=a.get("ratio", Decimal(1)),
            currency_id=a["instrument"].currency_id,
        )
        new_announcements.append(a)
    CorporateAction.objects.bulk_create(list(new.values()))
    if any(action.pk is None for action in new.values()):
        raise RuntimeError("the database returned no ids from a bulk insert of actions")
    events_record_many(
        [
            {
                "kind": events.ACTION_ANNOUNCED,
                "source": events.Source.BOOK,
                "instrument": a["instrument"].ticker,
                "tick": a.get("tick"),
                "sim_time": a.get("sim_time"),
                "payload": {
                    "kind": a["kind"],
                    "ex_date": a["ex_date"].isoformat(),
                    "pay_date": a["pay_date"].isoformat(),
                    "amount_per_unit": str(a.get("amount_per_unit", ZERO)),
                    "ratio": plain(Decimal(a.get("ratio", 1))),
                },
            }
            for a in new_announcements
        ]
    )
    found = {**existing, **new}
    return [found[(a["instrument"].pk, a["kind"], a["ex_date"])] for a in announcements]


def holdings_before(instrument_id: int, day: dt.date) -> dict[int, Decimal]:
    """Each mandate's quantity at the end of the day before `day` (trade-date basis): the
    holders of record for an ex-date of `day`."""
    held = dict(
        Position.objects.filter(instrument_id=instrument_id).values_list("mandate_id", "quantity")
    )
    since = (
        Trade.objects.filter(
            instrument_id=instrument_id, status__in=LIVE_STATUSES, trade_date__gte=day
        )
        .values("mandate_id")
        .annotate(
            bought=Sum("quantity", filter=Q(side="buy")),
            sold=Sum("quantity", filter=Q(side="sell")),
        )
    )
    for row in since:
        held[row["mandate_id"]] = (
            held.get(row["mandate_id"], ZERO) - (row["bought"] or ZERO) + (row["sold"] or ZERO)
        )
    return {m: q for m, q in held.items() if q > 0}


@transaction.atomic
def entitlements_record(
    *,
    instrument: Instrument,
    kind: str,
    ex_date: dt.date,
    pay_date: dt.date,
    amount_per_unit: Decimal,
    holders: dict[int, Decimal],
    corporate_action: CorporateAction | None = None,
    tick: int | None = None,
    sim_time: dt.datetime | None = None,
) -> list[IncomeEntitlement]:
    """Accrue what each holder is owed (amount_per_unit per unit; bonds: per unit of face)
    and project the cash for the pay date. Idempotent per mandate, instrument, kind, date."""
    if kind not in IncomeKind.values:
        raise ValidationError({"kind": [f"must be one of {', '.join(IncomeKind.values)}"]})
    done = set(
        IncomeEntitlement.objects.filter(
            instrument=instrument, kind=kind, ex_date=ex_date, mandate_id__in=holders
        ).values_list("mandate_id", flat=True)
    )
    todo = sorted((m, q) for m, q in holders.items() if m not in done and q > 0)
    if not todo:
        return []
    ids = ids_next("I", len(todo))
    rows = [
        IncomeEntitlement(
            income_id=income_id,
            mandate_id=mandate_id,
            instrument=instrument,
            kind=kind,
            corporate_action=corporate_action,
            ex_date=ex_date,
            pay_date=pay_date,
            quantity=quantity,
            amount=money(quantity * amount_per_unit),
            currency_id=instrument.currency_id,
        )
        for income_id, (mandate_id, quantity) in zip(ids, todo, strict=True)
    ]
    IncomeEntitlement.objects.bulk_create(rows)
    CashMovement.objects.bulk_create(
        [
            CashMovement(
                mandate_id=row.mandate_id,
                currency_id=row.currency_id,
                amount=row.amount,
                kind=CashKind.DIVIDEND if kind == IncomeKind.DIVIDEND else CashKind.COUPON,
                reference=row.income_id,
                value_date=pay_date,
                tick=tick,
            )
            for row in rows
        ]
    )
    cash_balances_add([(r.mandate_id, r.currency_id, ZERO, r.amount) for r in rows])
    codes = dict(
        Mandate.objects.filter(pk__in=[r.mandate_id for r in rows]).values_list("pk", "code")
    )  # noqa: E501
    events_record_many(
        [
            {
                "kind": events.INCOME_ACCRUED,
                "source": events.Source.BOOK,
                "instrument": instrument.ticker,
                "mandate": codes[r.mandate_id],
                "tick": tick,
                "sim_time": sim_time,
                "payload": {
                    "income_id": r.income_id,
                    "kind": kind,
                    "quantity": str(r.quantity),
                    "amount": str(r.amount),
                    "currency": r.currency_id,
                    "ex_date": ex_date.isoformat(),
                    "pay_date": pay_date.isoformat(),
                },
            }
            for r in rows
        ]
    )
    return rows


@transaction.atomic
def fee_accrue(
    *,
    mandate: Mandate,
    accrual_date: dt.date,
    nav_basis: Decimal,
    tick: int | None = None,
    actor: Any = None,
) -> FeeAccrual | None:
    """One day's management fee: NAV x annual rate / 365 (ACT/365), once per day."""
    if FeeAccrual.objects.filter(mandate=mandate, accrual_date=accrual_date).exists():
        return None
    if nav_basis < 0:
        raise ValidationError({"nav_basis": ["must not be negative"]})
    amount = (nav_basis * mandate.management_fee_rate / Decimal(365)).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_EVEN
    )
    accrual = FeeAccrual.objects.create(
        mandate=mandate,
        accrual_date=accrual_date,
        nav_basis=money(nav_basis),
        rate=mandate.management_fee_rate,
        amount=amount,
        currency_id=mandate.base_currency_id,
    )
    events_record_many(
        [
            {
                "kind": events.FEE_ACCRUED,
                "source": events.Source.BOOK,
                "actor": actor,
                "mandate": mandate.code,
                "tick": tick,
                "payload": {
                    "date": accrual_date.isoformat(),
                    "nav_basis": str(accrual.nav_basis),
                    "amount": str(amount),
                },  # noqa: E501
            }
        ]
    )
    return accrual


@transaction.atomic
def fees_pay(*, mandate: Mandate, pay_date: dt.date, tick: int | None = None) -> Decimal:
    """Pay every unpaid accrual up to `pay_date` out of the mandate's base-currency cash."""
    unpaid = FeeAccrual.objects.select_for_update().filter(
        mandate=mandate, paid=False, accrual_date__lte=pay_date
    )
    total = unpaid.aggregate(total=Sum("amount"))["total"] or ZERO
    if total <= 0:
        return ZERO
    unpaid.update(paid=True)
    CashMovement.objects.create(
        mandate=mandate,
        currency_id=mandate.base_currency_id,
        amount=-total,
        kind=CashKind.FEE,
        reference=f"fees to {pay_date.isoformat()}",
        value_date=pay_date,
        tick=tick,
    )
    cash_balances_add([(mandate.pk, mandate.base_currency_id, ZERO, -total)])
    events_record_many(
        [
            {
                "kind": events.FEE_PAID,
                "source": events.Source.BOOK,
                "mandate": mandate.code,
                "tick": tick,
                "payload": {"pay_date": pay_date.isoformat(), "amount": str(total)},
            }
        ]
    )
    return total
