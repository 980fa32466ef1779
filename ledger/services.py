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

On PostgreSQL a posting costs a fixed handful of round trips whatever its size: every read
in one (the state row locked first), entry ids taken from the sequence up front, the
entries and the lines by COPY, the balances summed over the batch into one upsert per
table, sent with the chain's new head. Other backends take the ORM's way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cached_property, partial
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
    skipped: list[str] = field(default_factory=list)  # source keys already posted alike
    written: _Written | None = None

    @property
    def count(self) -> int:
        return len(self.written.drafts) if self.written else 0

    @cached_property
    def posted(self) -> list[JournalEntry]:
        """The posted entries as model instances, made when first asked for (a tick's
        sync only counts them)."""
        return self.written.entries() if self.written else []


# --- Chart and state ------------------------------------------------------------------


def chart_ensure() -> None:
    """The chart of accounts as ledger/accounts.py defines it (idempotent)."""
    existing = set(Account.objects.values_list("code", flat=True))
    missing = [row for row in chart_rows() if row.code not in existing]
    if missing:
        Account.objects.bulk_create(missing)
    LedgerState.objects.get_or_create(pk=1)


def _state_locked() -> LedgerState:
    state = LedgerState.objects.select_for_update().filter(pk=1).first()
    if state is None:
        LedgerState.objects.get_or_create(pk=1)
        state = LedgerState.objects.select_for_update().get(pk=1)
    return state


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
    return _CANONICAL_JSON.encode(body)


# json.dumps(body, separators=(",", ":"), ensure_ascii=False), without building an encoder
# for every entry.
_CANONICAL_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + "\n" + canonical).encode()).hexdigest()


# --- Posting ----------------------------------------------------------------------------


def _upsert_add(
    table: str, keys: Sequence[tuple[str, str]], amounts: Sequence[str], rows: list[tuple]
) -> list[tuple[str, list[Any]]]:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET a = a + excluded.a: additions made in
    the database, as (sql, params) statements to run. `keys` are (column, PostgreSQL
    type); the rows' keys must be distinct (one statement may not touch a row twice).

    PostgreSQL: one statement, the rows as one array per column (`unnest`), so its text is
    the same whatever the number of rows. SQLite (3.24+ shares the ON CONFLICT syntax):
    multi-row VALUES, as many statements as its parameter limit needs."""
    if not rows:
        return []
    quote = connection.ops.quote_name
    cols = [k for k, _ in keys] + list(amounts)
    head = f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in cols)}) "
    tail = f" ON CONFLICT ({', '.join(quote(k) for k, _ in keys)}) DO UPDATE SET " + ", ".join(
        f"{quote(a)} = {quote(table)}.{quote(a)} + excluded.{quote(a)}" for a in amounts
    )
    if connection.vendor == "postgresql":
        types = [t for _, t in keys] + ["numeric"] * len(amounts)
        arrays = ", ".join(f"%s::{t}[]" for t in types)
        return [
            (
                f"{head}SELECT * FROM unnest({arrays}){tail}",
                [list(column) for column in zip(*rows, strict=True)],
            )
        ]
    one = "(" + ", ".join(["%s"] * len(cols)) + ")"
    batch = max(1, min(1000, (connection.features.max_query_params or 999) // len(cols)))
    return [
        (
            f"{head}VALUES {', '.join([one] * len(rows[start : start + batch]))}{tail}",
            [value for row in rows[start : start + batch] for value in row],
        )
        for start in range(0, len(rows), batch)
    ]


@dataclass
class _Reads:
    """What a posting reads before it writes, under the ledger's lock."""

    mandates: dict[str, Mandate]
    instruments: dict[str, int]  # ticker -> id
    last_seq: int = 0
    last_hash: str = GENESIS
    existing: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> hash, J-id
    closed: dict[int, dt.date | None] = field(default_factory=dict)
    reversed_rows: list[tuple[str, int, int | None]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)  # PostgreSQL: entry ids taken up front


def _refs(drafts: Sequence[Draft]) -> _Reads:
    codes = {d.mandate for d in drafts}
    mandates = {m.code: m for m in Mandate.objects.filter(code__in=codes).select_related(None)}
    tickers = {ln.instrument for d in drafts for ln in d.lines if ln.instrument}
    instruments = dict(Instrument.objects.filter(ticker__in=tickers).values_list("ticker", "pk"))
    return _Reads(mandates, instruments)


