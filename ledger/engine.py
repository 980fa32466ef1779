"""Posting rules: from the book's facts to balanced journal entries. No database.

The services read the book (a trade and its FIFO reliefs, a settled cash movement, an
income entitlement, a fee accrual, a capital flow, the day's prices and FX) into the
frozen `*Facts` below, call one rule, and store the `Draft` it returns. Every rule returns
an entry that balances in each currency and in the base currency, or raises
`PostingError`: `draft_errors` is the same check the database applies at commit.

Sign convention inside the engine: a positive amount is a debit, a negative one a credit.
Stored lines carry a positive amount and an explicit side (D/C).

The rules (account codes in ledger/accounts.py; docs/ledger.md has the worked table)
- Securities buy (trade date): Dr 1100 Securities at cost for the cash paid ex-accrued
  (gross + commission + fees: costs are part of cost, as in the book's FIFO lots) plus the
  realized P&L of any short it covers; Cr 4000 that P&L; Dr 1400 the accrued interest
  bought (bonds); Cr 2000 Payable to brokers the net cash.
- Securities sell: Dr 1200 Receivable from brokers the net cash; Cr 1100 the cost the
  book's FIFO reliefs take out (net proceeds ex-accrued minus realized P&L); Cr 4000 the
  realized P&L (the book's, to the cent of its lots); Cr 1400 the accrued interest sold.
- FX spot (pair BASE/QUOTE, quantity in BASE, price QUOTE per BASE): each currency
  balances through 3200 Currency trading. Buy: Dr 1200 BASE qty / Cr 3200 BASE qty and
  Dr 3200 QUOTE gross / Cr 2000 QUOTE gross; a sell the other way round. Commission and
  fees on FX: Dr 5000 against the broker.
- Settlement and every other cash movement (value date): cash in Dr 1000 against the
  account that held the claim (1200 trades, 1250 subscriptions, 1300 income); cash out
  Cr 1000 against the obligation (2000 trades, 2200 redemptions, 2100 fees).
- Dividends: Dr 1300 / Cr 4200 on the ex-date. Coupons: Dr 1300 the coupon, Cr 1400 the
  instrument's purchased-interest balance (what was paid for in accrued interest, net of
  what was sold, comes back in this coupon), Cr 4300 the rest.
- Subscriptions: Dr 1250 / Cr 3000 on the trade date; redemptions Dr 3000 / Cr 2200.
- Management fee: Dr 5100 / Cr 2100 each day.
- Mark-to-market (day end): 1150 per instrument is trued up to market value minus the
  book's cost, against 4100, one entry per mandate and day.
- FX revaluation (day end): every asset and liability balance in a currency other than
  the base is revalued to the day's rate; the difference goes to 4400 in that currency
  with a zero currency amount (base only), so each currency still balances.
- Cancellations and amendments: a reversal (every line with its side swapped, same
  amounts and base amounts) dated the day of the change, then a new posting: never an
  edit.

Base-currency amounts: each line is converted at its currency's rate and rounded to 4 dp
(ROUND_HALF_EVEN); the rounding difference of a currency's lines, at most half a unit of
the 4th place per line, goes to that currency's largest line, so every entry balances in
base exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cached_property
from typing import Any, Final

from . import accounts as acc

MONEY: Final = Decimal("0.0001")
RATE: Final = Decimal("0.0000000001")
ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)
BOND_CLASSES: Final = frozenset({"govt_bond", "corp_bond"})


class PostingError(ValueError):
    """A rule could not produce a balanced entry from these facts."""


def money(value: Decimal) -> Decimal:
    return value.quantize(MONEY, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Line:
    account: str
    currency: str
    side: str  # D or C
    amount: Decimal  # >= 0, in `currency`
    base_amount: Decimal  # >= 0, in the mandate's base currency
    fx_rate: Decimal  # base units per unit of `currency`
    instrument: str = ""  # ticker, on sub-ledger accounts

    @property
    def signed(self) -> Decimal:
        return self.amount if self.side == acc.DEBIT else -self.amount

    @property
    def signed_base(self) -> Decimal:
        return self.base_amount if self.side == acc.DEBIT else -self.base_amount

    def reversed(self) -> Line:
        side = acc.CREDIT if self.side == acc.DEBIT else acc.DEBIT
        return Line(
            self.account,
            self.currency,
            side,
            self.amount,
            self.base_amount,
            self.fx_rate,
            self.instrument,
        )


@dataclass(frozen=True)
class Draft:
    """A journal entry ready to post. `payload` is the facts it was made from: its hash
    makes posting idempotent (same key, same payload: nothing new; same key, another
    payload: refused)."""

    source_key: str
    kind: str
    mandate: str
    base_currency: str
    accounting_date: dt.date
    effective_date: dt.date
    effective_kind: str  # trade | settlement | value
    settles_on: dt.date  # the day the entry counts from on the settlement basis
    description: str
    lines: tuple[Line, ...]
    payload: Mapping[str, Any] = field(default_factory=dict)
    trade_id: str | None = None
    reverses: str | None = None  # source key of the entry this one reverses
    adjusts_date: dt.date | None = None  # prior-period adjustment: the closed date it corrects

    @cached_property
    def payload_hash(self) -> str:
        # Read several times a posting; the payload is fixed with the draft.
        return payload_hash(self.payload)


def payload_hash(payload: Mapping[str, Any]) -> str:
    text = _PAYLOAD_JSON.encode(payload)
    return hashlib.sha256(text.encode()).hexdigest()


# json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str), without building
# an encoder for every draft.
_PAYLOAD_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def draft_errors(draft: Draft) -> dict[str, list[str]]:
    """Why this entry may not be posted (empty when it may): the rules the database
    also enforces on PostgreSQL, checked here for every backend."""
    errors: dict[str, list[str]] = defaultdict(list)
    if len(draft.lines) < 2:
        errors["lines"].append("an entry needs at least two lines")
    by_currency: dict[str, Decimal] = defaultdict(Decimal)
    base_total = ZERO
    for number, line in enumerate(draft.lines, start=1):
        where = f"line {number}"
        if line.account not in acc.BY_CODE:
            errors["lines"].append(f"{where}: unknown account {line.account!r}")
        if line.side not in (acc.DEBIT, acc.CREDIT):
            errors["lines"].append(f"{where}: side must be D or C")
        if line.amount < 0 or line.base_amount < 0:
            errors["lines"].append(f"{where}: amounts are positive; the side gives the sign")
        if line.amount == 0 and line.base_amount == 0:
            errors["lines"].append(f"{where}: a line must move something")
        if line.amount != money(line.amount) or line.base_amount != money(line.base_amount):
            errors["lines"].append(f"{where}: amounts have at most 4 decimal places")
        if line.fx_rate <= 0:
            errors["lines"].append(f"{where}: fx_rate must be positive")
        if len(line.currency) != 3 or not line.currency.isupper():
            errors["lines"].append(f"{where}: currency must be an ISO code")
        if line.currency == draft.base_currency and line.amount != line.base_amount:
            errors["lines"].append(f"{where}: a base-currency line has base amount = amount")
        by_currency[line.currency] += line.signed
        base_total += line.signed_base
    for currency, total in sorted(by_currency.items()):
        if total != 0:
            errors["lines"].append(f"debits and credits in {currency} differ by {total}")
    if base_total != 0:
        errors["lines"].append(
            f"debits and credits in base currency {draft.base_currency} differ by {base_total}"
        )
    return dict(errors)


class _Builder:
    """Collects signed amounts per (account, currency, instrument), then makes lines."""

    def __init__(self, base_currency: str, rates: Mapping[str, Decimal]) -> None:
        self.base = base_currency
        self.rates = rates
        self.amounts: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        self.base_only: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)

    def rate(self, currency: str) -> Decimal:
        if currency == self.base:
            return ONE
        rate = self.rates.get(currency)
        if rate is None or rate <= 0:
            raise PostingError(f"no rate from {currency} to {self.base}")
        return rate

    def add(self, account: str, currency: str, signed: Decimal, instrument: str = "") -> None:
        if account not in acc.INSTRUMENT_ACCOUNTS:
            instrument = ""
        self.amounts[(account, currency, instrument)] += signed

    def add_base(self, account: str, currency: str, signed_base: Decimal, instrument: str = ""):
        """A base-currency amount with no currency amount: revaluation."""
        self.base_only[(account, currency, instrument)] += signed_base

    def lines(self) -> tuple[Line, ...]:
        out: list[Line] = []
        by_currency: dict[str, list[int]] = defaultdict(list)
        for (account, currency, instrument), signed in self.amounts.items():
            signed = money(signed)
            if signed == 0:
                continue
            rate = self.rate(currency)
            amount = abs(signed)
            base = amount if currency == self.base else money(amount * rate)
            side = acc.DEBIT if signed > 0 else acc.CREDIT
            by_currency[currency].append(len(out))
            out.append(Line(account, currency, side, amount, base, rate, instrument))
        # Rounding: the base amounts of one currency's lines must net to zero as their
        # currency amounts do; the difference goes to the largest line of that currency.
        for indexes in by_currency.values():
            residual = sum((out[i].signed_base for i in indexes), ZERO)
            if residual == 0:
                continue
            largest = max(indexes, key=lambda i: (out[i].amount, -i))
            line = out[largest]
            new_signed = line.signed_base - residual
            if (new_signed > 0) != (line.side == acc.DEBIT) or new_signed == 0:
                raise PostingError("base-currency rounding would flip a line")
            out[largest] = Line(
                line.account,
                line.currency,
                line.side,
                line.amount,
                abs(new_signed),
                line.fx_rate,
                line.instrument,
            )
        for (account, currency, instrument), signed_base in self.base_only.items():
            signed_base = money(signed_base)
            if signed_base == 0:
                continue
            side = acc.DEBIT if signed_base > 0 else acc.CREDIT
            out.append(
                Line(
                    account, currency, side, ZERO, abs(signed_base), self.rate(currency), instrument
                )
            )
        return tuple(out)


def _draft(builder: _Builder, **fields: Any) -> Draft:
    draft = Draft(base_currency=builder.base, lines=builder.lines(), **fields)
    errors = draft_errors(draft)
    if errors:
        raise PostingError(f"{draft.source_key}: {'; '.join(errors['lines'])}")
    return draft


class _Facts:
    """What a rule was given, as text: the payload whose hash makes posting idempotent."""

    def payload(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


# --- Trades -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TradeFacts(_Facts):
    """A live trade as the book has it now, with the realized P&L of its FIFO reliefs."""

    trade_id: str
    version: int
    mandate: str
    base_currency: str
    instrument: str  # ticker
    asset_class: str
    side: str  # buy | sell
    quantity: Decimal
    price: Decimal
    gross: Decimal
    commission: Decimal
    fees: Decimal
    accrued_interest: Decimal
    net: Decimal
    currency: str  # the trade's currency (FX: the quote currency)
    trade_date: dt.date
    settlement_date: dt.date
    realized_pnl: Decimal = ZERO  # sum of the book's LotRelief rows for this trade
    pair_base_currency: str = ""  # FX only


def trade_entry(
    facts: TradeFacts, *, source_key: str, rates: Mapping[str, Decimal], accounting_date: dt.date
) -> Draft:
    """The trade-date entry of a trade."""
    b = _Builder(facts.base_currency, rates)
    ccy = facts.currency
    buy = facts.side == "buy"
    if facts.asset_class == "fx":
        base_ccy = facts.pair_base_currency
        if not base_ccy:
            raise PostingError(f"{facts.trade_id}: an FX trade needs the pair's base currency")
        sign = ONE if buy else -ONE
        # BASE currency: owed to us (buy) or by us (sell), against the trading account.
        b.add(acc.BROKER_RECEIVABLE if buy else acc.BROKER_PAYABLE, base_ccy, sign * facts.quantity)
        b.add(acc.CURRENCY_TRADING, base_ccy, -sign * facts.quantity)
        # QUOTE currency: the other way round.
        b.add(acc.CURRENCY_TRADING, ccy, sign * facts.gross)
        b.add(acc.BROKER_PAYABLE if buy else acc.BROKER_RECEIVABLE, ccy, -sign * facts.gross)
        costs = facts.commission + facts.fees
        if costs:
            b.add(acc.COMMISSIONS, ccy, costs)
            b.add(acc.BROKER_PAYABLE if buy else acc.BROKER_RECEIVABLE, ccy, -costs)
    else:
        realized = facts.realized_pnl
        if buy:
            paid_ex_accrued = facts.gross + facts.commission + facts.fees
            b.add(acc.SECURITIES, ccy, paid_ex_accrued + realized, facts.instrument)
            b.add(acc.REALIZED, ccy, -realized)
            b.add(acc.ACCRUED_INTEREST_PURCHASED, ccy, facts.accrued_interest, facts.instrument)
            b.add(acc.BROKER_PAYABLE, ccy, -facts.net)
        else:
            received_ex_accrued = facts.gross - facts.commission - facts.fees
            b.add(acc.BROKER_RECEIVABLE, ccy, facts.net)
            b.add(acc.SECURITIES, ccy, -(received_ex_accrued - realized), facts.instrument)
            b.add(acc.REALIZED, ccy, -realized)
            b.add(acc.ACCRUED_INTEREST_PURCHASED, ccy, -facts.accrued_interest, facts.instrument)
    verb = "Buy" if buy else "Sell"
    return _draft(
        b,
        source_key=source_key,
        kind="trade",
        mandate=facts.mandate,
        accounting_date=accounting_date,
        effective_date=facts.trade_date,
        effective_kind="trade",
        settles_on=facts.settlement_date,
        description=f"{verb} {facts.quantity.normalize():f} {facts.instrument} @ "
        f"{facts.price.normalize():f} ({facts.trade_id} v{facts.version})",
        payload=facts.payload(),
        trade_id=facts.trade_id,
    )


# --- Cash -------------------------------------------------------------------------------

CLEARING_IN: Final = {
    "trade": acc.BROKER_RECEIVABLE,
    "subscription": acc.SUBSCRIPTIONS_RECEIVABLE,
    "dividend": acc.INCOME_RECEIVABLE,
    "coupon": acc.INCOME_RECEIVABLE,
    "maturity": acc.BROKER_RECEIVABLE,
}
CLEARING_OUT: Final = {
    "trade": acc.BROKER_PAYABLE,
    "maturity": acc.BROKER_PAYABLE,  # a short bond position pays par back
    "redemption": acc.REDEMPTIONS_PAYABLE,
    "fee": acc.FEES_PAYABLE,
}


@dataclass(frozen=True)
class CashFacts(_Facts):
    """A cash movement the book settled."""

    movement_id: int
    mandate: str
    base_currency: str
    kind: str  # book.models.CashKind
    currency: str
    amount: Decimal  # signed: in > 0
    value_date: dt.date
    trade_id: str | None = None
    reference: str = ""


def cash_entry(
    facts: CashFacts, *, rates: Mapping[str, Decimal], accounting_date: dt.date
) -> Draft:
    if facts.amount == 0:
        raise PostingError(f"cash movement {facts.movement_id} moves nothing")
    table = CLEARING_IN if facts.amount > 0 else CLEARING_OUT
    clearing = table.get(facts.kind)
    if clearing is None:
        raise PostingError(
            f"cash movement {facts.movement_id}: no rule for {facts.kind} cash "
            f"{'in' if facts.amount > 0 else 'out'}"
        )
    b = _Builder(facts.base_currency, rates)
    b.add(acc.CASH, facts.currency, facts.amount)
    b.add(clearing, facts.currency, -facts.amount)
    what = facts.trade_id or facts.reference or f"movement {facts.movement_id}"
    return _draft(
        b,
        source_key=f"cash:{facts.movement_id}",
        kind="settlement" if facts.kind == "trade" else "cash",
        mandate=facts.mandate,
        accounting_date=accounting_date,
        effective_date=facts.value_date,
        effective_kind="settlement" if facts.kind == "trade" else "value",
        settles_on=accounting_date,
        description=f"{facts.kind.capitalize()} cash {'in' if facts.amount > 0 else 'out'}: {what}",
        payload=facts.payload(),
        trade_id=facts.trade_id,
    )


@dataclass(frozen=True)
class RedemptionFacts(_Facts):
    """A bond holding redeemed at par on its maturity (the book's `bond.redeemed`)."""

    application_id: str
    mandate: str
    base_currency: str
    instrument: str
    proceeds: Decimal  # signed: a short pays
    cost: Decimal  # the lots' cost taken out
    realized_pnl: Decimal
    currency: str
    maturity_date: dt.date
    pay_date: dt.date


def redemption_entry(
    facts: RedemptionFacts, *, rates: Mapping[str, Decimal], accounting_date: dt.date
) -> Draft:
    """Like a sale at par: Dr 1200 the proceeds (Cr 2000 for a short), Cr 1100 the lots'
    cost, Cr 4000 the realized P&L; the cash settles against 1200/2000 on the pay date."""
    b = _Builder(facts.base_currency, rates)
    clearing = acc.BROKER_RECEIVABLE if facts.proceeds >= 0 else acc.BROKER_PAYABLE
    b.add(clearing, facts.currency, facts.proceeds)
    b.add(acc.SECURITIES, facts.currency, -facts.cost, facts.instrument)
    b.add(acc.REALIZED, facts.currency, -facts.realized_pnl)
    return _draft(
        b,
        source_key=f"redemption:{facts.application_id}",
        kind="trade",
        mandate=facts.mandate,
        accounting_date=accounting_date,
        effective_date=facts.maturity_date,
        effective_kind="trade",
        settles_on=facts.pay_date,
        description=f"Redemption at par of {facts.instrument} ({facts.application_id})",
        payload=facts.payload(),
    )


# --- Income, fees, flows ----------------------------------------------------------------


@dataclass(frozen=True)
class IncomeFacts(_Facts):
    income_id: str
    mandate: str
    base_currency: str
    instrument: str
    kind: str  # dividend | coupon
    quantity: Decimal
    amount: Decimal
    currency: str
    ex_date: dt.date
    pay_date: dt.date
    purchased_interest: Decimal = ZERO  # coupons: the instrument's 1400 balance now


def income_entry(
    facts: IncomeFacts, *, rates: Mapping[str, Decimal], accounting_date: dt.date
) -> Draft:
    b = _Builder(facts.base_currency, rates)
    b.add(acc.INCOME_RECEIVABLE, facts.currency, facts.amount)
    if facts.kind == "dividend":
        b.add(acc.DIVIDEND_INCOME, facts.currency, -facts.amount)
    elif facts.kind == "coupon":
        b.add(
            acc.ACCRUED_INTEREST_PURCHASED,
            facts.currency,
            -facts.purchased_interest,
            facts.instrument,
        )
        b.add(acc.INTEREST_INCOME, facts.currency, -(facts.amount - facts.purchased_interest))
    else:
        raise PostingError(f"income {facts.income_id}: unknown kind {facts.kind!r}")
    return _draft(
        b,
        source_key=f"income:{facts.income_id}",
        kind="income",
        mandate=facts.mandate,
        accounting_date=accounting_date,
        effective_date=facts.ex_date,
        effective_kind="value",
        settles_on=facts.pay_date,
        description=f"{facts.kind.capitalize()} {facts.instrument} on "
        f"{facts.quantity.normalize():f} ({facts.income_id}), ex {facts.ex_date}",
        payload=facts.payload(),
    )


@dataclass(frozen=True)
class FeeFacts(_Facts):
    mandate: str
    base_currency: str
    accrual_date: dt.date
    amount: Decimal
    currency: str
    nav_basis: Decimal


def fee_entry(facts: FeeFacts, *, rates: Mapping[str, Decimal], accounting_date: dt.date) -> Draft:
    b = _Builder(facts.base_currency, rates)
    b.add(acc.MANAGEMENT_FEES, facts.currency, facts.amount)
    b.add(acc.FEES_PAYABLE, facts.currency, -facts.amount)
    return _draft(
        b,
        source_key=f"fee:{facts.mandate}:{facts.accrual_date.isoformat()}",
        kind="fee",
        mandate=facts.mandate,
        accounting_date=accounting_date,
        effective_date=facts.accrual_date,
        effective_kind="value",
        settles_on=facts.accrual_date,
        description=f"Management fee accrual {facts.accrual_date} on NAV {facts.nav_basis}",
        payload=facts.payload(),
    )


@dataclass(frozen=True)
class FlowFacts(_Facts):
    flow_id: str
    mandate: str
    base_currency: str
    kind: str  # subscription | redemption
    units: Decimal
    nav_per_unit: Decimal
    amount: Decimal
    currency: str
    trade_date: dt.date
    settlement_date: dt.date


def flow_entry(
    facts: FlowFacts, *, rates: Mapping[str, Decimal], accounting_date: dt.date
) -> Draft:
    b = _Builder(facts.base_currency, rates)
    if facts.kind == "subscription":
        b.add(acc.SUBSCRIPTIONS_RECEIVABLE, facts.currency, facts.amount)
        b.add(acc.CAPITAL, facts.currency, -facts.amount)
    elif facts.kind == "redemption":
        b.add(acc.CAPITAL, facts.currency, facts.amount)
        b.add(acc.REDEMPTIONS_PAYABLE, facts.currency, -facts.amount)
    else:
        raise PostingError(f"flow {facts.flow_id}: unknown kind {facts.kind!r}")
    return _draft(
        b,
        source_key=f"flow:{facts.flow_id}",
        kind="flow",
        mandate=facts.mandate,
        accounting_date=accounting_date,
        effective_date=facts.trade_date,
        effective_kind="trade",
        settles_on=facts.settlement_date,
        description=f"{facts.kind.capitalize()} of {facts.units.normalize():f} units at "
        f"{facts.nav_per_unit.normalize():f} ({facts.flow_id})",
        payload=facts.payload(),
    )


# --- Day end ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """One position at the day's price: market value and cost in the instrument's currency,
    and what 1150 holds for it now."""

    instrument: str
    currency: str
    market_value: Decimal
    cost: Decimal
    carried_unrealized: Decimal


def mark_to_market_entry(
    *,
    mandate: str,
    base_currency: str,
    day: dt.date,
    marks: Iterable[Mark],
    rates: Mapping[str, Decimal],
) -> Draft | None:
    """True 1150 up to market value minus cost for every instrument; None if nothing moves."""
    b = _Builder(base_currency, rates)
    payload: dict[str, str] = {}
    for mark in sorted(marks, key=lambda m: m.instrument):
        delta = money(mark.market_value - mark.cost) - mark.carried_unrealized
        if delta == 0:
            continue
        b.add(acc.UNREALIZED, mark.currency, delta, mark.instrument)
        b.add(acc.UNREALIZED_CHANGE, mark.currency, -delta)
        payload[mark.instrument] = str(delta)
    if not payload:
        return None
    return _draft(
        b,
        source_key=f"mtm:{mandate}:{day.isoformat()}",
        kind="mtm",
        mandate=mandate,
        accounting_date=day,
        effective_date=day,
        effective_kind="value",
        settles_on=day,
        description=f"Mark-to-market {day}: {len(payload)} positions",
        payload=payload,
    )


@dataclass(frozen=True)
class CarriedBalance:
    """A balance-sheet account's balance in a foreign currency, and its base amount now."""

    account: str
    currency: str
    amount: Decimal  # signed, in `currency`
    base_amount: Decimal  # signed, in base at the rates it was posted and revalued at
    instrument: str = ""  # sub-ledger accounts are revalued per instrument


def fx_revaluation_entry(
    *,
    mandate: str,
    base_currency: str,
    day: dt.date,
    balances: Iterable[CarriedBalance],
    rates: Mapping[str, Decimal],
) -> Draft | None:
    b = _Builder(base_currency, rates)
    payload: dict[str, str] = {}
    for bal in sorted(balances, key=lambda x: (x.account, x.currency, x.instrument)):
        if bal.currency == base_currency:
            continue
        if acc.BY_CODE[bal.account].type not in acc.REVALUED_TYPES:
            continue
        target = money(bal.amount * b.rate(bal.currency))
        delta = target - bal.base_amount
        if delta == 0:
            continue
        b.add_base(bal.account, bal.currency, delta, bal.instrument)
        b.add_base(acc.FX_GAIN_LOSS, bal.currency, -delta)
        payload[f"{bal.account}:{bal.currency}:{bal.instrument}"] = (
            f"{delta}@{b.rate(bal.currency)}"
        )
    if not payload:
        return None
    return _draft(
        b,
        source_key=f"fxreval:{mandate}:{day.isoformat()}",
        kind="fx_revaluation",
        mandate=mandate,
        accounting_date=day,
        effective_date=day,
        effective_kind="value",
        settles_on=day,
        description=f"FX revaluation {day} into {base_currency}",
        payload=payload,
    )


# --- Corrections ------------------------------------------------------------------------


def reversal(
    original: Draft, *, accounting_date: dt.date, reason: str, source_key: str | None = None
) -> Draft:
    """Every line of `original` with its side swapped, dated `accounting_date`."""
    draft = Draft(
        source_key=source_key or f"{original.source_key}:reversal",
        kind="reversal",
        mandate=original.mandate,
        base_currency=original.base_currency,
        accounting_date=accounting_date,
        effective_date=accounting_date,
        effective_kind="value",
        settles_on=accounting_date,
        description=f"Reversal of {original.source_key}: {reason}"[:200],
        lines=tuple(line.reversed() for line in original.lines),
        payload={"reverses": original.source_key, "reason": reason},
        trade_id=original.trade_id,
        reverses=original.source_key,
    )
    errors = draft_errors(draft)
    if errors:
        raise PostingError(f"{draft.source_key}: {'; '.join(errors['lines'])}")
    return draft


def manual_entry(
    *,
    source_key: str,
    mandate: str,
    base_currency: str,
    accounting_date: dt.date,
    description: str,
    lines: Iterable[tuple[str, str, str, Decimal, Decimal | None, str]],
    rates: Mapping[str, Decimal],
    adjusts_date: dt.date | None = None,
) -> Draft:
    """A journal entered by hand: (account, currency, side, amount, fx_rate or None for the
    day's rate, instrument). Checked like every other entry; not rounded for the caller."""
    out = []
    for account, currency, side, amount, fx_rate, instrument in lines:
        if currency == base_currency:
            rate = ONE
        elif fx_rate is not None:
            rate = fx_rate
        else:
            rate = rates.get(currency, ZERO)
        base = amount if currency == base_currency else money(amount * rate) if rate > 0 else ZERO
        out.append(Line(account, currency, side, amount, base, rate, instrument))
    _absorb_rounding(out)
    draft = Draft(
        source_key=source_key,
        kind="manual",
        mandate=mandate,
        base_currency=base_currency,
        accounting_date=accounting_date,
        effective_date=adjusts_date or accounting_date,
        effective_kind="value",
        settles_on=accounting_date,
        description=description,
        lines=tuple(out),
        payload={
            "mandate": mandate,
            "accounting_date": accounting_date.isoformat(),
            "description": description,
            "adjusts_date": adjusts_date.isoformat() if adjusts_date else "",
            "lines": [[str(x) for x in line] for line in lines_payload(out)],
        },
        adjusts_date=adjusts_date,
    )
    return draft


def _absorb_rounding(lines: list[Line]) -> None:
    """Per currency, a base-currency difference no larger than the rounding of its lines
    (half a unit of the 4th place each) goes to the currency's largest line, as the rules do;
    a larger one is left for `draft_errors` to refuse."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, line in enumerate(lines):
        if line.amount > 0:
            groups[line.currency].append(i)
    for indexes in groups.values():
        if sum((lines[i].signed for i in indexes), ZERO) != 0:
            continue
        residual = sum((lines[i].signed_base for i in indexes), ZERO)
        if residual == 0 or abs(residual) > Decimal("0.00005") * len(indexes):
            continue
        largest = max(indexes, key=lambda i: (lines[i].amount, -i))
        line = lines[largest]
        new_signed = line.signed_base - residual
        if new_signed == 0 or (new_signed > 0) != (line.side == acc.DEBIT):
            continue
        lines[largest] = Line(
            line.account,
            line.currency,
            line.side,
            line.amount,
            abs(new_signed),
            line.fx_rate,
            line.instrument,
        )


def lines_payload(lines: Iterable[Line]) -> list[tuple[Any, ...]]:
    return [
        (ln.account, ln.currency, ln.side, ln.amount, ln.base_amount, ln.fx_rate, ln.instrument)
        for ln in lines
    ]
