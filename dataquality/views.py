"""Data quality pages: the dashboard (the checks x sources heat map of failures over the
recent runs, the alert timeline, health per source, the last run), the alert queue
(filters, live counts, bulk actions), one alert (both sources' values, tolerance and
measure, inputs, window, the mandates whose NAV it touches, history, the workflow
actions), the rules (read-only; edited in the admin) and the check runs.

Each page renders whole on a normal request and its named partial when HTMX asks. Pages
read the same selectors as the API and write through the same services; viewers read,
the middleware refuses their POSTs, and the forms are shown to operators only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe
from rest_framework import serializers as drf_serializers

from book.models import Mandate
from opssuite import roles

from . import queries, selectors, services
from .filters import AlertFilter
from .models import ACTIVE_STATUSES, Alert, AlertStatus, CheckRun, DQRule, Severity
from .serializers import ACTION_INPUTS, MAX_SNOOZE_TICKS

PAGE_ROWS = 200
RUN_ROWS = 100
HEAT_RUNS = 26  # the heat map and health cover the last session's runs
TIMELINE_TICKS = 130  # five sessions of 15-minute ticks
STATUS_CHOICES = [
    ("active", "Active"),
    *AlertStatus.choices,
    ("all", "All"),
]
# The queue's bulk buttons: the page's name -> the service action.
BULK_BUTTONS = {
    "acknowledge": "acknowledge",
    "snooze": "snooze",
    "assign_me": "assign",
    "unassign": "assign",
    "comment": "comment",
    "resolve": "resolve",
}
BULK_DONE = {
    "acknowledge": "acknowledged",
    "snooze": "snoozed",
    "assign_me": "assigned to you",
    "unassign": "unassigned",
    "comment": "commented",
    "resolve": "resolved",
}
ACTION_DONE = {
    "acknowledge": "acknowledged",
    "snooze": "snoozed",
    "assign": "assignment saved",
    "comment": "comment added",
    "resolve": "resolved",
}


# --- shared pieces -----------------------------------------------------------------------


def _errors(exc: Exception) -> dict[str, list[str]]:
    """A refusal as {field: [messages]}, from a serializer or a service."""
    if isinstance(exc, drf_serializers.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            return {
                str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
                for k, v in detail.items()
            }
        return {"non_field_errors": [str(m) for m in detail]}
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return {k: list(v) for k, v in exc.message_dict.items()}
        return {"non_field_errors": list(exc.messages)}
    return {"non_field_errors": [str(exc)]}


def _posted(request: HttpRequest) -> dict[str, str]:
    """The form's non-empty fields, trimmed."""
    return {
        key: value.strip()
        for key, value in request.POST.items()
        if key not in ("csrfmiddlewaretoken", "alert_ids", "next") and value.strip()
    }


def _can_act(request: HttpRequest) -> bool:
    return roles.user_has_role(request.user, roles.OPERATOR)


def _subject(alert: Alert) -> str:
    """What the alert is about, in a word or two: the instrument (and mandate), the
    pair, the account, the curve, the mandate."""
    if alert.instrument_id and alert.mandate_id:
        return f"{alert.mandate.code} · {alert.instrument.ticker}"
    if alert.instrument_id:
        return alert.instrument.ticker
    if alert.mandate_id and alert.entity_kind == "mandate":
        return alert.mandate.code
    return alert.entity_key


def _with_subject(alerts: list[Alert]) -> list[Alert]:
    for alert in alerts:
        alert.subject = _subject(alert)
    return alerts


# --- the dashboard -----------------------------------------------------------------------


def _heat_css(evaluated: int, failed: int) -> str:
    if not evaluated:
        return "heat-none"
    rate = failed / evaluated
    if rate == 0:
        return "heat-0"
    if rate < 0.001:
        return "heat-1"
    if rate < 0.01:
        return "heat-2"
    if rate < 0.05:
        return "heat-3"
    return "heat-4"