def _locked_reads(drafts: Sequence[Draft], reads: _Reads) -> None:
    """The ledger's state row locked (postings are serialised from here on), then what is
    already posted under these keys, the closed periods and the entries reversed."""
    state = _state_locked()
    reads.last_seq, reads.last_hash = state.last_seq, state.last_hash
    keys = [d.source_key for d in drafts]
    reads.existing = {
        key: (digest, journal_id)
        for key, digest, journal_id in JournalEntry.objects.filter(source_key__in=keys).values_list(
            "source_key", "payload_hash", "journal_id"
        )
    }
    reads.closed = closed_through(m.pk for m in reads.mandates.values())
    reverses = {d.reverses for d in drafts if d.reverses}
    if reverses:
        reads.reversed_rows = list(
            JournalEntry.objects.filter(source_key__in=reverses).values_list(
                "source_key", "pk", "reversed_by__pk"
            )
        )


MANDATE_FIELDS = ("id", "code", "base_currency_id")
# The sequence looked up once a statement (an InitPlan), not once an id.
ENTRY_IDS_SQL = (
    "SELECT nextval((SELECT pg_get_serial_sequence('ledger_journalentry', 'id')::regclass))"
    " FROM generate_series(1, %s)"
)


def _reads_postgres(drafts: Sequence[Draft]) -> _Reads | None:
    """PostgreSQL: every read of a posting in one round trip (one query text, several
    statements, read in turn): refs, the state row locked FOR UPDATE first, so the rest
    sees every posting committed before ours, and the entry ids. None when the state row
    does not exist yet (the first posting of a new database takes the ORM's way)."""
    codes = sorted({d.mandate for d in drafts})
    tickers = sorted({ln.instrument for d in drafts for ln in d.lines if ln.instrument})
    keys = [d.source_key for d in drafts]
    reverses = sorted({d.reverses for d in drafts if d.reverses})
    mandate_cols = [f.column for f in Mandate._meta.concrete_fields if f.attname in MANDATE_FIELDS]
    mandate_names = [
        f.attname for f in Mandate._meta.concrete_fields if f.attname in MANDATE_FIELDS
    ]
    mandate_table = Mandate._meta.db_table
    sql = ";\n".join(
        [
            f"SELECT {', '.join(mandate_cols)} FROM {mandate_table} WHERE code = ANY(%s)",
            f"SELECT ticker, id FROM {Instrument._meta.db_table} WHERE ticker = ANY(%s)",
            "SELECT last_seq, last_hash FROM ledger_ledgerstate WHERE id = 1 FOR UPDATE",
            "SELECT source_key, payload_hash, journal_id FROM ledger_journalentry"
            " WHERE source_key = ANY(%s)",
            "SELECT p.mandate_id, max(p.through) FROM ledger_periodclose p"
            f" WHERE p.mandate_id IS NULL OR p.mandate_id IN (SELECT id FROM {mandate_table}"
            " WHERE code = ANY(%s)) GROUP BY p.mandate_id",
            "SELECT e.source_key, e.id, r.id FROM ledger_journalentry e"
            " LEFT JOIN ledger_journalentry r ON r.reversal_of_id = e.id"
            " WHERE e.source_key = ANY(%s)",
            ENTRY_IDS_SQL,
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [codes, tickers, keys, codes, reverses, len(drafts)])
        results = []
        while True:
            results.append(cursor.fetchall())
            if not cursor.nextset():
                break
    mandate_rows, instrument_rows, state, existing, closes, reversed_rows, ids = results
    if not state:
        return None
    mandates = {}
    for row in mandate_rows:
        mandate = Mandate.from_db(connection.alias, mandate_names, row)
        mandates[mandate.code] = mandate
    global_close = max((t for m, t in closes if m is None), default=None)
    own = {m: t for m, t in closes if m is not None}
    closed = {}
    for mandate in mandates.values():
        dates = [d for d in (global_close, own.get(mandate.pk)) if d is not None]
        closed[mandate.pk] = max(dates) if dates else None
    return _Reads(
        mandates=mandates,
        instruments=dict(instrument_rows),
        last_seq=state[0][0],
        last_hash=state[0][1],
        existing={key: (digest, journal_id) for key, digest, journal_id in existing},
        closed=closed,
        reversed_rows=reversed_rows,
        ids=[row[0] for row in ids],
    )


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
    reads = _reads_postgres(drafts) if connection.vendor == "postgresql" else None
    if reads is None:
        reads = _refs(drafts)
    mandates, instruments = reads.mandates, reads.instruments
    _check(drafts, mandates, instruments)
    if not reads.ids:
        _locked_reads(drafts, reads)
    existing = reads.existing
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

    closed = reads.closed
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
        for key, pk, already in reads.reversed_rows:
            if already is not None:
                raise ValidationError({"reverses": [f"{key} is already reversed"]})
            reversed_ids[key] = pk
        in_batch = {d.source_key for d in todo}
        unknown = reverses - set(reversed_ids) - in_batch
        if unknown:
            raise ValidationError({"reverses": [f"no posted entry {k}" for k in sorted(unknown)]})

    now = timezone.now()
    seq, prev = reads.last_seq, reads.last_hash
    heads: list[tuple[int, str, str, str]] = []  # (seq, journal_id, prev_hash, entry_hash)
    for draft in todo:
        seq += 1
        journal_id = readable_id("J", seq)
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
            lines=[
                (
                    ln.account,
                    ln.currency,
                    ln.side,
                    ln.amount,
                    ln.base_amount,
                    ln.fx_rate,
                    ln.instrument,
                )
                for ln in draft.lines
            ],
        )
        digest = chain_hash(prev, canonical)
        heads.append((seq, journal_id, prev, digest))
        prev = digest
    written = _Written(
        drafts=todo,
        heads=heads,
        mandates=mandates,
        instruments=instruments,
        reversed_ids=reversed_ids,
        recorded_at=now,
        sim_time=sim_time,
        tick=tick,
        actor=actor,
    )
    if connection.vendor == "postgresql":
        written.ids = reads.ids[: len(todo)] if reads.ids else _entry_ids(len(todo))
        try:
            _entries_copy(written)
        except IntegrityError as exc:
            # A key posted by a writer that bypassed the ledger's lock. The transaction
            # is broken from here: the key comes from the error, not from a query.
            raise LedgerConflict(_key_of(exc, todo), "(concurrent posting)") from exc
        _lines_insert(written)
        _balances_add(written, state=(seq, prev))
    else:
        try:
            with transaction.atomic():
                _entries_insert(written)
        except IntegrityError as exc:
            raise LedgerConflict(_conflicting_key(todo), "(concurrent posting)") from exc
        _lines_insert(written)
        _balances_add(written)
        LedgerState.objects.filter(pk=1).update(last_seq=seq, last_hash=prev)
    if record_event:
        _posted_events(written)
    result.written = written
    return result


