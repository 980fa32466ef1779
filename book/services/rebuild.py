"""Rebuild positions, lots and cash balances from the trades and cash movements."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from .. import events
from ..models import CashBalance, CashMovement, CashStatus, Position, Trade
from .events import event_record
from .trading import ZERO, holdings_rebuild


@dataclass(frozen=True)
class RebuildSummary:
    positions: int
    cash_balances: int


@transaction.atomic
def positions_rebuild(*, actor: object = None) -> RebuildSummary:
    """Throw away positions, lots and balances and recompute them from trades and cash
    movements: the incremental bookkeeping must have given exactly the same."""
    keys = set(Trade.objects.values_list("mandate_id", "instrument_id").distinct())
    keys |= set(Position.objects.values_list("mandate_id", "instrument_id"))
    for mandate_id, instrument_id in sorted(keys):
        holdings_rebuild(mandate_id, instrument_id)
    totals: dict[tuple[int, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for mandate_id, currency, amount, status in CashMovement.objects.exclude(
        status=CashStatus.CANCELLED
    ).values_list("mandate_id", "currency_id", "amount", "status"):
        if status == CashStatus.SETTLED:
            totals[(mandate_id, currency)][0] += amount
        totals[(mandate_id, currency)][1] += amount
    CashBalance.objects.all().delete()
    CashBalance.objects.bulk_create(
        [
            CashBalance(mandate_id=m, currency_id=c, settled=s, projected=p)
            for (m, c), (s, p) in sorted(totals.items())
        ]
    )
    event_record(
        kind=events.POSITIONS_REBUILT,
        source=events.Source.BOOK,
        actor=actor,
        payload={"positions": len(keys), "cash_balances": len(totals)},
    )
    return RebuildSummary(len(keys), len(totals))
