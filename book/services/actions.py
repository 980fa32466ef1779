"""Corporate actions applied to holdings: stock splits on their ex-date, and bonds redeemed
at maturity.

Each is applied once per mandate: an ActionApplication row records it (quantities before
and after, what it paid and realized), so applying again does nothing, and a rebuild
replays it before the trades of its effective date (book.services.trading.holdings_rebuild).
- A split multiplies the open lots (quantity x ratio, unit cost / ratio): cost basis
  unchanged, no cash, nothing realized. Event `corporate_action.applied` per mandate.
- A redemption closes the lots at the redemption price (par: 1 per unit of face), realizes
  the P&L, and projects the proceeds for the pay date (CashKind.MATURITY). Event
  `bond.redeemed` per mandate, and `bond.matured` once, when the bond is deactivated (it
  is no longer priced or traded). The final coupon is income (an entitlement paid on the
  maturity date), not part of the redemption, so it is never paid twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from .. import events
from ..models import (
    ActionApplication,
    ActionKind,
    CashKind,
    CashMovement,
    CorporateAction,
    Instrument,
    Mandate,
    Position,
)
from .events import events_record_many
from .income import corporate_actions_announce
from .sequences import ids_next
from .trading import (
    BOND_CLASSES,
    ZERO,
    action_to_holdings,
    cash_balances_add,
    holdings_rebuild,
    money,
    plain,
)

PAR = Decimal(1)  # redemption price per unit of face


def _applications_record(
    action: CorporateAction,
    *,
    mandate_ids: Iterable[int] | None,
    skip_mandate_ids: Iterable[int],
    tick: int | None,
    sim_time: dt.datetime | None,
) -> list[ActionApplication]:
    """Apply `action` to each mandate that holds its instrument (or to `mandate_ids`) and
    has not had it yet; returns the new applications, in mandate order."""
    done = set(
        ActionApplication.objects.filter(corporate_action=action).values_list(
            "mandate_id", flat=True
        )
    )
    positions = {
        p.mandate_id: p for p in Position.objects.filter(instrument_id=action.instrument_id)
    }
    if mandate_ids is None:
        mandate_ids = [m for m, p in positions.items() if p.quantity != 0]
    skip = set(skip_mandate_ids)
    todo = sorted(set(mandate_ids) - done - skip)
    applications = []
    for application_id, mandate_id in zip(ids_next("CA", len(todo)), todo, strict=True):
        application = ActionApplication.objects.create(
            application_id=application_id,
            corporate_action=action,
            mandate_id=mandate_id,
            instrument_id=action.instrument_id,
            effective_date=action.ex_date,
            quantity_before=ZERO,
            quantity_after=ZERO,
            tick=tick,
            sim_time=sim_time,
        )
        position = positions.get(mandate_id)
        seen = position.latest_date if position is not None else None
        if seen is None or seen < action.ex_date:
            # Nothing dated on or after the effective date yet: the open lots are exactly
            # the ones the action applies to.
            action_to_holdings(application)
        else:
            # Applied late (trades dated on or after it are booked): replay the position
            # in date order, which puts the action before those trades.
            holdings_rebuild(mandate_id, action.instrument_id)
            application.refresh_from_db()
        applications.append(application)
    return applications


def _codes(applications: list[ActionApplication]) -> dict[int, str]:
    return dict(
        Mandate.objects.filter(pk__in={a.mandate_id for a in applications}).values_list(
            "pk", "code"
        )
    )


@transaction.atomic
def corporate_action_apply(
    *,
    action: CorporateAction,
    tick: int | None = None,
    sim_time: dt.datetime | None = None,
    mandate_ids: Iterable[int] | None = None,
    skip_mandate_ids: Iterable[int] = (),
    actor: Any = None,
) -> list[ActionApplication]:
    """Apply a split on its ex-date to every mandate holding the instrument (or only to
    `mandate_ids`; never to `skip_mandate_ids`), once per mandate: a mandate that has it
    already is left alone. Returns the applications made now."""
    action = (
        CorporateAction.objects.select_for_update().select_related("instrument").get(pk=action.pk)
    )
    if action.kind != ActionKind.SPLIT:
        raise ValidationError(
            {"kind": [f"a {action.kind} is not applied to holdings here (splits only)"]}
        )
    if action.ratio <= 0 or action.ratio == 1:
        raise ValidationError({"ratio": ["a split's ratio is positive and not 1"]})
    applications = _applications_record(
        action,
        mandate_ids=mandate_ids,
        skip_mandate_ids=skip_mandate_ids,
        tick=tick,
        sim_time=sim_time,
    )
    codes = _codes(applications)
    basis = dict(
        Position.objects.filter(
            instrument_id=action.instrument_id, mandate_id__in=codes
        ).values_list("mandate_id", "cost_basis")
    )
    events_record_many(
        [
            {
                "kind": events.ACTION_APPLIED,
                "source": events.Source.BOOK,
                "actor": actor,
                "instrument": action.instrument.ticker,
                "mandate": codes[a.mandate_id],
                "tick": tick,
                "sim_time": sim_time,
                "payload": {
                    "application_id": a.application_id,
                    "action": action.kind,
                    "ex_date": action.ex_date.isoformat(),
                    "ratio": plain(action.ratio),
                    "quantity_before": str(a.quantity_before),
                    "quantity_after": str(a.quantity_after),
                    "cost_basis": str(basis.get(a.mandate_id, ZERO)),
                },
            }
            for a in applications
        ]
    )
    return applications


@transaction.atomic
def bond_redeem(
    *,
    instrument: Instrument,
    pay_date: dt.date,
    tick: int | None = None,
    sim_time: dt.datetime | None = None,
    actor: Any = None,
) -> list[ActionApplication]:
    """Redeem a bond at par at maturity: every mandate's holding is closed (lots relieved at
    1 per unit of face, P&L realized), the proceeds projected for `pay_date` (the maturity
    date, or the next business day when it falls on a holiday), and the bond deactivated.
    Idempotent: a second call changes nothing. Returns the applications made now."""
    terms = getattr(instrument, "bond_terms", None)
    if instrument.asset_class not in BOND_CLASSES or terms is None:
        raise ValidationError({"instrument": [f"{instrument.ticker} is not a bond"]})
    if pay_date < terms.maturity_date:
        raise ValidationError(
            {"pay_date": [f"{pay_date} is before the maturity date {terms.maturity_date}"]}
        )
    action = corporate_actions_announce(
        [
            {
                "instrument": instrument,
                "kind": ActionKind.REDEMPTION,
                "ex_date": terms.maturity_date,
                "pay_date": pay_date,
                "amount_per_unit": PAR,
                "tick": tick,
                "sim_time": sim_time,
            }
        ]
    )[0]
    action = CorporateAction.objects.select_for_update().get(pk=action.pk)
    applications = _applications_record(
        action, mandate_ids=None, skip_mandate_ids=(), tick=tick, sim_time=sim_time
    )
    moves = []
    for application in applications:
        application.cash_amount = money(application.quantity_before * action.amount_per_unit)
        application.save(update_fields=["cash_amount"])
        if application.cash_amount:
            moves.append(
                CashMovement(
                    mandate_id=application.mandate_id,
                    currency_id=instrument.currency_id,
                    amount=application.cash_amount,
                    kind=CashKind.MATURITY,
                    reference=application.application_id,
                    value_date=action.pay_date,
                    tick=tick,
                )
            )
    CashMovement.objects.bulk_create(moves)
    cash_balances_add([(m.mandate_id, m.currency_id, ZERO, m.amount) for m in moves])
    codes = _codes(applications)
    records: list[dict[str, Any]] = [
        {
            "kind": events.BOND_REDEEMED,
            "source": events.Source.BOOK,
            "actor": actor,
            "instrument": instrument.ticker,
            "mandate": codes[a.mandate_id],
            "tick": tick,
            "sim_time": sim_time,
            "payload": {
                "application_id": a.application_id,
                "maturity_date": action.ex_date.isoformat(),
                "pay_date": action.pay_date.isoformat(),
                "quantity": str(a.quantity_before),
                "redemption_price": plain(action.amount_per_unit * 100),
                "proceeds": str(a.cash_amount),
                "cost": str(a.cash_amount - a.realized_pnl),
                "realized_pnl": str(a.realized_pnl),
                "currency": instrument.currency_id,
            },
        }
        for a in applications
    ]
    if Instrument.objects.filter(pk=instrument.pk, active=True).update(active=False):
        instrument.active = False
        records.append(
            {
                "kind": events.BOND_MATURED,
                "source": events.Source.BOOK,
                "actor": actor,
                "instrument": instrument.ticker,
                "tick": tick,
                "sim_time": sim_time,
                "payload": {
                    "maturity_date": action.ex_date.isoformat(),
                    "pay_date": action.pay_date.isoformat(),
                    "mandates_redeemed": len(applications),
                },
            }
        )
    events_record_many(records)
    return applications
