"""Market page: the clock and recent ticks (the market itself arrives with issue 3)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from opssuite import roles

from . import selectors, services


@require_safe
def market(request: HttpRequest) -> HttpResponse:
    context = {
        "clock": selectors.clock_state(),
        "ticks": selectors.recent_ticks(20),
        "can_control_clock": roles.user_has_role(request.user, roles.ADMIN),
    }
    if request.htmx:
        return render(request, "simulator/_ticks.html", context)
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
