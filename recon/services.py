"""Writes of the recon: runs, the break queue (open, refresh, clear, reopen) and the
operators' actions on breaks. Every write of a recon record goes through here.

- `statement_reconcile`: one custodian statement against the book (position recon).
- `trade_recon_tick`: the simulator's executions against the confirmations brokers sent
  (trade recon), for what arrived or fell due this tick.
- `file_run_create`: executions / confirmations / P&L files (trade recon, the TradeRecon
  format), matched by recon.engine; the breaks join the same queue.
- `break_assign` / `break_comment` / `break_set_reason` / `break_resolve` /
  `break_escalate` / `break_reopen`, and `breaks_bulk` for several at once.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from book import events as book_events
from book.calendar import business_days_between
from book.models import (
    CustodianStatement,
    Mandate,
)
from book.services.events import actor_name, events_append_many
from book.services.sequences import ids_next

from . import events, selectors
from .defaults import DEFAULT_TOLERANCES
from .models import (
    Break,
    BreakAction,
    BreakStatus,
    BreakType,
    Classification,
    ReasonCode,
    ReconKind,
    ReconRun,
    ReconSettings,
    RunFinding,
    RunSource,
    RunStatus,
    Tolerance,
)
from .position import Found, Tol, _fmt, book_view, classify_cash, classify_quantity

ZERO = Decimal(0)


class ReconError(ValidationError):
    """A request the recon refuses (bad field, unknown break, ...): a 400 at the API."""


# --------------------------------------------------------------------------- settings


def settings_get() -> ReconSettings:
    row, _ = ReconSettings.objects.get_or_create(name="default")
    return row


def tolerances_get() -> dict[str, Tol]:
    """Tolerances by asset class (and `cash`); a missing row gets its default back."""
    rows = {t.asset_class: t for t in Tolerance.objects.all()}
    missing = [a for a in DEFAULT_TOLERANCES if a not in rows]
    for asset_class in missing:
        q_abs, q_rel, mv_abs, cash_abs = DEFAULT_TOLERANCES[asset_class]
        rows[asset_class], _ = Tolerance.objects.get_or_create(
            asset_class=asset_class,
            defaults={
                "quantity_abs": q_abs,
                "quantity_rel_pct": q_rel,
                "market_value_abs": mv_abs,
                "cash_abs": cash_abs,
            },
        )
    return {
        t.asset_class: Tol(
            quantity_abs=t.quantity_abs,
            quantity_rel_pct=t.quantity_rel_pct,
            market_value_abs=t.market_value_abs,
            cash_abs=t.cash_abs,
        )
        for t in rows.values()
    }


# --------------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class RunContext:
    run: ReconRun
    day: dt.date
    tick: int | None
    sim_time: dt.datetime | None
    cleared_by: str  # "statement S-000123" / "run R-000045"


def _run_new(**fields: Any) -> ReconRun:
    (run_id,) = ids_next("R", 1)
    return ReconRun.objects.create(run_id=run_id, **fields)


def _event(kind: str, brk: Break | Found, ctx: RunContext | None, **payload: Any) -> list[dict]:
    """One event per trade the break touches (so each trade's trace shows it), or one."""
    mandate = getattr(brk, "mandate", None)
    trade_ids = list(brk.trade_ids or ([brk.trade_id] if brk.trade_id else []))
    base = {
        "kind": kind,
        "source": book_events.Source.RECON,
        "mandate": mandate.code if isinstance(mandate, Mandate) else "",
        "tick": ctx.tick if ctx else None,
        "sim_time": ctx.sim_time if ctx else None,
        "payload": {
            "break_id": getattr(brk, "break_id", ""),
            "break_type": brk.break_type,
            "classification": brk.classification,
            **payload,
        },
    }
    if not trade_ids:
        return [base]
    return [{**base, "trade_id": trade_id} for trade_id in trade_ids]


_REFRESHED = (
    "classification",
    "explanation",
    "internal_value",
    "external_value",
    "difference",
    "field",
    "detail",
    "candidates",
    "trade_id",
    "trade_ids",
    "match_key",
    "instrument",
    "reported_id",
    "currency",
)


def breaks_apply(
    ctx: RunContext,
    found: Sequence[Found],
    scope: QuerySet[Break],
    covered: set[str] | None = None,
) -> dict:
    """The run's findings into the queue: new differences open breaks, known ones are
    refreshed (seen once more), resolved ones found again are reopened, and open breaks in
    `scope` (and, when given, with a match key in `covered`) the run did not find are
    cleared. Returns counts."""
    by_identity = {f.identity: f for f in found}
    existing: dict[str, Break] = {}
    identities = list(by_identity)
    for start in range(0, len(identities), 1000):
        for brk in Break.objects.filter(identity__in=identities[start : start + 1000]):
            existing[brk.identity] = brk
    new = [f for f in found if f.identity not in existing]
    actions: list[BreakAction] = []
    event_rows: list[dict] = []
    created: list[Break] = []
    if new:
        ids = ids_next("B", len(new))
        created = Break.objects.bulk_create(
            [
                Break(
                    break_id=break_id,
                    identity=f.identity,
                    recon=ctx.run.kind,
                    source=ctx.run.source,
                    break_type=f.break_type,
                    classification=f.classification,
                    explanation=f.explanation[:300],
                    mandate_id=f.mandate_id,
                    custody_account_id=f.custody_account_id,
                    instrument_id=f.instrument_id,
                    reported_id=f.reported_id[:32],
                    currency=f.currency,
                    trade_id=f.trade_id,
                    match_key=f.match_key,
                    trade_ids=f.trade_ids,
                    field=f.field,
                    internal_value=f.internal_value[:64],
                    external_value=f.external_value[:64],
                    difference=f.difference[:64],
                    detail=f.detail,
                    candidates=f.candidates,
                    first_run=ctx.run,
                    last_run=ctx.run,
                    first_seen_date=ctx.day,
                    last_seen_date=ctx.day,
                    first_seen_tick=ctx.tick,
                    last_seen_tick=ctx.tick,
                )
                for break_id, f in zip(ids, new, strict=True)
            ],
            batch_size=500,
        )
        if any(b.pk is None for b in created):  # SQLite < 3.35 / other backends
            created = list(Break.objects.filter(break_id__in=ids))
        for brk in created:
            actions.append(
                BreakAction(
                    brk=brk, kind=BreakAction.Kind.OPENED, run=ctx.run, sim_time=ctx.sim_time
                )
            )
        mandates = Mandate.objects.in_bulk({b.mandate_id for b in created if b.mandate_id})
        for brk in created:
            brk.mandate = mandates.get(brk.mandate_id)
            event_rows += _event(events.BREAK_OPENED, brk, ctx, run_id=ctx.run.run_id)
    refreshed: list[Break] = []
    reopened = 0
    for identity, brk in existing.items():
        f = by_identity[identity]
        for name in _REFRESHED:
            attr = f"{name}_id" if name == "instrument" else name
            value = getattr(f, "instrument_id" if name == "instrument" else name)
            if isinstance(value, str) and name in (
                "internal_value",
                "external_value",
                "difference",
                "explanation",
                "reported_id",
            ):
                value = value[
                    : 300 if name == "explanation" else (32 if name == "reported_id" else 64)
                ]
            setattr(brk, attr, value)
        brk.last_run = ctx.run
        brk.last_seen_date = ctx.day
        brk.last_seen_tick = ctx.tick
        brk.times_seen += 1
        if brk.status == BreakStatus.RESOLVED:
            reopened += 1
            actions.append(
                BreakAction(
                    brk=brk,
                    kind=BreakAction.Kind.REOPENED,
                    run=ctx.run,
                    sim_time=ctx.sim_time,
                    note=f"found again at {ctx.cleared_by}",
                    data={
                        "previous_resolution": brk.resolution,
                        "previous_first_seen": brk.first_seen_date.isoformat(),
                    },
                )
            )
            brk.status = BreakStatus.OPEN
            brk.resolution = ""
            brk.resolved_date = None
            brk.escalated = False
            brk.first_seen_date = ctx.day
            brk.first_seen_tick = ctx.tick
            event_rows += _event(events.BREAK_REOPENED, brk, ctx, run_id=ctx.run.run_id)
        refreshed.append(brk)
    if refreshed:
        Break.objects.bulk_update(
            refreshed,
            [
                "classification",
                "explanation",
                "internal_value",
                "external_value",
                "difference",
                "field",
                "detail",
                "candidates",
                "trade_id",
                "trade_ids",
                "match_key",
                "instrument",
                "reported_id",
                "currency",
                "last_run",
                "last_seen_date",
                "last_seen_tick",
                "times_seen",
                "status",
                "resolution",
                "resolved_date",
                "escalated",
                "first_seen_date",
                "first_seen_tick",
            ],
            batch_size=500,
        )
    candidates = scope.filter(status=BreakStatus.OPEN).select_related("mandate")
    if len(identities) < 5000:
        candidates = candidates.exclude(identity__in=identities)
    cleared = [
        b
        for b in candidates
        if b.identity not in by_identity and (covered is None or b.match_key in covered)
    ]
    for brk in cleared:
        brk.status = BreakStatus.RESOLVED
        brk.resolution = f"cleared at {ctx.cleared_by}"
        brk.resolved_date = ctx.day
        actions.append(
            BreakAction(
                brk=brk,
                kind=BreakAction.Kind.AUTO_RESOLVED,
                run=ctx.run,
                sim_time=ctx.sim_time,
                note=brk.resolution,
            )
        )
        event_rows += _event(events.BREAK_CLEARED, brk, ctx, run_id=ctx.run.run_id)
    if cleared:
        Break.objects.bulk_update(
            cleared, ["status", "resolution", "resolved_date"], batch_size=500
        )
    BreakAction.objects.bulk_create(actions, batch_size=1000)
    RunFinding.objects.bulk_create(
        [
            RunFinding(
                run=ctx.run,
                brk=b,
                key=(b.match_key or b.trade_id or b.reported_id or b.currency)[:64],
                break_type=b.break_type,
                field=b.field,
                internal_value=b.internal_value,
                external_value=b.external_value,
                difference=b.difference,
            )
            for b in (*created, *refreshed)
        ],
        batch_size=1000,
    )
    if event_rows:
        events_append_many(event_rows)
    return {
        "opened": len(created),
        "still_open": len(refreshed) - reopened,
        "reopened": reopened,
        "cleared": len(cleared),
    }


def _summary_types(found: Iterable[Found]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for f in found:
        counts[f.break_type] += 1
    return dict(sorted(counts.items()))


# --------------------------------------------------------------------------- position recon


def statement_reconcile(
    statement: CustodianStatement,
    *,
    tick: int | None = None,
    sim_time: dt.datetime | None = None,
) -> ReconRun:
    """Reconcile one custodian statement against the book (see recon.position)."""
    started = time.perf_counter()
    account = statement.custody_account
    mandate = Mandate.objects.filter(custody_account=account).first()
    day = (sim_time or statement.received_at).date()
    newer = ReconRun.objects.filter(
        kind=ReconKind.POSITION,
        custody_account=account,
        status=RunStatus.COMPLETED,
        as_of__gt=statement.as_of,
    ).exists()
    fields = {
        "kind": ReconKind.POSITION,
        "source": RunSource.SIMULATOR if statement.source == "simulator" else RunSource.FILE,
        "mandate": mandate,
        "custody_account": account,
        "statement": statement,
        "as_of": statement.as_of,
        "tick": tick,
        "sim_time": sim_time,
    }
    if mandate is None:
        raise ReconError({"statement": [f"custody account {account} has no mandate"]})
    run = _run_new(status=RunStatus.STALE if newer else RunStatus.COMPLETED, **fields)
    found, summary = _position_findings(statement, mandate)
    summary["late"] = statement.received_at > statement.as_of
    summary["received_after_as_of_minutes"] = round(
        (statement.received_at - statement.as_of).total_seconds() / 60
    )
    if newer:
        # A late statement that arrives after a newer one was reconciled: compared and
        # kept for the record, but it must not clear or reopen what the newer one found.
        summary["stale"] = True
        summary["breaks_by_type"] = _summary_types(found)
    else:
        ctx = RunContext(
            run=run,
            day=day,
            tick=tick,
            sim_time=sim_time,
            cleared_by=f"statement {statement.statement_id}",
        )
        scope = Break.objects.filter(recon=ReconKind.POSITION, custody_account=account)
        summary.update(breaks_apply(ctx, found, scope))
        summary["breaks_by_type"] = _summary_types(found)
    run.summary = summary
    run.duration_ms = round((time.perf_counter() - started) * 1000, 3)
    run.save(update_fields=["summary", "duration_ms"])
    _run_event(run)
    return run


def _run_event(run: ReconRun) -> None:
    events_append_many(
        [
            {
                "kind": events.RUN_COMPLETED,
                "source": book_events.Source.RECON,
                "mandate": run.mandate.code if run.mandate else "",
                "tick": run.tick,
                "sim_time": run.sim_time,
                "payload": {
                    "run_id": run.run_id,
                    "kind": run.kind,
                    "status": run.status,
                    "breaks": sum(run.summary.get("breaks_by_type", {}).values()),
                },
            }
        ]
    )


def _position_findings(
    statement: CustodianStatement, mandate: Mandate
) -> tuple[list[Found], dict[str, Any]]:
    view = book_view(mandate, statement)
    tolerances = tolerances_get()
    account = statement.custody_account
    lines: dict[Any, list] = {}
    for instrument_id, reported_id, quantity, price, market_value in statement.holdings.values_list(
        "instrument_id", "reported_id", "quantity", "price", "market_value"
    ):
        key = instrument_id if instrument_id is not None else f"?{reported_id.strip().upper()}"
        line = lines.setdefault(key, [reported_id, ZERO, price, None])
        line[1] += quantity
        if market_value is not None:
            line[3] = (line[3] or ZERO) + market_value
    unknown = {k for k in lines if isinstance(k, str)}
    if unknown:
        # Reported ids the statement did not resolve: try the master by ISIN, then ticker.
        from book.models import Instrument

        ids = {k[1:] for k in unknown}
        master = {
            **dict(Instrument.objects.filter(ticker__in=ids).values_list("ticker", "pk")),
            **dict(Instrument.objects.filter(isin__in=ids).values_list("isin", "pk")),
        }
        for key in list(unknown):
            pk = master.get(key[1:])
            if pk is not None:
                line = lines.pop(key)
                merged = lines.setdefault(pk, [line[0], ZERO, line[2], None])
                merged[1] += line[1]
    extra = {k for k in lines if not isinstance(k, str) and k not in view.instruments}
    if extra:
        from book.models import Instrument

        for pk, ticker, isin, asset_class in Instrument.objects.filter(pk__in=extra).values_list(
            "pk", "ticker", "isin", "asset_class"
        ):
            view.instruments[pk] = (ticker, isin or "", asset_class)
    found: list[Found] = []
    compared = matched = within_tolerance = explained_by_pending = 0
    mv_prices: dict[int, Decimal] = {}
    if any(line[3] is not None for line in lines.values()) and statement.received_tick:
        from ledger.rates import closing_prices

        mv_prices = closing_prices(
            [k for k, line in lines.items() if not isinstance(k, str) and line[3] is not None],
            statement.received_tick,
        )
    keys = (
        set(lines)
        | {k for k, q in view.expected.items() if q}
        | {k for k, q in view.trade_date.items() if q}
    )
    for key in sorted(keys, key=str):
        compared += 1
        line = lines.get(key)
        custodian = line[1] if line else None
        known = not isinstance(key, str)
        expected = view.expected.get(key, ZERO) if known else ZERO
        trade_date = view.trade_date.get(key, ZERO) if known else ZERO
        ticker, isin, asset_class = view.instruments.get(key, (line[0] if line else "", "", ""))
        tol = tolerances.get(asset_class, Tol())
        diff = (custodian or ZERO) - expected
        if known and view.pending.get(key) and trade_date != expected:
            explained_by_pending += 1
        if diff == 0 or (known and tol.quantity_ok(diff, expected)):
            if diff:
                within_tolerance += 1
            else:
                matched += 1
            if line and line[3] is not None and known and key in mv_prices:
                book_mv = (expected * mv_prices[key]).quantize(Decimal("0.01"))
                mv_diff = line[3] - book_mv
                if abs(mv_diff) > tol.market_value_abs:
                    found.append(
                        Found(
                            identity=f"pos:{account.code}:{key}:value",
                            break_type=BreakType.POSITION_VALUE,
                            classification=Classification.PRICE,
                            explanation="quantities agree; the market values do not",
                            mandate_id=mandate.pk,
                            custody_account_id=account.pk,
                            instrument_id=key,
                            reported_id=line[0],
                            field="market_value",
                            internal_value=_fmt(book_mv),
                            external_value=_fmt(line[3]),
                            difference=_fmt(mv_diff),
                            detail={
                                "book_price": _fmt(mv_prices[key]),
                                "custodian_price": _fmt(line[2]),
                            },
                        )
                    )
            continue
        classification, explanation, candidates = classify_quantity(
            expected=expected,
            custodian=custodian,
            book_has=bool(trade_date) or bool(view.pending.get(key)),
            known=known,
            due_unsettled=view.due_unsettled.get(key, []) if known else [],
            cancelled=view.cancelled.get(key, []) if known else [],
            splits=view.unapplied_splits.get(key, []) if known else [],
        )
        pending = view.pending.get(key, []) if known else []
        trade_ids = sorted({c["trade_id"] for c in candidates if c.get("type") == "trade"})
        found.append(
            Found(
                identity=f"pos:{account.code}:{key}:quantity",
                break_type=BreakType.POSITION_QUANTITY,
                classification=classification,
                explanation=explanation,
                mandate_id=mandate.pk,
                custody_account_id=account.pk,
                instrument_id=key if known else None,
                reported_id=line[0] if line else (isin or ticker),
                trade_id=trade_ids[0] if len(trade_ids) == 1 else "",
                trade_ids=trade_ids,
                field="quantity",
                internal_value=_fmt(expected),
                external_value=_fmt(custodian) if custodian is not None else "",
                difference=_fmt(diff),
                detail={
                    "ticker": ticker,
                    "book_trade_date": _fmt(trade_date),
                    "pending_settlement": _fmt(trade_date - expected),
                    "book_expected_settled": _fmt(expected),
                    "custodian": _fmt(custodian) if custodian is not None else None,
                    "pending_trades": [p["trade_id"] for p in pending[:20]],
                    "statement_id": statement.statement_id,
                    "as_of": statement.as_of.isoformat(),
                },
                candidates=candidates[:20],
            )
        )
    cash_lines = dict(statement.cash.values_list("currency_id", "amount"))
    cash_tol = tolerances.get("cash", Tol()).cash_abs
    for currency in sorted(set(cash_lines) | {c for c, v in view.cash_expected.items() if v}):
        compared += 1
        custodian = cash_lines.get(currency, ZERO)
        expected = view.cash_expected.get(currency, ZERO)
        diff = custodian - expected
        if abs(diff) <= cash_tol:
            matched += 1 if not diff else 0
            within_tolerance += 1 if diff else 0
            continue
        classification, explanation, candidates = classify_cash(
            diff=diff,
            due_unsettled=view.cash_due_unsettled.get(currency, []),
            dividends=view.unbooked_dividends.get(currency, []),
        )
        trade_ids = sorted({c["trade_id"] for c in candidates if c.get("trade_id")})
        found.append(
            Found(
                identity=f"cash:{account.code}:{currency}",
                break_type=BreakType.CASH_BALANCE,
                classification=classification,
                explanation=explanation,
                mandate_id=mandate.pk,
                custody_account_id=account.pk,
                currency=currency,
                trade_id=trade_ids[0] if len(trade_ids) == 1 else "",
                trade_ids=trade_ids,
                field="cash",
                internal_value=_fmt(expected),
                external_value=_fmt(custodian),
                difference=_fmt(diff),
                detail={
                    "statement_id": statement.statement_id,
                    "as_of": statement.as_of.isoformat(),
                },
                candidates=candidates[:20],
            )
        )
    summary = {
        "lines_compared": compared,
        "matched": matched,
        "within_tolerance": within_tolerance,
        "explained_by_pending": explained_by_pending,
        "breaks": len(found),
        "by_classification": dict(
            sorted(
                {
                    c: sum(1 for f in found if f.classification == c)
                    for c in {f.classification for f in found}
                }.items()
            )
        ),
    }
    return found, summary


# --------------------------------------------------------------------------- workflow


def _record(
    breaks: Sequence[Break],
    kind: str,
    event_kind: str,
    actor: Any,
    note: str = "",
    **data: Any,
) -> None:
    name = actor_name(actor)
    BreakAction.objects.bulk_create(
        [BreakAction(brk=b, kind=kind, actor=name, note=note, data=data) for b in breaks]
    )
    rows: list[dict] = []
    for brk in breaks:
        for row in _event(event_kind, brk, None, note=note[:200], **data):
            row["actor"] = actor
            rows.append(row)
    events_append_many(rows)


def _locked(break_ids: Sequence[str]) -> list[Break]:
    if not break_ids:
        raise ReconError({"break_ids": ["name at least one break"]})
    rows = list(
        Break.objects.select_for_update(of=("self",))
        .filter(break_id__in=list(break_ids))
        .select_related("mandate")
        .order_by("id")
    )
    missing = sorted(set(break_ids) - {b.break_id for b in rows})
    if missing:
        raise ReconError({"break_ids": [f"unknown break(s): {', '.join(missing[:10])}"]})
    return rows


@transaction.atomic
def break_assign(break_ids: Sequence[str], *, assignee: Any, actor: Any) -> list[Break]:
    rows = _locked(break_ids)
    for brk in rows:
        brk.assignee = assignee
    Break.objects.bulk_update(rows, ["assignee"])
    who = assignee.get_username() if assignee is not None else ""
    _record(
        rows,
        BreakAction.Kind.ASSIGNED,
        events.BREAK_ASSIGNED,
        actor,
        note=f"assigned to {who}" if who else "unassigned",
        assignee=who,
    )
    return rows


@transaction.atomic
def break_comment(break_ids: Sequence[str], *, text: str, actor: Any) -> list[Break]:
    text = (text or "").strip()
    if not text:
        raise ReconError({"text": ["a comment needs some text"]})
    if len(text) > 4000:
        raise ReconError({"text": ["at most 4,000 characters"]})
    rows = _locked(break_ids)
    _record(rows, BreakAction.Kind.COMMENTED, events.BREAK_COMMENTED, actor, note=text)
    return rows


def _reason(reason_code: str) -> str:
    if reason_code not in ReasonCode.values:
        raise ReconError({"reason_code": [f"must be one of {', '.join(ReasonCode.values)}"]})
    return reason_code


@transaction.atomic
def break_set_reason(break_ids: Sequence[str], *, reason_code: str, actor: Any) -> list[Break]:
    _reason(reason_code)
    rows = _locked(break_ids)
    for brk in rows:
        brk.reason_code = reason_code
    Break.objects.bulk_update(rows, ["reason_code"])
    _record(rows, BreakAction.Kind.REASON, events.BREAK_REASON, actor, reason_code=reason_code)
    return rows


@transaction.atomic
def break_resolve(
    break_ids: Sequence[str], *, reason_code: str, note: str = "", actor: Any
) -> list[Break]:
    _reason(reason_code)
    rows = _locked(break_ids)
    already = [b.break_id for b in rows if b.status == BreakStatus.RESOLVED]
    if already:
        raise ReconError({"break_ids": [f"already resolved: {', '.join(already[:10])}"]})
    day = selectors.today()
    for brk in rows:
        brk.status = BreakStatus.RESOLVED
        brk.reason_code = reason_code
        brk.resolved_date = day
        brk.resolution = (
            f"resolved by {actor_name(actor)}: {note}"
            if note
            else f"resolved by {actor_name(actor)}"
        )[:200]
    Break.objects.bulk_update(rows, ["status", "reason_code", "resolved_date", "resolution"])
    _record(
        rows,
        BreakAction.Kind.RESOLVED,
        events.BREAK_RESOLVED,
        actor,
        note=note,
        reason_code=reason_code,
    )
    return rows


@transaction.atomic
def break_escalate(break_ids: Sequence[str], *, note: str = "", actor: Any) -> list[Break]:
    rows = _locked(break_ids)
    closed = [b.break_id for b in rows if b.status != BreakStatus.OPEN]
    if closed:
        raise ReconError({"break_ids": [f"not open: {', '.join(closed[:10])}"]})
    for brk in rows:
        brk.escalated = True
    Break.objects.bulk_update(rows, ["escalated"])
    _record(rows, BreakAction.Kind.ESCALATED, events.BREAK_ESCALATED, actor, note=note)
    return rows


@transaction.atomic
def break_reopen(break_ids: Sequence[str], *, note: str = "", actor: Any) -> list[Break]:
    rows = _locked(break_ids)
    still_open = [b.break_id for b in rows if b.status == BreakStatus.OPEN]
    if still_open:
        raise ReconError({"break_ids": [f"already open: {', '.join(still_open[:10])}"]})
    for brk in rows:
        brk.status = BreakStatus.OPEN
        brk.resolved_date = None
        brk.resolution = ""
    Break.objects.bulk_update(rows, ["status", "resolved_date", "resolution"])
    _record(rows, BreakAction.Kind.REOPENED, events.BREAK_REOPENED, actor, note=note)
    return rows


BULK_ACTIONS: dict[str, Callable[..., list[Break]]] = {
    "assign": break_assign,
    "comment": break_comment,
    "reason": break_set_reason,
    "resolve": break_resolve,
    "escalate": break_escalate,
    "reopen": break_reopen,
}


def escalations_run(*, day: dt.date, tick: int | None = None) -> int:
    """Escalate open breaks older than the threshold (business days), once each."""
    threshold = settings_get().escalate_after_days
    due = [
        b.break_id
        for b in Break.objects.filter(status=BreakStatus.OPEN, escalated=False).only(
            "break_id", "first_seen_date"
        )
        if business_days_between(b.first_seen_date, day) >= threshold
    ]
    if due:
        break_escalate(due, note=f"open {threshold}+ business days", actor="system")
    return len(due)


# --------------------------------------------------------------------------- trade recon


def trade_rules() -> Any:
    from .engine import TradeRules

    s = settings_get()
    return TradeRules(
        price_tolerance=s.price_tolerance,
        time_tolerance_ms=s.time_tolerance_ms,
        pnl_tolerance=s.pnl_tolerance,
        check_side=s.check_side,
        check_instrument=s.check_instrument,
        check_pnl=s.check_pnl,
    )


def _rules_json(rules: Any) -> dict[str, Any]:
    return {
        "price_tolerance": str(rules.price_tolerance),
        "time_tolerance_ms": rules.time_tolerance_ms,
        "pnl_tolerance": str(rules.pnl_tolerance),
        "check_side": rules.check_side,
        "check_instrument": rules.check_instrument,
        "check_pnl": rules.check_pnl,
    }


def _engine_breaks(result: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in result.breaks_rows()]


def trade_recon_tick(*, tick: int, sim_time: dt.datetime, day: dt.date) -> ReconRun | None:
    """Trade recon for what this tick brought: confirmations received, and executions
    whose confirmation fell due. Runs only when there is something to compare."""
    from book.models import BrokerConfirmation

    from . import engine
    from .trades import due_keys, inputs_for

    started = time.perf_counter()
    grace = settings_get().confirmation_grace_ticks
    arrived = list(BrokerConfirmation.objects.filter(received_tick=tick).select_related("broker"))
    keys = due_keys(tick, grace)
    if not arrived and not keys:
        return None
    inputs = inputs_for(keys, arrived)
    rules = trade_rules()
    result = engine.reconcile(
        engine.frame_from_rows(inputs.executions, kind="executions"),
        engine.frame_from_rows(inputs.confirmations, kind="confirmations"),
        engine.frame_from_rows(inputs.pnl, kind="pnl") if inputs.pnl else None,
        rules,
    )
    run = _run_new(
        kind=ReconKind.TRADE,
        source=RunSource.SIMULATOR,
        status=RunStatus.COMPLETED,
        tick=tick,
        sim_time=sim_time,
        as_of=sim_time,
        rules=_rules_json(rules),
    )
    found = []
    for row in _engine_breaks(result):
        info = inputs.keys.get(row["trade_id"])
        trade_ids = sorted({t.trade_id for t in info.trades}) if info else []
        if not trade_ids and row["trade_id"].startswith("T-"):
            trade_ids = [row["trade_id"]]
        found.append(
            Found(
                identity=f"trade:{row['trade_id']}:{row['break_type']}",
                break_type=row["break_type"],
                classification=Classification.TRADE,
                explanation=_TRADE_EXPLANATIONS.get(row["break_type"], ""),
                mandate_id=info.mandate_id if info else None,
                instrument_id=info.instrument_id if info else None,
                trade_id=trade_ids[0] if len(trade_ids) == 1 else "",
                match_key=row["trade_id"],
                trade_ids=trade_ids,
                field=row.get("field") or "",
                internal_value=str(row.get("internal_value") or ""),
                external_value=str(row.get("external_value") or ""),
                difference=str(row.get("difference") or ""),
                detail={
                    "fills": [f.execution_id for f in info.fills][:50] if info else [],
                    "order_ids": info.order_ids if info else [],
                    "confirmations": [
                        c["confirmation_id"]
                        for c in inputs.confirmations
                        if c["trade_id"] == row["trade_id"]
                    ][:20],
                },
            )
        )
    ctx = RunContext(run=run, day=day, tick=tick, sim_time=sim_time, cleared_by=f"run {run.run_id}")
    scope = Break.objects.filter(
        recon=ReconKind.TRADE, source=RunSource.SIMULATOR, match_key__in=list(inputs.keys)
    )
    summary = dict(result.summary)
    summary.update(breaks_apply(ctx, found, scope))
    summary["breaks_by_type"] = _summary_types(found)
    summary["keys"] = len(inputs.keys)
    summary["confirmations_arrived"] = len(arrived)
    run.summary = _jsonable(summary)
    run.duration_ms = round((time.perf_counter() - started) * 1000, 3)
    run.save(update_fields=["summary", "duration_ms"])
    _run_event(run)
    return run


_TRADE_EXPLANATIONS = {
    BreakType.QUANTITY_MISMATCH: "the broker confirmed another quantity",
    BreakType.PRICE_MISMATCH: "the broker's price differs beyond the tolerance",
    BreakType.TIMESTAMP_DRIFT: "the broker's execution time drifts beyond the tolerance",
    BreakType.PNL_INCONSISTENT: "the booked consideration does not match the executions",
    BreakType.MISSING_CONFIRMATION: "no confirmation after the broker's lag and the grace",
    BreakType.UNEXPECTED_CONFIRMATION: "a confirmation for nothing we executed",
    BreakType.DUPLICATE_CONFIRMATION: "the broker confirmed it more than once",
    BreakType.INSTRUMENT_MISMATCH: "the broker confirmed another instrument",
    BreakType.SIDE_MISMATCH: "the broker confirmed the other side",
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def file_run_create(
    *,
    executions: Any,
    confirmations: Any,
    pnl: Any = None,
    names: dict[str, str] | None = None,
    rules: Any = None,
    actor: Any = None,
) -> ReconRun:
    """Trade recon of uploaded files (paths or binary file objects). A whole-file problem
    (empty, header only, wrong header) raises ReconError naming the file, before anything
    is written; malformed rows are rejects, kept on the run. The breaks join the queue
    (source `file`): the same trade id and break type in a later file run is the same
    break; a trade id a later run covers without the break clears it."""
    from . import engine

    names = names or {}
    started = time.perf_counter()
    rules = rules or trade_rules()
    try:
        execs, rejects_e = engine.read_executions(
            executions, name=names.get("executions", "executions.csv")
        )
        confs, rejects_c = engine.read_confirmations(
            confirmations, name=names.get("confirmations", "broker_confirmations.csv")
        )
        if pnl is not None:
            pnl_frame, rejects_p = engine.read_pnl(pnl, name=names.get("pnl", "pnl_snapshot.csv"))
        else:
            pnl_frame, rejects_p = None, []
    except engine.ReconFileError as exc:
        field_name = {
            names.get("executions", "executions.csv"): "executions",
            names.get("confirmations", "broker_confirmations.csv"): "confirmations",
            names.get("pnl", "pnl_snapshot.csv"): "pnl",
        }.get(exc.file, "file")
        raise ReconError({field_name: [str(exc)]}) from exc
    result = engine.reconcile(execs, confs, pnl_frame, rules)
    rejects = [[r.file, r.line, r.reason] for r in (*rejects_e, *rejects_c, *rejects_p)]
    from simulator.services import clock_get

    clock = clock_get()
    day = selectors.today()
    with transaction.atomic():
        run = _run_new(
            kind=ReconKind.TRADE,
            source=RunSource.FILE,
            status=RunStatus.COMPLETED,
            tick=clock.last_tick or None,
            sim_time=clock.last_tick_sim_time,
            actor=actor_name(actor),
            files={k: v for k, v in names.items()},
            rules=_rules_json(rules),
            rejects=rejects,
        )
        found = [
            Found(
                identity=f"file:{row['trade_id']}:{row['break_type']}",
                break_type=row["break_type"],
                classification=Classification.TRADE,
                explanation=_TRADE_EXPLANATIONS.get(row["break_type"], ""),
                trade_id=str(row["trade_id"])[:32],
                match_key=str(row["trade_id"])[:32],
                trade_ids=[str(row["trade_id"])[:32]],
                field=row.get("field") or "",
                internal_value=str(row.get("internal_value") or ""),
                external_value=str(row.get("external_value") or ""),
                difference=str(row.get("difference") or ""),
            )
            for row in _engine_breaks(result)
        ]
        ctx = RunContext(
            run=run,
            day=day,
            tick=run.tick,
            sim_time=clock.last_tick_sim_time,
            cleared_by=f"file run {run.run_id}",
        )
        scope = Break.objects.filter(recon=ReconKind.TRADE, source=RunSource.FILE)
        summary = dict(result.summary)
        summary.update(breaks_apply(ctx, found, scope, covered=set(result.trade_ids())))
        summary["breaks_by_type"] = _summary_types(found)
        summary["rejects"] = len(rejects)
        run.summary = _jsonable(summary)
        run.duration_ms = round((time.perf_counter() - started) * 1000, 3)
        run.save(update_fields=["summary", "duration_ms"])
        _run_event(run)
    return run
