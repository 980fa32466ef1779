"""Reads of the ledger: journals, trial balance (trade or settlement basis, bitemporal),
balance sheet, income statement, account detail, the ledger-vs-book check and the
verification of the whole book (balance, hash chain, stored balances)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Case, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest

from book.models import CashBalance, CashKind, CashMovement, CashStatus, Mandate, Position

from . import accounts as acc
from .engine import money
from .models import Basis, InstrumentBalance, JournalEntry, JournalLine, LedgerBalance, LedgerState
from .services import GENESIS, chain_hash, entry_canonical

ZERO = Decimal(0)
_MONEY = DecimalField(max_digits=28, decimal_places=4)


def journal_list() -> QuerySet[JournalEntry]:
    return JournalEntry.objects.select_related("mandate", "reversal_of").order_by("-seq")


def journal_detail(journal_id: str) -> JournalEntry | None:
    return (
        JournalEntry.objects.select_related("mandate", "reversal_of", "reversed_by")
        .prefetch_related("lines__instrument", "lines__account")
        .filter(journal_id=journal_id)
        .first()
    )


def journals_of_trade(trade_id: str) -> list[dict[str, Any]]:
    return [
        {
            "journal_id": e.journal_id,
            "kind": e.kind,
            "accounting_date": e.accounting_date,
            "description": e.description,
            "reversal_of": e.reversal_of.journal_id if e.reversal_of_id else None,
            "lines": [
                {
                    "account": ln.account_id,
                    "currency": ln.currency,
                    "side": ln.side,
                    "amount": ln.amount,
                }
                for ln in e.lines.all()
            ],
        }
        for e in JournalEntry.objects.filter(trade_id=trade_id)
        .select_related("reversal_of")
        .prefetch_related("lines")
        .order_by("seq")
    ]


# --- Trial balance ----------------------------------------------------------------------


@dataclass
class TrialBalance:
    mandate: str
    base_currency: str
    as_of: dt.date
    basis: str
    known_at: dt.datetime | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)


def _signed_sum(column: str) -> Any:
    return Coalesce(
        Sum(Case(When(side="D", then=F(column)), default=Value(ZERO), output_field=_MONEY)),
        Value(ZERO),
        output_field=_MONEY,
    ), Coalesce(
        Sum(Case(When(side="C", then=F(column)), default=Value(ZERO), output_field=_MONEY)),
        Value(ZERO),
        output_field=_MONEY,
    )


def _balances(
    mandate: Mandate,
    *,
    as_of: dt.date,
    basis: str,
    known_at: dt.datetime | None,
    since: dt.date | None = None,
) -> dict[tuple[str, str], list[Decimal]]:
    """(account, currency) -> [debit, credit, base debit, base credit] up to `as_of`."""
    out: dict[tuple[str, str], list[Decimal]] = {}
    if known_at is None:
        rows = LedgerBalance.objects.filter(mandate=mandate, basis=basis, day__lte=as_of)
        if since is not None:
            rows = rows.filter(day__gte=since)
        for account, currency, d, c, bd, bc in (
            rows.values_list("account_id", "currency")
            .annotate(d=Sum("debit"), c=Sum("credit"), bd=Sum("base_debit"), bc=Sum("base_credit"))
            .values_list("account_id", "currency", "d", "c", "bd", "bc")
        ):
            out[(account, currency)] = [d, c, bd, bc]
        return out
    # Bitemporal: the book as it was recorded at `known_at`, from the lines themselves.
    lines = JournalLine.objects.filter(mandate=mandate, entry__recorded_at__lte=known_at)
    if basis == Basis.SETTLEMENT:
        lines = lines.annotate(
            day=Greatest(F("entry__settles_on"), F("entry__accounting_date"))
        ).filter(day__lte=as_of)
        if since is not None:
            lines = lines.filter(day__gte=since)
    else:
        lines = lines.filter(entry__accounting_date__lte=as_of)
        if since is not None:
            lines = lines.filter(entry__accounting_date__gte=since)
    d, c = _signed_sum("amount")
    bd, bc = _signed_sum("base_amount")
    for account, currency, dd, cc, bdd, bcc in (
        lines.values("account_id", "currency")
        .annotate(d=d, c=c, bd=bd, bc=bc)
        .values_list("account_id", "currency", "d", "c", "bd", "bc")
    ):
        out[(account, currency)] = [dd, cc, bdd, bcc]
    return out


def trial_balance(
    mandate: Mandate,
    *,
    as_of: dt.date,
    basis: str = Basis.TRADE,
    known_at: dt.datetime | None = None,
) -> TrialBalance:
    """Debits, credits and balance per account and currency, base totals, and the proof
    that debits equal credits (in base, and in each currency)."""
    tb = TrialBalance(mandate.code, mandate.base_currency_id, as_of, basis, known_at)
    balances = _balances(mandate, as_of=as_of, basis=basis, known_at=known_at)
    per_currency: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    base_d = base_c = ZERO
    for (account, currency), values in sorted(balances.items()):
        d, c, bd, bc = (money(v) for v in values)
        if d == c and bd == bc:
            continue
        definition = acc.BY_CODE[account]
        balance = d - c if definition.normal_side == acc.DEBIT else c - d
        base_balance = bd - bc if definition.normal_side == acc.DEBIT else bc - bd
        tb.rows.append(
            {
                "account": account,
                "name": definition.name,
                "type": definition.type,
                "normal_side": definition.normal_side,
                "currency": currency,
                "debit": d,
                "credit": c,
                "balance": balance,
                "base_debit": bd,
                "base_credit": bc,
                "base_balance": base_balance,
            }
        )
        per_currency[currency][0] += d
        per_currency[currency][1] += c
        base_d += bd
        base_c += bc
    tb.totals = {
        "base_debit": base_d,
        "base_credit": base_c,
        "base_difference": base_d - base_c,
        "by_currency": {
            ccy: {"debit": d, "credit": c, "difference": d - c}
            for ccy, (d, c) in sorted(per_currency.items())
        },
        "balanced": base_d == base_c and all(d == c for d, c in per_currency.values()),
    }
    return tb


# --- Statements -------------------------------------------------------------------------


def _base_by_account(
    mandate: Mandate, *, as_of: dt.date, since: dt.date | None = None, known_at=None
) -> dict[str, Decimal]:
    """Base-currency balance per account (normal side positive)."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for (account, _currency), (_d, _c, bd, bc) in _balances(
        mandate, as_of=as_of, basis=Basis.TRADE, known_at=known_at, since=since
    ).items():
        definition = acc.BY_CODE[account]
        out[account] += money(bd - bc if definition.normal_side == acc.DEBIT else bc - bd)
    return out


