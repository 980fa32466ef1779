"""Small reads the recon's API and pages need beside `recon.selectors`: a break's history
with the runs that wrote it, who can work the queue, which trade ids the book knows, and
the rows of a run's breaks.csv."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from opssuite import roles

from .engine.rules import BREAK_COLUMNS
from .models import Break, BreakAction, ReconRun


def break_history(brk: Break) -> list[BreakAction]:
    """Everything that happened to a break, oldest first, with the run that did it."""
    return list(brk.actions.select_related("run").order_by("id"))


def queue_workers() -> QuerySet:
    """Active users who may work the break queue (operator or admin role), by username."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[roles.OPERATOR, roles.ADMIN]))
        .distinct()
        .order_by("username")
    )


def trades_known(trade_ids: Iterable[str]) -> set[str]:
    """The trade ids among `trade_ids` that are trades in the book (they have a page)."""
    from book.models import Trade

    wanted = {t for t in trade_ids if t}
    if not wanted:
        return set()
    return set(Trade.objects.filter(trade_id__in=wanted).values_list("trade_id", flat=True))


def run_csv_rows(run: ReconRun) -> list[list[Any]]:
    """The rows of a run's breaks.csv (`BREAK_COLUMNS`) with the values as that run found
    them, sorted by trade id and break type in Python (no dependence on collation)."""
    rows = [
        list(row)
        for row in run.findings.values_list(
            "key", "break_type", "field", "internal_value", "external_value", "difference"
        )
    ]
    rows.sort(key=lambda row: (row[0], row[1]))
    return rows


CSV_COLUMNS = BREAK_COLUMNS
