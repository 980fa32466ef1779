"""Platform API: root, health, overview, clock actions."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from opssuite import roles
from opssuite.health import health_report
from opssuite.selectors import overview_summary
from simulator import services as clock_services
from simulator.selectors import clock_state

from .serializers import (
    ClockActionSerializer,
    ClockSerializer,
    HealthSerializer,
    OverviewSerializer,
)


class APIRootView(APIView):
    """Where every API resource lives."""

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        names = {
            "health": "api-health",
            "overview": "api-overview",
            "clock": "api-clock",
            "events": "api-event-list",
            "market_context": "api-market-context",
            "market_prices": "api-market-prices",
            "instruments": "api-instrument-list",
            "mandates": "api-mandate-list",
            "trades": "api-trade-list",
            "positions": "api-positions",
            "ledger": "api-ledger",
            "journals": "api-journal-list",
            "trial_balance": "api-trial-balance",
            "balance_sheet": "api-balance-sheet",
            "income_statement": "api-income-statement",
            "accounts": "api-account-list",
            "ledger_checks": "api-ledger-checks",
            "periods": "api-period-list",
            "period_close": "api-period-close",
            "recon": "api-recon",
            "recon_breaks": "api-recon-break-list",
            "recon_runs": "api-recon-run-list",
            "dataquality": "api-dataquality",
            "dq_alerts": "api-dq-alert-list",
            "dq_rules": "api-dq-rule-list",
            "dq_runs": "api-dq-run-list",
            "dq_gate": "api-dq-gate",
            "schema": "api-schema",
            "docs": "api-docs",
        }
        links = {key: reverse(name, request=request) for key, name in names.items()}
        links["trace"] = reverse("api-root", request=request) + "trace/{trade_id}"
        return Response(links)


class APINotFoundView(APIView):
    """Any path under /api/ that names no resource: a JSON 404 (after authentication)."""

    @extend_schema(exclude=True)
    def get(self, request: Request, path: str = "") -> Response:
        raise NotFound(f"No API route at /api/{path}.")

    post = put = patch = delete = get


class APIDocsView(SpectacularSwaggerView):
    """Swagger UI: a page for people, so signing in works as on every other page."""

    is_page = True


class HealthView(APIView):
    """Liveness and readiness: database, broker (stack mode), last tick and its age."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={200: HealthSerializer, 503: OpenApiResponse(HealthSerializer, "unhealthy")}
    )
    def get(self, request: Request) -> Response:
        healthy, report = health_report()
        return Response(HealthSerializer(report).data, status=200 if healthy else 503)


class OverviewView(APIView):
    """The suite at a glance: clock, recent ticks, event totals, modules."""

    @extend_schema(responses=OverviewSerializer)
    def get(self, request: Request) -> Response:
        return Response(OverviewSerializer(overview_summary()).data)


class ClockView(APIView):
    """The simulator clock. POST {"running": false|true} pauses or resumes it (admin)."""

    write_role = roles.ADMIN

    @extend_schema(responses=ClockSerializer)
    def get(self, request: Request) -> Response:
        return Response(ClockSerializer(clock_state()).data)

    @extend_schema(request=ClockActionSerializer, responses=ClockSerializer)
    def post(self, request: Request) -> Response:
        action = ClockActionSerializer(data=request.data)
        action.is_valid(raise_exception=True)
        if action.validated_data["running"]:
            clock_services.clock_resume(actor=request.user)
        else:
            clock_services.clock_pause(actor=request.user)
        return Response(ClockSerializer(clock_state()).data)