def balance_sheet(mandate: Mandate, *, as_of: dt.date) -> dict[str, Any]:
    """Assets = liabilities + equity in base currency; this period's earnings (income less
    expenses, not yet closed to 3100) shown as a line of equity."""
    by_account = _base_by_account(mandate, as_of=as_of)
    sections: dict[str, list[dict[str, Any]]] = {"asset": [], "liability": [], "equity": []}
    earnings = ZERO
    for code, amount in sorted(by_account.items()):
        definition = acc.BY_CODE[code]
        if definition.type in sections:
            if amount:
                sections[definition.type].append(
                    {"account": code, "name": definition.name, "amount": amount}
                )
        elif definition.type == "income":
            earnings += amount
        else:
            earnings -= amount
    if earnings:
        sections["equity"].append({"account": "", "name": "Current earnings", "amount": earnings})
    total = {k: sum((r["amount"] for r in v), ZERO) for k, v in sections.items()}
    return {
        "mandate": mandate.code,
        "base_currency": mandate.base_currency_id,
        "as_of": as_of,
        "assets": sections["asset"],
        "liabilities": sections["liability"],
        "equity": sections["equity"],
        "total_assets": total["asset"],
        "total_liabilities": total["liability"],
        "total_equity": total["equity"],
        "balanced": total["asset"] == total["liability"] + total["equity"],
    }


