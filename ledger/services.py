"""Every write of the ledger: posting journals (idempotent, chained, balances kept), closing
periods, and the sync that turns the book's events into journals each tick.

Posting (`journals_post`), in one transaction:
1. every draft is checked (`engine.draft_errors`): unbalanced, unknown account, bad amount
   -> ValidationError naming `lines`;
2. a draft whose source key is already posted with the same payload hash is skipped
   (replaying events adds nothing); with another payload it is refused (LedgerConflict,
   409 through the API);
3. a draft dated in a closed period is refused (PeriodClosed); a prior-period adjustment
   is dated in the open period and names the closed date it corrects (`adjusts_date`);
4. the ledger's single state row is locked (so postings are ordered and the chain has one
   head), each entry gets the next sequence number, its journal id (J-000123) and its
   hash: sha256 of the previous entry's hash and this entry's canonical text;
5. entries, lines, the day balances per (mandate, account, currency, basis, day) and the
   sub-ledger balances per instrument are written; on PostgreSQL the database checks the
   lines again at commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from book import bulk
from book import events as book_events
from book.identifiers import readable_id
from book.models import (
    AssetClass,
    CapitalFlow,
    CashMovement,
    CashStatus,
    Event,
    FeeAccrual,
    IncomeEntitlement,
    Instrument,
    LotRelief,
    Mandate,
    Position,
    Trade,
    TradeStatus,
)
from book.services.events import events_record_many

from . import accounts as acc
from . import engine, rates
from .engine import Draft, Line, PostingError
from .events import JOURNALS_POSTED, PERIOD_CLOSED
from .models import (
    Account,
    Basis,
    InstrumentBalance,
    JournalEntry,
    JournalLine,
    LedgerBalance,
    LedgerState,
    PeriodClose,
    chart_rows,
)

GENESIS = "0" * 64


class LedgerConflict(Exception):
    """A source key already posted with a different payload."""

    def __init__(self, source_key: str, journal_id: str) -> None:
        super().__init__(
            f"source key {source_key!r} was already posted as {journal_id} with a different "
            "payload; post a correction under a new key"
        )
        self.source_key = source_key
        self.journal_id = journal_id


class PeriodClosed(ValidationError):
    """A posting dated on or before its mandate's closed period (400 on accounting_date)."""


@dataclass
class PostResult:
    posted: list[JournalEntry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # source keys already posted alike


# --- Chart and state ------------------------------------------------------------------


def chart_ensure() -> None:
    """The chart of accounts as ledger/accounts.py defines it (idempotent)."""
    existing = set(Account.objects.values_list("code", flat=True))
    missing = [row for row in chart_rows() if row.code not in existing]
    if missing:
        Account.objects.bulk_create(missing)
    LedgerState.objects.get_or_create(pk=1)


def _state_locked() -> LedgerState:
    LedgerState.objects.get_or_create(pk=1)
    return LedgerState.objects.select_for_update().get(pk=1)


def closed_through(mandate_ids: Iterable[int]) -> dict[int, dt.date | None]:
    """The last closed date of each mandate (its own closes and the all-mandate ones)."""
    ids = list(mandate_ids)
    rows = PeriodClose.objects.filter(Q(mandate_id__in=ids) | Q(mandate__isnull=True))
    global_close: dt.date | None = None
    own: dict[int, dt.date] = {}
    for mandate_id, through in rows.values_list("mandate_id", "through"):
        if mandate_id is None:
            global_close = max(global_close or through, through)
        else:
            own[mandate_id] = max(own.get(mandate_id, through), through)
    out: dict[int, dt.date | None] = {}
    for mandate_id in ids:
        dates = [d for d in (global_close, own.get(mandate_id)) if d is not None]
        out[mandate_id] = max(dates) if dates else None
    return out


# --- Hashing ----------------------------------------------------------------------------


def entry_canonical(
    *,
    journal_id: str,
    seq: int,
    mandate: str,
    kind: str,
    trade_id: str | None,
    accounting_date: dt.date,
    effective_date: dt.date,
    effective_kind: str,
    settles_on: dt.date,
    recorded_at: dt.datetime,
    description: str,
    source_key: str,
    payload_hash: str,
    reverses: str | None,
    adjusts_date: dt.date | None,
    lines: Sequence[tuple[str, str, str, Decimal, Decimal, Decimal, str]],
) -> str:
    """The text an entry's hash covers: every field that says what was posted."""
    body = [
        journal_id,
        seq,
        mandate,
        kind,
        trade_id or "",
        accounting_date.isoformat(),
        effective_date.isoformat(),
        effective_kind,
        settles_on.isoformat(),
        recorded_at.astimezone(dt.UTC).isoformat(),
        description,
        source_key,
        payload_hash,
        reverses or "",
        adjusts_date.isoformat() if adjusts_date else "",
        [
            [a, c, s, f"{amount:.4f}", f"{base:.4f}", f"{rate:.10f}", instrument]
            for a, c, s, amount, base, rate, instrument in lines
        ],
    ]
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + "\n" + canonical).encode()).hexdigest()


# --- Posting ----------------------------------------------------------------------------