@dataclass
class _Written:
    """One posting's rows, as the database receives them: the drafts to write, their
    chain heads and, once the entries are in, their ids."""

    drafts: list[Draft]
    heads: list[tuple[int, str, str, str]]
    mandates: dict[str, Mandate]
    instruments: dict[str, int]
    reversed_ids: dict[str, int]
    recorded_at: dt.datetime
    sim_time: dt.datetime | None
    tick: int | None
    actor: str
    ids: list[int] = field(default_factory=list)

    def entry_row(self, n: int, entry_id: int | None) -> tuple:
        draft, (seq, journal_id, prev, digest) = self.drafts[n], self.heads[n]
        return (
            entry_id,
            journal_id,
            seq,
            self.mandates[draft.mandate].pk,
            draft.kind,
            draft.trade_id,
            draft.accounting_date,
            draft.effective_date,
            draft.effective_kind,
            draft.settles_on,
            self.recorded_at,
            self.sim_time,
            self.tick,
            draft.description,
            draft.source_key,
            draft.payload_hash,
            self.reversed_ids.get(draft.reverses) if draft.reverses else None,
            draft.adjusts_date,
            self.actor,
            prev,
            digest,
        )

    def entries(self) -> list[JournalEntry]:
        """The posted entries as model instances (what callers and the events read)."""
        attnames = [f.attname for f in JournalEntry._meta.concrete_fields]
        out = []
        for n, draft in enumerate(self.drafts):
            values = dict(zip(ENTRY_COLUMNS, self.entry_row(n, self.ids[n]), strict=True))
            # As if read back (positional, the fast way in); the stamp stays in the database.
            values["posted_txid"] = None
            entry = JournalEntry.from_db(connection.alias, None, [values[a] for a in attnames])
            entry.mandate = self.mandates[draft.mandate]  # cached: no query for .mandate
            out.append(entry)
        return out


