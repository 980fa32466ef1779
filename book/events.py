"""The event kinds and source modules of the event log.

Each app registers the kinds it writes (`kind_register`) at import time of its own
`events.py`; the API's `kind` filter accepts only registered kinds, so a typo is a 400,
not an empty list that looks like "nothing happened".
"""

from __future__ import annotations

import re

from django.db import models


class Source(models.TextChoices):
    PLATFORM = "platform", "Platform"
    SIMULATOR = "simulator", "Simulator"
    BOOK = "book", "Book"
    DATAQUALITY = "dataquality", "Data quality"
    RECON = "recon", "Reconciliation"
    LEDGER = "ledger", "Ledger"
    REPORTING = "reporting", "Reporting"
    RISK = "risk", "Risk"
    DOCUMENTS = "documents", "Documents"


KIND_PATTERN = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
_KINDS: dict[str, str] = {}


def kind_register(kind: str, description: str) -> str:
    if not KIND_PATTERN.match(kind):
        raise ValueError(f"event kind {kind!r} must look like 'noun.verb' in lower case")
    _KINDS[kind] = description
    return kind


def kind_choices() -> list[tuple[str, str]]:
    return sorted(_KINDS.items())


def kind_is_known(kind: str) -> bool:
    return kind in _KINDS


TICK_COMPLETED = kind_register("tick.completed", "A tick ran its whole pipeline")
TICK_FAILED = kind_register("tick.failed", "A tick's pipeline failed and was rolled back")
CLOCK_PAUSED = kind_register("clock.paused", "The simulator clock was paused")
CLOCK_RESUMED = kind_register("clock.resumed", "The simulator clock was resumed")
USER_SIGNED_IN = kind_register("user.signed_in", "A user signed in")
USER_SIGNED_OUT = kind_register("user.signed_out", "A user signed out")
REFERENCE_LOADED = kind_register("reference.loaded", "Reference data (universe) loaded")
TRADE_BOOKED = kind_register("trade.booked", "A trade was booked")
TRADE_AMENDED = kind_register("trade.amended", "A trade's terms were amended (new version)")
TRADE_CANCELLED = kind_register("trade.cancelled", "A trade was cancelled (new version)")
TRADE_SETTLED = kind_register("trade.settled", "A trade settled: securities and cash moved")
TRADE_CONFIRMED = kind_register("trade.confirmed", "A trade was matched to its confirmation")
CAPITAL_FLOW = kind_register("capital.flow", "Units subscribed or redeemed")
POSITIONS_REBUILT = kind_register("positions.rebuilt", "Positions, lots and cash rebuilt")
CONFIRMATIONS_RECEIVED = kind_register("confirmation.received", "Broker confirmations arrived")
STATEMENT_RECEIVED = kind_register("statement.received", "A custodian statement arrived")
ACTION_ANNOUNCED = kind_register(
    "corporate_action.announced", "A dividend, split or redemption was announced"
)
ACTION_APPLIED = kind_register(
    "corporate_action.applied", "A split was applied to a mandate's holding (lots and quantity)"
)
BOND_REDEEMED = kind_register(
    "bond.redeemed", "A mandate's holding of a bond was redeemed at maturity (lots closed, cash)"
)
BOND_MATURED = kind_register("bond.matured", "A bond matured: redeemed and no longer traded")
INCOME_ACCRUED = kind_register("income.accrued", "A dividend or coupon entitlement was accrued")
FEE_ACCRUED = kind_register("fee.accrued", "A day's management fee was accrued")
FEE_PAID = kind_register("fee.paid", "Accrued management fees were paid")