def _upsert_add(table: str, keys: Sequence[str], amounts: Sequence[str], rows: list[tuple]) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET a = a + excluded.a: additions made in the
    database (PostgreSQL and SQLite 3.24+ share the syntax)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    cols = list(keys) + list(amounts)
    sql = (
        f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in cols)}) "
        f"VALUES ({', '.join(['%s'] * len(cols))}) "
        f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO UPDATE SET "
        + ", ".join(
            f"{quote(a)} = {quote(table)}.{quote(a)} + excluded.{quote(a)}" for a in amounts
        )
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _refs(drafts: Sequence[Draft]) -> tuple[dict[str, Mandate], dict[str, int]]:
    codes = {d.mandate for d in drafts}
    mandates = {m.code: m for m in Mandate.objects.filter(code__in=codes).select_related(None)}
    tickers = {ln.instrument for d in drafts for ln in d.lines if ln.instrument}
    instruments = dict(Instrument.objects.filter(ticker__in=tickers).values_list("ticker", "pk"))
    return mandates, instruments


def _check(
    drafts: Sequence[Draft], mandates: dict[str, Mandate], instruments: dict[str, int]
) -> None:
    errors: dict[str, list[str]] = defaultdict(list)
    for draft in drafts:
        where = draft.source_key
        mandate = mandates.get(draft.mandate)
        if mandate is None:
            errors["mandate"].append(f"{where}: unknown mandate {draft.mandate!r}")
        elif mandate.base_currency_id != draft.base_currency:
            errors["mandate"].append(
                f"{where}: {draft.mandate} keeps its books in {mandate.base_currency_id}"
            )
        for message in engine.draft_errors(draft).get("lines", []):
            errors["lines"].append(f"{where}: {message}")
        for line in draft.lines:
            if line.instrument and line.instrument not in instruments:
                errors["lines"].append(f"{where}: unknown instrument {line.instrument!r}")
            if line.account in acc.INSTRUMENT_ACCOUNTS and not line.instrument:
                errors["lines"].append(
                    f"{where}: account {line.account} is kept per instrument: name one"
                )
        if not draft.source_key or len(draft.source_key) > 96:
            errors["source_key"].append("must be 1 to 96 characters")
        if len(draft.description) > 200:
            errors["description"].append(f"{where}: at most 200 characters")
    if errors:
        raise ValidationError(dict(errors))