HEAT_LEGEND = [
    ("heat-0", "no failure"),
    ("heat-1", "under 0.1%"),
    ("heat-2", "0.1-1%"),
    ("heat-3", "1-5%"),
    ("heat-4", "5% or more"),
]


def heat_map(cells: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    """The summary's source -> rule -> counts as a table: a row per check, a column per
    source, each cell failed / evaluated with a colour by failure rate."""
    sources = [s for s in queries.RESULT_SOURCES if s in cells]
    sources += sorted(s for s in cells if s not in sources)
    present = {rule for by_rule in cells.values() for rule in by_rule}
    rules = [r for r in queries.RULE_CODES if r in present]
    rules += sorted(r for r in present if r not in rules)
    rows = []
    for rule in rules:
        row = []
        for source in sources:
            cell = cells.get(source, {}).get(rule)
            if cell is None:
                row.append(None)
                continue
            evaluated, failed = cell["evaluated"], cell["failed"]
            row.append(
                {
                    "source": source,
                    "evaluated": evaluated,
                    "failed": failed,
                    "rate": failed / evaluated if evaluated else 0.0,
                    "css": _heat_css(evaluated, failed),
                }
            )
        rows.append({"rule": rule, "cells": row})
    return {"sources": sources, "rows": rows, "legend": HEAT_LEGEND}


@dataclass(frozen=True)
class Segment:
    y: float
    height: float
    css: str
    count: int
    severity: str


@dataclass(frozen=True)
class Column:
    tick: int
    x: float
    segments: tuple[Segment, ...]
    total: int


def _step(largest: int, ticks: int = 4) -> int:
    """A whole, round step (1, 2, 5 x 10^k) so that `ticks` steps reach `largest`."""
    need = max(1, math.ceil(largest / ticks))
    magnitude = 10 ** int(math.log10(need))
    for step in (1, 2, 5, 10):
        if need <= step * magnitude:
            return step * magnitude
    return need


def timeline_chart(
    points: list[dict[str, Any]], *, last_tick: int, days: dict[int, str], ticks: int
) -> dict[str, Any]:
    """Alerts raised per tick, stacked by severity (critical at the bottom), over the last
    `ticks` ticks, as SVG geometry; `days` labels the first tick of each sim day."""
    width, left, right, top, bottom = 1200, 36, 8, 10, 22
    height = 190
    first = max(1, last_tick - ticks + 1)
    span = max(1, last_tick - first + 1)
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / span
    bar_w = max(1.0, round(slot * 0.8, 2))
    by_tick = {p["tick"]: p for p in points if p["tick"] >= first}
    largest = max((sum(p[s] for s in queries.SEVERITIES) for p in by_tick.values()), default=0)
    step = _step(largest)
    scale_max = step * 4
    axis_y = top + plot_h
    columns = []
    for tick, p in sorted(by_tick.items()):
        x = round(left + (tick - first) * slot + (slot - bar_w) / 2, 2)
        y = float(axis_y)
        segments = []
        for severity in ("critical", "warning", "info"):
            n = p.get(severity, 0)
            if not n:
                continue
            h = round(plot_h * n / scale_max, 2)
            y = round(y - h, 2)
            segments.append(Segment(y, h, f"sev-{severity}", n, severity))
        columns.append(Column(tick, x, tuple(segments), sum(s.count for s in segments)))
    y_ticks = [{"y": round(axis_y - plot_h * k / 4, 2), "label": f"{step * k:,}"} for k in range(5)]
    x_ticks = [
        {"x": round(left + (tick - first) * slot, 2), "label": label}
        for tick, label in sorted(days.items())
        if first <= tick <= last_tick
    ]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "axis_y": axis_y,
        "bar_w": bar_w,
        "columns": columns,
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
        "first": first,
        "last": last_tick,
        "raised": sum(c.total for c in columns),
        "legend": [("sev-critical", "critical"), ("sev-warning", "warning"), ("sev-info", "info")],
    }