ENTRY_COLUMNS = (
    "id",
    "journal_id",
    "seq",
    "mandate_id",
    "kind",
    "trade_id",
    "accounting_date",
    "effective_date",
    "effective_kind",
    "settles_on",
    "recorded_at",
    "sim_time",
    "tick",
    "description",
    "source_key",
    "payload_hash",
    "reversal_of_id",
    "adjusts_date",
    "actor",
    "prev_hash",
    "entry_hash",
)
LINE_COLUMNS = (
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
)


def _entry_ids(n: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            ENTRY_IDS_SQL,
            [n],
        )
        return [row[0] for row in cursor.fetchall()]


def _entries_copy(written: _Written) -> None:
    """PostgreSQL: one COPY, with the ids taken from the entries' sequence up front (so
    reversals of entries of this batch and the lines know them). The values are already
    what the columns hold (str, int, Decimal, date, aware datetime): they go to psycopg as
    they are."""
    by_key = {d.source_key: i for d, i in zip(written.drafts, written.ids, strict=True)}
    for draft in written.drafts:
        if draft.reverses and draft.reverses not in written.reversed_ids:
            written.reversed_ids[draft.reverses] = by_key[draft.reverses]
    _copy(
        JournalEntry._meta.db_table,
        ENTRY_COLUMNS,
        [written.entry_row(k, entry_id) for k, entry_id in enumerate(written.ids)],
    )


def _entries_insert(written: _Written) -> None:
    """Other backends: the ORM's bulk_create, which returns the ids."""
    pending: list[JournalEntry] = []
    by_key: dict[str, JournalEntry] = {}
    made: list[JournalEntry] = []
    for n, draft in enumerate(written.drafts):
        if draft.reverses and draft.reverses not in written.reversed_ids:
            # Reverses an entry of this batch: store what comes before it first.
            JournalEntry.objects.bulk_create(pending)
            pending = []
            written.reversed_ids[draft.reverses] = by_key[draft.reverses].pk
        entry = JournalEntry(
            **dict(zip(ENTRY_COLUMNS[1:], written.entry_row(n, None)[1:], strict=True))
        )
        pending.append(entry)
        made.append(entry)
        by_key[draft.source_key] = entry
    JournalEntry.objects.bulk_create(pending)
    if any(e.pk is None for e in made):
        raise RuntimeError("the database returned no ids for journal entries")
    written.ids = [e.pk for e in made]


