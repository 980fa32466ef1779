"""The chart of accounts: one table of codes, shared by every mandate.

Each mandate keeps its own balances under these codes, one per currency: an account of
the ledger is (mandate, code, currency). The codes are part of the API (filters, trial
balance rows, CSV exports) and of the tests, so they never change meaning; new accounts
take new codes. The table is documented in docs/ledger.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

AccountType = Literal["asset", "liability", "equity", "income", "expense"]
Side = Literal["D", "C"]

DEBIT: Final = "D"
CREDIT: Final = "C"


@dataclass(frozen=True)
class AccountDef:
    code: str
    name: str
    type: AccountType
    normal_side: Side
    # Sub-ledger accounts keep a balance per instrument as well (securities, unrealized,
    # purchased interest): the ledger-vs-book check and the coupon rule read them.
    by_instrument: bool = False

    @property
    def statement(self) -> str:
        """Which financial statement the account belongs to."""
        return "balance_sheet" if self.type in ("asset", "liability", "equity") else "income"


CASH = "1000"
SECURITIES = "1100"
UNREALIZED = "1150"
BROKER_RECEIVABLE = "1200"
SUBSCRIPTIONS_RECEIVABLE = "1250"
INCOME_RECEIVABLE = "1300"
ACCRUED_INTEREST_PURCHASED = "1400"
BROKER_PAYABLE = "2000"
FEES_PAYABLE = "2100"
REDEMPTIONS_PAYABLE = "2200"
CAPITAL = "3000"
RETAINED_EARNINGS = "3100"
CURRENCY_TRADING = "3200"
REALIZED = "4000"
UNREALIZED_CHANGE = "4100"
DIVIDEND_INCOME = "4200"
INTEREST_INCOME = "4300"
FX_GAIN_LOSS = "4400"
COMMISSIONS = "5000"
MANAGEMENT_FEES = "5100"

CHART: Final[tuple[AccountDef, ...]] = (
    AccountDef(CASH, "Cash", "asset", DEBIT),
    AccountDef(SECURITIES, "Securities at cost", "asset", DEBIT, by_instrument=True),
    AccountDef(
        UNREALIZED, "Unrealized gain/loss on securities", "asset", DEBIT, by_instrument=True
    ),
    AccountDef(BROKER_RECEIVABLE, "Receivable from brokers (unsettled sales)", "asset", DEBIT),
    AccountDef(SUBSCRIPTIONS_RECEIVABLE, "Subscriptions receivable", "asset", DEBIT),
    AccountDef(INCOME_RECEIVABLE, "Dividends and interest receivable", "asset", DEBIT),
    AccountDef(
        ACCRUED_INTEREST_PURCHASED,
        "Accrued interest purchased",
        "asset",
        DEBIT,
        by_instrument=True,
    ),
    AccountDef(BROKER_PAYABLE, "Payable to brokers (unsettled purchases)", "liability", CREDIT),
    AccountDef(FEES_PAYABLE, "Management fees payable", "liability", CREDIT),
    AccountDef(REDEMPTIONS_PAYABLE, "Redemptions payable", "liability", CREDIT),
    AccountDef(CAPITAL, "Capital (subscriptions/redemptions)", "equity", CREDIT),
    AccountDef(RETAINED_EARNINGS, "Retained earnings", "equity", CREDIT),
    AccountDef(CURRENCY_TRADING, "Currency trading (FX position)", "equity", CREDIT),
    AccountDef(REALIZED, "Realized gain/loss", "income", CREDIT),
    AccountDef(UNREALIZED_CHANGE, "Change in unrealized gain/loss", "income", CREDIT),
    AccountDef(DIVIDEND_INCOME, "Dividend income", "income", CREDIT),
    AccountDef(INTEREST_INCOME, "Interest income", "income", CREDIT),
    AccountDef(FX_GAIN_LOSS, "FX gain/loss", "income", CREDIT),
    AccountDef(COMMISSIONS, "Commissions and fees", "expense", DEBIT),
    AccountDef(MANAGEMENT_FEES, "Management fees", "expense", DEBIT),
)

BY_CODE: Final[dict[str, AccountDef]] = {a.code: a for a in CHART}
INSTRUMENT_ACCOUNTS: Final[frozenset[str]] = frozenset(a.code for a in CHART if a.by_instrument)
# Revalued into the base currency at each day end: what the mandate owns or owes.
REVALUED_TYPES: Final[frozenset[str]] = frozenset({"asset", "liability"})
