"""Recon API: the summary, the break queue (filters, CSV, one break with its history, the
workflow actions one by one and in bulk), and runs (history, one run's report and its
breaks.csv, a trade recon of uploaded files).

Writes go input serializer -> `recon.services` -> output serializer and need the operator
role; a request the service refuses (`ReconError`) is a 400 naming the field, an unknown
break or run a 404. Every action is recorded on the break and in the event log by the
service.

An upload is checked against RECON_MAX_UPLOAD_BYTES before a byte of it is read: its
declared length first, then the bytes actually received (a client that declares none or
lies); past the limit it is a 413, never a half-read file or a 500.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from opssuite.api.renderers import CSVMixin, CSVRenderer, CSVTable, csv_response

from . import queries, selectors, services
from .filters import BreakFilter, RunFilter
from .models import Break, ReconRun
from .serializers import (
    ACTION_INPUTS,
    AssignSerializer,
    BreakDetailSerializer,
    BreakSerializer,
    BulkActionSerializer,
    BulkResultSerializer,
    CommentSerializer,
    NoteSerializer,
    ReasonSerializer,
    ReconSummarySerializer,
    ResolveSerializer,
    RunDetailSerializer,
    RunSerializer,
    RunUploadSerializer,
)

DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024

FORMAT_PARAM = OpenApiParameter(
    "format", str, enum=["json", "csv"], description="csv: every matching row, as an attachment"
)


# --- uploads -----------------------------------------------------------------------------


def max_upload_bytes() -> int:
    return int(getattr(settings, "RECON_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


class UploadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"
    default_detail = "The upload is too large."


def upload_too_large(size: int | None, limit: int) -> UploadTooLarge:
    given = f"{_size(size)}" if size is not None else "more than that"
    return UploadTooLarge(
        f"The upload is {given}; the limit is {_size(limit)} (RECON_MAX_UPLOAD_BYTES). "
        "Split the files, or run `manage.py recon_files` on the server."
    )


class UploadLimitHandler(FileUploadHandler):
    """Counts the file bytes as they arrive and stops the upload past the limit (for a
    request that declares no length, or a wrong one). Passes every chunk on to the
    handlers after it, which store the file."""

    def __init__(self, request: Any = None, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise upload_too_large(None, self.limit)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def upload_guard(request: Any) -> None:
    """Refuse an upload over the limit before reading it (raises UploadTooLarge), and
    watch the bytes of one that declares a length within it. `request` is Django's
    HttpRequest, before its body is parsed."""
    limit = max_upload_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise upload_too_large(declared, limit)
    handlers = list(request.upload_handlers)
    request.upload_handlers = [UploadLimitHandler(request, limit=limit), *handlers]


def _uploaded_names(files: dict[str, Any]) -> dict[str, str]:
    """Each file's name as given, made unique: the service tells which file a problem is
    in by its name, so two uploads both called data.csv must not share one."""
    names: dict[str, str] = {}
    for field, upload in files.items():
        name = (getattr(upload, "name", "") or f"{field}.csv")[:200]
        if name in names.values():
            name = f"{name} ({field})"
        names[field] = name
    return names


def file_run_from_upload(data: dict[str, Any], *, actor: Any) -> ReconRun:
    """The validated upload (RunUploadSerializer) as a file run."""
    files = {k: data[k] for k in ("executions", "confirmations", "pnl") if data.get(k) is not None}
    tolerances = {
        k: data[k]
        for k in ("price_tolerance", "time_tolerance_ms", "pnl_tolerance")
        if data.get(k) is not None
    }
    rules = dataclasses.replace(services.trade_rules(), **tolerances) if tolerances else None
    return services.file_run_create(
        executions=files["executions"],
        confirmations=files["confirmations"],
        pnl=files.get("pnl"),
        names=_uploaded_names(files),
        rules=rules,
        actor=actor,
    )


# --- the summary -------------------------------------------------------------------------


def no_query(request: Request) -> None:
    unknown = sorted(set(request.query_params) - {"format"})
    if unknown:
        raise ValidationError({name: ["unknown query parameter"] for name in unknown})


class ReconSummaryView(APIView):
    """The recon at a glance: open breaks by type, age bucket (business days), type and
    age, mandate and classification; the last runs; matched items and breaks found by
    the recent runs of each recon."""

    @extend_schema(responses=ReconSummarySerializer)
    def get(self, request: Request) -> Response:
        no_query(request)
        return Response(ReconSummarySerializer(selectors.recon_summary()).data)


# --- breaks ------------------------------------------------------------------------------

BREAK_CSV_HEADER = [
    "break_id",
    "recon",
    "source",
    "break_type",
    "classification",
    "status",
    "mandate",
    "custody_account",
    "instrument",
    "reported_id",
    "currency",
    "trade_id",
    "match_key",
    "trade_ids",
    "field",
    "internal_value",
    "external_value",
    "difference",
    "first_seen_date",
    "last_seen_date",
    "age",
    "age_bucket",
    "times_seen",
    "assignee",
    "reason_code",
    "escalated",
    "resolved_date",
    "resolution",
    "explanation",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def break_csv_response(breaks: Any, *, on: Any, filename: str) -> StreamingHttpResponse:
    """Every matching break, one row each, read in chunks."""
    from .models import age_bucket

    writer = csv.writer(_Echo(), lineterminator="\r\n")

    def stream() -> Iterator[str]:
        yield writer.writerow(BREAK_CSV_HEADER)
        for brk in breaks.iterator(chunk_size=2000):
            age = selectors.break_age(brk, on)
            yield writer.writerow(
                [
                    brk.break_id,
                    brk.recon,
                    brk.source,
                    brk.break_type,
                    brk.classification,
                    brk.status,
                    brk.mandate.code if brk.mandate else "",
                    brk.custody_account.code if brk.custody_account else "",
                    brk.instrument.ticker if brk.instrument else "",
                    brk.reported_id,
                    brk.currency,
                    brk.trade_id,
                    brk.match_key,
                    " ".join(brk.trade_ids or []),
                    brk.field,
                    brk.internal_value,
                    brk.external_value,
                    brk.difference,
                    brk.first_seen_date.isoformat(),
                    brk.last_seen_date.isoformat(),
                    age,
                    age_bucket(age),
                    brk.times_seen,
                    brk.assignee.get_username() if brk.assignee else "",
                    brk.reason_code,
                    "true" if brk.escalated else "false",
                    brk.resolved_date.isoformat() if brk.resolved_date else "",
                    brk.resolution,
                    brk.explanation,
                ]
            )

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _action_schema(request: type, summary: str) -> Any:
    return extend_schema(
        summary=summary,
        request=request,
        responses={
            200: BreakDetailSerializer,
            400: OpenApiResponse(description="Refused: names the field (e.g. already resolved)"),
            403: OpenApiResponse(description="Needs the operator role"),
            404: OpenApiResponse(description="No such break"),
        },
    )


class BreakViewSet(
    CSVMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The break queue: escalated first, then oldest first. Filters: type, status, mandate,
    age (bucket of business days: 0-1, 2-3, 4-5, 6-10, >10), trade_id, recon,
    classification, assignee (username), escalated (true/false). `?format=csv` on the
    list: every matching break. One break: both sides, the difference, what explains it,
    its candidates and its history. The actions (operator): assign, comment, reason,
    resolve, escalate, reopen, and bulk."""

    filterset_class = BreakFilter
    lookup_field = "break_id"
    lookup_value_regex = r"[^/]+"
    serializer_class = BreakSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.break_list()

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["on"] = self._on()
        return context

    def _on(self) -> Any:
        if not hasattr(self, "_today"):
            self._today = selectors.today()
        return self._today

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        if self.action == "retrieve":
            return BreakDetailSerializer
        if self.action in ACTION_INPUTS:
            return ACTION_INPUTS[self.action]
        if self.action == "bulk":
            return BulkActionSerializer
        return BreakSerializer

    @extend_schema(parameters=[FORMAT_PARAM])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if self.wants_csv(request):
            breaks = self.filter_queryset(self.get_queryset())
            parts = [
                request.query_params.get(k)
                for k in ("type", "status", "mandate", "trade_id")
                if request.query_params.get(k)
            ]
            name = "-".join(["breaks", *parts]) + ".csv"
            return break_csv_response(breaks, on=self._on(), filename=name)
        return super().list(request, *args, **kwargs)

    def _detail(self, break_id: str, *, code: int = status.HTTP_200_OK) -> Response:
        brk = selectors.break_detail(break_id)  # Break.DoesNotExist: a 404
        return Response(BreakDetailSerializer(brk, context={"on": self._on()}).data, status=code)

    def retrieve(self, request: Request, break_id: str) -> Response:
        return self._detail(break_id)

    def _act(self, request: Request, break_id: str, name: str, **service_kwargs: Any) -> Response:
        if not Break.objects.filter(break_id=break_id).exists():
            raise Break.DoesNotExist(f"No break {break_id}.")
        given = ACTION_INPUTS[name](data=request.data)
        given.is_valid(raise_exception=True)
        services.BULK_ACTIONS[name]([break_id], actor=request.user, **given.validated_data)
        return self._detail(break_id)

    @_action_schema(AssignSerializer, "Assign a break to someone (or unassign: null)")
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, break_id: str) -> Response:
        return self._act(request, break_id, "assign")

    @_action_schema(CommentSerializer, "Comment on a break")
    @action(detail=True, methods=["post"])
    def comment(self, request: Request, break_id: str) -> Response:
        return self._act(request, break_id, "comment")

    @_action_schema(ReasonSerializer, "Set a break's reason code")
    @action(detail=True, methods=["post"])
    def reason(self, request: Request, break_id: str) -> Response:
        return self._act(request, break_id, "reason")

    @_action_schema(ResolveSerializer, "Resolve a break with a reason code")
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, break_id: str) -> Response:
        return self._act(request, break_id, "resolve")

    @_action_schema(NoteSerializer, "Escalate an open break")
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, break_id: str) -> Response:
        return self._act(request, break_id, "escalate")

    @_action_schema(NoteSerializer, "Reopen a resolved break")
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, break_id: str) -> Response:
        return self._act(request, break_id, "reopen")

    @extend_schema(
        summary="One action on several breaks: all change, or none",
        request=BulkActionSerializer,
        responses={
            200: BulkResultSerializer,
            400: OpenApiResponse(description="Refused: names the field (e.g. unknown breaks)"),
            403: OpenApiResponse(description="Needs the operator role"),
        },
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        given = BulkActionSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        name = given.validated_data["action"]
        ids = given.validated_data["break_ids"]
        services.BULK_ACTIONS[name](ids, actor=request.user, **given.validated_data["params"])
        rows = list(selectors.break_list().filter(break_id__in=ids))
        body = {"action": name, "count": len(rows), "breaks": rows}
        return Response(BulkResultSerializer(body, context={"on": self._on()}).data)


# --- runs --------------------------------------------------------------------------------

RUN_CSV_HEADER = [
    "run_id",
    "kind",
    "source",
    "status",
    "mandate",
    "statement",
    "as_of",
    "sim_time",
    "started_at",
    "duration_ms",
    "actor",
    "breaks_found",
    "matched",
    "rejects",
]


class RunViewSet(
    CSVMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Recon runs, newest first (filters: kind, source); one run with its rules, rejects
    and the breaks it found; its breaks.csv; and a trade recon of uploaded files
    (operator): multipart `executions`, `confirmations`, optional `pnl`, optional
    tolerances."""

    filterset_class = RunFilter
    lookup_field = "run_id"
    lookup_value_regex = r"[^/]+"
    serializer_class = RunSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.run_list()

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        if self.action == "retrieve":
            return RunDetailSerializer
        if self.action == "create":
            return RunUploadSerializer
        return RunSerializer

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before authentication reads the body (a session's CSRF check parses the form).
        if request.method == "POST":
            upload_guard(request._request)
        super().initial(request, *args, **kwargs)

    @extend_schema(parameters=[FORMAT_PARAM])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if self.wants_csv(request):
            runs = self.filter_queryset(self.get_queryset())[:10_000]
            rows = [
                [
                    r.run_id,
                    r.kind,
                    r.source,
                    r.status,
                    r.mandate.code if r.mandate else "",
                    r.statement.statement_id if r.statement else "",
                    r.as_of.isoformat() if r.as_of else "",
                    r.sim_time.isoformat() if r.sim_time else "",
                    r.started_at.isoformat(),
                    r.duration_ms,
                    r.actor,
                    sum((r.summary or {}).get("breaks_by_type", {}).values()),
                    (r.summary or {}).get("matched", ""),
                    len(r.rejects or []),
                ]
                for r in runs
            ]
            return csv_response(CSVTable(RUN_CSV_HEADER, rows), "recon-runs.csv")
        return super().list(request, *args, **kwargs)

    def retrieve(self, request: Request, run_id: str) -> Response:
        run = selectors.run_detail(run_id)  # ReconRun.DoesNotExist: a 404
        return Response(RunDetailSerializer(run, context={"on": selectors.today()}).data)

    @extend_schema(
        request={"multipart/form-data": RunUploadSerializer},
        responses={
            201: RunDetailSerializer,
            400: OpenApiResponse(description="A missing or unusable file, named"),
            403: OpenApiResponse(description="Needs the operator role"),
            413: OpenApiResponse(description="Over RECON_MAX_UPLOAD_BYTES"),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Trade recon of files (the TradeRecon format): executions and broker
        confirmations, `trade_id,ticker,quantity,price,timestamp`; optionally the P&L
        snapshot, `trade_id,pnl_impact,commission`. Malformed rows are rejects (file,
        line, reason) and left out; an empty file, one with only a header or a wrong
        header is a 400 naming it, and nothing is written. The breaks join the queue."""
        given = RunUploadSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        run = file_run_from_upload(given.validated_data, actor=request.user)
        run = selectors.run_detail(run.run_id)
        body = RunDetailSerializer(run, context={"on": selectors.today()}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The breaks a run found, as breaks.csv",
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="trade_id,break_type,field,internal_value,external_value,"
                "difference; sorted by trade_id, break_type",
            )
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="breaks.csv",
        url_name="breaks-csv",
        renderer_classes=[CSVRenderer, JSONRenderer],
    )
    def breaks_csv(self, request: Request, run_id: str) -> HttpResponse:
        from opssuite.api.renderers import csv_text

        run = selectors.run_detail(run_id)
        body = csv_text(queries.CSV_COLUMNS, queries.run_csv_rows(run))
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="breaks-{run.run_id}.csv"'
        return response
