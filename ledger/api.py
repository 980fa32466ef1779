"""Ledger API: the summary, journals (list, detail, a manual journal), the trial balance,
balance sheet, income statement, the chart and one account's general ledger, the
ledger-vs-book check, and period close.

Reports take their parameters from the query string, checked by a query serializer: a
missing or malformed one, or one the report does not know, is a 400 naming it. Every
report (and the journal list, one row per line) is also CSV with `?format=csv`.

Writes go input serializer -> `ledger.services` -> output serializer: a manual journal
needs the operator role, closing a period the admin role.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, StreamingHttpResponse
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from opssuite import roles
from opssuite.api.errors import error_body
from opssuite.api.renderers import CSVMixin, CSVTable, csv_response

from . import selectors, services
from .filters import JournalFilter, PeriodCloseFilter
from .models import Account, JournalEntry, JournalLine, PeriodClose
from .serializers import (
    AccountDetailQuery,
    AccountDetailSerializer,
    AccountSerializer,
    BalanceSheetQuery,
    BalanceSheetSerializer,
    ChecksQuery,
    IncomeStatementQuery,
    IncomeStatementSerializer,
    JournalDetailSerializer,
    JournalSerializer,
    LedgerChecksSerializer,
    LedgerOverviewSerializer,
    ManualJournalSerializer,
    NoQuery,
    PeriodCloseRequestSerializer,
    PeriodCloseSerializer,
    TrialBalanceQuery,
    TrialBalanceSerializer,
)

RECENT_JOURNALS = 20
ACCOUNT_DETAIL_ROWS = 1000
ACCOUNT_DETAIL_CSV_ROWS = 100_000
MANUAL_PREFIX = services.MANUAL_PREFIX
FOUR_DP = Decimal("0.0001")
TEN_DP = Decimal("0.0000000001")


def strict_query(request: Request, serializer_class: type, **context: Any) -> dict[str, Any]:
    """The validated query string: unknown parameters and bad values are a 400 naming them.
    An empty value counts as absent (a form that sends `as_of=`)."""
    query = serializer_class(context=context)
    allowed = {"format", *query.fields}
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        hint = ", ".join(sorted(allowed))
        raise ValidationError(
            {name: [f"unknown query parameter; allowed: {hint}"] for name in unknown}
        )
    given = {key: value for key, value in request.query_params.items() if value.strip() != ""}
    query = serializer_class(data=given, context=context)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


def journal_filterset(request: Request, queryset: QuerySet) -> JournalFilter:
    """The journal filters, strictly: used where no filter backend runs (the summary)."""
    allowed = {"format", *JournalFilter.base_filters}
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        hint = ", ".join(sorted(allowed))
        raise ValidationError(
            {name: [f"unknown query parameter; allowed: {hint}"] for name in unknown}
        )
    filterset = JournalFilter(request.query_params, queryset=queryset)
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    return filterset


def _fmt(value: Any, places: Decimal = FOUR_DP) -> str:
    if value is None:
        return ""
    return f"{Decimal(value).quantize(places):f}"


def _mandate_param(name: str = "mandate", *, required: bool = True) -> OpenApiParameter:
    return OpenApiParameter(name, str, required=required, description="Mandate code")


FORMAT_PARAM = OpenApiParameter(
    "format", str, enum=["json", "csv"], description="csv: a flat CSV attachment"
)


# --- summary and journals ----------------------------------------------------------------


class LedgerView(APIView):
    """The ledger at a glance: journals by kind, the last posting, closed periods, the
    ledger-vs-book status, and the latest journals matching the filters (mandate,
    trade_id, account, kind, date_from/date_to on the accounting date)."""

    @extend_schema(
        parameters=[
            _mandate_param(required=False),
            OpenApiParameter("trade_id", str),
            OpenApiParameter("account", str, description="Account code"),
            OpenApiParameter("kind", str),
            OpenApiParameter("date_from", OpenApiTypes.DATE),
            OpenApiParameter("date_to", OpenApiTypes.DATE),
        ],
        responses=LedgerOverviewSerializer,
    )
    def get(self, request: Request) -> Response:
        filterset = journal_filterset(request, selectors.journal_list())
        mandate = filterset.form.cleaned_data.get("mandate")
        check = selectors.ledger_vs_book(mandate)
        matching = filterset.qs
        body = {
            "summary": selectors.ledger_summary(mandate=mandate),
            "checks": {"ok": check["ok"], "differences": len(check["differences"])},
            "matching": matching.count(),
            "recent_journals": list(matching[:RECENT_JOURNALS]),
        }
        return Response(LedgerOverviewSerializer(body).data)


JOURNAL_CSV_HEADER = [
    "journal_id",
    "seq",
    "mandate",
    "kind",
    "trade_id",
    "accounting_date",
    "settles_on",
    "recorded_at",
    "description",
    "source_key",
    "reversal_of",
    "adjusts_date",
    "line_no",
    "account",
    "account_name",
    "currency",
    "side",
    "amount",
    "base_amount",
    "fx_rate",
    "instrument",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def journal_csv_rows(entries: QuerySet[JournalEntry]) -> Iterator[list[Any]]:
    """One row per journal line, journals in recorded order: read in chunks, so an export
    of the whole book does not sit in memory."""
    lines = (
        JournalLine.objects.filter(entry__in=entries.order_by().values("pk"))
        .order_by("entry__seq", "line_no")
        .values_list(
            "entry__journal_id",
            "entry__seq",
            "entry__mandate__code",
            "entry__kind",
            "entry__trade_id",
            "entry__accounting_date",
            "entry__settles_on",
            "entry__recorded_at",
            "entry__description",
            "entry__source_key",
            "entry__reversal_of__journal_id",
            "entry__adjusts_date",
            "line_no",
            "account_id",
            "account__name",
            "currency",
            "side",
            "amount",
            "base_amount",
            "fx_rate",
            "instrument__ticker",
        )
    )
    for row in lines.iterator(chunk_size=5000):
        (*head, recorded_at, description, source_key, reversal_of, adjusts) = row[:12]
        (line_no, account, name, currency, side, amount, base, fx_rate, ticker) = row[12:]
        yield [
            *head,
            recorded_at.astimezone(dt.UTC).isoformat(),
            description,
            source_key,
            reversal_of,
            adjusts,
            line_no,
            account,
            name,
            currency,
            side,
            _fmt(amount),
            _fmt(base),
            _fmt(fx_rate, TEN_DP),
            ticker,
        ]


def journal_csv_response(entries: QuerySet[JournalEntry], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo(), lineterminator="\r\n")

    def stream() -> Iterator[str]:
        yield writer.writerow(JOURNAL_CSV_HEADER)
        for row in journal_csv_rows(entries):
            yield writer.writerow(["" if v is None else v for v in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class JournalViewSet(
    CSVMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Journal entries, newest first (filters: mandate, trade_id, account, kind,
    date_from/date_to); one journal with its lines; a journal entered by hand (operator).
    `?format=csv` on the list: every line of the matching journals."""

    filterset_class = JournalFilter
    lookup_field = "journal_id"
    lookup_value_regex = r"[^/]+"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.journal_list()

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        if self.action == "retrieve":
            return JournalDetailSerializer
        if self.action == "create":
            return ManualJournalSerializer
        return JournalSerializer

    @extend_schema(parameters=[FORMAT_PARAM])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if self.wants_csv(request):
            entries = self.filter_queryset(self.get_queryset())
            params = request.query_params
            parts = [params.get(k) for k in ("mandate", "trade_id", "account") if params.get(k)]
            return journal_csv_response(entries, "-".join(["journals", *parts]) + ".csv")
        return super().list(request, *args, **kwargs)

    def retrieve(self, request: Request, journal_id: str) -> Response:
        entry = selectors.journal_detail(journal_id)
        if entry is None:
            raise Http404(f"No journal {journal_id}.")
        return Response(JournalDetailSerializer(entry).data)

    @extend_schema(
        request=ManualJournalSerializer,
        responses={
            201: JournalDetailSerializer,
            200: OpenApiResponse(JournalDetailSerializer, "Already posted with this body"),
            400: OpenApiResponse(description="Invalid: unbalanced, unknown, closed period"),
            409: OpenApiResponse(description="Source key already posted with another body"),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Post a journal by hand. It must balance in each currency and in base (lines in
        another currency take the latest primary FX rate unless `fx_rate` is given). A
        date inside a closed period is refused: date it in the open period and name the
        closed date in `adjusts_date`. The same source key and body again returns the
        first posting (200); the same key with another body is a 409."""
        given = ManualJournalSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        draft = manual_draft(given.validated_data)
        try:
            result = services.journals_post([draft], actor=request.user.get_username())
        except services.LedgerConflict as exc:
            body = error_body("conflict", str(exc), {"source_key": [str(exc)]})
            return Response(body, status=status.HTTP_409_CONFLICT)
        if result.posted:
            journal_id, code = result.posted[0].journal_id, status.HTTP_201_CREATED
        else:
            journal_id = JournalEntry.objects.get(source_key=draft.source_key).journal_id
            code = status.HTTP_200_OK
        entry = selectors.journal_detail(journal_id)
        return Response(JournalDetailSerializer(entry).data, status=code)


def manual_draft(data: dict[str, Any]) -> Any:
    """The validated request as the service's manual journal."""
    return services.manual_journal_draft(
        source_key=data["source_key"],
        mandate=data["mandate"],
        accounting_date=data["accounting_date"],
        description=data["description"],
        lines=[
            (
                line["account"].code,
                line["currency"].code,
                line["side"],
                line["amount"],
                line.get("fx_rate"),
                line["instrument"].ticker if line.get("instrument") else "",
            )
            for line in data["lines"]
        ],
        adjusts_date=data.get("adjusts_date"),
    )


# --- reports -----------------------------------------------------------------------------


def trial_balance_csv(data: dict[str, Any]) -> CSVTable:
    """One row per account and currency; a last row TOTAL with the base-currency totals
    (its base_balance is debits minus credits: 0.0000 when the book balances)."""
    head = [data["mandate"], data["base_currency"], data["as_of"], data["basis"]]
    header = ["mandate", "base_currency", "as_of", "basis", "account", "name", "type"]
    header += ["currency", "debit", "credit", "balance", "base_debit", "base_credit"]
    header += ["base_balance"]
    rows: list[list[Any]] = [
        [
            *head,
            r["account"],
            r["name"],
            r["type"],
            r["currency"],
            r["debit"],
            r["credit"],
            r["balance"],
            r["base_debit"],
            r["base_credit"],
            r["base_balance"],
        ]
        for r in data["rows"]
    ]
    totals = data["totals"]
    rows.append(
        [
            *head,
            "TOTAL",
            "Total in base currency",
            "",
            data["base_currency"],
            "",
            "",
            "",
            totals["base_debit"],
            totals["base_credit"],
            totals["base_difference"],
        ]
    )
    return CSVTable(header, rows)


class TrialBalanceView(CSVMixin, APIView):
    """Debits, credits and balance per account and currency up to `as_of`, base-currency
    totals, and the proof that debits equal credits (in base and in each currency).
    `basis=settlement` counts trade postings from their settlement date; `known_at`
    gives the book as it was recorded at that time (later corrections left out)."""

    @extend_schema(parameters=[TrialBalanceQuery, FORMAT_PARAM], responses=TrialBalanceSerializer)
    def get(self, request: Request) -> Response:
        query = strict_query(request, TrialBalanceQuery)
        tb = selectors.trial_balance(
            query["mandate"],
            as_of=query["as_of"],
            basis=query["basis"],
            known_at=query.get("known_at"),
        )
        data = TrialBalanceSerializer(tb).data
        if self.wants_csv(request):
            name = f"trial-balance-{tb.mandate}-{tb.as_of}-{tb.basis}.csv"
            return csv_response(trial_balance_csv(data), name)
        return Response(data)


def statement_csv(head: dict[str, Any], sections: list[tuple[str, list, Any]]) -> CSVTable:
    """Statement lines by section, each section closed by its total row."""
    header = [*head, "section", "account", "name", "amount"]
    rows: list[list[Any]] = []
    for section, lines, total in sections:
        rows += [[*head.values(), section, r["account"], r["name"], r["amount"]] for r in lines]
        if total is not None:
            rows.append([*head.values(), section, "", f"Total {section}", total])
    return CSVTable(header, rows)


class BalanceSheetView(CSVMixin, APIView):
    """Assets, liabilities and equity in base currency as of a date; this period's
    earnings (not yet closed to retained earnings) as a line of equity."""

    @extend_schema(parameters=[BalanceSheetQuery, FORMAT_PARAM], responses=BalanceSheetSerializer)
    def get(self, request: Request) -> Response:
        query = strict_query(request, BalanceSheetQuery)
        sheet = selectors.balance_sheet(query["mandate"], as_of=query["as_of"])
        data = BalanceSheetSerializer(sheet).data
        if self.wants_csv(request):
            head = {k: data[k] for k in ("mandate", "base_currency", "as_of")}
            table = statement_csv(
                head,
                [
                    ("assets", data["assets"], data["total_assets"]),
                    ("liabilities", data["liabilities"], data["total_liabilities"]),
                    ("equity", data["equity"], data["total_equity"]),
                ],
            )
            return csv_response(table, f"balance-sheet-{data['mandate']}-{data['as_of']}.csv")
        return Response(data)


class IncomeStatementView(CSVMixin, APIView):
    """Income and expenses in base currency over accounting dates `from`..`to`."""

    @extend_schema(
        parameters=[IncomeStatementQuery, FORMAT_PARAM], responses=IncomeStatementSerializer
    )
    def get(self, request: Request) -> Response:
        query = strict_query(request, IncomeStatementQuery)
        statement = selectors.income_statement(
            query["mandate"], date_from=query["from"], date_to=query["to"]
        )
        data = IncomeStatementSerializer(statement).data
        if self.wants_csv(request):
            head = {k: data[k] for k in ("mandate", "base_currency", "from", "to")}
            table = statement_csv(
                head,
                [
                    ("income", data["income"], data["total_income"]),
                    ("expenses", data["expenses"], data["total_expenses"]),
                    ("net income", [], data["net_income"]),
                ],
            )
            name = f"income-statement-{data['mandate']}-{data['from']}-{data['to']}.csv"
            return csv_response(table, name)
        return Response(data)


class AccountListView(APIView):
    """The chart of accounts: the same codes for every mandate, one balance per currency."""

    @extend_schema(responses=AccountSerializer(many=True))
    def get(self, request: Request) -> Response:
        strict_query(request, NoQuery)
        return Response(AccountSerializer(Account.objects.all(), many=True).data)


class AccountDetailView(CSVMixin, APIView):
    """One account's general ledger for a mandate: the opening balance, then each line
    with a running balance (normal side positive). With `currency`: the lines in that
    currency, in it; without: every line, in base currency."""

    @extend_schema(parameters=[AccountDetailQuery, FORMAT_PARAM], responses=AccountDetailSerializer)
    def get(self, request: Request, code: str) -> Response:
        if not Account.objects.filter(code=code).exists():
            raise Http404(f"No account {code}.")
        query = strict_query(request, AccountDetailQuery)
        csv_wanted = self.wants_csv(request)
        detail = selectors.account_detail(
            query["mandate"],
            account=code,
            currency=query["currency"].code if query.get("currency") else None,
            date_from=query.get("from"),
            date_to=query.get("to"),
            limit=ACCOUNT_DETAIL_CSV_ROWS if csv_wanted else ACCOUNT_DETAIL_ROWS,
        )
        data = AccountDetailSerializer(detail).data
        if csv_wanted:
            header = ["mandate", "account", "balance_currency", "journal_id", "accounting_date"]
            header += ["trade_id", "description", "currency", "instrument", "side", "amount"]
            header += ["base_amount", "running_balance"]
            head = [data["mandate"], data["account"], data["currency"]]
            rows: list[list[Any]] = [
                [*head, "", "", "", "Opening balance", "", "", "", "", "", data["opening_balance"]]
            ]
            rows += [
                [
                    *head,
                    r["journal_id"],
                    r["accounting_date"],
                    r["trade_id"],
                    r["description"],
                    r["currency"],
                    r["instrument"],
                    r["side"],
                    r["amount"],
                    r["base_amount"],
                    r["running_balance"],
                ]
                for r in data["lines"]
            ]
            suffix = f"-{query['currency'].code}" if query.get("currency") else ""
            return csv_response(
                CSVTable(header, rows), f"account-{code}-{data['mandate']}{suffix}.csv"
            )
        return Response(data)


class LedgerChecksView(CSVMixin, APIView):
    """Ledger vs book: securities at cost per instrument against the book's lots, cash
    per currency against the book's settled cash, broker receivables and payables
    against the book's unsettled trades. Each difference names its trade ids."""

    @extend_schema(parameters=[ChecksQuery, FORMAT_PARAM], responses=LedgerChecksSerializer)
    def get(self, request: Request) -> Response:
        query = strict_query(request, ChecksQuery)
        data = LedgerChecksSerializer(selectors.ledger_vs_book(query.get("mandate"))).data
        if self.wants_csv(request):
            header = ["check", "mandate", "subject", "ledger", "book", "difference", "trade_ids"]
            rows = [
                [d[k] for k in header[:-1]] + [" ".join(d["trade_ids"])]
                for d in data["differences"]
            ]
            return csv_response(CSVTable(header, rows), "ledger-vs-book.csv")
        return Response(data)


# --- periods -----------------------------------------------------------------------------


class PeriodListView(generics.ListAPIView):
    """Closed periods, latest first (filter: mandate; a close without a mandate closes
    every mandate)."""

    serializer_class = PeriodCloseSerializer
    filterset_class = PeriodCloseFilter

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return PeriodClose.objects.select_related("mandate").order_by("-through", "-closed_at")


class PeriodCloseView(APIView):
    """Close every date up to `through`, for one mandate or all (admin). Nothing can be
    posted dated inside a closed period; corrections come as prior-period adjustments
    dated in the open period. Closing is forward only."""

    write_role = roles.ADMIN

    @extend_schema(request=PeriodCloseRequestSerializer, responses={201: PeriodCloseSerializer})
    def post(self, request: Request) -> Response:
        given = PeriodCloseRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        close = services.period_close(
            through=given.validated_data["through"],
            mandate=given.validated_data.get("mandate"),
            actor=request.user,
            note=given.validated_data.get("note", ""),
        )
        return Response(PeriodCloseSerializer(close).data, status=status.HTTP_201_CREATED)