@transaction.atomic
def journals_post(
    drafts: Sequence[Draft],
    *,
    actor: str = "system",
    tick: int | None = None,
    sim_time: dt.datetime | None = None,
    record_event: bool = True,
) -> PostResult:
    """Post drafts in order (see the module docstring). All or nothing."""
    result = PostResult()
    if not drafts:
        return result
    keys = [d.source_key for d in drafts]
    if len(set(keys)) != len(keys):
        raise ValidationError({"source_key": ["the same source key twice in one posting"]})
    mandates, instruments = _refs(drafts)
    _check(drafts, mandates, instruments)

    state = _state_locked()  # from here on, postings are serialised
    existing = {
        key: (digest, journal_id)
        for key, digest, journal_id in JournalEntry.objects.filter(source_key__in=keys).values_list(
            "source_key", "payload_hash", "journal_id"
        )
    }
    todo: list[Draft] = []
    for draft in drafts:
        if draft.source_key in existing:
            digest, journal_id = existing[draft.source_key]
            if digest != draft.payload_hash:
                raise LedgerConflict(draft.source_key, journal_id)
            result.skipped.append(draft.source_key)
        else:
            todo.append(draft)
    if not todo:
        return result

    closed = closed_through(m.pk for m in mandates.values())
    closed_errors = []
    for draft in todo:
        through = closed[mandates[draft.mandate].pk]
        if through is not None and draft.accounting_date <= through:
            closed_errors.append(
                f"{draft.source_key}: {draft.mandate} is closed through {through}; "
                f"post it as a prior-period adjustment dated after {through}"
            )
        if draft.adjusts_date is not None and draft.adjusts_date >= draft.accounting_date:
            closed_errors.append(f"{draft.source_key}: adjusts_date must be before the date")
    if closed_errors:
        raise PeriodClosed({"accounting_date": closed_errors})

    reverses = {d.reverses for d in todo if d.reverses}
    reversed_ids: dict[str, int] = {}
    if reverses:
        rows = JournalEntry.objects.filter(source_key__in=reverses).values_list(
            "source_key", "pk", "reversed_by__pk"
        )
        for key, pk, already in rows:
            if already is not None:
                raise ValidationError({"reverses": [f"{key} is already reversed"]})
            reversed_ids[key] = pk
        in_batch = {d.source_key for d in todo}
        unknown = reverses - set(reversed_ids) - in_batch
        if unknown:
            raise ValidationError({"reverses": [f"no posted entry {k}" for k in sorted(unknown)]})

    now = timezone.now()
    seq, prev = state.last_seq, state.last_hash
    entries: list[JournalEntry] = []
    for draft in todo:
        seq += 1
        journal_id = readable_id("J", seq)
        line_tuples = [
            (ln.account, ln.currency, ln.side, ln.amount, ln.base_amount, ln.fx_rate, ln.instrument)
            for ln in draft.lines
        ]
        canonical = entry_canonical(
            journal_id=journal_id,
            seq=seq,
            mandate=draft.mandate,
            kind=draft.kind,
            trade_id=draft.trade_id,
            accounting_date=draft.accounting_date,
            effective_date=draft.effective_date,
            effective_kind=draft.effective_kind,
            settles_on=draft.settles_on,
            recorded_at=now,
            description=draft.description,
            source_key=draft.source_key,
            payload_hash=draft.payload_hash,
            reverses=draft.reverses,
            adjusts_date=draft.adjusts_date,
            lines=line_tuples,
        )
        digest = chain_hash(prev, canonical)
        entries.append(
            JournalEntry(
                journal_id=journal_id,
                seq=seq,
                mandate=mandates[draft.mandate],
                kind=draft.kind,
                trade_id=draft.trade_id,
                accounting_date=draft.accounting_date,
                effective_date=draft.effective_date,
                effective_kind=draft.effective_kind,
                settles_on=draft.settles_on,
                recorded_at=now,
                sim_time=sim_time,
                tick=tick,
                description=draft.description,
                source_key=draft.source_key,
                payload_hash=draft.payload_hash,
                adjusts_date=draft.adjusts_date,
                actor=actor,
                prev_hash=prev,
                entry_hash=digest,
            )
        )
        prev = digest
    # Reversals of entries in this same batch need the earlier entry's id first.
    try:
        with transaction.atomic():
            _entries_insert(entries, todo, reversed_ids)
    except IntegrityError as exc:
        # Another worker posted one of these keys between our read and our insert.
        raise LedgerConflict(_conflicting_key(todo), "(concurrent posting)") from exc

    line_rows = []
    balances: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    sub: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 2)
    for entry, draft in zip(entries, todo, strict=True):
        mandate_id = entry.mandate.pk
        for number, ln in enumerate(draft.lines, start=1):
            instrument_id = instruments.get(ln.instrument) if ln.instrument else None
            line_rows.append(
                (
                    entry.pk,
                    number,
                    mandate_id,
                    ln.account,
                    ln.currency,
                    ln.side,
                    ln.amount,
                    ln.base_amount,
                    ln.fx_rate,
                    instrument_id,
                )
            )
            debit = ln.side == acc.DEBIT
            for basis, day in (
                (Basis.TRADE, draft.accounting_date),
                (Basis.SETTLEMENT, max(draft.settles_on, draft.accounting_date)),
            ):
                bal = balances[(mandate_id, ln.account, ln.currency, basis.value, day)]
                bal[0 if debit else 1] += ln.amount
                bal[2 if debit else 3] += ln.base_amount
            if instrument_id is not None:
                s = sub[(mandate_id, ln.account, instrument_id, ln.currency)]
                s[0] += ln.signed
                s[1] += ln.signed_base
    bulk.rows_insert(
        JournalLine,
        [
            "entry_id",
            "line_no",
            "mandate_id",
            "account_id",
            "currency",
            "side",
            "amount",
            "base_amount",
            "fx_rate",
            "instrument_id",
        ],
        line_rows,
    )
    _upsert_add(
        LedgerBalance._meta.db_table,
        ["mandate_id", "account_id", "currency", "basis", "day"],
        ["debit", "credit", "base_debit", "base_credit"],
        [(*key, *vals) for key, vals in sorted(balances.items())],
    )
    _upsert_add(
        InstrumentBalance._meta.db_table,
        ["mandate_id", "account_id", "instrument_id", "currency"],
        ["amount", "base_amount"],
        [(*key, *vals) for key, vals in sorted(sub.items())],
    )
    LedgerState.objects.filter(pk=1).update(last_seq=seq, last_hash=prev)
    if record_event:
        _posted_events(entries, actor=actor, tick=tick, sim_time=sim_time)
    result.posted = entries
    return result


def _entries_insert(
    entries: list[JournalEntry], drafts: list[Draft], reversed_ids: dict[str, int]
) -> None:
    pending: list[JournalEntry] = []
    by_key: dict[str, JournalEntry] = {}
    for entry, draft in zip(entries, drafts, strict=True):
        if draft.reverses and draft.reverses not in reversed_ids:
            # Reverses an entry of this batch: store what comes before it first.
            JournalEntry.objects.bulk_create(pending)
            pending = []
            target = by_key[draft.reverses]
            reversed_ids[draft.reverses] = target.pk
        if draft.reverses:
            entry.reversal_of_id = reversed_ids[draft.reverses]
        pending.append(entry)
        by_key[draft.source_key] = entry
    JournalEntry.objects.bulk_create(pending)
    if any(e.pk is None for e in entries):
        raise RuntimeError("the database returned no ids for journal entries")


def _conflicting_key(drafts: Sequence[Draft]) -> str:
    keys = [d.source_key for d in drafts]
    taken = list(
        JournalEntry.objects.filter(source_key__in=keys).values_list("source_key", flat=True)
    )
    return taken[0] if taken else keys[0]


