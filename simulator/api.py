"""Market API: GET /api/market/context (the market now) and /api/market/prices."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .filters import PriceFilter
from .models import Price
from .serializers import MarketContextSerializer, PriceSerializer


class MarketContextView(APIView):
    """Sim time, tick, regime, VIX; the macro inputs in use with their FRED series, date and
    source; the treasury curve (par yields by tenor); FX, the latest rate of each source.
    Before the first tick: the clock, and nulls."""

    @extend_schema(responses=MarketContextSerializer)
    def get(self, request: Request) -> Response:
        return Response(MarketContextSerializer(selectors.market_context()).data)


class PriceListView(generics.ListAPIView):
    """Vendor prices, newest tick first. Filters: instrument (ticker), vendor, since (a tick
    number or an ISO 8601 sim time), tick."""

    serializer_class = PriceSerializer
    filterset_class = PriceFilter
    queryset = Price.objects.select_related("instrument").order_by(
        "-tick", "instrument_id", "vendor"
    )