def income_statement(mandate: Mandate, *, date_from: dt.date, date_to: dt.date) -> dict[str, Any]:
    by_account = _base_by_account(mandate, as_of=date_to, since=date_from)
    income, expenses = [], []
    for code, amount in sorted(by_account.items()):
        definition = acc.BY_CODE[code]
        if not amount:
            continue
        row = {"account": code, "name": definition.name, "amount": amount}
        if definition.type == "income":
            income.append(row)
        elif definition.type == "expense":
            expenses.append(row)
    total_income = sum((r["amount"] for r in income), ZERO)
    total_expenses = sum((r["amount"] for r in expenses), ZERO)
    return {
        "mandate": mandate.code,
        "base_currency": mandate.base_currency_id,
        "from": date_from,
        "to": date_to,
        "income": income,
        "expenses": expenses,
        "total_income": total_income,
        "total_expenses": total_expenses,
        "net_income": total_income - total_expenses,
    }


def account_detail(
    mandate: Mandate,
    *,
    account: str,
    currency: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    limit: int = 1000,
) -> dict[str, Any]:
    """General-ledger detail: the opening balance, then each line with a running balance
    (normal side positive), in posting order."""
    definition = acc.BY_CODE[account]
    sign = 1 if definition.normal_side == acc.DEBIT else -1
    lines = JournalLine.objects.filter(mandate=mandate, account_id=account)
    if currency:
        lines = lines.filter(currency=currency)
    opening = ZERO
    if date_from is not None:
        before = lines.filter(entry__accounting_date__lt=date_from)
        d, c = _signed_sum("amount" if currency else "base_amount")
        totals = before.aggregate(d=d, c=c)
        opening = sign * (totals["d"] - totals["c"])
        lines = lines.filter(entry__accounting_date__gte=date_from)
    if date_to is not None:
        lines = lines.filter(entry__accounting_date__lte=date_to)
    field_name = "amount" if currency else "base_amount"
    running = opening
    rows = []
    page = list(
        lines.select_related("entry", "instrument").order_by("entry__seq", "line_no")[: limit + 1]
    )
    truncated = len(page) > limit
    for ln in page[:limit]:
        value = getattr(ln, field_name)
        running += sign * (value if ln.side == "D" else -value)
        rows.append(
            {
                "journal_id": ln.entry.journal_id,
                "accounting_date": ln.entry.accounting_date,
                "trade_id": ln.entry.trade_id,
                "description": ln.entry.description,
                "currency": ln.currency,
                "instrument": ln.instrument.ticker if ln.instrument_id else "",
                "side": ln.side,
                "amount": ln.amount,
                "base_amount": ln.base_amount,
                "running_balance": running,
            }
        )
    return {
        "mandate": mandate.code,
        "account": account,
        "name": definition.name,
        "currency": currency or f"{mandate.base_currency_id} (base)",
        "opening_balance": opening,
        "closing_balance": running,
        "lines": rows,
        "truncated": truncated,
    }


# --- Ledger vs book ---------------------------------------------------------------------


def _cost_tolerance(quantity: Decimal) -> Decimal:
    # The book keeps a lot's unit cost to 8 dp: its cost is exact only to qty x 0.5e-8,
    # plus 0.00005 of rounding per trade on the realized P&L.
    return max(Decimal("0.01"), abs(quantity) * Decimal("0.00000001"))