def _posted_events(
    entries: list[JournalEntry], *, actor: str, tick: int | None, sim_time: dt.datetime | None
) -> None:
    """One event per trade a posting touched (so its trace shows its journals), one for
    the rest of each mandate's postings."""
    by_target: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for entry in entries:
        by_target[(entry.mandate.code, entry.trade_id)].append(entry.journal_id)
    events_record_many(
        [
            {
                "kind": JOURNALS_POSTED,
                "source": book_events.Source.LEDGER,
                "actor": None if actor == "system" else actor,
                "mandate": mandate,
                "trade_id": trade_id,
                "tick": tick,
                "sim_time": sim_time,
                "payload": {"journals": journal_ids},
            }
            for (mandate, trade_id), journal_ids in by_target.items()
        ]
    )


# --- Period close -----------------------------------------------------------------------


@transaction.atomic
def period_close(
    *, through: dt.date, mandate: Mandate | None = None, actor: Any = None, note: str = ""
) -> PeriodClose:
    """Lock every date up to `through` (for one mandate, or all). Closing is forward only."""
    _state_locked()
    current = (
        closed_through([mandate.pk])[mandate.pk]
        if mandate is not None
        else PeriodClose.objects.filter(mandate__isnull=True)
        .order_by("-through")
        .values_list("through", flat=True)
        .first()
    )
    if current is not None and through <= current:
        raise ValidationError({"through": [f"already closed through {current}"]})
    username = getattr(actor, "username", None) or (actor if isinstance(actor, str) else "system")
    close = PeriodClose.objects.create(
        mandate=mandate, through=through, closed_at=timezone.now(), closed_by=username, note=note
    )
    events_record_many(
        [
            {
                "kind": PERIOD_CLOSED,
                "source": book_events.Source.LEDGER,
                "actor": actor,
                "mandate": mandate.code if mandate else "",
                "payload": {"through": through.isoformat(), "note": note},
            }
        ]
    )
    return close


# --- Reading back posted entries as drafts (for reversals) ------------------------------


def _posted_drafts(entry_ids: list[int]) -> dict[int, Draft]:
    if not entry_ids:
        return {}
    heads = {
        e.pk: e for e in JournalEntry.objects.filter(pk__in=entry_ids).select_related("mandate")
    }
    lines: dict[int, list[Line]] = defaultdict(list)
    for row in (
        JournalLine.objects.filter(entry_id__in=entry_ids)
        .order_by("entry_id", "line_no")
        .values_list(
            "entry_id",
            "account_id",
            "currency",
            "side",
            "amount",
            "base_amount",
            "fx_rate",
            "instrument__ticker",
        )
    ):
        entry_id, *rest = row
        account, currency, side, amount, base, rate, ticker = rest
        lines[entry_id].append(Line(account, currency, side, amount, base, rate, ticker or ""))
    return {
        pk: Draft(
            source_key=e.source_key,
            kind=e.kind,
            mandate=e.mandate.code,
            base_currency=e.mandate.base_currency_id,
            accounting_date=e.accounting_date,
            effective_date=e.effective_date,
            effective_kind=e.effective_kind,
            settles_on=e.settles_on,
            description=e.description,
            lines=tuple(lines[pk]),
            trade_id=e.trade_id,
        )
        for pk, e in heads.items()
    }


# --- The sync: book -> journals ---------------------------------------------------------

TRADE_EVENTS = (book_events.TRADE_BOOKED, book_events.TRADE_AMENDED, book_events.TRADE_CANCELLED)
SOURCE_EVENTS = (
    *TRADE_EVENTS,
    book_events.CAPITAL_FLOW,
    book_events.INCOME_ACCRUED,
    book_events.FEE_ACCRUED,
    book_events.BOND_REDEEMED,
)


@dataclass
class SyncSummary:
    events_read: int = 0
    journals_posted: int = 0
    trades_reposted: int = 0
    day_end: bool = False
    errors: list[str] = field(default_factory=list)


class _Rates:
    """Rates to each mandate's base currency at one tick, read once."""

    def __init__(self, tick: int | None) -> None:
        self.usd = rates.usd_per_unit(tick)
        self._by_base: dict[str, dict[str, Decimal]] = {}

    def to(self, base: str) -> dict[str, Decimal]:
        if base not in self._by_base:
            self._by_base[base] = rates.rates_to(base, self.usd)
        return self._by_base[base]


def _trade_generation(key: str) -> int:
    # trade:T-000123:g2 -> 2
    return int(key.rsplit(":g", 1)[1])