def _copy(table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """PostgreSQL COPY ... FROM STDIN of ready values, through the connection's execute
    wrappers (query counts, instrumentation) and its error translation."""
    if not rows:
        return
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"

    def copy(sql: str, params: list[tuple], many: bool, context: dict[str, Any]) -> None:
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors, context["cursor"].cursor.copy(sql) as stream:
            for row in params:
                stream.write_row(row)

    with connection.cursor() as cursor:
        cursor._execute_with_wrappers(sql, rows, many=True, executor=copy)


def _lines_insert(written: _Written) -> None:
    instruments = written.instruments
    rows = [
        (
            entry_id,
            number,
            written.mandates[draft.mandate].pk,
            ln.account,
            ln.currency,
            ln.side,
            ln.amount,
            ln.base_amount,
            ln.fx_rate,
            instruments[ln.instrument] if ln.instrument else None,
        )
        for draft, entry_id in zip(written.drafts, written.ids, strict=True)
        for number, ln in enumerate(draft.lines, start=1)
    ]
    if connection.vendor == "postgresql":
        _copy(JournalLine._meta.db_table, LINE_COLUMNS, rows)
    else:
        bulk.rows_insert(JournalLine, LINE_COLUMNS, rows)


def _balances_add(written: _Written, *, state: tuple[int, str] | None = None) -> None:
    """The day balances (both bases) and the per-instrument balances the posting moves,
    summed over the batch: one upsert statement per table, not one per line. On
    PostgreSQL they go in one round trip, with the chain's new head (`state`) when given."""
    balances: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    sub: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 2)
    trade, settlement = Basis.TRADE.value, Basis.SETTLEMENT.value
    for draft in written.drafts:
        mandate_id = written.mandates[draft.mandate].pk
        settles = max(draft.settles_on, draft.accounting_date)
        for ln in draft.lines:
            at = 0 if ln.side == acc.DEBIT else 1
            for key in (
                (mandate_id, ln.account, ln.currency, trade, draft.accounting_date),
                (mandate_id, ln.account, ln.currency, settlement, settles),
            ):
                bal = balances[key]
                bal[at] += ln.amount
                bal[at + 2] += ln.base_amount
            if ln.instrument:
                s = sub[(mandate_id, ln.account, written.instruments[ln.instrument], ln.currency)]
                s[0] += ln.signed
                s[1] += ln.signed_base
    statements = _upsert_add(
        LedgerBalance._meta.db_table,
        [
            ("mandate_id", "bigint"),
            ("account_id", "text"),
            ("currency", "text"),
            ("basis", "text"),
            ("day", "date"),
        ],
        ["debit", "credit", "base_debit", "base_credit"],
        [(*key, *vals) for key, vals in sorted(balances.items())],
    )
    statements += _upsert_add(
        InstrumentBalance._meta.db_table,
        [
            ("mandate_id", "bigint"),
            ("account_id", "text"),
            ("instrument_id", "bigint"),
            ("currency", "text"),
        ],
        ["amount", "base_amount"],
        [(*key, *vals) for key, vals in sorted(sub.items())],
    )
    if state is not None:
        statements.append(
            (
                "UPDATE ledger_ledgerstate SET last_seq = %s, last_hash = %s WHERE id = 1",
                list(state),
            )
        )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and statements:
            # One query text, several statements (client-side binding): one round trip.
            cursor.execute(
                ";\n".join(sql for sql, _ in statements),
                [p for _, params in statements for p in params],
            )
        else:
            for sql, params in statements:
                cursor.execute(sql, params)


def _key_of(exc: IntegrityError, drafts: Sequence[Draft]) -> str:
    """The source key PostgreSQL names in a unique violation, else the first of the batch."""
    detail = getattr(getattr(exc.__cause__, "diag", None), "message_detail", None) or ""
    if detail.startswith("Key (source_key)=("):
        return detail[len("Key (source_key)=(") :].rsplit(") already exists", 1)[0]
    return drafts[0].source_key


def _conflicting_key(drafts: Sequence[Draft]) -> str:
    keys = [d.source_key for d in drafts]
    taken = list(
        JournalEntry.objects.filter(source_key__in=keys).values_list("source_key", flat=True)
    )
    return taken[0] if taken else keys[0]


def _posted_events(written: _Written) -> None:
    """One event per trade a posting touched (so its trace shows its journals), one for
    the rest of each mandate's postings."""
    by_target: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for draft, (_, journal_id, _, _) in zip(written.drafts, written.heads, strict=True):
        by_target[(draft.mandate, draft.trade_id)].append(journal_id)
    actor = written.actor
    events_record_many(
        [
            {
                "kind": JOURNALS_POSTED,
                "source": book_events.Source.LEDGER,
                "actor": None if actor == "system" else actor,
                "mandate": mandate,
                "trade_id": trade_id,
                "tick": written.tick,
                "sim_time": written.sim_time,
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
    posted = journals_post(drafts, tick=tick, sim_time=sim_time).count
    cursor = state.cash_cursor
    if day_end or catch_up:
        cash, cursor = _cash_drafts(state, day=day, fx=fx, dating=dating)
        posted += journals_post(cash, tick=tick, sim_time=sim_time).count
    if day_end:
        marks = _day_end_drafts(day=day, tick=tick, fx=fx)
        posted += journals_post(marks, tick=tick, sim_time=sim_time, record_event=False).count
        reval = _fx_revaluation_drafts(day=day, fx=fx)
        posted += journals_post(reval, tick=tick, sim_time=sim_time, record_event=False).count
    LedgerState.objects.filter(pk=1).update(
        event_cursor=max(state.event_cursor, last_event),
        cash_cursor=cursor,
        **({"marked_through": day} if day_end else {}),
    )
    summary.journals_posted = posted
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
