"""Book pages: the trade blotter, one trade (terms, versions, events; cancel and amend for
operators), positions by mandate, the event log and one trade's trace.

Each page renders whole on a normal request and its named partial when HTMX polls it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_POST, require_safe
from rest_framework import serializers as drf_serializers

from opssuite import roles

from . import events, selectors, services
from .filters import TradeFilter
from .models import Instrument, Mandate, Side, Trade, TradeSource, TradeStatus
from .serializers import TradeAmendSerializer, TradeCancelSerializer

PAGE_ROWS = 200
FINAL_STATUSES = (TradeStatus.SETTLED, TradeStatus.CANCELLED)


# --- trades ------------------------------------------------------------------------------


@require_safe
def trade_blotter(request: HttpRequest) -> HttpResponse:
    filterset = TradeFilter(request.GET, queryset=selectors.trade_list())
    if filterset.is_valid():
        matching = filterset.qs
        trades, total, errors = list(matching[:PAGE_ROWS]), matching.count(), {}
    else:
        trades, total, errors = [], 0, filterset.errors
    context = {
        "trades": trades,
        "total": total,
        "page_rows": PAGE_ROWS,
        "errors": errors,
        "query": request.GET.urlencode(),
        "filters": {name: request.GET.get(name, "") for name in filterset.base_filters},
    }
    if request.htmx:
        return render(request, "book/_trade_rows.html", context)
    context.update(
        mandates=list(Mandate.objects.order_by("code").values_list("code", flat=True)),
        tickers=list(Instrument.objects.order_by("ticker").values_list("ticker", flat=True)),
        statuses=TradeStatus.choices,
        sources=TradeSource.choices,
        sides=Side.choices,
    )
    return render(request, "book/trade_blotter.html", context)


def _trade_context(request: HttpRequest, trade_id: str) -> dict[str, Any]:
    trade = selectors.trade_get(trade_id)
    if trade is None:
        raise Http404(f"No trade {trade_id}")
    versions = list(trade.versions.all())
    trace = selectors.trade_trace(trade_id)
    return {
        "trade": trade,
        "versions": list(zip(versions, selectors.version_changes(versions), strict=True)),
        "events": trace,
        "seen": selectors.trade_state(trade, trace[-1].pk if trace else None),
        "can_change": roles.user_has_role(request.user, roles.OPERATOR)
        and trade.status not in FINAL_STATUSES,
    }


@require_safe
def trade_detail(request: HttpRequest, trade_id: str) -> HttpResponse:
    # A poll that already shows the trade as it is gets a 204: HTMX keeps the page (and
    # an event payload the reader opened stays open).
    seen = request.GET.get("seen")
    if request.htmx and seen and seen == selectors.trade_state_now(trade_id):
        return HttpResponse(status=204)
    context = _trade_context(request, trade_id)
    if request.htmx:
        return render(request, "book/_trade_live.html", context)
    return render(request, "book/trade_detail.html", context)


def _posted(request: HttpRequest) -> dict[str, str]:
    """The form's non-empty fields. Times typed without an offset are UTC (the suite's
    times are all shown in UTC)."""
    data = {
        key: value.strip()
        for key, value in request.POST.items()
        if key != "csrfmiddlewaretoken" and value.strip()
    }
    if "trade_time" in data and parse_date(data["trade_time"][:10]) is not None:
        tail = data["trade_time"][10:]
        if not any(mark in tail for mark in ("Z", "z", "+", "-")):
            data["trade_time"] += "Z"
    return data


def _refused(
    request: HttpRequest, trade_id: str, action: str, errors: Any, data: dict[str, str]
) -> HttpResponse:
    context = _trade_context(request, trade_id)
    context.update(action_errors={action: errors}, posted={action: data})
    return render(request, "book/trade_detail.html", context, status=400)


def _service_errors(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {k: list(v) for k, v in exc.message_dict.items()}
    return {"non_field_errors": list(exc.messages)}


@require_POST
def trade_cancel(request: HttpRequest, trade_id: str) -> HttpResponse:
    """Cancel a trade (operator; the middleware refuses viewers)."""
    data = _posted(request)
    given = TradeCancelSerializer(data=data)
    try:
        given.is_valid(raise_exception=True)
        now = selectors.sim_now()
        services.trade_cancel(
            trade_id=trade_id,
            reason=given.validated_data["reason"],
            actor=request.user,
            tick=now.tick,
            sim_time=now.sim_time,
        )
    except drf_serializers.ValidationError as exc:
        return _refused(request, trade_id, "cancel", exc.detail, data)
    except ValidationError as exc:
        return _refused(request, trade_id, "cancel", _service_errors(exc), data)
    except Trade.DoesNotExist:
        raise Http404(f"No trade {trade_id}") from None
    messages.success(request, f"{trade_id} cancelled.")
    return redirect("trade-detail", trade_id=trade_id)


@require_POST
def trade_amend(request: HttpRequest, trade_id: str) -> HttpResponse:
    """New terms for a trade (operator): a new version with the reason given."""
    data = _posted(request)
    given = TradeAmendSerializer(data=data)
    try:
        given.is_valid(raise_exception=True)
        now = selectors.sim_now()
        trade = services.trade_amend(
            trade_id=trade_id,
            changes=given.changes(),
            reason=given.validated_data["reason"],
            actor=request.user,
            tick=now.tick,
            sim_time=now.sim_time,
        )
    except drf_serializers.ValidationError as exc:
        return _refused(request, trade_id, "amend", exc.detail, data)
    except ValidationError as exc:
        return _refused(request, trade_id, "amend", _service_errors(exc), data)
    except Trade.DoesNotExist:
        raise Http404(f"No trade {trade_id}") from None
    messages.success(request, f"{trade_id} amended: now version {trade.version}.")
    return redirect("trade-detail", trade_id=trade_id)


# --- positions ---------------------------------------------------------------------------


@require_safe
def positions(request: HttpRequest) -> HttpResponse:
    mandates = list(selectors.mandate_list())
    code = request.GET.get("mandate", "").strip()
    mandate = next((m for m in mandates if m.code == code), None)
    errors = []
    if code and mandate is None:
        errors.append(f"No mandate {code}.")
    if mandate is None and mandates:
        mandate = mandates[0]
    as_of_text = request.GET.get("as_of", "").strip()
    as_of = None
    if as_of_text:
        try:
            as_of = parse_date(as_of_text)
        except ValueError:
            as_of = None
        if as_of is None:
            errors.append(f"as_of {as_of_text!r} is not a date (YYYY-MM-DD).")
    rows: list[dict[str, Any]] = []
    if mandate is not None:
        found = (
            selectors.positions_as_of(as_of, mandate=mandate)
            if as_of
            else selectors.position_list(mandate=mandate)
        )
        rows = selectors.positions_valued(list(found))
    totals = dict(selectors.market_value_totals(rows))
    balances = {c.currency_id: c for c in (mandate.cash_balances.all() if mandate else [])}
    context = {
        "mandates": mandates,
        "mandate": mandate,
        "as_of": as_of,
        "as_of_text": as_of_text if as_of else "",
        "errors": errors,
        "rows": rows,
        "cash": [
            {
                "currency": currency,
                "settled": balance.settled if balance else None,
                "projected": balance.projected if balance else None,
                "pending": balance.projected - balance.settled if balance else None,
                "market_value": totals.get(currency),
            }
            for currency in sorted(set(balances) | set(totals))
            for balance in [balances.get(currency)]
        ],
        "query": request.GET.urlencode(),
    }
    if request.htmx:
        return render(request, "book/_positions.html", context)
    return render(request, "book/positions.html", context)


# --- the event log -----------------------------------------------------------------------


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
