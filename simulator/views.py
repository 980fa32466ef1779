"""Market page: regime, macro inputs, curve and market charts, FX and vendor prices, the
clock (pause/resume for admins) and its ticks. One live partial, polled by HTMX."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from book.models import AssetClass
from opssuite import roles

from . import charts, selectors, services

HISTORY_TICKS = 130  # five sessions of 15-minute ticks
PRICE_CLASSES = [
    (c.value, c.label) for c in AssetClass if c not in (AssetClass.FX, AssetClass.CASH)
]


def _market_context(request: HttpRequest) -> dict[str, Any]:
    asset_class = request.GET.get("asset_class", "")
    if asset_class not in dict(PRICE_CLASSES):
        asset_class = ""
    market = selectors.market_context()
    previous: list[selectors.CurvePoint] = []
    if market["sim_date"] is not None:
        previous = selectors.previous_session_curve(market["sim_date"])
    history = selectors.snapshot_history(HISTORY_TICKS)
    return {
        "market": market,
        "clock": market["clock"],
        "ticks": selectors.recent_ticks(10),
        "quotes": selectors.quote_board(asset_class=asset_class or None),
        "asset_class": asset_class,
        "price_classes": PRICE_CLASSES,
        "curve_chart": charts.curve_chart(
            [(p.tenor, p.par_yield) for p in market["curve"]],
            [(p.tenor, p.par_yield) for p in previous],
        ),
        "market_chart": charts.market_chart(history),
        "history_ticks": len(history),
        "can_control_clock": roles.user_has_role(request.user, roles.ADMIN),
    }


@require_safe
def market(request: HttpRequest) -> HttpResponse:
    context = _market_context(request)
    if request.htmx:
        return render(request, "simulator/_market_live.html", context)
    return render(request, "simulator/market.html", context)


@require_POST
def clock_toggle(request: HttpRequest) -> HttpResponse:
    if not roles.user_has_role(request.user, roles.ADMIN):
        return HttpResponse("Only the admin role may pause or resume the clock.", status=403)
    if request.POST.get("running") == "1":
        services.clock_resume(actor=request.user)
        messages.success(request, "Clock resumed.")
    else:
        services.clock_pause(actor=request.user)
        messages.success(request, "Clock paused.")
    return redirect("market")
