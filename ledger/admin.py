"""The ledger in the Django admin: strictly read-only.

Journals and their lines are append-only (a correction is a reversal and a new posting,
through `ledger.services`); balances are derived from them in the posting's transaction;
closed periods are closed forward only through `services.period_close` (the API or the
Periods page). So nothing here is added, changed or deleted by hand - not even by a
superuser. The chart of accounts is code (ledger/accounts.py), shown here for reference.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from book.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import (
    Account,
    InstrumentBalance,
    JournalEntry,
    JournalLine,
    LedgerBalance,
    LedgerState,
    PeriodClose,
)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "type", "normal_side", "by_instrument"]
    list_filter = ["type", "normal_side", "by_instrument"]
    search_fields = ["code", "name"]


class JournalLineInline(ReadOnlyInline):
    model = JournalLine
    fields = [
        "line_no",
        "account",
        "currency",
        "side",
        "amount",
        "base_amount",
        "fx_rate",
        "instrument",
    ]
    readonly_fields = fields
    ordering = ["line_no"]

    def get_queryset(self, request: Any) -> Any:
        return super().get_queryset(request).select_related("account", "instrument")


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "journal_id",
        "accounting_date",
        "mandate",
        "kind",
        "trade_id",
        "description",
        "reversal_of",
        "adjusts_date",
        "recorded_at",
        "actor",
    ]
    list_filter = ["kind", "mandate", "effective_kind", "accounting_date"]
    search_fields = ["=journal_id", "=trade_id", "source_key", "description"]
    list_select_related = ["mandate", "reversal_of"]
    date_hierarchy = "accounting_date"
    inlines = [JournalLineInline]
    readonly_fields = ["page_link"]
    fields = [
        "page_link",
        "journal_id",
        "seq",
        "mandate",
        "kind",
        "trade_id",
        "accounting_date",
        "effective_date",
        "effective_kind",
        "settles_on",
        "recorded_at",
        "sim_time",
        "tick",
        "description",
        "source_key",
        "payload_hash",
        "reversal_of",
        "adjusts_date",
        "actor",
        "posted_txid",
        "prev_hash",
        "entry_hash",
    ]
    # The list is long (every tick posts): counting a filtered page exactly is not worth
    # a full scan.
    show_full_result_count = False

    @admin.display(description="Page")
    def page_link(self, entry: JournalEntry) -> str:
        url = reverse("ledger-journal", args=[entry.journal_id])
        return format_html('<a href="{}">{} on the Ledger page</a>', url, entry.journal_id)


@admin.register(PeriodClose)
class PeriodCloseAdmin(ReadOnlyAdmin):
    list_display = ["through", "mandate", "closed_at", "closed_by", "note"]
    list_filter = ["mandate"]
    search_fields = ["closed_by", "note", "mandate__code"]
    list_select_related = ["mandate"]


@admin.register(LedgerBalance)
class LedgerBalanceAdmin(ReadOnlyAdmin):
    list_display = [
        "mandate",
        "account",
        "currency",
        "basis",
        "day",
        "debit",
        "credit",
        "base_debit",
        "base_credit",
    ]
    list_filter = ["basis", "account", "currency", "mandate"]
    search_fields = ["mandate__code", "account__code", "currency"]
    list_select_related = ["mandate", "account"]
    date_hierarchy = "day"


@admin.register(InstrumentBalance)
class InstrumentBalanceAdmin(ReadOnlyAdmin):
    list_display = ["mandate", "account", "instrument", "currency", "amount", "base_amount"]
    list_filter = ["account", "currency", "mandate"]
    search_fields = ["mandate__code", "instrument__ticker", "account__code"]
    list_select_related = ["mandate", "account", "instrument"]


@admin.register(LedgerState)
class LedgerStateAdmin(ReadOnlyAdmin):
    list_display = ["id", "last_seq", "last_hash", "event_cursor", "cash_cursor", "marked_through"]