def ledger_vs_book(mandate: Mandate | None = None) -> dict[str, Any]:
    """Securities at cost per instrument against the book's lots, cash per currency against
    the book's settled cash, and what is owed to and by brokers against the book's
    unsettled trades, trade by trade. Every difference names what it is about."""
    mandates = Mandate.objects.all() if mandate is None else Mandate.objects.filter(pk=mandate.pk)
    mandate_ids = list(mandates.values_list("pk", flat=True))
    code = dict(mandates.values_list("pk", "code"))
    differences: list[dict[str, Any]] = []

    ledger_cost = {
        (m, i): (amount, ticker)
        for m, i, ticker, amount in InstrumentBalance.objects.filter(
            mandate_id__in=mandate_ids, account_id=acc.SECURITIES
        ).values_list("mandate_id", "instrument_id", "instrument__ticker", "amount")
    }
    book_cost = {
        (m, i): (cost, quantity, ticker)
        for m, i, ticker, cost, quantity in Position.objects.filter(mandate_id__in=mandate_ids)
        .exclude(instrument__asset_class="fx")
        .values_list("mandate_id", "instrument_id", "instrument__ticker", "cost_basis", "quantity")
    }
    for key in sorted(set(ledger_cost) | set(book_cost)):
        ledger, ticker_l = ledger_cost.get(key, (ZERO, None))
        book, quantity, ticker_b = book_cost.get(key, (ZERO, ZERO, None))
        if abs(ledger - book) > _cost_tolerance(quantity):
            differences.append(
                {
                    "check": "securities_at_cost",
                    "mandate": code[key[0]],
                    "subject": ticker_b or ticker_l,
                    "ledger": ledger,
                    "book": book,
                    "difference": ledger - book,
                    "trade_ids": [],
                }
            )

    ledger_cash: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for m, currency, d, c in (
        LedgerBalance.objects.filter(
            mandate_id__in=mandate_ids, account_id=acc.CASH, basis=Basis.TRADE
        )
        .values_list("mandate_id", "currency")
        .annotate(d=Sum("debit"), c=Sum("credit"))
        .values_list("mandate_id", "currency", "d", "c")
    ):
        ledger_cash[(m, currency)] = money(d - c)
    book_cash = {
        (m, ccy): settled
        for m, ccy, settled in CashBalance.objects.filter(mandate_id__in=mandate_ids).values_list(
            "mandate_id", "currency_id", "settled"
        )
    }
    for key in sorted(set(ledger_cash) | set(book_cash)):
        ledger, book = ledger_cash.get(key, ZERO), book_cash.get(key, ZERO)
        if ledger != book:
            differences.append(
                {
                    "check": "cash",
                    "mandate": code[key[0]],
                    "subject": key[1],
                    "ledger": ledger,
                    "book": book,
                    "difference": ledger - book,
                    "trade_ids": [],
                }
            )

    # Unsettled trades: the ledger's open receivable/payable per trade against the book's
    # projected trade cash per trade.
    ledger_open: dict[tuple[int, str, str, str], Decimal] = defaultdict(Decimal)
    d, c = _signed_sum("amount")
    for m, trade_id, account, currency, dd, cc in (
        JournalLine.objects.filter(
            mandate_id__in=mandate_ids,
            account_id__in=[acc.BROKER_RECEIVABLE, acc.BROKER_PAYABLE],
            entry__trade_id__isnull=False,
        )
        .values("mandate_id", "entry__trade_id", "account_id", "currency")
        .annotate(d=d, c=c)
        .values_list("mandate_id", "entry__trade_id", "account_id", "currency", "d", "c")
    ):
        if money(dd) != money(cc):
            # Receivable: debit balance; payable: credit balance. Signed like cash to come.
            ledger_open[(m, trade_id, currency, account)] += money(dd - cc)
    book_open: dict[tuple[int, str, str, str], Decimal] = defaultdict(Decimal)
    for m, trade_id, currency, amount in CashMovement.objects.filter(
        mandate_id__in=mandate_ids, kind=CashKind.TRADE, status=CashStatus.PROJECTED
    ).values_list("mandate_id", "trade__trade_id", "currency_id", "amount"):
        account = acc.BROKER_RECEIVABLE if amount > 0 else acc.BROKER_PAYABLE
        book_open[(m, trade_id, currency, account)] += amount
    by_account: dict[tuple[int, str, str], list[Any]] = defaultdict(lambda: [ZERO, ZERO, []])
    for key in sorted(set(ledger_open) | set(book_open)):
        ledger, book = ledger_open.get(key, ZERO), book_open.get(key, ZERO)
        m, trade_id, currency, account = key
        agg = by_account[(m, account, currency)]
        agg[0] += ledger
        agg[1] += book
        if ledger != book:
            agg[2].append(trade_id)
    for (m, account, currency), (ledger, book, trade_ids) in sorted(by_account.items()):
        if trade_ids:
            differences.append(
                {
                    "check": "receivable" if account == acc.BROKER_RECEIVABLE else "payable",
                    "mandate": code[m],
                    "subject": currency,
                    "ledger": ledger,
                    "book": book,
                    "difference": ledger - book,
                    "trade_ids": trade_ids,
                }
            )
    state = LedgerState.objects.filter(pk=1).first()
    return {
        "mandates": len(mandate_ids),
        "checks": ["securities_at_cost", "cash", "receivable", "payable"],
        "differences": differences,
        "ok": not differences,
        "marked_through": state.marked_through if state else None,
    }


