"""Event log API: GET /api/events (filtered list), /api/events/{id}, /api/trace/{trade_id}."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .filters import EventFilter
from .serializers import EventSerializer, TradeTraceSerializer


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
