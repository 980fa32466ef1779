"""Reads of data quality: the NAV gate other modules call, the late-alert selector
reporting uses, the alert queue, the dashboard summary (health per source, heat map,
timeline) and the runs."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from book.models import CashBalance, Instrument, Mandate, Position

from .models import ACTIVE_STATUSES, Alert, AlertStatus, CheckResult, CheckRun, DQRule

ANCHOR = "USD"


def mandate_inputs(mandate: Mandate) -> set[str]:
    """The inputs a mandate's NAV depends on, as the keys alerts record: each held
    instrument and its prices from both vendors, the FX it needs to reach its base
    currency (through USD), its custodian feed, the curve of the bonds it holds, and the
    mandate itself."""
    keys = {f"mandate:{mandate.code}", f"custodian:{mandate.custody_account.code}"}
    currencies = {mandate.base_currency_id}
    bonds: set[str] = set()
    held = (
        Position.objects.filter(mandate=mandate)
        .exclude(quantity=0)
        .values_list("instrument_id", "instrument__currency_id", "instrument__asset_class")
    )
    for instrument_id, currency, asset_class in held:
        keys |= {
            f"instrument:{instrument_id}",
            f"price:{instrument_id}:primary",
            f"price:{instrument_id}:secondary",
            f"holding:{mandate.code}:{instrument_id}",
        }
        currencies.add(currency)
        if asset_class in ("govt_bond", "corp_bond"):
            bonds.add(currency)
    currencies |= set(
        CashBalance.objects.filter(mandate=mandate)
        .exclude(settled=0, projected=0)
        .values_list("currency_id", flat=True)
    )
    if currencies - {mandate.base_currency_id}:
        for ticker, base, quote in Instrument.objects.filter(asset_class="fx").values_list(
            "ticker", "base_currency_id", "currency_id"
        ):
            legs = {base, quote}
            if ANCHOR in legs and legs - {ANCHOR} <= currencies or legs <= currencies:
                keys |= {f"fx:{ticker}", f"fx:{ticker}:primary", f"fx:{ticker}:secondary"}
    keys |= {f"curve:{c}" for c in bonds}
    return keys


def _touching(keys: set[str]) -> QuerySet[Alert]:
    return Alert.objects.filter(input_rows__key__in=keys).distinct()


def _covering(at: dt.datetime) -> Q:
    return Q(window_start__lte=at) & (Q(window_end__isnull=True) | Q(window_end__gte=at))


@dataclass(frozen=True)
class GateDecision:
    mandate: str
    at: dt.datetime
    publish: bool
    blocking: list[Alert] = field(default_factory=list)
    inputs: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "mandate": self.mandate,
            "at": self.at,
            "publish": self.publish,
            "inputs_checked": self.inputs,
            "blocking": [
                {
                    "alert_id": a.alert_id,
                    "rule": a.rule,
                    "severity": a.severity,
                    "entity": f"{a.entity_kind}:{a.entity_key}",
                    "source": a.source,
                    "message": a.message,
                    "raised_sim_time": a.raised_sim_time,
                }
                for a in self.blocking
            ],
        }


def nav_gate(mandate: Mandate, at: dt.datetime) -> GateDecision:
    """May this mandate's NAV for time `at` publish? No while a critical alert on one of its
    inputs is active (open, acknowledged or snoozed: snoozing quiets an alert, it does not
    make the data right) and covers `at`; alerts on other inputs never block."""
    keys = mandate_inputs(mandate)
    blocking = list(
        _touching(keys)
        .filter(_covering(at), severity="critical", status__in=ACTIVE_STATUSES)
        .order_by("raised_sim_time", "id")
    )
    return GateDecision(
        mandate=mandate.code, at=at, publish=not blocking, blocking=blocking, inputs=len(keys)
    )


def alerts_raised_after(
    mandate: Mandate,
    *,
    at: dt.datetime,
    after: dt.datetime,
    severities: tuple[str, ...] | None = None,
) -> QuerySet[Alert]:
    """Alerts touching this mandate's inputs for time `at` (their window covers it) that
    were raised after `after` (sim time): what a report published at `after` did not know."""
    qs = _touching(mandate_inputs(mandate)).filter(_covering(at), raised_sim_time__gt=after)
    if severities:
        qs = qs.filter(severity__in=severities)
    return qs.order_by("raised_sim_time", "id")


def alert_list(
    *,
    status: str | None = None,
    severity: str | None = None,
    rule: str | None = None,
    source: str | None = None,
    instrument: str | None = None,
    mandate: str | None = None,
    active: bool | None = None,
    assignee: str | None = None,
) -> QuerySet[Alert]:
    qs = Alert.objects.select_related("instrument", "mandate", "assignee")
    if status:
        qs = qs.filter(status=status)
    if active is True:
        qs = qs.filter(status__in=ACTIVE_STATUSES)
    elif active is False:
        qs = qs.filter(status=AlertStatus.RESOLVED)
    if severity:
        qs = qs.filter(severity=severity)
    if rule:
        qs = qs.filter(rule=rule)
    if source:
        qs = qs.filter(source=source)
    if instrument:
        qs = qs.filter(instrument__ticker=instrument)
    if mandate:
        m = Mandate.objects.filter(code=mandate).select_related("custody_account").first()
        qs = qs.filter(input_rows__key__in=mandate_inputs(m)).distinct() if m else qs.none()
    if assignee:
        qs = qs.filter(assignee__username=assignee)
    return qs.order_by("-raised_sim_time", "-id")


def alert_detail(alert_id: str) -> Alert:
    return (
        Alert.objects.select_related("instrument", "mandate", "assignee")
        .prefetch_related("actions", "input_rows")
        .get(alert_id=alert_id)
    )


SEVERITY_WEIGHT = {"info": 0.0, "warning": 1.0, "critical": 5.0}


def dq_summary(*, runs: int = 26) -> dict[str, Any]:
    """Open alerts by severity, check and source; a health score per source over the last
    `runs` runs (share of evaluations that passed, weighted down by open alerts); the last
    run; the sources x checks heat map of failures."""
    active = Alert.objects.filter(status__in=ACTIVE_STATUSES)
    by_severity = {s: 0 for s in ("critical", "warning", "info")}
    for row in active.values("severity").annotate(n=Count("id")):
        by_severity[row["severity"]] = row["n"]
    by_rule = dict(
        sorted((r["rule"], r["n"]) for r in active.values("rule").annotate(n=Count("id")))
    )
    by_source = dict(
        sorted(
            ((r["source"] or "-"), r["n"]) for r in active.values("source").annotate(n=Count("id"))
        )
    )
    last = CheckRun.objects.order_by("-tick").first()
    since = (last.tick - runs + 1) if last else 0
    results = (
        CheckResult.objects.filter(tick__gte=since)
        .values("source", "rule")
        .annotate(evaluated=Sum("evaluated"), failed=Sum("failed"))
    )
    heat: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in results:
        source = row["source"] or "-"
        heat[source][row["rule"]] = {"evaluated": row["evaluated"], "failed": row["failed"]}
        totals[source][0] += row["evaluated"]
        totals[source][1] += row["failed"]
    penalty = Counter()
    for row in active.values("source", "severity"):
        penalty[row["source"] or "-"] += SEVERITY_WEIGHT[row["severity"]]
    health = {}
    for source, (evaluated, failed) in sorted(totals.items()):
        passed = 1.0 - (failed / evaluated) if evaluated else 1.0
        health[source] = round(max(0.0, 100.0 * passed - penalty[source]), 1)
    return {
        "open": sum(by_severity.values()),
        "by_severity": by_severity,
        "by_rule": by_rule,
        "by_source": by_source,
        "health": health,
        "heat_map": {s: dict(sorted(r.items())) for s, r in sorted(heat.items())},
        "last_run": last,
        "rules": DQRule.objects.count(),
    }


def alert_timeline(*, ticks: int = 130) -> list[dict[str, Any]]:
    """Alerts raised per tick and severity over the last `ticks` ticks."""
    last = CheckRun.objects.order_by("-tick").values_list("tick", flat=True).first() or 0
    rows = (
        Alert.objects.filter(first_seen_tick__gt=last - ticks)
        .values("first_seen_tick", "severity")
        .annotate(n=Count("id"))
        .order_by("first_seen_tick")
    )
    out: dict[int, dict[str, int]] = defaultdict(lambda: {"critical": 0, "warning": 0, "info": 0})
    for row in rows:
        out[row["first_seen_tick"]][row["severity"]] = row["n"]
    return [{"tick": t, **counts} for t, counts in sorted(out.items())]


def run_list() -> QuerySet[CheckRun]:
    return CheckRun.objects.order_by("-tick")


def check_trend(rule: str, *, ticks: int = 260) -> list[dict[str, Any]]:
    """One check's evaluated / failed counts per tick: the trend a stored run allows."""
    last = CheckRun.objects.order_by("-tick").values_list("tick", flat=True).first() or 0
    return list(
        CheckResult.objects.filter(rule=rule, tick__gt=last - ticks)
        .values("tick")
        .annotate(evaluated=Sum("evaluated"), failed=Sum("failed"))
        .order_by("tick")
    )
