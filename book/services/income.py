"""Income and fees: corporate actions, dividend and coupon entitlements (accrued on the
ex-date, cash on the pay date), and the management fee (accrued daily, paid monthly)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum

from .. import bulk, events
from ..models import (
    ActionKind,
    CashKind,
    CashMovement,
    CashStatus,
    CorporateAction,
    FeeAccrual,
    IncomeEntitlement,
    IncomeKind,
    Instrument,
    Mandate,
    Position,
    Trade,
)
from .events import events_append_many, events_record_many
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
    return holdings_before_many([instrument_id], day)[instrument_id]


def holdings_before_many(instrument_ids: list[int], day: dt.date) -> dict[int, dict[int, Decimal]]:
    """`holdings_before` for several instruments, in two queries: {instrument: {mandate:
    quantity}}."""
    held: dict[int, dict[int, Decimal]] = {i: {} for i in instrument_ids}
    if not instrument_ids:
        return held
    for mandate_id, instrument_id, quantity in Position.objects.filter(
        instrument_id__in=instrument_ids
    ).values_list("mandate_id", "instrument_id", "quantity"):
        held[instrument_id][mandate_id] = quantity
    since = (
        Trade.objects.filter(
            instrument_id__in=instrument_ids, status__in=LIVE_STATUSES, trade_date__gte=day
        )
        .values("instrument_id", "mandate_id")
        .annotate(
            bought=Sum("quantity", filter=Q(side="buy")),
            sold=Sum("quantity", filter=Q(side="sell")),
        )
        .order_by()
    )
    for row in since:
        of = held[row["instrument_id"]]
        of[row["mandate_id"]] = (
            of.get(row["mandate_id"], ZERO) - (row["bought"] or ZERO) + (row["sold"] or ZERO)
        )
    return {i: {m: q for m, q in of.items() if q > 0} for i, of in held.items()}


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
    return entitlements_record_many(
        [
            {
                "instrument": instrument,
                "kind": kind,
                "ex_date": ex_date,
                "pay_date": pay_date,
                "amount_per_unit": amount_per_unit,
                "holders": holders,
                "corporate_action": corporate_action,
                "tick": tick,
                "sim_time": sim_time,
            }
        ]
    )


_ENTITLEMENT_COLUMNS = (
    "income_id",
    "mandate_id",
    "instrument_id",
    "kind",
    "corporate_action_id",
    "ex_date",
    "pay_date",
    "quantity",
    "amount",
    "currency_id",
    "status",
)
_INCOME_CASH_COLUMNS = (
    "mandate_id",
    "currency_id",
    "amount",
    "kind",
    "reference",
    "value_date",
    "status",
    "tick",
)


@transaction.atomic
def entitlements_record_many(items: list[dict[str, Any]]) -> list[IncomeEntitlement]:
    """`entitlements_record` for many dividends or coupons at once (each item takes its
    keyword arguments), in order: the same rows, ids and events as one call an item, in a
    fixed number of queries (a close accrues dozens of dividends)."""
    for item in items:
        if item["kind"] not in IncomeKind.values:
            raise ValidationError({"kind": [f"must be one of {', '.join(IncomeKind.values)}"]})
    keys = {
        (item["instrument"].pk, item["kind"], item["ex_date"], mandate_id)
        for item in items
        for mandate_id in item["holders"]
    }
    done = set()
    if keys:
        done = {
            key
            for key in IncomeEntitlement.objects.filter(
                instrument_id__in={k[0] for k in keys},
                kind__in={k[1] for k in keys},
                ex_date__in={k[2] for k in keys},
                mandate_id__in={k[3] for k in keys},
            ).values_list("instrument_id", "kind", "ex_date", "mandate_id")
            if key in keys
        }
    todo = [
        (item, mandate_id, quantity)
        for item in items
        for mandate_id, quantity in sorted(item["holders"].items())
        if (item["instrument"].pk, item["kind"], item["ex_date"], mandate_id) not in done
        and quantity > 0
    ]
    if not todo:
        return []
    ids = ids_next("I", len(todo))
    rows = [
        IncomeEntitlement(
            income_id=income_id,
            mandate_id=mandate_id,
            instrument=item["instrument"],
            kind=item["kind"],
            corporate_action=item.get("corporate_action"),
            ex_date=item["ex_date"],
            pay_date=item["pay_date"],
            quantity=quantity,
            amount=money(quantity * item["amount_per_unit"]),
            currency_id=item["instrument"].currency_id,
        )
        for income_id, (item, mandate_id, quantity) in zip(ids, todo, strict=True)
    ]
    bulk.instances_insert(rows, _ENTITLEMENT_COLUMNS)
    bulk.rows_insert(
        CashMovement,
        _INCOME_CASH_COLUMNS,
        [
            (
                row.mandate_id,
                row.currency_id,
                row.amount,
                CashKind.DIVIDEND.value
                if row.kind == IncomeKind.DIVIDEND
                else CashKind.COUPON.value,
                row.income_id,
                row.pay_date,
                CashStatus.PROJECTED.value,
                item.get("tick"),
            )
            for row, (item, _, _) in zip(rows, todo, strict=True)
        ],
    )
    cash_balances_add([(r.mandate_id, r.currency_id, ZERO, r.amount) for r in rows])
    codes = dict(
        Mandate.objects.filter(pk__in={r.mandate_id for r in rows}).values_list("pk", "code")
    )  # noqa: E501
    events_append_many(
        [
            {
                "kind": events.INCOME_ACCRUED,
                "source": events.Source.BOOK,
                "instrument": item["instrument"].ticker,
                "mandate": codes[r.mandate_id],
                "tick": item.get("tick"),
                "sim_time": item.get("sim_time"),
                "payload": {
                    "income_id": r.income_id,
                    "kind": item["kind"],
                    "quantity": str(r.quantity),
                    "amount": str(r.amount),
                    "currency": r.currency_id,
                    "ex_date": item["ex_date"].isoformat(),
                    "pay_date": item["pay_date"].isoformat(),
                },
            }
            for r, (item, _, _) in zip(rows, todo, strict=True)
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


_FEE_COLUMNS = (
    "mandate_id",
    "accrual_date",
    "nav_basis",
    "rate",
    "amount",
    "currency_id",
    "paid",
)


@transaction.atomic
def fees_accrue_many(
    accruals: list[tuple[Mandate, dt.date, Decimal]], *, tick: int | None = None, actor: Any = None
) -> int:
    """`fee_accrue` for many (mandate, accrual date, NAV basis) at once, in order: the same
    rows and events, in a fixed number of queries. Returns how many were accrued."""
    for _, _, nav_basis in accruals:
        if nav_basis < 0:
            raise ValidationError({"nav_basis": ["must not be negative"]})
    if not accruals:
        return 0
    existing = set(
        FeeAccrual.objects.filter(
            mandate_id__in={m.pk for m, _, _ in accruals},
            accrual_date__in={d for _, d, _ in accruals},
        ).values_list("mandate_id", "accrual_date")
    )
    rows, records = [], []
    for mandate, accrual_date, nav_basis in accruals:
        if (mandate.pk, accrual_date) in existing:
            continue
        existing.add((mandate.pk, accrual_date))
        amount = (nav_basis * mandate.management_fee_rate / Decimal(365)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_EVEN
        )
        basis = money(nav_basis)
        rows.append(
            (
                mandate.pk,
                accrual_date,
                basis,
                mandate.management_fee_rate,
                amount,
                mandate.base_currency_id,
                False,
            )
        )
        records.append(
            {
                "kind": events.FEE_ACCRUED,
                "source": events.Source.BOOK,
                "actor": actor,
                "mandate": mandate.code,
                "tick": tick,
                "payload": {
                    "date": accrual_date.isoformat(),
                    # as the stored row reads back (4 dp), like fee_accrue's
                    "nav_basis": str(basis),
                    "amount": str(amount),
                },
            }
        )
    bulk.rows_insert(FeeAccrual, _FEE_COLUMNS, rows)
    events_append_many(records)
    return len(rows)


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