def _trade_drafts(
    trade_ids: set[str], *, day: dt.date, fx: _Rates, dating: _Dating
) -> tuple[list[Draft], int]:
    """What the ledger must post so each trade's live posting matches the book: a first
    posting, a reversal plus a re-posting when its terms or realized P&L changed, or a
    reversal when it was cancelled."""
    if not trade_ids:
        return [], 0
    trades = list(
        Trade.objects.filter(trade_id__in=trade_ids)
        .select_related("mandate", "instrument")
        .order_by("id")
    )
    realized = dict(
        LotRelief.objects.filter(closing_trade__trade_id__in=trade_ids)
        .values_list("closing_trade__trade_id")
        .annotate(total=Sum("realized_pnl"))
        .values_list("closing_trade__trade_id", "total")
    )
    live: dict[str, tuple[int, str, str]] = {}  # trade id -> (entry pk, key, payload hash)
    generations: dict[str, int] = defaultdict(int)
    for pk, trade_id, key, digest, reversed_pk in JournalEntry.objects.filter(
        trade_id__in=trade_ids, kind="trade"
    ).values_list("pk", "trade_id", "source_key", "payload_hash", "reversed_by__pk"):
        generations[trade_id] = max(generations[trade_id], _trade_generation(key))
        if reversed_pk is None:
            live[trade_id] = (pk, key, digest)
    reversal_targets = []
    plan: list[tuple[Trade, engine.TradeFacts | None]] = []
    for trade in trades:
        facts = None
        if trade.status != TradeStatus.CANCELLED:
            facts = engine.TradeFacts(
                trade_id=trade.trade_id,
                version=trade.version,
                mandate=trade.mandate.code,
                base_currency=trade.mandate.base_currency_id,
                instrument=trade.instrument.ticker,
                asset_class=trade.instrument.asset_class,
                side=trade.side,
                quantity=trade.quantity,
                price=trade.price,
                gross=trade.gross,
                commission=trade.commission,
                fees=trade.fees,
                accrued_interest=trade.accrued_interest,
                net=trade.net,
                currency=trade.currency_id,
                trade_date=trade.trade_date,
                settlement_date=trade.settlement_date,
                realized_pnl=realized.get(trade.trade_id) or Decimal(0),
                pair_base_currency=trade.instrument.base_currency_id or "",
            )
        current = live.get(trade.trade_id)
        if (
            current is not None
            and facts is not None
            and current[2] == engine.payload_hash(facts.payload())
        ):
            continue
        if current is None and facts is None:
            continue
        if current is not None:
            reversal_targets.append(current[0])
        plan.append((trade, facts))
    posted = _posted_drafts(reversal_targets)
    by_trade = {d.trade_id: d for d in posted.values()}
    drafts: list[Draft] = []
    reposted = 0
    for trade, facts in plan:
        previous = by_trade.get(trade.trade_id)
        mandate_id = trade.mandate_id
        if previous is not None:
            reason = "cancelled" if facts is None else f"v{trade.version} terms or FIFO P&L changed"
            drafts.append(
                engine.reversal(
                    previous, accounting_date=dating.open_day(mandate_id, day), reason=reason
                )
            )
            reposted += 1
        if facts is not None:
            generation = generations[trade.trade_id] + 1
            # A first posting is dated its trade date; a re-posting the day of the change.
            when = trade.trade_date if previous is None else day
            drafts.append(
                dating.dated(
                    mandate_id,
                    when,
                    partial(
                        engine.trade_entry,
                        facts,
                        source_key=f"trade:{trade.trade_id}:g{generation}",
                        rates=fx.to(facts.base_currency),
                    ),
                )
            )
    return drafts, reposted


class _Dating:
    """Accounting dates for one sync: the closed periods are read once. A posting whose
    date falls in a closed period is dated the first open day, as a prior-period
    adjustment naming the date it corrects."""

    def __init__(self) -> None:
        self.closed = closed_through(Mandate.objects.values_list("pk", flat=True))

    def open_day(self, mandate_id: int, when: dt.date) -> dt.date:
        through = self.closed.get(mandate_id)
        return through + dt.timedelta(days=1) if through is not None and when <= through else when

    def dated(self, mandate_id: int, when: dt.date, build: Any) -> Draft:
        """`build(accounting_date=...)` on the first open day from `when`."""
        day = self.open_day(mandate_id, when)
        draft = build(accounting_date=day)
        return draft if day == when else _as_adjustment(draft, when)


def _as_adjustment(draft: Draft, adjusts: dt.date) -> Draft:
    return replace(
        draft,
        adjusts_date=adjusts,
        description=f"[prior period {adjusts}] {draft.description}"[:200],
    )


def _flow_drafts(flow_ids: list[str], fx: _Rates, dating: _Dating) -> list[Draft]:
    drafts = []
    for flow in CapitalFlow.objects.filter(flow_id__in=flow_ids).select_related("mandate"):
        base = flow.mandate.base_currency_id
        facts = engine.FlowFacts(
            flow_id=flow.flow_id,
            mandate=flow.mandate.code,
            base_currency=base,
            kind=flow.kind,
            units=flow.units,
            nav_per_unit=flow.nav_per_unit,
            amount=flow.amount,
            currency=base,
            trade_date=flow.trade_date,
            settlement_date=flow.settlement_date,
        )
        drafts.append(
            dating.dated(
                flow.mandate_id,
                flow.trade_date,
                partial(engine.flow_entry, facts, rates=fx.to(base)),
            )
        )
    return drafts