def _day_starts(first_tick: int) -> dict[int, str]:
    """The first stored run of each sim day from `first_tick` on: where the timeline's
    day labels go."""
    starts: dict[int, str] = {}
    seen: set[Any] = set()
    for tick, sim_time in (
        CheckRun.objects.filter(tick__gte=first_tick)
        .order_by("tick")
        .values_list("tick", "sim_time")
    ):
        day = sim_time.date()
        if day not in seen:
            seen.add(day)
            starts[tick] = sim_time.strftime("%b %d")
    return starts


def _health(health: dict[str, float]) -> list[dict[str, Any]]:
    return [
        {
            "source": source,
            "score": score,
            "css": "ok" if score >= 99 else "warn" if score >= 90 else "bad",
        }
        for source, score in health.items()
    ]


def _dashboard_context() -> dict[str, Any]:
    summary = selectors.dq_summary(runs=HEAT_RUNS)
    last = summary["last_run"]
    last_tick = last.tick if last else 0
    first = max(1, last_tick - TIMELINE_TICKS + 1)
    chart = timeline_chart(
        selectors.alert_timeline(ticks=TIMELINE_TICKS),
        last_tick=last_tick,
        days=_day_starts(first) if last else {},
        ticks=TIMELINE_TICKS,
    )
    return {
        "summary": summary,
        "last_run": last,
        "heat": heat_map(summary["heat_map"]),
        "heat_runs": HEAT_RUNS,
        "chart": chart,
        "health": _health(summary["health"]),
        "by_rule": sorted(summary["by_rule"].items(), key=lambda kv: (-kv[1], kv[0])),
        "tab": "dashboard",
    }


@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    context = _dashboard_context()
    if request.htmx:
        return render(request, "dataquality/_dashboard.html", context)
    return render(request, "dataquality/dashboard.html", context)


# --- the queue ---------------------------------------------------------------------------


