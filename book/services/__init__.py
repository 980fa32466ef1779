"""Every write to the book. Import from here: `from book.services import trade_book`."""

from .actions import bond_redeem, corporate_action_apply
from .events import event_record, events_record_many
from .feeds import (
    ConfirmationIn,
    HoldingIn,
    StatementIn,
    confirmations_record,
    statements_record,
)
from .income import (
    corporate_action_announce,
    entitlements_record,
    entitlements_record_many,
    fee_accrue,
    fees_accrue_many,
    fees_pay,
    holdings_before,
    holdings_before_many,
)
from .rebuild import RebuildSummary, positions_rebuild
from .reference import UniverseLoadSummary, universe_load
from .sequences import ids_next
from .settlement import SettlementSummary, capital_flow_record, settlements_process
from .trading import (
    TradeRequest,
    cash_balances_add,
    holdings_rebuild,
    trade_amend,
    trade_book,
    trade_cancel,
    trade_economics,
    trades_book,
)

__all__ = [
    "bond_redeem",
    "corporate_action_apply",
    "corporate_action_announce",
    "entitlements_record",
    "entitlements_record_many",
    "fee_accrue",
    "fees_accrue_many",
    "fees_pay",
    "holdings_before",
    "holdings_before_many",
    "ConfirmationIn",
    "HoldingIn",
    "StatementIn",
    "confirmations_record",
    "statements_record",
    "RebuildSummary",
    "SettlementSummary",
    "TradeRequest",
    "UniverseLoadSummary",
    "capital_flow_record",
    "cash_balances_add",
    "event_record",
    "events_record_many",
    "holdings_rebuild",
    "ids_next",
    "positions_rebuild",
    "settlements_process",
    "trade_amend",
    "trade_book",
    "trade_cancel",
    "trade_economics",
    "trades_book",
    "universe_load",
]
