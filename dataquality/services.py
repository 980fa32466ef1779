"""Writes of data quality: rules (versioned), check runs and their per-rule results, the
deduplicated alerts (raise, refresh, auto-resolve) and the operators' actions on them.
Every write of a DQ record goes through here.

The checks themselves are dataquality.checks (pure, vectorised); dataquality.inputs builds
their frames from the tick's rows; `tick_check` runs them and calls `alerts_apply`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from book import events as book_events
from book.services.events import actor_name, events_append_many
from book.services.sequences import ids_next

from . import events
from .checks import DEFAULT_RULES, Finding, Rule
from .models import (
    ACTIVE_STATUSES,
    Alert,
    AlertAction,
    AlertInput,
    AlertStatus,
    CheckResult,
    CheckRun,
    DQRule,
)


class DQError(ValidationError):
    """A request data quality refuses: a 400 naming the field at the API."""


# --------------------------------------------------------------------------- rules


def rules_ensure() -> None:
    """Every default rule exists as a row (edited rows are kept as they are)."""
    have = set(DQRule.objects.values_list("code", "asset_class"))
    missing = [r for r in DEFAULT_RULES if (r.code, r.asset_class) not in have]
    if missing:
        DQRule.objects.bulk_create(
            [
                DQRule(
                    code=r.code,
                    asset_class=r.asset_class,
                    version=r.version,
                    severity=r.severity,
                    params=dict(r.params),
                    enabled=r.enabled,
                )
                for r in missing
            ],
            ignore_conflicts=True,
        )


def rules_current() -> list[Rule]:
    """The rules as the engine takes them, from the rows (the admin's edits included)."""
    rules_ensure()
    return [
        Rule(
            code=row.code,
            version=row.version,
            asset_class=row.asset_class,
            severity=row.severity,
            params=dict(row.params),
            enabled=row.enabled,
        )
        for row in DQRule.objects.order_by("code", "asset_class")
    ]


@transaction.atomic
def rule_update(
    rule: DQRule,
    *,
    severity: str | None = None,
    params: dict | None = None,
    enabled: bool | None = None,
    actor: Any = None,
) -> DQRule:
    """Change a rule: validated against the engine's Rule, version bumped, event recorded."""
    from .queries import params_errors

    row = DQRule.objects.select_for_update().get(pk=rule.pk)
    problems = params_errors(row.code, params or {})
    if problems:
        raise DQError({"params": problems})
    new_params = {**row.params, **(params or {})}
    new_enabled = row.enabled if enabled is None else enabled
    if (severity or row.severity, new_params, new_enabled) == (
        row.severity,
        row.params,
        row.enabled,
    ):
        return row  # nothing changed: no new version
    try:
        Rule(
            code=row.code,
            version=row.version + 1,
            asset_class=row.asset_class,
            severity=severity or row.severity,
            params=new_params,
            enabled=new_enabled,
        )
    except (TypeError, ValueError) as exc:
        raise DQError({"params": [str(exc)]}) from exc
    row.severity = severity or row.severity
    row.params = new_params
    if enabled is not None:
        row.enabled = enabled
    row.version += 1
    row.updated_by = actor_name(actor)
    row.save()
    events_append_many(
        [
            {
                "kind": events.RULE_CHANGED,
                "source": book_events.Source.DATAQUALITY,
                "actor": actor,
                "payload": {
                    "rule": row.code,
                    "asset_class": row.asset_class,
                    "version": row.version,
                    "severity": row.severity,
                    "params": row.params,
                    "enabled": row.enabled,
                },
            }
        ]
    )
    return row


# --------------------------------------------------------------------------- alerts


def _key(finding: Finding) -> str:
    return "|".join(finding.dedup_key)


def _float(value: float) -> float | None:
    return None if value is None or value != value else float(value)  # NaN -> None


def _entity_fk(finding: Finding, mandates: dict[str, int]) -> dict[str, int | None]:
    instrument_id = None
    mandate_id = None
    if finding.entity_kind == "instrument":
        instrument_id = int(finding.entity_key)
    elif finding.entity_kind == "holding":
        code, _, instrument = finding.entity_key.partition(":")
        mandate_id = mandates.get(code)
        instrument_id = int(instrument) if instrument.isdigit() else None
    elif finding.entity_kind == "mandate":
        mandate_id = mandates.get(finding.entity_key)
    return {"instrument_id": instrument_id, "mandate_id": mandate_id}


def _event_rows(
    kind: str,
    alerts: Iterable[Alert],
    tick: int | None,
    sim_time: Any,
    actor: Any = None,
    **payload: Any,
) -> list[dict]:
    return [
        {
            "kind": kind,
            "source": book_events.Source.DATAQUALITY,
            "actor": actor,
            "tick": tick,
            "sim_time": sim_time,
            "instrument": str(a.instrument_id or ""),
            "payload": {
                "alert_id": a.alert_id,
                "rule": a.rule,
                "severity": a.severity,
                "entity": f"{a.entity_kind}:{a.entity_key}",
                "source": a.source,
                **payload,
            },
        }
        for a in alerts
    ]


def alerts_apply(
    findings: Sequence[Finding], *, tick: int, sim_time: dt.datetime
) -> dict[str, int]:
    """One run's findings into the alerts: a new condition raises an alert, a persisting
    one refreshes its alert (one alert, not one a tick), an active alert whose condition
    is gone resolves itself. Snoozed alerts stay quiet until their tick, then reopen if
    the condition persists."""
    from book.models import Mandate

    by_key: dict[str, Finding] = {}
    for finding in findings:
        by_key.setdefault(_key(finding), finding)
    active = {a.dedup_key: a for a in Alert.objects.filter(status__in=ACTIVE_STATUSES)}
    mandates = dict(Mandate.objects.values_list("code", "pk"))
    new_keys = [k for k in by_key if k not in active]
    raised: list[Alert] = []
    if new_keys:
        ids = ids_next("A", len(new_keys))
        rows = []
        for alert_id, key in zip(ids, new_keys, strict=True):
            f = by_key[key]
            rows.append(
                Alert(
                    alert_id=alert_id,
                    dedup_key=key,
                    rule=f.rule,
                    rule_version=f.rule_version,
                    severity=f.severity,
                    entity_kind=f.entity_kind,
                    entity_key=f.entity_key[:64],
                    source=f.source,
                    asset_class=f.asset_class,
                    value=_float(f.value),
                    value_source=f.value_source,
                    reference=_float(f.reference),
                    reference_source=f.reference_source,
                    tolerance=_float(f.tolerance),
                    measured=_float(f.measured),
                    unit=f.unit,
                    message=f.message[:300],
                    detail=_jsonable(dict(f.detail)),
                    inputs=list(f.inputs),
                    first_seen_tick=tick,
                    last_seen_tick=tick,
                    window_start=sim_time,
                    raised_sim_time=sim_time,
                    **_entity_fk(f, mandates),
                )
            )
        raised = Alert.objects.bulk_create(rows, batch_size=500)
        if any(a.pk is None for a in raised):
            raised = list(Alert.objects.filter(alert_id__in=ids))
        AlertInput.objects.bulk_create(
            [AlertInput(alert=a, key=k[:64]) for a in raised for k in dict.fromkeys(a.inputs)],
            batch_size=1000,
        )
    refreshed: list[Alert] = []
    woken: list[Alert] = []
    for key, alert in active.items():
        f = by_key.get(key)
        if f is None:
            continue
        alert.last_seen_tick = tick
        alert.times_seen += 1
        alert.value = _float(f.value)
        alert.reference = _float(f.reference)
        alert.measured = _float(f.measured)
        alert.message = f.message[:300]
        if SEVERITY_ORDER[f.severity] > SEVERITY_ORDER[alert.severity]:
            alert.severity = f.severity  # a worsening condition escalates its alert
        if alert.status == AlertStatus.SNOOZED and (alert.snoozed_until_tick or 0) <= tick:
            alert.status = AlertStatus.OPEN
            alert.snoozed_until_tick = None
            woken.append(alert)
        refreshed.append(alert)
    if refreshed:
        Alert.objects.bulk_update(
            refreshed,
            [
                "last_seen_tick",
                "times_seen",
                "value",
                "reference",
                "measured",
                "message",
                "severity",
                "status",
                "snoozed_until_tick",
            ],
            batch_size=500,
        )
    gone = [a for key, a in active.items() if key not in by_key]
    for alert in gone:
        alert.status = AlertStatus.RESOLVED
        alert.resolved_tick = tick
        alert.resolved_sim_time = sim_time
        alert.window_end = sim_time
        alert.resolution = f"condition cleared at tick {tick}"
    if gone:
        Alert.objects.bulk_update(
            gone,
            ["status", "resolved_tick", "resolved_sim_time", "window_end", "resolution"],
            batch_size=500,
        )
    AlertAction.objects.bulk_create(
        [
            AlertAction(alert=a, kind=AlertAction.Kind.RAISED, tick=tick, note=a.message)
            for a in raised
        ]
        + [
            AlertAction(alert=a, kind=AlertAction.Kind.AUTO_RESOLVED, tick=tick, note=a.resolution)
            for a in gone
        ],
        batch_size=1000,
    )
    event_rows = _event_rows(events.ALERT_RAISED, raised, tick, sim_time) + _event_rows(
        events.ALERT_RESOLVED, gone, tick, sim_time, how="condition cleared"
    )
    if event_rows:
        events_append_many(event_rows)
    return {
        "raised": len(raised),
        "refreshed": len(refreshed),
        "resolved": len(gone),
        "woken": len(woken),
    }


SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def run_record(
    *,
    tick: int,
    sim_time: dt.datetime,
    findings: Sequence[Finding],
    evaluated: dict[tuple[str, str], int],
    instruments: int,
    started: float,
    applied: dict[str, int],
) -> CheckRun:
    """The run and one result per (rule, source) evaluated, passes included."""
    failed = Counter((f.rule, _source_of(f)) for f in findings)
    run = CheckRun.objects.create(
        tick=tick,
        sim_time=sim_time,
        instruments=instruments,
        findings=len(findings),
        opened=applied.get("raised", 0),
        resolved=applied.get("resolved", 0),
        summary={
            "by_rule": dict(sorted(Counter(f.rule for f in findings).items())),
            "by_severity": dict(sorted(Counter(f.severity for f in findings).items())),
            **applied,
        },
    )
    keys = set(evaluated) | set(failed)
    CheckResult.objects.bulk_create(
        [
            CheckResult(
                run=run,
                tick=tick,
                rule=rule,
                source=source,
                evaluated=max(evaluated.get((rule, source), 0), failed.get((rule, source), 0)),
                failed=failed.get((rule, source), 0),
            )
            for rule, source in sorted(keys)
        ]
    )
    run.duration_ms = round((time.perf_counter() - started) * 1000, 3)
    run.save(update_fields=["duration_ms"])
    return run


# --------------------------------------------------------------------------- workflow


def _locked(alert_ids: Sequence[str]) -> list[Alert]:
    if not alert_ids:
        raise DQError({"alert_ids": ["name at least one alert"]})
    rows = list(
        Alert.objects.select_for_update().filter(alert_id__in=list(alert_ids)).order_by("id")
    )
    missing = sorted(set(alert_ids) - {a.alert_id for a in rows})
    if missing:
        raise DQError({"alert_ids": [f"unknown alert(s): {', '.join(missing[:10])}"]})
    return rows


def _act(
    rows: list[Alert], kind: str, event_kind: str, actor: Any, note: str = "", **payload: Any
) -> None:
    from simulator.services import clock_get

    clock = clock_get()
    AlertAction.objects.bulk_create(
        [
            AlertAction(
                alert=a,
                kind=kind,
                actor=actor_name(actor),
                note=note,
                tick=clock.last_tick or None,
            )
            for a in rows
        ]
    )
    events_append_many(
        _event_rows(
            event_kind,
            rows,
            clock.last_tick or None,
            clock.last_tick_sim_time,
            actor=actor,
            note=note[:200],
            **payload,
        )
    )


def _active_only(rows: list[Alert]) -> None:
    closed = [a.alert_id for a in rows if a.status == AlertStatus.RESOLVED]
    if closed:
        raise DQError({"alert_ids": [f"already resolved: {', '.join(closed[:10])}"]})


@transaction.atomic
def alert_acknowledge(alert_ids: Sequence[str], *, actor: Any, note: str = "") -> list[Alert]:
    rows = _locked(alert_ids)
    _active_only(rows)
    for a in rows:
        a.status = AlertStatus.ACKNOWLEDGED
    Alert.objects.bulk_update(rows, ["status"])
    _act(rows, AlertAction.Kind.ACKNOWLEDGED, events.ALERT_ACKNOWLEDGED, actor, note)
    return rows


@transaction.atomic
def alert_snooze(
    alert_ids: Sequence[str], *, ticks: int, actor: Any, note: str = ""
) -> list[Alert]:
    from simulator.services import clock_get

    if not isinstance(ticks, int) or isinstance(ticks, bool) or not 1 <= ticks <= 26 * 20:
        raise DQError({"ticks": ["a whole number of ticks from 1 to 520 (20 sessions)"]})
    rows = _locked(alert_ids)
    _active_only(rows)
    until = (clock_get().last_tick or 0) + ticks
    for a in rows:
        a.status = AlertStatus.SNOOZED
        a.snoozed_until_tick = until
    Alert.objects.bulk_update(rows, ["status", "snoozed_until_tick"])
    _act(
        rows,
        AlertAction.Kind.SNOOZED,
        events.ALERT_SNOOZED,
        actor,
        note or f"snoozed until tick {until}",
        until_tick=until,
    )
    return rows


@transaction.atomic
def alert_assign(alert_ids: Sequence[str], *, assignee: Any, actor: Any) -> list[Alert]:
    rows = _locked(alert_ids)
    for a in rows:
        a.assignee = assignee
    Alert.objects.bulk_update(rows, ["assignee"])
    who = assignee.get_username() if assignee is not None else ""
    _act(
        rows,
        AlertAction.Kind.ASSIGNED,
        events.ALERT_ASSIGNED,
        actor,
        f"assigned to {who}" if who else "unassigned",
        assignee=who,
    )
    return rows


@transaction.atomic
def alert_comment(alert_ids: Sequence[str], *, text: str, actor: Any) -> list[Alert]:
    text = (text or "").strip()
    if not text:
        raise DQError({"text": ["a comment needs some text"]})
    if len(text) > 4000:
        raise DQError({"text": ["at most 4,000 characters"]})
    rows = _locked(alert_ids)
    _act(rows, AlertAction.Kind.COMMENTED, events.ALERT_COMMENTED, actor, text)
    return rows


@transaction.atomic
def alert_resolve(alert_ids: Sequence[str], *, actor: Any, note: str = "") -> list[Alert]:
    """An operator closes alerts (e.g. a false alarm); if the condition persists, the next
    run raises a new alert for it."""
    from simulator.services import clock_get

    rows = _locked(alert_ids)
    _active_only(rows)
    clock = clock_get()
    for a in rows:
        a.status = AlertStatus.RESOLVED
        a.resolved_tick = clock.last_tick or None
        a.resolved_sim_time = clock.last_tick_sim_time
        a.window_end = a.window_end or clock.last_tick_sim_time
        a.resolution = (
            f"resolved by {actor_name(actor)}: {note}"
            if note
            else f"resolved by {actor_name(actor)}"
        )[:200]
    Alert.objects.bulk_update(
        rows, ["status", "resolved_tick", "resolved_sim_time", "window_end", "resolution"]
    )
    _act(rows, AlertAction.Kind.RESOLVED, events.ALERT_RESOLVED, actor, note, how="operator")
    return rows


BULK_ACTIONS = {
    "acknowledge": alert_acknowledge,
    "snooze": alert_snooze,
    "assign": alert_assign,
    "comment": alert_comment,
    "resolve": alert_resolve,
}


# --------------------------------------------------------------------------- the tick

# The sources each family of checks evaluates: what a CheckResult row is kept per.
_FAMILY_SOURCES = {
    "price": ("primary", "secondary"),
    "fx": ("primary", "secondary"),
    "holding": ("custodian",),
    "curve": ("curve",),
    "nav": ("book",),
}


def _source_of(finding: Finding) -> str:
    family = finding.rule.split(".", 1)[0]
    allowed = _FAMILY_SOURCES.get(family, ())
    for candidate in (finding.source, finding.value_source):
        if candidate in allowed:
            return candidate
    return allowed[0] if allowed else (finding.source or "")


def _evaluated(inputs: Any, rules: Sequence[Rule]) -> dict[tuple[str, str], int]:
    sizes = {
        "price": len(inputs.market),
        "fx": len(inputs.fx),
        "holding": len(inputs.holdings),
        "curve": sum(len(c) for c in inputs.curves),
        "nav": len(inputs.holdings),
    }
    out: dict[tuple[str, str], int] = {}
    for code in sorted({r.code for r in rules if r.enabled}):
        family = code.split(".", 1)[0]
        n = sizes.get(family, 0)
        if code == "holding.late_statement":
            n = len(inputs.statements) if inputs.statements is not None else 0
        for source in _FAMILY_SOURCES.get(family, ("",)):
            out[(code, source)] = n
    return out


def tick_check(*, tick: int, sim_time: dt.datetime, is_day_end: bool) -> CheckRun:
    """Every check over this tick's data; the alerts updated; the run stored."""
    from .checks import run_checks
    from .inputs import tick_inputs

    started = time.perf_counter()
    rules = rules_current()
    inputs = tick_inputs(tick=tick, sim_time=sim_time, is_day_end=is_day_end)
    findings = run_checks(
        market=inputs.market,
        fx=inputs.fx,
        holdings=inputs.holdings,
        statements=inputs.statements,
        curves=inputs.curves,
        rules=rules,
    )
    applied = alerts_apply(findings, tick=tick, sim_time=sim_time)
    return run_record(
        tick=tick,
        sim_time=sim_time,
        findings=findings,
        evaluated=_evaluated(inputs, rules),
        instruments=inputs.instruments,
        started=started,
        applied=applied,
    )
