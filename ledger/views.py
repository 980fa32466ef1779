"""Ledger pages: journals (filter by mandate, trade id, account, kind, dates), one journal
with its lines, the trial balance (as-of date, trade/settlement basis, the proof),
statements, one account's general ledger with a running balance, the ledger-vs-book
check, and closed periods (closing one is for the admin role).

Each page renders whole on a normal request and its named partial when HTMX asks. The
reports read the same selectors as the API, and link to its CSV exports.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import DecimalField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_POST, require_safe

from book.models import Mandate
from opssuite import roles

from . import accounts as acc
from . import selectors, services
from .filters import JournalFilter
from .models import Account, Basis, EntryKind, JournalEntry, JournalLine, PeriodClose

PAGE_ROWS = 200
_MONEY = DecimalField(max_digits=28, decimal_places=4)


# --- shared pieces -----------------------------------------------------------------------


def _mandates() -> list[Mandate]:
    return list(Mandate.objects.order_by("code").select_related("base_currency"))


def _latest_day(mandate: Mandate | None) -> dt.date:
    """The default `as of`: the mandate's last accounting date (the book's "now" in sim
    time), else today."""
    entries = JournalEntry.objects.all()
    if mandate is not None:
        entries = entries.filter(mandate=mandate)
    latest = entries.order_by("-accounting_date").values_list("accounting_date", flat=True)
    return latest.first() or dt.datetime.now(dt.UTC).date()


def _date(request: HttpRequest, name: str, errors: list[str]) -> dt.date | None:
    text = request.GET.get(name, "").strip()
    if not text:
        return None
    try:
        value = parse_date(text)
    except ValueError:
        value = None
    if value is None:
        errors.append(f"{name}: {text!r} is not a date (YYYY-MM-DD).")
    return value


def _mandate(
    request: HttpRequest, mandates: list[Mandate], errors: list[str], *, default: bool = True
) -> Mandate | None:
    code = request.GET.get("mandate", "").strip()
    found = next((m for m in mandates if m.code == code), None)
    if code and found is None:
        errors.append(f"mandate: no mandate {code}.")
    if found is None and default and mandates:
        found = mandates[0]
    return found


def _api_csv(name: str, params: dict[str, Any]) -> str:
    from django.urls import reverse

    query = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{reverse(name)}?{urlencode({**query, 'format': 'csv'})}"


# --- journals ----------------------------------------------------------------------------


def journal_rows(queryset: Any) -> Any:
    """Journals with the base-currency total of their debits (what the entry moved):
    a subquery per shown row, so the list costs the same whatever the page size."""
    debits = (
        JournalLine.objects.filter(entry_id=OuterRef("pk"), side=acc.DEBIT)
        .order_by()
        .values("entry_id")
        .annotate(total=Sum("base_amount"))
        .values("total")
    )
    return queryset.annotate(
        base_total=Coalesce(Subquery(debits, output_field=_MONEY), 0, output_field=_MONEY)
    )


@require_safe
def journals(request: HttpRequest) -> HttpResponse:
    filterset = JournalFilter(request.GET, queryset=selectors.journal_list())
    if filterset.is_valid():
        matching = filterset.qs
        rows, total, errors = list(journal_rows(matching)[:PAGE_ROWS]), matching.count(), {}
    else:
        rows, total, errors = [], 0, filterset.errors
    filters = {name: request.GET.get(name, "") for name in filterset.base_filters}
    context = {
        "journals": rows,
        "total": total,
        "page_rows": PAGE_ROWS,
        "errors": errors,
        "query": request.GET.urlencode(),
        "filters": filters,
        "csv_url": _api_csv("api-journal-list", filters),
    }
    if request.htmx:
        return render(request, "ledger/_journal_rows.html", context)
    context.update(
        mandates=_mandates(),
        accounts=list(Account.objects.all()),
        kinds=EntryKind.choices,
        summary=selectors.ledger_summary(),
        tab="journals",
    )
    return render(request, "ledger/journals.html", context)


@require_safe
def journal_detail(request: HttpRequest, journal_id: str) -> HttpResponse:
    entry = selectors.journal_detail(journal_id)
    if entry is None:
        raise Http404(f"No journal {journal_id}")
    lines = list(entry.lines.all())
    reversed_by = JournalEntry.objects.filter(reversal_of=entry).only("journal_id").first()
    debit = sum((ln.amount for ln in lines if ln.side == acc.DEBIT), start=0)
    context = {
        "entry": entry,
        "lines": lines,
        "reversed_by": reversed_by,
        "base_debit": sum((ln.base_amount for ln in lines if ln.side == acc.DEBIT), start=0),
        "base_credit": sum((ln.base_amount for ln in lines if ln.side == acc.CREDIT), start=0),
        "single_currency": len({ln.currency for ln in lines}) == 1,
        "debit": debit,
        "credit": sum((ln.amount for ln in lines if ln.side == acc.CREDIT), start=0),
        "trade_journals": (
            JournalEntry.objects.filter(trade_id=entry.trade_id)
            .order_by("seq")
            .values("journal_id", "kind", "accounting_date", "description")
            if entry.trade_id
            else []
        ),
        "trade_exists": bool(entry.trade_id) and _trade_exists(entry.trade_id),
        "tab": "journals",
    }
    return render(request, "ledger/journal_detail.html", context)


def _trade_exists(trade_id: str) -> bool:
    from book.models import Trade

    return Trade.objects.filter(trade_id=trade_id).exists()


# --- trial balance -----------------------------------------------------------------------


def _known_at(request: HttpRequest, errors: list[str]) -> dt.datetime | None:
    """A datetime-local field (no offset) is UTC, as every time the suite shows."""
    text = request.GET.get("known_at", "").strip()
    if not text:
        return None
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        errors.append(f"known_at: {text!r} is not a date and time (YYYY-MM-DDTHH:MM).")
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@require_safe
def trial_balance(request: HttpRequest) -> HttpResponse:
    mandates = _mandates()
    errors: list[str] = []
    mandate = _mandate(request, mandates, errors)
    as_of = _date(request, "as_of", errors) or _latest_day(mandate)
    basis = request.GET.get("basis", Basis.TRADE)
    if basis not in Basis.values:
        errors.append(f"basis: {basis!r} is not trade or settlement.")
        basis = Basis.TRADE
    known_at = _known_at(request, errors)
    tb = (
        selectors.trial_balance(mandate, as_of=as_of, basis=basis, known_at=known_at)
        if mandate is not None and not errors
        else None
    )
    params = {
        "mandate": mandate.code if mandate else "",
        "as_of": as_of.isoformat(),
        "basis": basis,
        "known_at": known_at.isoformat() if known_at else "",
    }
    context = {
        "mandates": mandates,
        "mandate": mandate,
        "as_of": as_of,
        "basis": basis,
        "bases": Basis.choices,
        "known_at": known_at,
        "known_at_text": request.GET.get("known_at", "").strip(),
        "errors": errors,
        "tb": tb,
        "csv_url": _api_csv("api-trial-balance", params),
        "tab": "trial-balance",
    }
    if request.htmx:
        return render(request, "ledger/_trial_balance.html", context)
    return render(request, "ledger/trial_balance.html", context)


# --- statements --------------------------------------------------------------------------


@require_safe
def statements(request: HttpRequest) -> HttpResponse:
    mandates = _mandates()
    errors: list[str] = []
    mandate = _mandate(request, mandates, errors)
    as_of = _date(request, "as_of", errors) or _latest_day(mandate)
    date_from = _date(request, "from", errors) or as_of.replace(month=1, day=1)
    if date_from > as_of:
        errors.append("from: must not be after the as-of date.")
    sheet = income = None
    if mandate is not None and not errors:
        sheet = selectors.balance_sheet(mandate, as_of=as_of)
        income = selectors.income_statement(mandate, date_from=date_from, date_to=as_of)
    code = mandate.code if mandate else ""
    context = {
        "mandates": mandates,
        "mandate": mandate,
        "as_of": as_of,
        "date_from": date_from,
        "errors": errors,
        "sheet": sheet,
        "income": income,
        "sheet_csv": _api_csv("api-balance-sheet", {"mandate": code, "as_of": as_of}),
        "income_csv": _api_csv(
            "api-income-statement", {"mandate": code, "from": date_from, "to": as_of}
        ),
        "tab": "statements",
    }
    return render(request, "ledger/statements.html", context)


# --- one account -------------------------------------------------------------------------


@require_safe
def account_detail(request: HttpRequest, code: str) -> HttpResponse:
    account = Account.objects.filter(code=code).first()
    if account is None:
        raise Http404(f"No account {code}")
    mandates = _mandates()
    errors: list[str] = []
    mandate = _mandate(request, mandates, errors)
    currency = request.GET.get("currency", "").strip().upper() or None
    date_from = _date(request, "from", errors)
    date_to = _date(request, "to", errors)
    currencies: list[str] = []
    detail = None
    if mandate is not None:
        currencies = sorted(
            set(
                JournalLine.objects.filter(mandate=mandate, account=account)
                .order_by()
                .values_list("currency", flat=True)
                .distinct()
            )
        )
        if not errors:
            detail = selectors.account_detail(
                mandate, account=code, currency=currency, date_from=date_from, date_to=date_to
            )
    params = {
        "mandate": mandate.code if mandate else "",
        "currency": currency or "",
        "from": date_from or "",
        "to": date_to or "",
    }
    from django.urls import reverse

    context = {
        "account": account,
        "accounts": list(Account.objects.all()),
        "mandates": mandates,
        "mandate": mandate,
        "currency": currency,
        "currencies": currencies,
        "date_from": date_from,
        "date_to": date_to,
        "errors": errors,
        "detail": detail,
        "csv_url": f"{reverse('api-account-detail', args=[code])}?"
        + urlencode({**{k: v for k, v in params.items() if v}, "format": "csv"}),
        "tab": "trial-balance",
    }
    return render(request, "ledger/account_detail.html", context)


# --- ledger vs book ----------------------------------------------------------------------


@require_safe
def checks(request: HttpRequest) -> HttpResponse:
    mandates = _mandates()
    errors: list[str] = []
    mandate = _mandate(request, mandates, errors, default=False)
    report = selectors.ledger_vs_book(mandate) if not errors else None
    context = {
        "mandates": mandates,
        "mandate": mandate,
        "errors": errors,
        "report": report,
        "compact": request.GET.get("compact") == "1",
        "csv_url": _api_csv("api-ledger-checks", {"mandate": mandate.code if mandate else ""}),
        "tab": "checks",
    }
    if request.htmx:
        return render(request, "ledger/_checks.html", context)
    return render(request, "ledger/checks.html", context)


# --- periods -----------------------------------------------------------------------------


def _periods_context(request: HttpRequest) -> dict[str, Any]:
    return {
        "periods": list(PeriodClose.objects.select_related("mandate").order_by("-closed_at")),
        "mandates": _mandates(),
        "summary": selectors.ledger_summary(),
        "can_close": roles.user_has_role(request.user, roles.ADMIN),
        "tab": "periods",
    }


@require_safe
def periods(request: HttpRequest) -> HttpResponse:
    return render(request, "ledger/periods.html", _periods_context(request))


@require_POST
def period_close(request: HttpRequest) -> HttpResponse:
    """Close a period (admin; the middleware already refuses viewers)."""
    if not roles.user_has_role(request.user, roles.ADMIN):
        raise PermissionDenied("Closing a period needs the admin role.")
    data = {k: v.strip() for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
    form_errors: dict[str, list[str]] = {}
    through = parse_date(data.get("through", "")) if data.get("through") else None
    if through is None:
        form_errors["through"] = ["a date (YYYY-MM-DD) is required"]
    mandate = None
    if data.get("mandate"):
        mandate = Mandate.objects.filter(code=data["mandate"]).first()
        if mandate is None:
            form_errors["mandate"] = [f"no mandate {data['mandate']}"]
    if not form_errors:
        try:
            services.period_close(
                through=through,  # type: ignore[arg-type]
                mandate=mandate,
                actor=request.user,
                note=data.get("note", "")[:200],
            )
        except ValidationError as exc:
            form_errors = (
                dict(exc.message_dict)
                if hasattr(exc, "error_dict")
                else {"non_field_errors": exc.messages}
            )
    if form_errors:
        context = _periods_context(request)
        context.update(form_errors=form_errors, posted=data)
        return render(request, "ledger/periods.html", context, status=400)
    messages.success(
        request, f"Closed through {through} for {mandate.code if mandate else 'every mandate'}."
    )
    return redirect("ledger-periods")