def _income_drafts(income_ids: list[str], fx: _Rates, dating: _Dating) -> list[Draft]:
    rows = list(
        IncomeEntitlement.objects.filter(income_id__in=income_ids).select_related(
            "mandate", "instrument"
        )
    )
    coupon_keys = [(r.mandate_id, r.instrument_id) for r in rows if r.kind == "coupon"]
    purchased: dict[tuple[int, int], Decimal] = {}
    if coupon_keys:
        q = Q()
        for mandate_id, instrument_id in coupon_keys:
            q |= Q(mandate_id=mandate_id, instrument_id=instrument_id)
        for mandate_id, instrument_id, amount in InstrumentBalance.objects.filter(
            q, account_id=acc.ACCRUED_INTEREST_PURCHASED
        ).values_list("mandate_id", "instrument_id", "amount"):
            purchased[(mandate_id, instrument_id)] = amount
    drafts = []
    for r in rows:
        base = r.mandate.base_currency_id
        facts = engine.IncomeFacts(
            income_id=r.income_id,
            mandate=r.mandate.code,
            base_currency=base,
            instrument=r.instrument.ticker,
            kind=r.kind,
            quantity=r.quantity,
            amount=r.amount,
            currency=r.currency_id,
            ex_date=r.ex_date,
            pay_date=r.pay_date,
            purchased_interest=purchased.get((r.mandate_id, r.instrument_id), Decimal(0))
            if r.kind == "coupon"
            else Decimal(0),
        )
        drafts.append(
            dating.dated(
                r.mandate_id,
                r.ex_date,
                partial(engine.income_entry, facts, rates=fx.to(base)),
            )
        )
    return drafts


def _fee_drafts(keys: list[tuple[str, str]], fx: _Rates, dating: _Dating) -> list[Draft]:
    q = Q()
    for code, day in keys:
        q |= Q(mandate__code=code, accrual_date=day)
    drafts = []
    for fee in FeeAccrual.objects.filter(q).select_related("mandate") if keys else []:
        base = fee.mandate.base_currency_id
        facts = engine.FeeFacts(
            mandate=fee.mandate.code,
            base_currency=base,
            accrual_date=fee.accrual_date,
            amount=fee.amount,
            currency=fee.currency_id,
            nav_basis=fee.nav_basis,
        )
        if fee.amount == 0:
            continue
        drafts.append(
            dating.dated(
                fee.mandate_id,
                fee.accrual_date,
                partial(engine.fee_entry, facts, rates=fx.to(base)),
            )
        )
    return drafts


def _cash_drafts(
    state: LedgerState, *, day: dt.date, fx: _Rates, dating: _Dating
) -> tuple[list[Draft], int]:
    """Every settled cash movement not yet posted, from the cursor on. The cursor is the
    lowest movement id that may still settle: it moves past a movement once it settled or
    was cancelled, so a failed settlement holds it back until it settles."""
    rows = list(
        CashMovement.objects.filter(id__gte=state.cash_cursor)
        .exclude(status=CashStatus.CANCELLED)
        .order_by("id")
        .values_list(
            "id",
            "status",
            "mandate__code",
            "mandate__base_currency_id",
            "mandate_id",
            "kind",
            "currency_id",
            "amount",
            "value_date",
            "trade__trade_id",
            "reference",
        )
    )
    settled = [r for r in rows if r[1] == CashStatus.SETTLED]
    posted = set(
        JournalEntry.objects.filter(source_key__in=[f"cash:{r[0]}" for r in settled]).values_list(
            "source_key", flat=True
        )
    )
    pending = [r[0] for r in rows if r[1] == CashStatus.PROJECTED]
    last_id = CashMovement.objects.order_by("-id").values_list("id", flat=True).first() or 0
    cursor = min(pending) if pending else last_id + 1
    drafts = []
    for (
        pk,
        _status,
        code,
        base,
        mandate_id,
        kind,
        currency,
        amount,
        value_date,
        trade_id,
        ref,
    ) in settled:
        if f"cash:{pk}" in posted or amount == 0:
            continue
        facts = engine.CashFacts(
            movement_id=pk,
            mandate=code,
            base_currency=base,
            kind=kind,
            currency=currency,
            amount=amount,
            value_date=value_date,
            trade_id=trade_id,
            reference=ref,
        )
        # Cash is booked on the day it moved (today's settlement run), never before.
        drafts.append(
            dating.dated(
                mandate_id,
                max(value_date, day),
                partial(engine.cash_entry, facts, rates=fx.to(base)),
            )
        )
    return drafts, cursor


