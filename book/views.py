"""Event log pages: the log with filters (polled by HTMX) and one trade's trace."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from . import events, selectors

PAGE_ROWS = 200


@require_safe
def event_log(request: HttpRequest) -> HttpResponse:
    queryset = selectors.event_list()
    trade_id = request.GET.get("trade_id", "").strip()
    kind = request.GET.get("kind", "").strip()
    if trade_id:
        queryset = queryset.filter(trade_id=trade_id)
    if kind:
        queryset = queryset.filter(kind=kind)
    context = {
        "events": list(queryset[:PAGE_ROWS]),
        "page_rows": PAGE_ROWS,
        "kinds": events.kind_choices(),
        "trade_id": trade_id,
        "kind": kind,
    }
    if request.htmx:
        return render(request, "book/_event_rows.html", context)
    return render(request, "book/event_log.html", context)


@require_safe
def trade_trace(request: HttpRequest, trade_id: str) -> HttpResponse:
    trace = selectors.trade_trace(trade_id)
    if not trace:
        raise Http404(f"No events recorded for trade {trade_id}")
    return render(request, "book/trade_trace.html", {"trade_id": trade_id, "events": trace})
