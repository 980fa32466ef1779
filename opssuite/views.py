"""Platform pages: overview, the placeholder of a module not built yet, /metrics."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe
from django_prometheus.exports import ExportToDjangoView
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from . import roles
from .modules import MODULES_BY_SLUG
from .selectors import overview_summary


@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    context = {"summary": overview_summary(), "module": MODULES_BY_SLUG["overview"]}
    if request.htmx:
        return render(request, "opssuite/_overview_status.html", context)
    context["ledger"] = _ledger_tile()
    context["recon"] = _recon_tile()
    context["dataquality"] = _dataquality_tile()
    return render(request, "opssuite/overview.html", context)


def _ledger_tile() -> dict[str, object]:
    """Journals posted and whether the ledger agrees with the book: read on page load
    only (the check reads every open receivable and payable; the 5 s poll does not)."""
    from ledger import selectors as ledger_selectors

    check = ledger_selectors.ledger_vs_book()
    summary = ledger_selectors.ledger_summary()
    return {
        "journals": summary["journals"],
        "last_journal": summary["last_journal"],
        "ok": check["ok"],
        "differences": len(check["differences"]),
    }


def _recon_tile() -> dict[str, object]:
    """Open breaks, escalated ones and the last run (page load only, like the ledger's)."""
    from recon.models import Break, ReconRun

    last = ReconRun.objects.order_by("-id").values_list("run_id", flat=True).first()
    return {
        "open": Break.objects.filter(status="open").count(),
        "escalated": Break.objects.filter(status="open", escalated=True).count(),
        "last_run": last,
    }


def _dataquality_tile() -> dict[str, object]:
    """Active alerts by severity and the last check run (page load only, like the others)."""
    from dataquality.models import CheckRun
    from dataquality.queries import active_alert_counts

    counts = active_alert_counts()
    by_severity = {s: 0 for s in ("critical", "warning", "info")}
    for (_, severity), n in counts.items():
        by_severity[severity] = by_severity.get(severity, 0) + n
    return {
        "active": sum(counts.values()),
        "critical": by_severity["critical"],
        "warning": by_severity["warning"],
        "last_tick": CheckRun.objects.order_by("-tick").values_list("tick", flat=True).first(),
    }


@require_safe
def module_placeholder(request: HttpRequest, slug: str) -> HttpResponse:
    module = MODULES_BY_SLUG.get(slug)
    if module is None or not module.placeholder:
        raise Http404(slug)
    return render(request, "opssuite/module_placeholder.html", {"module": module})


def _from_allowed_network(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.OPSSUITE_METRICS_ALLOWED_NETWORKS
    )


def _token_user(request: HttpRequest):  # type: ignore[no-untyped-def]
    try:
        found = TokenAuthentication().authenticate(request)  # type: ignore[arg-type]
    except AuthenticationFailed:
        return None
    return found[0] if found else None


@login_not_required
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics: for the admin role (session or token), or from allowed networks."""
    user = request.user if request.user.is_authenticated else _token_user(request)
    if not (_from_allowed_network(request) or roles.user_has_role(user, roles.ADMIN)):
        return HttpResponse(
            "metrics: admin role or an allowed network required\n",
            status=403,
            content_type="text/plain",
        )
    return ExportToDjangoView(request)