def _day_end_drafts(*, day: dt.date, tick: int | None, fx: _Rates) -> list[Draft]:
    """Mark-to-market of every mandate for `day`."""
    mandates = {m.pk: m for m in Mandate.objects.all()}
    positions = list(
        Position.objects.exclude(instrument__asset_class=AssetClass.FX).values_list(
            "mandate_id",
            "instrument_id",
            "instrument__ticker",
            "instrument__asset_class",
            "instrument__currency_id",
            "quantity",
            "cost_basis",
        )
    )
    carried: dict[tuple[int, int], Decimal] = {
        (m, i): amount
        for m, i, amount in InstrumentBalance.objects.filter(account_id=acc.UNREALIZED).values_list(
            "mandate_id", "instrument_id", "amount"
        )
    }
    if tick is None:
        from simulator.models import Price

        tick = Price.objects.order_by("-tick").values_list("tick", flat=True).first()
    prices = rates.closing_prices(sorted({p[1] for p in positions}), tick) if tick else {}
    marks: dict[int, list[engine.Mark]] = defaultdict(list)
    seen: set[tuple[int, int]] = set()
    for mandate_id, instrument_id, ticker, asset_class, currency, quantity, cost in positions:
        price = prices.get(instrument_id)
        held = carried.get((mandate_id, instrument_id), Decimal(0))
        seen.add((mandate_id, instrument_id))
        if price is None:
            continue  # no price: keep yesterday's mark (data quality reports the gap)
        per_unit = price / 100 if asset_class in engine.BOND_CLASSES else price
        value = engine.money(quantity * per_unit) if quantity else Decimal(0)
        marks[mandate_id].append(
            engine.Mark(ticker, currency, value, cost if quantity else Decimal(0), held)
        )
    # Sub-ledger rows of instruments no longer held (closed positions' rows were kept).
    orphan = [k for k, v in carried.items() if k not in seen and v != 0]
    if orphan:
        info = dict(
            Instrument.objects.filter(pk__in={i for _, i in orphan}).values_list("pk", "ticker")
        )
        currencies = dict(
            Instrument.objects.filter(pk__in={i for _, i in orphan}).values_list(
                "pk", "currency_id"
            )
        )
        for mandate_id, instrument_id in orphan:
            marks[mandate_id].append(
                engine.Mark(
                    info[instrument_id],
                    currencies[instrument_id],
                    Decimal(0),
                    Decimal(0),
                    carried[(mandate_id, instrument_id)],
                )
            )
    return _per_open_mandate(mandates, marks, day, fx, engine.mark_to_market_entry, "marks")


def _fx_revaluation_drafts(*, day: dt.date, fx: _Rates) -> list[Draft]:
    mandates = {m.pk: m for m in Mandate.objects.all()}
    totals: dict[int, list[engine.CarriedBalance]] = defaultdict(list)
    rows = (
        LedgerBalance.objects.filter(basis=Basis.TRADE, day__lte=day)
        .exclude(currency__in={m.base_currency_id for m in mandates.values()})
        .values_list("mandate_id", "account_id", "currency")
        .annotate(d=Sum("debit"), c=Sum("credit"), bd=Sum("base_debit"), bc=Sum("base_credit"))
    )
    for mandate_id, account, currency, d, c, bd, bc in rows:
        if currency == mandates[mandate_id].base_currency_id:
            continue
        if account in acc.INSTRUMENT_ACCOUNTS:
            continue  # per instrument, below
        totals[mandate_id].append(engine.CarriedBalance(account, currency, d - c, bd - bc))
    for mandate_id, account, ticker, currency, amount, base in (
        InstrumentBalance.objects.exclude(amount=0, base_amount=0)
        .exclude(currency__in={m.base_currency_id for m in mandates.values()})
        .values_list(
            "mandate_id", "account_id", "instrument__ticker", "currency", "amount", "base_amount"
        )
    ):
        if currency == mandates[mandate_id].base_currency_id:
            continue
        totals[mandate_id].append(
            engine.CarriedBalance(account, currency, amount, base, instrument=ticker)
        )
    return _per_open_mandate(mandates, totals, day, fx, engine.fx_revaluation_entry, "balances")


def _per_open_mandate(
    mandates: dict[int, Mandate],
    items: dict[int, list[Any]],
    day: dt.date,
    fx: _Rates,
    rule: Any,
    argument: str,
) -> list[Draft]:
    """A day-end rule for each mandate whose `day` is still open (a closed day keeps its
    marks); the rule returns None when nothing moves."""
    closed = closed_through(mandates)
    drafts = []
    for mandate_id, mandate_items in sorted(items.items()):
        mandate = mandates[mandate_id]
        through = closed[mandate_id]
        if through is not None and day <= through:
            continue
        draft = rule(
            mandate=mandate.code,
            base_currency=mandate.base_currency_id,
            day=day,
            rates=fx.to(mandate.base_currency_id),
            **{argument: mandate_items},
        )
        if draft is not None:
            drafts.append(draft)
    return drafts


def _redemption_drafts(
    redemptions: list[tuple[str, str, dict[str, Any]]], fx: _Rates, dating: _Dating
) -> list[Draft]:
    if not redemptions:
        return []
    mandates = {
        m.code: m for m in Mandate.objects.filter(code__in={code for code, _, _ in redemptions})
    }
    drafts = []
    for code, ticker, p in redemptions:
        mandate = mandates[code]
        base = mandate.base_currency_id
        maturity = dt.date.fromisoformat(p["maturity_date"])
        facts = engine.RedemptionFacts(
            application_id=p["application_id"],
            mandate=code,
            base_currency=base,
            instrument=ticker,
            proceeds=Decimal(p["proceeds"]),
            cost=Decimal(p["cost"]),
            realized_pnl=Decimal(p["realized_pnl"]),
            currency=p["currency"],
            maturity_date=maturity,
            pay_date=dt.date.fromisoformat(p["pay_date"]),
        )
        drafts.append(
            dating.dated(
                mandate.pk,
                maturity,
                partial(engine.redemption_entry, facts, rates=fx.to(base)),
            )
        )
    return drafts