# --- Verification -----------------------------------------------------------------------


@dataclass
class Verification:
    entries: int = 0
    lines: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_verify(*, limit_problems: int = 50) -> Verification:
    """Recheck the book from its raw lines: every entry balanced, the hash chain unbroken
    in recorded order, the stored day and instrument balances equal to a recomputation."""
    report = Verification()
    prev = GENESIS
    expected_seq = 1
    day_totals: dict[tuple, list[Decimal]] = defaultdict(lambda: [ZERO] * 4)
    sub_totals: dict[tuple, list[Decimal]] = defaultdict(lambda: [ZERO] * 2)

    def problem(text: str) -> None:
        if len(report.problems) < limit_problems:
            report.problems.append(text)

    entries = (
        JournalEntry.objects.select_related("mandate", "reversal_of")
        .order_by("seq")
        .iterator(chunk_size=2000)
    )
    line_iter = (
        JournalLine.objects.order_by("entry__seq", "line_no")
        .values_list(
            "entry_id",
            "account_id",
            "currency",
            "side",
            "amount",
            "base_amount",
            "fx_rate",
            "instrument__ticker",
            "instrument_id",
            "mandate_id",
        )
        .iterator(chunk_size=10000)
    )
    pending = next(line_iter, None)
    for entry in entries:
        report.entries += 1
        lines = []
        while pending is not None and pending[0] == entry.pk:
            lines.append(pending)
            pending = next(line_iter, None)
        report.lines += len(lines)
        if entry.seq != expected_seq:
            problem(f"{entry.journal_id}: sequence {entry.seq}, expected {expected_seq}")
            expected_seq = entry.seq
        expected_seq += 1
        per_currency: dict[str, Decimal] = defaultdict(Decimal)
        base = ZERO
        for _, account, currency, side, amount, base_amount, _r, _t, instrument_id, m in lines:
            sign = 1 if side == "D" else -1
            per_currency[currency] += sign * amount
            base += sign * base_amount
            if m != entry.mandate_id:
                problem(f"{entry.journal_id}: a line of another mandate")
            for basis, day in (
                (Basis.TRADE, entry.accounting_date),
                (Basis.SETTLEMENT, max(entry.settles_on, entry.accounting_date)),
            ):
                t = day_totals[(m, account, currency, basis.value, day)]
                t[0 if side == "D" else 1] += amount
                t[2 if side == "D" else 3] += base_amount
            if instrument_id is not None:
                s = sub_totals[(m, account, instrument_id, currency)]
                s[0] += sign * amount
                s[1] += sign * base_amount
        if len(lines) < 2:
            problem(f"{entry.journal_id}: {len(lines)} line(s)")
        for currency, total in per_currency.items():
            if total:
                problem(f"{entry.journal_id}: unbalanced in {currency} by {total}")
        if base:
            problem(f"{entry.journal_id}: unbalanced in base by {base}")
        if entry.prev_hash != prev:
            problem(f"{entry.journal_id}: chain broken (previous hash does not match)")
        canonical = entry_canonical(
            journal_id=entry.journal_id,
            seq=entry.seq,
            mandate=entry.mandate.code,
            kind=entry.kind,
            trade_id=entry.trade_id,
            accounting_date=entry.accounting_date,
            effective_date=entry.effective_date,
            effective_kind=entry.effective_kind,
            settles_on=entry.settles_on,
            recorded_at=entry.recorded_at,
            description=entry.description,
            source_key=entry.source_key,
            payload_hash=entry.payload_hash,
            reverses=entry.reversal_of.source_key if entry.reversal_of_id else None,
            adjusts_date=entry.adjusts_date,
            lines=[(ln[1], ln[2], ln[3], ln[4], ln[5], ln[6], ln[7] or "") for ln in lines],
        )
        digest = chain_hash(entry.prev_hash, canonical)
        if digest != entry.entry_hash:
            problem(f"{entry.journal_id}: hash does not match its content")
        prev = entry.entry_hash
    if pending is not None:
        problem("lines without an entry in sequence order")
    state = LedgerState.objects.filter(pk=1).first()
    if state is not None and report.entries and state.last_hash != prev:
        problem("the ledger's head hash is not the last entry's hash")

    stored = {
        (m, a, c, b, d): [dd, cc, bd, bc]
        for m, a, c, b, d, dd, cc, bd, bc in LedgerBalance.objects.values_list(
            "mandate_id",
            "account_id",
            "currency",
            "basis",
            "day",
            "debit",
            "credit",
            "base_debit",
            "base_credit",
        )
    }
    for key in set(stored) | set(day_totals):
        want = day_totals.get(key, [ZERO] * 4)
        have = stored.get(key, [ZERO] * 4)
        if want != have:
            problem(f"stored day balance {key} is {have}, the lines say {want}")
    stored_sub = {
        (m, a, i, c): [amt, base]
        for m, a, i, c, amt, base in InstrumentBalance.objects.values_list(
            "mandate_id", "account_id", "instrument_id", "currency", "amount", "base_amount"
        )
    }
    for key in set(stored_sub) | set(sub_totals):
        want = sub_totals.get(key, [ZERO] * 2)
        have = stored_sub.get(key, [ZERO] * 2)
        if want != have:
            problem(f"stored instrument balance {key} is {have}, the lines say {want}")
    return report


def ledger_summary(*, mandate: Mandate | None = None) -> dict[str, Any]:
    entries = JournalEntry.objects.all()
    if mandate is not None:
        entries = entries.filter(mandate=mandate)
    by_kind = dict(entries.values_list("kind").annotate(n=Sum(Value(1))).values_list("kind", "n"))
    last = entries.order_by("-seq").values_list("journal_id", "recorded_at").first()
    state = LedgerState.objects.filter(pk=1).first()
    return {
        "journals": sum(by_kind.values()),
        "by_kind": by_kind,
        "last_journal": last[0] if last else None,
        "last_recorded_at": last[1] if last else None,
        "marked_through": state.marked_through if state else None,
        "closed_through": _closed_summary(),
    }


def _closed_summary() -> dict[str, Any]:
    from .models import PeriodClose

    out: dict[str, Any] = {}
    for mandate_code, through in PeriodClose.objects.values_list("mandate__code", "through"):
        key = mandate_code or "*"
        out[key] = max(out.get(key, through), through)
    return out


def instrument_balances(mandate: Mandate, account: str) -> QuerySet[InstrumentBalance]:
    return InstrumentBalance.objects.filter(mandate=mandate, account_id=account).exclude(
        Q(amount=0) & Q(base_amount=0)
    )
