"""Reads of the recon: the break queue with its filters, one break with its history and both
sides, the summary (open breaks by type, age bucket and mandate; last runs; matched and
unmatched counts), runs."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from book.calendar import add_business_days, business_days_between

from .models import AGE_BUCKETS, Break, BreakStatus, ReconRun, age_bucket

BUCKET_RANGES: dict[str, tuple[int, int | None]] = {
    "0-1": (0, 1),
    "2-3": (2, 3),
    "4-5": (4, 5),
    "6-10": (6, 10),
    ">10": (11, None),
}


def today() -> dt.date:
    from simulator.services import clock_get

    clock = clock_get()
    return clock.last_tick_sim_time.date() if clock.last_tick_sim_time else timezone.localdate()


def break_age(brk: Break, on: dt.date) -> int:
    """Business days a break has been open (to its resolution, if resolved)."""
    end = brk.resolved_date if brk.status == BreakStatus.RESOLVED and brk.resolved_date else on
    return max(0, business_days_between(brk.first_seen_date, max(end, brk.first_seen_date)))


def _age_q(bucket: str, on: dt.date) -> Q:
    """Open breaks whose age (business days, from first seen) is in `bucket`."""
    low, high = BUCKET_RANGES[bucket]
    q = Q(first_seen_date__lte=add_business_days(on, -low)) if low else Q()
    if high is not None:
        q &= Q(first_seen_date__gt=add_business_days(on, -(high + 1)))
    return q


def break_list(
    *,
    break_type: str | None = None,
    status: str | None = None,
    mandate: str | None = None,
    age: str | None = None,
    trade_id: str | None = None,
    recon: str | None = None,
    classification: str | None = None,
    assignee: str | None = None,
    escalated: bool | None = None,
    on: dt.date | None = None,
) -> QuerySet[Break]:
    qs = Break.objects.select_related("mandate", "instrument", "assignee", "custody_account")
    if break_type:
        qs = qs.filter(break_type=break_type)
    if status:
        qs = qs.filter(status=status)
    if mandate:
        qs = qs.filter(mandate__code=mandate)
    if recon:
        qs = qs.filter(recon=recon)
    if classification:
        qs = qs.filter(classification=classification)
    if assignee:
        qs = qs.filter(assignee__username=assignee)
    if escalated is not None:
        qs = qs.filter(escalated=escalated)
    if trade_id:
        # trade_ids is a JSON list: matched as text, quotes included, on both databases.
        qs = qs.filter(
            Q(trade_id=trade_id) | Q(match_key=trade_id) | Q(trade_ids__icontains=f'"{trade_id}"')
        )
    if age:
        qs = qs.filter(_age_q(age, on or today()))
    return qs.order_by("-escalated", "first_seen_date", "id")


def break_detail(break_id: str) -> Break:
    return (
        Break.objects.select_related(
            "mandate", "instrument", "assignee", "custody_account", "first_run", "last_run"
        )
        .prefetch_related("actions")
        .get(break_id=break_id)
    )


def open_break_counts(on: dt.date | None = None) -> dict[tuple[str, str], int]:
    """{(break type, age bucket): open breaks}."""
    on = on or today()
    counts: Counter = Counter()
    rows = (
        Break.objects.filter(status=BreakStatus.OPEN)
        .values("break_type", "first_seen_date")
        .annotate(n=Count("id"))
    )
    for row in rows:
        age = max(0, business_days_between(row["first_seen_date"], max(on, row["first_seen_date"])))
        counts[(row["break_type"], age_bucket(age))] += row["n"]
    return dict(counts)


def recon_summary(on: dt.date | None = None) -> dict[str, Any]:
    on = on or today()
    by_type_bucket = open_break_counts(on)
    by_type: dict[str, int] = defaultdict(int)
    by_bucket: dict[str, int] = {b: 0 for b in AGE_BUCKETS}
    for (break_type, bucket), n in by_type_bucket.items():
        by_type[break_type] += n
        by_bucket[bucket] += n
    open_qs = Break.objects.filter(status=BreakStatus.OPEN)
    by_mandate = {
        (row["mandate__code"] or "-"): row["n"]
        for row in open_qs.values("mandate__code").annotate(n=Count("id")).order_by("mandate__code")
    }
    by_classification = {
        row["classification"]: row["n"]
        for row in open_qs.values("classification").annotate(n=Count("id"))
    }
    runs = list(ReconRun.objects.select_related("mandate", "statement").order_by("-id")[:10])
    totals = {"position": {"matched": 0, "breaks": 0}, "trade": {"matched": 0, "breaks": 0}}
    for run in ReconRun.objects.order_by("-id").values("kind", "summary")[:200]:
        summary = run["summary"] or {}
        totals[run["kind"]]["matched"] += int(summary.get("matched", 0) or 0)
        totals[run["kind"]]["breaks"] += sum((summary.get("breaks_by_type") or {}).values())
    return {
        "as_of": on,
        "open": sum(by_type.values()),
        "escalated": open_qs.filter(escalated=True).count(),
        "by_type": dict(sorted(by_type.items())),
        "by_age_bucket": by_bucket,
        "by_type_and_age": {
            t: {b: by_type_bucket.get((t, b), 0) for b in AGE_BUCKETS} for t in sorted(by_type)
        },
        "by_mandate": by_mandate,
        "by_classification": dict(sorted(by_classification.items())),
        "last_runs": runs,
        "recent_runs_totals": totals,
    }


def run_list(*, kind: str | None = None, source: str | None = None) -> QuerySet[ReconRun]:
    qs = ReconRun.objects.select_related("mandate", "statement", "custody_account")
    if kind:
        qs = qs.filter(kind=kind)
    if source:
        qs = qs.filter(source=source)
    return qs.order_by("-id")


def run_detail(run_id: str) -> ReconRun:
    return ReconRun.objects.select_related("mandate", "statement", "custody_account").get(
        run_id=run_id
    )


def run_breaks(run: ReconRun) -> QuerySet[Break]:
    """The breaks a run found (opened, saw again or reopened)."""
    return (
        Break.objects.filter(findings__run=run)
        .select_related("mandate", "instrument")
        .order_by("match_key", "break_type", "id")
    )


def breaks_of_trade(trade_id: str) -> list[Break]:
    return list(break_list(trade_id=trade_id))
