"""Book API: the event log, the security master, mandates, trades (list, detail, booking by
hand, cancel, amend) and positions.

Writes go input serializer -> `book.services` -> output serializer; the services' Django
ValidationErrors become 400s naming the field (opssuite.api.errors).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .filters import EventFilter, InstrumentFilter, MandateFilter, TradeFilter
from .models import Trade
from .serializers import (
    EventSerializer,
    InstrumentSerializer,
    MandateSerializer,
    PositionQuerySerializer,
    PositionSerializer,
    TradeAmendSerializer,
    TradeBookSerializer,
    TradeCancelSerializer,
    TradeDetailSerializer,
    TradeSerializer,
    TradeTraceSerializer,
)


class EventViewSet(viewsets.ReadOnlyModelViewSet):
    """The event log, newest first. Filters: trade_id, kind, source, mandate, since, ..."""

    serializer_class = EventSerializer
    filterset_class = EventFilter

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.event_list()


class TradeTraceView(APIView):
    """Every event of one trade id, oldest first."""

    @extend_schema(responses=TradeTraceSerializer)
    def get(self, request: Request, trade_id: str) -> Response:
        trace = selectors.trade_trace(trade_id)
        if not trace:
            raise Http404(f"No events recorded for trade {trade_id}.")
        return Response(TradeTraceSerializer({"trade_id": trade_id, "events": trace}).data)


class InstrumentViewSet(viewsets.ReadOnlyModelViewSet):
    """The security master. Filters: asset_class, currency, sector, active, search (part of
    a ticker, ISIN or name). Bonds carry their terms."""

    serializer_class = InstrumentSerializer
    filterset_class = InstrumentFilter
    lookup_field = "ticker"
    # Bond tickers hold spaces and slashes ("T 1.250 07/15").
    lookup_value_regex = r".+"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.instrument_list()


class MandateViewSet(viewsets.ReadOnlyModelViewSet):
    """Mandates with their benchmark lines, custody account, units outstanding and cash
    balances (settled and projected, by currency)."""

    serializer_class = MandateSerializer
    filterset_class = MandateFilter
    lookup_field = "code"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.mandate_list()


class TradeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The blotter, newest booking first; one trade with its versions and events; booking
    by hand, cancel and amend (operator). Every write records who did it."""

    filterset_class = TradeFilter
    lookup_field = "trade_id"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if self.action == "retrieve":
            return selectors.trade_list().prefetch_related("versions")
        return selectors.trade_list()

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return {
            "retrieve": TradeDetailSerializer,
            "create": TradeBookSerializer,
            "cancel": TradeCancelSerializer,
            "amend": TradeAmendSerializer,
        }.get(self.action, TradeSerializer)

    def _detail(self, trade_id: str, code: int = status.HTTP_200_OK) -> Response:
        trade = selectors.trade_get(trade_id)
        return Response(TradeDetailSerializer(trade).data, status=code)

    def _existing(self, trade_id: str) -> str:
        if not Trade.objects.filter(trade_id=trade_id).exists():
            raise Http404(f"No trade {trade_id}.")
        return trade_id

    @extend_schema(request=TradeBookSerializer, responses={201: TradeDetailSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Book a trade by hand (source "manual") at the current sim time and tick; a trade
        time may be given, not after the current sim time."""
        given = TradeBookSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        fields = given.service_fields(selectors.sim_now())
        trade = services.trade_book(actor=request.user, **fields)
        return self._detail(trade.trade_id, status.HTTP_201_CREATED)

    @extend_schema(request=TradeCancelSerializer, responses=TradeDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, trade_id: str) -> Response:
        """Cancel a trade that has not settled: a new version; its cash and lots unwind."""
        self._existing(trade_id)
        given = TradeCancelSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        now = selectors.sim_now()
        services.trade_cancel(
            trade_id=trade_id,
            reason=given.validated_data["reason"],
            actor=request.user,
            tick=now.tick,
            sim_time=now.sim_time,
        )
        return self._detail(trade_id)

    @extend_schema(request=TradeAmendSerializer, responses=TradeDetailSerializer)
    @action(detail=True, methods=["post"])
    def amend(self, request: Request, trade_id: str) -> Response:
        """New terms for a trade that has not settled (quantity, price, costs, dates): a new
        version; cash and lots follow the new terms."""
        self._existing(trade_id)
        given = TradeAmendSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        now = selectors.sim_now()
        services.trade_amend(
            trade_id=trade_id,
            changes=given.changes(),
            reason=given.validated_data["reason"],
            actor=request.user,
            tick=now.tick,
            sim_time=now.sim_time,
        )
        return self._detail(trade_id)


@extend_schema(
    parameters=[
        OpenApiParameter("mandate", str, description="Mandate code"),
        OpenApiParameter(
            "as_of",
            str,
            description="YYYY-MM-DD: quantities replayed from trades with trade_date <= as_of",
        ),
    ]
)
class PositionListView(generics.ListAPIView):
    """Positions with the latest primary price and market value (instrument currency; bonds
    clean, per 100 of face). Without `as_of`: the stored positions with cost basis and
    realized P&L. With `as_of`: quantities replayed from the trades up to that trade date,
    priced at the last primary price of that date."""

    serializer_class = PositionSerializer
    extra_query_params = ("mandate", "as_of")

    def get_queryset(self):  # type: ignore[no-untyped-def]
        given = {k: v for k, v in self.request.query_params.items() if v != ""}
        query = PositionQuerySerializer(data=given)
        query.is_valid(raise_exception=True)
        mandate = query.validated_data.get("mandate")
        as_of = query.validated_data.get("as_of")
        if as_of is not None:
            return selectors.positions_as_of(as_of, mandate=mandate)
        return selectors.position_list(mandate=mandate)