@transaction.atomic
def ledger_sync(
    *,
    day: dt.date,
    tick: int | None = None,
    sim_time: dt.datetime | None = None,
    day_end: bool = False,
    catch_up: bool = False,
) -> SyncSummary:
    """Post what the book did since the last sync: trades (and their corrections), flows,
    income and fees from the event log; settled cash from the cash cursor; at day end
    the mark-to-market and FX revaluation. `catch_up` also re-checks every live trade of
    the last ten days (a booking that committed after a sync had read past its event)."""
    chart_ensure()
    summary = SyncSummary(day_end=day_end)
    state = _state_locked()
    events = list(
        Event.objects.filter(id__gt=state.event_cursor, kind__in=SOURCE_EVENTS)
        .order_by("id")
        .values_list("id", "kind", "trade_id", "mandate", "instrument", "payload")
    )
    last_event = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    summary.events_read = len(events)
    fx = _Rates(tick)

    trade_ids: set[str] = set()
    pairs: set[str] = set()
    flows, incomes, fees, redemptions = [], [], [], []
    for _, kind, trade_id, mandate, ticker, payload in events:
        if kind in TRADE_EVENTS and trade_id:
            trade_ids.add(trade_id)
            if kind != book_events.TRADE_BOOKED:
                pairs.add(trade_id)
        elif kind == book_events.CAPITAL_FLOW:
            flows.append(payload["flow_id"])
        elif kind == book_events.INCOME_ACCRUED:
            incomes.append(payload["income_id"])
        elif kind == book_events.FEE_ACCRUED:
            fees.append((mandate, payload["date"]))
        elif kind == book_events.BOND_REDEEMED:
            redemptions.append((mandate, ticker, payload))
    if pairs:
        # An amendment or cancellation replays the FIFO lots of its mandate and
        # instrument: every trade there may have a new realized P&L.
        q = Q()
        for mandate_id, instrument_id in Trade.objects.filter(trade_id__in=pairs).values_list(
            "mandate_id", "instrument_id"
        ):
            q |= Q(mandate_id=mandate_id, instrument_id=instrument_id)
        trade_ids |= set(Trade.objects.filter(q).values_list("trade_id", flat=True))
    if catch_up:
        trade_ids |= set(
            Trade.objects.filter(trade_date__gte=day - dt.timedelta(days=10)).values_list(
                "trade_id", flat=True
            )
        )

    drafts: list[Draft] = []
    dating = _Dating()
    trade_drafts, summary.trades_reposted = _trade_drafts(trade_ids, day=day, fx=fx, dating=dating)
    drafts += trade_drafts
    drafts += _flow_drafts(flows, fx, dating)
    drafts += _income_drafts(incomes, fx, dating)
    drafts += _fee_drafts(fees, fx, dating)
    drafts += _redemption_drafts(redemptions, fx, dating)
    # Post what accrues before the cash and the day-end marks read the balances.
    posted = journals_post(drafts, tick=tick, sim_time=sim_time).posted
    cursor = state.cash_cursor
    if day_end or catch_up:
        cash, cursor = _cash_drafts(state, day=day, fx=fx, dating=dating)
        posted += journals_post(cash, tick=tick, sim_time=sim_time).posted
    if day_end:
        marks = _day_end_drafts(day=day, tick=tick, fx=fx)
        posted += journals_post(marks, tick=tick, sim_time=sim_time, record_event=False).posted
        reval = _fx_revaluation_drafts(day=day, fx=fx)
        posted += journals_post(reval, tick=tick, sim_time=sim_time, record_event=False).posted
    LedgerState.objects.filter(pk=1).update(
        event_cursor=max(state.event_cursor, last_event),
        cash_cursor=cursor,
        **({"marked_through": day} if day_end else {}),
    )
    summary.journals_posted = len(posted)
    return summary


MANUAL_PREFIX = "manual:"


def draft_from_request(**kwargs: Any) -> Draft:
    """A Draft from explicit lines and rates (engine.manual_entry), errors as 400s."""
    try:
        return engine.manual_entry(**kwargs)
    except PostingError as exc:
        raise ValidationError({"lines": [str(exc)]}) from exc


def manual_journal_draft(
    *,
    source_key: str,
    mandate: Mandate,
    accounting_date: dt.date,
    description: str,
    lines: list[tuple[str, str, str, Decimal, Decimal | None, str]],
    adjusts_date: dt.date | None = None,
) -> Draft:
    """A journal entered by hand. Its key is kept apart from the system's (`manual:...`),
    so no hand-made key can collide with a key the tick sync posts. Lines without an
    fx_rate take the latest primary rate - except on a replay of a key already posted,
    where they take the rates that posting used: the same request must make the same
    payload whatever the market did since, so a replay is recognised (no 409)."""
    key = MANUAL_PREFIX + source_key
    base = mandate.base_currency_id
    fx = rates.rates_to(base, rates.usd_per_unit(None))
    fx.update(
        JournalLine.objects.filter(entry__source_key=key)
        .exclude(currency=base)
        .values_list("currency", "fx_rate")
    )
    return draft_from_request(
        source_key=key,
        mandate=mandate.code,
        base_currency=base,
        accounting_date=accounting_date,
        description=description,
        lines=lines,
        rates=fx,
        adjusts_date=adjusts_date,
    )
