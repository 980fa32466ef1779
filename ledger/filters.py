"""Query filters of the ledger's journal lists, shared by GET /api/ledger, GET
/api/ledger/journals and the Journals page. References are named by their codes (mandate
code, account code): an unknown one is a 400 naming the parameter, never an empty list
that reads as "nothing there"."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, QuerySet

from book.filters import ISO_DATE, by_code
from book.models import Mandate

from .models import Account, EntryKind, JournalEntry, JournalLine, PeriodClose


class JournalFilter(django_filters.FilterSet):
    mandate = by_code(Mandate.objects.all(), "code", "mandate")
    trade_id = django_filters.CharFilter(label="Trade id, e.g. T-000123: its journals")
    account = django_filters.ModelChoiceFilter(
        queryset=Account.objects.all(),
        to_field_name="code",
        method="filter_account",
        label="Account code: journals with a line on it",
        error_messages={"invalid_choice": "unknown account %(value)s"},
    )
    kind = django_filters.ChoiceFilter(choices=EntryKind.choices)
    # ISO dates only, on the accounting date (the day the entry counts on the trade basis).
    date_from = django_filters.DateFilter(
        field_name="accounting_date",
        lookup_expr="gte",
        label="Accounting date on or after (YYYY-MM-DD)",
        input_formats=ISO_DATE,
    )
    date_to = django_filters.DateFilter(
        field_name="accounting_date",
        lookup_expr="lte",
        label="Accounting date on or before (YYYY-MM-DD)",
        input_formats=ISO_DATE,
    )

    class Meta:
        model = JournalEntry
        fields: list[str] = []

    def filter_account(self, queryset: QuerySet, name: str, value: Account | None) -> QuerySet:
        if value is None:
            return queryset
        # EXISTS rather than a join: one row per journal however many lines it has there.
        on_account = JournalLine.objects.filter(entry_id=OuterRef("pk"), account_id=value.code)
        return queryset.filter(Exists(on_account))


class PeriodCloseFilter(django_filters.FilterSet):
    mandate = by_code(Mandate.objects.all(), "code", "mandate")

    class Meta:
        model = PeriodClose
        fields: list[str] = []
