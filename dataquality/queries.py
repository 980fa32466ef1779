"""Small reads data quality's API, pages, admin and metrics need beside
`dataquality.selectors`: who can work the alert queue, the active alerts counted by rule
and severity (the metrics collector and the queue's live counts), which mandates' NAV
inputs an alert touches, the rule codes and the sources alerts name."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet

from opssuite import roles

from .checks import DEFAULT_RULES
from .models import ACTIVE_STATUSES, Alert, AlertAction

# Every check's code, in the engine's order of families (price, fx, holding, curve, nav).
RULE_CODES: tuple[str, ...] = tuple(dict.fromkeys(r.code for r in DEFAULT_RULES))
# The sources a check run evaluates (CheckResult.source): the heat map's columns.
RESULT_SOURCES: tuple[str, ...] = ("primary", "secondary", "custodian", "curve", "book")
SEVERITIES: tuple[str, ...] = ("critical", "warning", "info")


def queue_workers() -> QuerySet:
    """Active users who may work the alert queue (operator or admin role), by username."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[roles.OPERATOR, roles.ADMIN]))
        .distinct()
        .order_by("username")
    )


def alert_sources() -> list[str]:
    """Every source an alert may name: the checked sources, and any other an alert names
    (a curve's tenor, say). An unknown one is a 400 at the API, not an empty list."""
    named = Alert.objects.exclude(source="").values_list("source", flat=True).distinct()
    return sorted({*RESULT_SOURCES, *named})


def active_alert_counts() -> dict[tuple[str, str], int]:
    """Active alerts (open, acknowledged, snoozed) by (rule, severity): one query."""
    rows = (
        Alert.objects.filter(status__in=ACTIVE_STATUSES)
        .order_by()
        .values("rule", "severity")
        .annotate(n=Count("id"))
    )
    return {(r["rule"], r["severity"]): r["n"] for r in rows}


def active_status_counts() -> dict[str, int]:
    """Active alerts by status (open, acknowledged, snoozed)."""
    rows = (
        Alert.objects.filter(status__in=ACTIVE_STATUSES)
        .order_by()
        .values("status")
        .annotate(n=Count("id"))
    )
    counts = {str(s): 0 for s in ACTIVE_STATUSES}
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


def alert_history(alert: Alert) -> list[AlertAction]:
    """Everything that happened to an alert, oldest first (prefetched by alert_detail)."""
    return sorted(alert.actions.all(), key=lambda a: a.id)


def mandates_touched(alert: Alert) -> list[str]:
    """The codes of the mandates whose NAV inputs this alert touches (what the NAV gate
    joins on): a critical one among them blocks their NAV while it is active."""
    from book.models import Mandate

    from .selectors import mandate_inputs

    keys = {row.key for row in alert.input_rows.all()} or set(alert.inputs or [])
    return [
        m.code
        for m in Mandate.objects.filter(active=True).select_related("custody_account")
        if keys & mandate_inputs(m)
    ]


def tickers(instrument_ids: Iterable[int]) -> dict[int, str]:
    """Ticker by instrument id (for entities that name an instrument by id)."""
    from book.models import Instrument

    ids = {i for i in instrument_ids if i}
    if not ids:
        return {}
    return dict(Instrument.objects.filter(pk__in=ids).values_list("pk", "ticker"))


def params_text(params: dict[str, Any]) -> str:
    """A rule's params on one line: `tolerance_bp 20 · critical_multiple 5`."""
    return " · ".join(f"{k} {v}" for k, v in sorted((params or {}).items()))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def params_errors(code: str, params: dict[str, Any]) -> list[str]:
    """What is wrong with `params` for rule `code`, against the engine's default params:
    an unknown name, or a value of another kind (a number where a number is due, and so
    on). The engine reads them at the next tick; a bad one must be refused here, not fail
    that tick."""
    known: dict[str, Any] = {}
    for rule in DEFAULT_RULES:
        if rule.code == code:
            known = {**dict(rule.params), **known}
    problems = []
    for name, value in sorted((params or {}).items()):
        if name not in known:
            allowed = ", ".join(sorted(known)) or "none"
            problems.append(f"{name}: not a param of {code} (its params: {allowed})")
            continue
        want, got = _kind(known[name]), _kind(value)
        if want != got:
            problems.append(f"{name}: must be {want}, got {value!r}")
        elif got == "a number" and not math.isfinite(float(value)):
            problems.append(f"{name}: must be a finite number")
    return problems