def _queue_params(params: QueryDict, user: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(the filter's data, the form's values). Status defaults to active; `all` lifts it;
    assignee `me` is the signed-in user."""
    shown = {
        name: params.get(name, "").strip()
        for name in AlertFilter.base_filters
        if params.get(name, "").strip()
    }
    shown.setdefault("status", "active")
    data = dict(shown)
    if data.get("status") == "active":
        data.pop("status")
        data["active"] = "true"
    elif data.get("status") == "all":
        data.pop("status")
    if data.get("assignee") == "me":
        data["assignee"] = user.get_username()
    return data, shown


def _queue_context(request: HttpRequest, params: QueryDict) -> dict[str, Any]:
    data, shown = _queue_params(params, request.user)
    filterset = AlertFilter(data, queryset=Alert.objects.none())
    errors: dict[str, Any] = {}
    if filterset.is_valid():
        matching = filterset.qs
        rows = _with_subject(list(matching[:PAGE_ROWS]))
        total = matching.count() if len(rows) == PAGE_ROWS else len(rows)
    else:
        rows, total, errors = [], 0, filterset.errors
    return {
        "alerts": rows,
        "total": total,
        "page_rows": PAGE_ROWS,
        "errors": errors,
        "filters": shown,
        "query": urlencode(shown),
        "csv_url": f"{reverse('api-dq-alert-list')}?{urlencode({**data, 'format': 'csv'})}",
        "can_act": _can_act(request),
    }


def _counts_context() -> dict[str, Any]:
    counts = queries.active_alert_counts()
    rules = sorted(
        {r for r, _ in counts},
        key=lambda r: (
            queries.RULE_CODES.index(r) if r in queries.RULE_CODES else len(queries.RULE_CODES),
            r,
        ),
    )
    grid = [
        {
            "rule": rule,
            "cells": [(s, counts.get((rule, s), 0)) for s in queries.SEVERITIES],
            "total": sum(counts.get((rule, s), 0) for s in queries.SEVERITIES),
        }
        for rule in rules
    ]
    by_severity = [
        (s, sum(n for (_, ss), n in counts.items() if ss == s)) for s in queries.SEVERITIES
    ]
    return {
        "counts": {
            "active": sum(counts.values()),
            "by_severity": by_severity,
            "by_status": queries.active_status_counts(),
            "grid": grid,
        }
    }


def _queue_page_context(request: HttpRequest, params: QueryDict) -> dict[str, Any]:
    context = _queue_context(request, params)
    context.update(
        _counts_context(),
        statuses=STATUS_CHOICES,
        severities=Severity.choices,
        rules=queries.RULE_CODES,
        sources=queries.alert_sources(),
        mandates=list(Mandate.objects.order_by("code").values_list("code", flat=True)),
        workers=list(queries.queue_workers().values_list("username", flat=True)),
        max_snooze=MAX_SNOOZE_TICKS,
        tab="alerts",
    )
    return context


@require_safe
def alert_queue(request: HttpRequest) -> HttpResponse:
    if request.htmx:
        return render(request, "dataquality/_alert_rows.html", _queue_context(request, request.GET))
    return render(request, "dataquality/queue.html", _queue_page_context(request, request.GET))


@require_safe
def queue_counts(request: HttpRequest) -> HttpResponse:
    """The live counts (polled by the queue page)."""
    return render(request, "dataquality/_counts.html", _counts_context())


@require_POST
def bulk_action(request: HttpRequest) -> HttpResponse:
    """One action on the ticked alerts (operator; the middleware refuses viewers)."""
    ids = list(dict.fromkeys(i.strip() for i in request.POST.getlist("alert_ids") if i.strip()))
    button = request.POST.get("action", "")
    back = QueryDict(request.POST.get("next", "").lstrip("?"))
    data = _posted(request)
    data.pop("action", None)
    name = BULK_BUTTONS.get(button)
    try:
        if name is None:
            raise ValidationError({"action": [f"unknown action {button!r}"]})
        if not ids:
            raise ValidationError({"alert_ids": ["tick at least one alert"]})
        if button == "assign_me":
            params: dict[str, Any] = {"assignee": request.user}
        elif button == "unassign":
            params = {"assignee": None}
        else:
            given = ACTION_INPUTS[name](data=data)
            given.is_valid(raise_exception=True)
            params = dict(given.validated_data)
        done = services.BULK_ACTIONS[name](ids, actor=request.user, **params)
    except (drf_serializers.ValidationError, ValidationError) as exc:
        context = _queue_page_context(request, back)
        context.update(bulk_errors=_errors(exc), posted=data, ticked=set(ids))
        return render(request, "dataquality/queue.html", context, status=400)
    shown = ", ".join(a.alert_id for a in done[:12]) + (" …" if len(done) > 12 else "")
    plural = "s" if len(done) != 1 else ""
    messages.success(request, f"{len(done)} alert{plural} {BULK_DONE[button]}: {shown}.")
    url = reverse("dq-alerts")
    return redirect(f"{url}?{back.urlencode()}" if back else url)


# --- one alert ---------------------------------------------------------------------------


def _alert_context(request: HttpRequest, alert_id: str) -> dict[str, Any]:
    try:
        alert = selectors.alert_detail(alert_id)
    except Alert.DoesNotExist:
        raise Http404(f"No alert {alert_id}") from None
    alert.subject = _subject(alert)
    inputs = sorted(row.key for row in alert.input_rows.all()) or list(alert.inputs or [])
    active = alert.status in ACTIVE_STATUSES
    touched = queries.mandates_touched(alert)
    beyond = None
    if alert.measured is not None and alert.tolerance:
        beyond = abs(alert.measured) / alert.tolerance
    return {
        "alert": alert,
        "inputs": inputs,
        "detail_items": sorted((alert.detail or {}).items()),
        "history": queries.alert_history(alert),
        "mandates_touched": touched,
        "blocks_nav": active and alert.severity == Severity.CRITICAL and bool(touched),
        "beyond": beyond,
        "rule_row": DQRule.objects.filter(code=alert.rule, asset_class="").first(),
        "can_act": _can_act(request),
        "is_active": active,
        "workers": list(queries.queue_workers().values_list("username", flat=True)),
        "max_snooze": MAX_SNOOZE_TICKS,
        "tab": "alerts",
    }


@require_safe
def alert_detail(request: HttpRequest, alert_id: str) -> HttpResponse:
    return render(request, "dataquality/alert_detail.html", _alert_context(request, alert_id))


@require_POST
def alert_action(request: HttpRequest, alert_id: str, action: str) -> HttpResponse:
    """One workflow action on one alert (operator; the middleware refuses viewers)."""
    if action not in ACTION_INPUTS:
        raise Http404(f"No action {action}")
    if not Alert.objects.filter(alert_id=alert_id).exists():
        raise Http404(f"No alert {alert_id}")
    data: dict[str, Any] = _posted(request)
    if action == "assign":
        who = data.get("assignee", "")
        data["assignee"] = request.user.get_username() if who == "me" else (who or None)
    given = ACTION_INPUTS[action](data=data)
    try:
        given.is_valid(raise_exception=True)
        services.BULK_ACTIONS[action]([alert_id], actor=request.user, **given.validated_data)
    except (drf_serializers.ValidationError, ValidationError) as exc:
        context = _alert_context(request, alert_id)
        context.update(action_errors={action: _errors(exc)}, posted={action: data})
        return render(request, "dataquality/alert_detail.html", context, status=400)
    messages.success(request, f"{alert_id}: {ACTION_DONE[action]}.")
    return redirect("dq-alert", alert_id=alert_id)


# --- rules and runs ----------------------------------------------------------------------


@require_safe
def rules(request: HttpRequest) -> HttpResponse:
    rows = list(DQRule.objects.order_by("code", "asset_class"))
    counts = queries.active_alert_counts()
    active = {}
    for (rule, _), n in counts.items():
        active[rule] = active.get(rule, 0) + n
    for row in rows:
        row.params_text = queries.params_text(row.params)
        row.active_alerts = active.get(row.code, 0) if not row.asset_class else None
    context = {
        "rules": rows,
        "can_edit": roles.user_has_role(request.user, roles.ADMIN) and request.user.is_staff,
        "tab": "rules",
    }
    return render(request, "dataquality/rules.html", context)


@require_safe
def runs(request: HttpRequest) -> HttpResponse:
    rows = list(selectors.run_list()[:RUN_ROWS])
    for run in rows:
        summary = run.summary or {}
        run.by_severity = summary.get("by_severity", {})
    context = {
        "runs": rows,
        "run_rows": RUN_ROWS,
        "total": CheckRun.objects.count(),
        "tab": "runs",
    }
    return render(request, "dataquality/runs.html", context)


@require_safe
def run_detail(request: HttpRequest, tick: int) -> HttpResponse:
    run = CheckRun.objects.prefetch_related("results").filter(tick=tick).first()
    if run is None:
        raise Http404(f"No check run at tick {tick}")
    results = sorted(
        run.results.all(),
        key=lambda r: (
            queries.RULE_CODES.index(r.rule) if r.rule in queries.RULE_CODES else 99,
            r.rule,
            r.source,
        ),
    )
    for result in results:
        result.css = _heat_css(result.evaluated, result.failed)
        result.rate = result.failed / result.evaluated if result.evaluated else None
    summary = run.summary or {}
    context = {
        "run": run,
        "results": results,
        "by_rule": sorted((summary.get("by_rule") or {}).items()),
        "by_severity": summary.get("by_severity") or {},
        "previous": CheckRun.objects.filter(tick__lt=run.tick)
        .order_by("-tick")
        .values_list("tick", flat=True)
        .first(),
        "next": CheckRun.objects.filter(tick__gt=run.tick)
        .order_by("tick")
        .values_list("tick", flat=True)
        .first(),
        "tab": "runs",
    }
    return render(request, "dataquality/run_detail.html", context)
