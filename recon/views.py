"""Recon pages: the break queue (filters, bulk actions, live counts), one break (both sides,
what explains it, candidate trades, history, the workflow actions), the aging chart, run
history with the file upload, and a run's printable report.

Each page renders whole on a normal request and its named partial when HTMX asks. Pages
read the same selectors as the API and write through the same services; viewers read,
the middleware refuses their POSTs, and the forms are shown to operators only.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe
from rest_framework import serializers as drf_serializers

from book.models import Mandate
from opssuite import roles

from . import queries, selectors, services
from .api import UploadTooLarge, file_run_from_upload, upload_guard
from .filters import BreakFilter, RunFilter
from .models import (
    AGE_BUCKETS,
    Break,
    BreakStatus,
    BreakType,
    Classification,
    ReasonCode,
    ReconKind,
    ReconRun,
    RunSource,
    age_bucket,
)
from .serializers import ACTION_INPUTS, RUN_DETAIL_ROWS, RunUploadSerializer

PAGE_ROWS = 200
RUN_ROWS = 100
BUCKET_CSS = {b: f"bucket-{i}" for i, b in enumerate(AGE_BUCKETS)}
# The queue's bulk buttons: the page's name -> the service action.
BULK_BUTTONS = {
    "assign_me": "assign",
    "unassign": "assign",
    "comment": "comment",
    "reason": "reason",
    "resolve": "resolve",
    "escalate": "escalate",
    "reopen": "reopen",
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
        if key not in ("csrfmiddlewaretoken", "break_ids", "next") and value.strip()
    }


def _can_act(request: HttpRequest) -> bool:
    return roles.user_has_role(request.user, roles.OPERATOR)


def _trade_links(trade_ids: list[str], known: set[str]) -> list[dict[str, str]]:
    """Each trade id with where it leads: the trade's page when the book has it, and its
    trace (every event with that id, the break's own included)."""
    return [
        {
            "trade_id": t,
            "page": reverse("trade-detail", args=[t]) if t in known else "",
            "trace": reverse("trade-trace", args=[t]),
        }
        for t in trade_ids
        if t
    ]


def _with_age(breaks: list[Break], on: dt.date) -> list[Break]:
    for brk in breaks:
        brk.age = selectors.break_age(brk, on)
        brk.bucket = age_bucket(brk.age)
        brk.bucket_css = BUCKET_CSS[brk.bucket]
    return breaks


def _shown(value: Any) -> str:
    """A value of a break's detail as one line of text."""
    if value in (None, "", [], {}):
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return " · ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def _subject(brk: Break) -> str:
    """What the break is about, in a word: the instrument, the reported id, the currency."""
    if brk.instrument_id:
        return brk.instrument.ticker
    return brk.reported_id or brk.currency


# --- the queue ---------------------------------------------------------------------------


def _queue_params(params: QueryDict, user: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(the filter's data, the form's values). Status defaults to open; `all` lifts it;
    assignee `me` is the signed-in user."""
    shown = {
        name: params.get(name, "").strip()
        for name in BreakFilter.base_filters
        if params.get(name, "").strip()
    }
    shown.setdefault("status", "open")
    data = dict(shown)
    if data.get("status") == "all":
        data.pop("status")
    if data.get("assignee") == "me":
        data["assignee"] = user.get_username()
    return data, shown


def _queue_context(request: HttpRequest, params: QueryDict) -> dict[str, Any]:
    on = selectors.today()
    data, shown = _queue_params(params, request.user)
    filterset = BreakFilter(data, queryset=Break.objects.none(), on=on)
    errors: dict[str, Any] = {}
    if filterset.is_valid():
        matching = filterset.qs
        rows = _with_age(list(matching[:PAGE_ROWS]), on)
        total = matching.count() if len(rows) == PAGE_ROWS else len(rows)
    else:
        rows, total, errors = [], 0, filterset.errors
    known = queries.trades_known(t for b in rows for t in [b.trade_id, b.match_key])
    for brk in rows:
        brk.subject = _subject(brk)
        key = brk.trade_id or brk.match_key
        brk.trade_link = _trade_links([key], known)[0] if key else None
        brk.more_trades = max(0, len(brk.trade_ids or []) - (1 if key else 0))
    api_params = {k: v for k, v in data.items()}
    query = urlencode({k: v for k, v in shown.items()})
    return {
        "breaks": rows,
        "total": total,
        "page_rows": PAGE_ROWS,
        "errors": errors,
        "filters": shown,
        "query": query,
        "on": on,
        "csv_url": f"{reverse('api-recon-break-list')}?{urlencode({**api_params, 'format': 'csv'})}",
        "can_act": _can_act(request),
    }


def _queue_page_context(request: HttpRequest, params: QueryDict) -> dict[str, Any]:
    context = _queue_context(request, params)
    context.update(
        _counts_context(context["on"]),
        mandates=list(Mandate.objects.order_by("code").values_list("code", flat=True)),
        types=BreakType.choices,
        classifications=Classification.choices,
        buckets=AGE_BUCKETS,
        workers=list(queries.queue_workers().values_list("username", flat=True)),
        reasons=ReasonCode.choices,
        tab="queue",
    )
    return context


@require_safe
def break_queue(request: HttpRequest) -> HttpResponse:
    if request.htmx:
        return render(request, "recon/_break_rows.html", _queue_context(request, request.GET))
    return render(request, "recon/queue.html", _queue_page_context(request, request.GET))


def _counts_context(on: dt.date) -> dict[str, Any]:
    counts = selectors.open_break_counts(on)
    types = sorted({t for t, _ in counts})
    labels = dict(BreakType.choices)
    grid = [
        {
            "type": t,
            "label": labels.get(t, t),
            "cells": [(b, counts.get((t, b), 0), BUCKET_CSS[b]) for b in AGE_BUCKETS],
            "total": sum(counts.get((t, b), 0) for b in AGE_BUCKETS),
        }
        for t in types
    ]
    by_bucket = [
        (b, sum(n for (_, bb), n in counts.items() if bb == b), BUCKET_CSS[b]) for b in AGE_BUCKETS
    ]
    return {
        "counts": {
            "open": sum(counts.values()),
            "escalated": Break.objects.filter(status=BreakStatus.OPEN, escalated=True).count(),
            "grid": grid,
            "by_bucket": by_bucket,
            "on": on,
        }
    }


@require_safe
def queue_counts(request: HttpRequest) -> HttpResponse:
    """The live counts (polled by the queue page)."""
    return render(request, "recon/_counts.html", _counts_context(selectors.today()))


@require_POST
def bulk_action(request: HttpRequest) -> HttpResponse:
    """One action on the ticked breaks (operator; the middleware refuses viewers)."""
    ids = list(dict.fromkeys(i.strip() for i in request.POST.getlist("break_ids") if i.strip()))
    button = request.POST.get("action", "")
    back = QueryDict(request.POST.get("next", "").lstrip("?"))
    data = _posted(request)
    data.pop("action", None)
    name = BULK_BUTTONS.get(button)
    try:
        if name is None:
            raise ValidationError({"action": [f"unknown action {button!r}"]})
        if not ids:
            raise ValidationError({"break_ids": ["tick at least one break"]})
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
        return render(request, "recon/queue.html", context, status=400)
    verb = {
        "assign_me": "assigned to you",
        "unassign": "unassigned",
        "comment": "commented",
        "reason": "given a reason code",
        "resolve": "resolved",
        "escalate": "escalated",
        "reopen": "reopened",
    }[button]
    messages.success(
        request,
        f"{len(done)} break{'s' if len(done) != 1 else ''} {verb}: {', '.join(b.break_id for b in done[:12])}{' …' if len(done) > 12 else ''}.",
    )
    url = reverse("recon")
    return redirect(f"{url}?{back.urlencode()}" if back else url)


# --- one break ---------------------------------------------------------------------------


# (our side, their side, how the difference is taken): position recon's difference is the
# custodian's less the book's, trade recon's (the engine's) ours less the broker's.
SIDE_LABELS = {
    ReconKind.POSITION: ("Book (expected settled)", "Custodian", "custodian − book"),
    ReconKind.TRADE: ("Our executions", "Broker confirmation", "ours − broker"),
}


def _break_context(request: HttpRequest, break_id: str) -> dict[str, Any]:
    try:
        brk = selectors.break_detail(break_id)
    except Break.DoesNotExist:
        raise Http404(f"No break {break_id}") from None
    on = selectors.today()
    _with_age([brk], on)
    brk.subject = _subject(brk)
    candidates = [c for c in (brk.candidates or []) if isinstance(c, dict)]
    candidate_ids = [c.get("trade_id", "") for c in candidates]
    known = queries.trades_known([*(brk.trade_ids or []), brk.trade_id, *candidate_ids])
    shown_candidates = []
    for c in candidates:
        link = _trade_links([c["trade_id"]], known)[0] if c.get("trade_id") else None
        rest = {
            k: v
            for k, v in c.items()
            if k not in ("type", "trade_id", "why") and v not in (None, "", [])
        }
        shown_candidates.append(
            {"type": c.get("type", ""), "link": link, "why": c.get("why", ""), "rest": rest}
        )
    trades = list(
        dict.fromkeys([*(brk.trade_ids or []), *([brk.trade_id] if brk.trade_id else [])])
    )
    ours, theirs, diff = SIDE_LABELS.get(brk.recon, ("Ours", "Theirs", ""))
    return {
        "brk": brk,
        "on": on,
        "ours_label": ours,
        "theirs_label": theirs,
        "diff_label": diff,
        "detail_items": [
            (k.replace("_", " "), _shown(v)) for k, v in sorted((brk.detail or {}).items())
        ],
        "candidates": shown_candidates,
        "trades": _trade_links(trades, known),
        "history": queries.break_history(brk),
        "can_act": _can_act(request),
        "workers": list(queries.queue_workers().values_list("username", flat=True)),
        "reasons": ReasonCode.choices,
        "is_open": brk.status == BreakStatus.OPEN,
        "tab": "queue",
    }


@require_safe
def break_detail(request: HttpRequest, break_id: str) -> HttpResponse:
    return render(request, "recon/break_detail.html", _break_context(request, break_id))


ACTION_DONE = {
    "assign": "assignment saved",
    "comment": "comment added",
    "reason": "reason code set",
    "resolve": "resolved",
    "escalate": "escalated",
    "reopen": "reopened",
}


@require_POST
def break_action(request: HttpRequest, break_id: str, action: str) -> HttpResponse:
    """One workflow action on one break (operator; the middleware refuses viewers)."""
    if action not in ACTION_INPUTS:
        raise Http404(f"No action {action}")
    if not Break.objects.filter(break_id=break_id).exists():
        raise Http404(f"No break {break_id}")
    data: dict[str, Any] = _posted(request)
    if action == "assign":
        who = data.get("assignee", "")
        data["assignee"] = request.user.get_username() if who == "me" else (who or None)
    given = ACTION_INPUTS[action](data=data)
    try:
        given.is_valid(raise_exception=True)
        services.BULK_ACTIONS[action]([break_id], actor=request.user, **given.validated_data)
    except (drf_serializers.ValidationError, ValidationError) as exc:
        context = _break_context(request, break_id)
        context.update(action_errors={action: _errors(exc)}, posted={action: data})
        return render(request, "recon/break_detail.html", context, status=400)
    messages.success(request, f"{break_id}: {ACTION_DONE[action]}.")
    return redirect("recon-break", break_id=break_id)


# --- aging -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One segment of a stacked bar: a break type's open breaks in one age bucket."""

    x: float
    y: float
    width: float
    css: str
    count: int
    bucket: str
    href: str


@dataclass(frozen=True)
class BarRow:
    label: str
    break_type: str
    y: float
    total: int
    total_x: float
    segments: tuple[Bar, ...]


def _tick_step(largest: int, ticks: int = 4) -> int:
    """A whole, round step (1, 2, 5 x 10^k) so that `ticks` steps reach `largest`."""
    need = max(1, math.ceil(largest / ticks))
    magnitude = 10 ** int(math.log10(need))
    for step in (1, 2, 5, 10):
        if need <= step * magnitude:
            return step * magnitude
    return need


def aging_chart(by_type_and_age: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Open breaks by type (one bar each) stacked by age bucket, as SVG geometry."""
    left, right, top, bar_h, gap = 190, 50, 24, 22, 10
    width = 720
    labels = dict(BreakType.choices)
    totals = {t: sum(cells.values()) for t, cells in by_type_and_age.items()}
    step = _tick_step(max(totals.values(), default=0))
    scale_max = step * 4
    plot = width - left - right
    queue = reverse("recon")
    rows = []
    for i, (break_type, cells) in enumerate(sorted(by_type_and_age.items())):
        y = top + i * (bar_h + gap)
        x = float(left)
        segments = []
        for bucket in AGE_BUCKETS:
            n = cells.get(bucket, 0)
            if not n:
                continue
            w = plot * n / scale_max
            href = f"{queue}?{urlencode({'type': break_type, 'age': bucket})}"
            segments.append(Bar(round(x, 2), y, round(w, 2), BUCKET_CSS[bucket], n, bucket, href))
            x += w
        rows.append(
            BarRow(
                labels.get(break_type, break_type),
                break_type,
                y,
                totals[break_type],
                round(x + 6, 2),
                tuple(segments),
            )
        )
    height = top + max(len(rows), 1) * (bar_h + gap) + 20
    ticks = [{"x": round(left + plot * k / 4, 2), "label": f"{step * k:,}"} for k in range(5)]
    return {
        "width": width,
        "height": height,
        "left": left,
        "bar_h": bar_h,
        "rows": rows,
        "ticks": ticks,
        "axis_y": height - 20,
        "legend": [(b, BUCKET_CSS[b]) for b in AGE_BUCKETS],
    }


@require_safe
def aging(request: HttpRequest) -> HttpResponse:
    summary = selectors.recon_summary()
    labels = dict(BreakType.choices)
    table = [
        {
            "type": t,
            "label": labels.get(t, t),
            "cells": [(b, cells.get(b, 0)) for b in AGE_BUCKETS],
            "total": sum(cells.values()),
        }
        for t, cells in sorted(summary["by_type_and_age"].items())
    ]
    context = {
        "summary": summary,
        "chart": aging_chart(summary["by_type_and_age"]),
        "table": table,
        "buckets": AGE_BUCKETS,
        "classification_labels": dict(Classification.choices),
        "escalate_after": services.settings_get().escalate_after_days,
        "tab": "aging",
    }
    return render(request, "recon/aging.html", context)


# --- runs --------------------------------------------------------------------------------


def _runs_context(request: HttpRequest) -> dict[str, Any]:
    data = {k: v for k, v in request.GET.items() if k in RunFilter.base_filters and v.strip()}
    filterset = RunFilter(data, queryset=ReconRun.objects.none())
    errors: dict[str, Any] = {}
    runs: list[ReconRun] = []
    if filterset.is_valid():
        runs = list(filterset.qs[:RUN_ROWS])
    else:
        errors = filterset.errors
    for run in runs:
        summary = run.summary or {}
        run.breaks_found = sum(summary.get("breaks_by_type", {}).values())
        run.matched = summary.get("matched")
        run.rejects_count = len(run.rejects or [])
    rules = services.trade_rules()
    return {
        "runs": runs,
        "errors": errors,
        "filters": {k: request.GET.get(k, "") for k in RunFilter.base_filters},
        "kinds": ReconKind.choices,
        "sources": RunSource.choices,
        "can_upload": _can_act(request),
        "defaults": rules,
        "run_rows": RUN_ROWS,
        "tab": "runs",
    }


@require_safe
def runs(request: HttpRequest) -> HttpResponse:
    context = _runs_context(request)
    if request.htmx:
        return render(request, "recon/_run_rows.html", context)
    return render(request, "recon/runs.html", context)


def _upload_refused(request: HttpRequest, errors: dict[str, list[str]], code: int) -> HttpResponse:
    context = _runs_context(request)
    context.update(upload_errors=errors, posted=_posted(request) if code != 413 else {})
    return render(request, "recon/runs.html", context, status=code)


@csrf_exempt
@require_POST
def run_upload(request: HttpRequest) -> HttpResponse:
    """A trade recon of uploaded files (operator). The size is checked before the body is
    read - hence CSRF is checked after, by the inner view (Django's documented pattern for
    changing upload handlers)."""
    try:
        upload_guard(request)
        return _run_upload(request)
    except UploadTooLarge as exc:
        request.POST = QueryDict()  # type: ignore[assignment]  # unread: nothing to echo
        return _upload_refused(request, {"files": [str(exc.detail)]}, 413)


@csrf_protect
def _run_upload(request: HttpRequest) -> HttpResponse:
    data: dict[str, Any] = _posted(request)
    data.update(
        {k: f for k, f in request.FILES.items() if k in ("executions", "confirmations", "pnl")}
    )
    given = RunUploadSerializer(data=data)
    try:
        given.is_valid(raise_exception=True)
        run = file_run_from_upload(given.validated_data, actor=request.user)
    except (drf_serializers.ValidationError, ValidationError) as exc:
        return _upload_refused(request, _errors(exc), 400)
    found = sum((run.summary or {}).get("breaks_by_type", {}).values())
    messages.success(
        request,
        f"{run.run_id}: {run.summary.get('trades', 0)} trades compared, {found} break"
        f"{'s' if found != 1 else ''}, {len(run.rejects or [])} rejected row"
        f"{'s' if len(run.rejects or []) != 1 else ''}.",
    )
    return redirect("recon-run", run_id=run.run_id)


@require_safe
def run_report(request: HttpRequest, run_id: str) -> HttpResponse:
    """A run's report: what was compared, with which rules, what it found; printable."""
    try:
        run = selectors.run_detail(run_id)
    except ReconRun.DoesNotExist:
        raise Http404(f"No run {run_id}") from None
    on = selectors.today()
    found = list(selectors.run_breaks(run).select_related("assignee")[: RUN_DETAIL_ROWS + 1])
    breaks = _with_age(found[:RUN_DETAIL_ROWS], on)
    for brk in breaks:
        brk.subject = _subject(brk)
    summary = dict(run.summary or {})
    by_type = summary.pop("breaks_by_type", {}) or {}
    summary.pop("by_classification", None)
    labels = dict(BreakType.choices)
    context = {
        "run": run,
        "on": on,
        "summary_items": [
            (k.replace("_", " "), ("yes" if v else "no") if isinstance(v, bool) else v)
            for k, v in summary.items()
            if not isinstance(v, dict | list)
        ],
        "by_type": [(labels.get(t, t), t, n) for t, n in sorted(by_type.items()) if n],
        "breaks_total": sum(by_type.values()),
        "breaks": breaks,
        "breaks_truncated": len(found) > RUN_DETAIL_ROWS,
        "rejects": [r for r in (run.rejects or [])[:RUN_DETAIL_ROWS]],
        "rejects_total": len(run.rejects or []),
        "rules": [
            (k, ("yes" if v else "no") if isinstance(v, bool) else v)
            for k, v in sorted((run.rules or {}).items())
        ],
        "files": sorted((run.files or {}).items()),
        "csv_url": reverse("api-recon-run-breaks-csv", args=[run.run_id]),
        "detail_url": reverse("api-recon-run-detail", args=[run.run_id]),
        "row_limit": RUN_DETAIL_ROWS,
        "tab": "runs",
    }
    return render(request, "recon/run_report.html", context)
