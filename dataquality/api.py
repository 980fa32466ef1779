"""Data quality API: the summary, the alert queue (filters, CSV, one alert with its inputs,
window and history, the workflow actions one by one and in bulk), the rules (a change
is a new version: admin role), the check runs with their per-rule results and a check's
trend, the NAV gate, and the alerts raised after a report was published.

Writes go input serializer -> `dataquality.services` -> output serializer and need the
operator role (rules: admin); a request the service refuses (`DQError`) is a 400 naming
the field, an unknown alert, rule or run a 404. Every action is recorded on the alert
and in the event log by the service.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from opssuite import roles
from opssuite.api.renderers import CSVMixin

from . import selectors, services
from .filters import AlertFilter, RuleFilter
from .models import Alert, CheckRun, DQRule
from .serializers import (
    ACTION_INPUTS,
    AlertAcknowledgeSerializer,
    AlertAssignSerializer,
    AlertBulkActionSerializer,
    AlertBulkResultSerializer,
    AlertCommentSerializer,
    AlertDetailSerializer,
    AlertResolveSerializer,
    AlertSerializer,
    AlertSnoozeSerializer,
    CheckRunDetailSerializer,
    CheckRunSerializer,
    DQSummarySerializer,
    GateQuery,
    GateSerializer,
    LateAlertsQuery,
    LateAlertsSerializer,
    RuleSerializer,
    RuleUpdateSerializer,
    TrendQuery,
    TrendSerializer,
)

FORMAT_PARAM = OpenApiParameter(
    "format", str, enum=["json", "csv"], description="csv: every matching row, as an attachment"
)


def strict_query(request: Request, serializer_class: type) -> dict[str, Any]:
    """The validated query string: unknown parameters and bad values are a 400 naming
    them. An empty value counts as absent."""
    allowed = {"format", *serializer_class().fields}
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        hint = ", ".join(sorted(allowed))
        raise ValidationError(
            {name: [f"unknown query parameter; allowed: {hint}"] for name in unknown}
        )
    given = {k: v for k, v in request.query_params.items() if k != "format" and v.strip() != ""}
    query = serializer_class(data=given)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


def no_query(request: Request) -> None:
    unknown = sorted(set(request.query_params) - {"format"})
    if unknown:
        raise ValidationError({name: ["unknown query parameter"] for name in unknown})


# --- the summary -------------------------------------------------------------------------


class DQSummaryView(APIView):
    """Data quality at a glance: active alerts by severity, check (rule) and source; a
    health score per source over the recent runs; the sources x checks heat map of
    failures; the last run."""

    @extend_schema(responses=DQSummarySerializer)
    def get(self, request: Request) -> Response:
        no_query(request)
        return Response(DQSummarySerializer(selectors.dq_summary()).data)


# --- alerts ------------------------------------------------------------------------------

ALERT_CSV_HEADER = [
    "alert_id",
    "rule",
    "rule_version",
    "severity",
    "status",
    "entity_kind",
    "entity_key",
    "source",
    "asset_class",
    "instrument",
    "mandate",
    "value",
    "value_source",
    "reference",
    "reference_source",
    "tolerance",
    "measured",
    "unit",
    "message",
    "first_seen_tick",
    "last_seen_tick",
    "times_seen",
    "window_start",
    "window_end",
    "raised_sim_time",
    "resolved_tick",
    "resolution",
    "snoozed_until_tick",
    "assignee",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _iso(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def alert_csv_response(alerts: Any, *, filename: str) -> StreamingHttpResponse:
    """Every matching alert, one row each, read in chunks."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")

    def stream() -> Iterator[str]:
        yield writer.writerow(ALERT_CSV_HEADER)
        for a in alerts.iterator(chunk_size=2000):
            row = [
                a.alert_id,
                a.rule,
                a.rule_version,
                a.severity,
                a.status,
                a.entity_kind,
                a.entity_key,
                a.source,
                a.asset_class,
                a.instrument.ticker if a.instrument else "",
                a.mandate.code if a.mandate else "",
                a.value,
                a.value_source,
                a.reference,
                a.reference_source,
                a.tolerance,
                a.measured,
                a.unit,
                a.message,
                a.first_seen_tick,
                a.last_seen_tick,
                a.times_seen,
                _iso(a.window_start),
                _iso(a.window_end),
                _iso(a.raised_sim_time),
                a.resolved_tick,
                a.resolution,
                a.snoozed_until_tick,
                a.assignee.get_username() if a.assignee else "",
            ]
            yield writer.writerow(["" if v is None else v for v in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _action_schema(request: type, summary: str) -> Any:
    return extend_schema(
        summary=summary,
        request=request,
        responses={
            200: AlertDetailSerializer,
            400: OpenApiResponse(description="Refused: names the field (e.g. already resolved)"),
            403: OpenApiResponse(description="Needs the operator role"),
            404: OpenApiResponse(description="No such alert"),
        },
    )


class AlertViewSet(
    CSVMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The alert queue, newest raised first. Filters: status, active (true/false),
    severity, rule, source, instrument (ticker), mandate (code: the alerts touching its
    NAV inputs), assignee (username). `?format=csv` on the list: every matching alert.
    One alert: both sources' values, tolerance and measure, its inputs, the window it
    covers and its history. The actions (operator): acknowledge, snooze, assign, comment,
    resolve, and bulk."""

    filterset_class = AlertFilter
    lookup_field = "alert_id"
    lookup_value_regex = r"[^/]+"
    serializer_class = AlertSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.alert_list()

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        if self.action == "retrieve":
            return AlertDetailSerializer
        if self.action in ACTION_INPUTS:
            return ACTION_INPUTS[self.action]
        if self.action == "bulk":
            return AlertBulkActionSerializer
        return AlertSerializer

    @extend_schema(parameters=[FORMAT_PARAM])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if self.wants_csv(request):
            alerts = self.filter_queryset(self.get_queryset())
            parts = [
                request.query_params.get(k)
                for k in ("status", "severity", "rule", "mandate", "instrument")
                if request.query_params.get(k)
            ]
            return alert_csv_response(alerts, filename="-".join(["alerts", *parts]) + ".csv")
        return super().list(request, *args, **kwargs)

    def _detail(self, alert_id: str) -> Response:
        alert = selectors.alert_detail(alert_id)  # Alert.DoesNotExist: a 404
        return Response(AlertDetailSerializer(alert).data)

    def retrieve(self, request: Request, alert_id: str) -> Response:
        return self._detail(alert_id)

    def _act(self, request: Request, alert_id: str, name: str) -> Response:
        if not Alert.objects.filter(alert_id=alert_id).exists():
            raise Alert.DoesNotExist(f"No alert {alert_id}.")
        given = ACTION_INPUTS[name](data=request.data)
        given.is_valid(raise_exception=True)
        services.BULK_ACTIONS[name]([alert_id], actor=request.user, **given.validated_data)
        return self._detail(alert_id)

    @_action_schema(AlertAcknowledgeSerializer, "Acknowledge an alert (someone is on it)")
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, alert_id: str) -> Response:
        return self._act(request, alert_id, "acknowledge")

    @_action_schema(AlertSnoozeSerializer, "Snooze an alert for some ticks")
    @action(detail=True, methods=["post"])
    def snooze(self, request: Request, alert_id: str) -> Response:
        return self._act(request, alert_id, "snooze")

    @_action_schema(AlertAssignSerializer, "Assign an alert to someone (or unassign: null)")
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, alert_id: str) -> Response:
        return self._act(request, alert_id, "assign")

    @_action_schema(AlertCommentSerializer, "Comment on an alert")
    @action(detail=True, methods=["post"])
    def comment(self, request: Request, alert_id: str) -> Response:
        return self._act(request, alert_id, "comment")

    @_action_schema(AlertResolveSerializer, "Resolve an alert (a persisting condition raises anew)")
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, alert_id: str) -> Response:
        return self._act(request, alert_id, "resolve")

    @extend_schema(
        summary="One action on several alerts: all change, or none",
        request=AlertBulkActionSerializer,
        responses={
            200: AlertBulkResultSerializer,
            400: OpenApiResponse(description="Refused: names the field (e.g. unknown alerts)"),
            403: OpenApiResponse(description="Needs the operator role"),
        },
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        given = AlertBulkActionSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        name = given.validated_data["action"]
        ids = given.validated_data["alert_ids"]
        services.BULK_ACTIONS[name](ids, actor=request.user, **given.validated_data["params"])
        rows = list(selectors.alert_list().filter(alert_id__in=ids))
        body = {"action": name, "count": len(rows), "alerts": rows}
        return Response(AlertBulkResultSerializer(body).data)


# --- rules -------------------------------------------------------------------------------


class RuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The checks' rules, per asset class ("" = every class): severity, params, enabled,
    and the version every alert names (filters: code, asset_class, enabled). PATCH
    (admin) changes a rule through `services.rule_update`: validated against the engine,
    a new version, an event in the log."""

    filterset_class = RuleFilter
    serializer_class = RuleSerializer
    pagination_class = None  # a few dozen rows: one page
    write_role = roles.ADMIN
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return DQRule.objects.order_by("code", "asset_class")

    @extend_schema(
        request=RuleUpdateSerializer,
        responses={
            200: RuleSerializer,
            400: OpenApiResponse(description="Invalid: names the field"),
            403: OpenApiResponse(description="Needs the admin role"),
            404: OpenApiResponse(description="No such rule"),
        },
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        given = RuleUpdateSerializer(data=request.data, context={"rule": rule})
        given.is_valid(raise_exception=True)
        row = services.rule_update(rule, actor=request.user, **given.validated_data)
        return Response(RuleSerializer(row).data)


# --- runs --------------------------------------------------------------------------------


class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every check run, newest tick first: sim time, duration, findings, alerts opened
    and resolved, a summary by rule and severity. One run (by tick): each rule's outcome
    per source, passes included."""

    serializer_class = CheckRunSerializer
    lookup_field = "tick"
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.run_list()

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return CheckRunDetailSerializer if self.action == "retrieve" else CheckRunSerializer

    def retrieve(self, request: Request, tick: str) -> Response:
        no_query(request)
        run = CheckRun.objects.prefetch_related("results").get(tick=int(tick))
        return Response(CheckRunDetailSerializer(run).data)


class TrendView(APIView):
    """One check's evaluated and failed counts per tick over the last `ticks` ticks (all
    sources together): the trend the stored runs allow."""

    @extend_schema(parameters=[TrendQuery], responses=TrendSerializer)
    def get(self, request: Request) -> Response:
        query = strict_query(request, TrendQuery)
        points = selectors.check_trend(query["rule"], ticks=query["ticks"])
        body = {"rule": query["rule"], "ticks": query["ticks"], "points": points}
        return Response(TrendSerializer(body).data)


# --- the gate and late alerts ------------------------------------------------------------


def clock_sim_time() -> Any:
    from simulator.services import clock_get

    return clock_get().last_tick_sim_time


class GateView(APIView):
    """May this mandate's NAV for time `at` publish? Yes, or no with the active critical
    alerts on its inputs (the instruments it holds and their prices from both vendors,
    the FX it needs, its custodian feed, its bonds' curve) whose window covers `at`.
    Alerts on other inputs never block."""

    @extend_schema(
        parameters=[GateQuery],
        responses={200: GateSerializer, 400: OpenApiResponse(description="Names the parameter")},
    )
    def get(self, request: Request) -> Response:
        query = strict_query(request, GateQuery)
        at = query.get("at") or clock_sim_time()
        if at is None:
            raise ValidationError({"at": ["required: the clock has not ticked yet"]})
        decision = selectors.nav_gate(query["mandate"], at)
        return Response(GateSerializer(decision.as_dict()).data)


class LateAlertsView(APIView):
    """The alerts touching this mandate's inputs whose window covers `at` (the NAV time)
    and that were raised after `after` (sim time): what a report published at `after`
    did not know. Oldest raised first."""

    @extend_schema(
        parameters=[LateAlertsQuery],
        responses={
            200: LateAlertsSerializer,
            400: OpenApiResponse(description="Names the parameter"),
        },
    )
    def get(self, request: Request) -> Response:
        query = strict_query(request, LateAlertsQuery)
        severity = query.get("severity")
        alerts = list(
            selectors.alerts_raised_after(
                query["mandate"],
                at=query["at"],
                after=query["after"],
                severities=(severity,) if severity else None,
            ).select_related("instrument", "mandate", "assignee")
        )
        body = {
            "mandate": query["mandate"].code,
            "at": query["at"],
            "after": query["after"],
            "count": len(alerts),
            "alerts": alerts,
        }
        return Response(LateAlertsSerializer(body).data)
