"""Ledger API serializers: queries and a manual journal in, journals and reports out.

Money goes out as a string with exactly 4 decimal places (the ledger's precision): sums
that the database returns with longer tails (SQLite) are quantized here, never in floats.
"""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from book.models import Currency, Instrument, Mandate

from .models import Account, Basis, JournalEntry, JournalLine, PeriodClose

# Debit or credit: the same choice set as JournalLine.side, named in the OpenAPI schema
# (settings.SPECTACULAR_SETTINGS) so it does not collide with a trade's buy/sell side.
SIDE_CHOICES = [("D", "Debit"), ("C", "Credit")]


def money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=None, decimal_places=4, **kwargs)


def rate(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=None, decimal_places=10, **kwargs)


def by_code(queryset: Any, field: str, noun: str, **kwargs: Any) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field=field,
        queryset=queryset,
        error_messages={"does_not_exist": f"unknown {noun} {{value}}"},
        **kwargs,
    )


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that states its offset: `known_at` without one is ambiguous."""

    default_error_messages = {
        **serializers.DateTimeField.default_error_messages,
        "naive": "must state its UTC offset, e.g. 2015-01-06T21:00:00Z",
    }

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            parsed = parse_datetime(value.strip())
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


# --- queries -----------------------------------------------------------------------------


class _Renamed(serializers.Serializer):
    """`from`/`to` are Python keywords, so such fields are declared as `date_from`/`date_to`
    and renamed here (in the query, the output and the schema alike)."""

    renamed = {"date_from": "from", "date_to": "to"}

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        return {self.renamed.get(name, name): field for name, field in fields.items()}


class _Query(_Renamed):
    """A report's query string."""


class NoQuery(_Query):
    """A resource that takes no parameters (but `format`)."""


class TrialBalanceQuery(_Query):
    mandate = by_code(Mandate.objects.all(), "code", "mandate")
    as_of = serializers.DateField(help_text="YYYY-MM-DD: balances up to and including this day")
    basis = serializers.ChoiceField(choices=Basis.choices, default=Basis.TRADE)
    known_at = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text="ISO 8601 with offset: the book as it was recorded at that time",
    )


class BalanceSheetQuery(_Query):
    mandate = by_code(Mandate.objects.all(), "code", "mandate")
    as_of = serializers.DateField()


class IncomeStatementQuery(_Query):
    mandate = by_code(Mandate.objects.all(), "code", "mandate")
    date_from = serializers.DateField(help_text="First accounting date of the period")
    date_to = serializers.DateField(help_text="Last accounting date of the period")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"to": ["must not be before `from`"]})
        return attrs


class AccountDetailQuery(_Query):
    mandate = by_code(Mandate.objects.all(), "code", "mandate")
    currency = by_code(
        Currency.objects.all(),
        "code",
        "currency",
        required=False,
        help_text="Lines in this currency, in it; without: every line, in base currency",
    )
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("from") and attrs.get("to") and attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"to": ["must not be before `from`"]})
        return attrs


class ChecksQuery(_Query):
    mandate = by_code(Mandate.objects.all(), "code", "mandate", required=False)


# --- journals ----------------------------------------------------------------------------


class JournalLineSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account_id")
    account_name = serializers.CharField(source="account.name")
    amount = money()
    base_amount = money()
    fx_rate = rate()
    instrument = serializers.CharField(source="instrument.ticker", allow_null=True, default=None)

    class Meta:
        model = JournalLine
        fields = [
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
        read_only_fields = fields


class JournalSerializer(serializers.ModelSerializer):
    mandate = serializers.CharField(source="mandate.code")
    reversal_of = serializers.CharField(
        source="reversal_of.journal_id", allow_null=True, default=None
    )

    class Meta:
        model = JournalEntry
        fields = [
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
            "reversal_of",
            "adjusts_date",
            "actor",
        ]
        read_only_fields = fields


class JournalDetailSerializer(JournalSerializer):
    """One journal with its lines, what reverses it, and its place in the hash chain."""

    reversed_by = serializers.SerializerMethodField()
    base_currency = serializers.CharField(source="mandate.base_currency_id")
    lines = JournalLineSerializer(many=True)

    class Meta(JournalSerializer.Meta):
        fields = [
            *JournalSerializer.Meta.fields,
            "reversed_by",
            "base_currency",
            "payload_hash",
            "prev_hash",
            "entry_hash",
            "lines",
        ]
        read_only_fields = fields

    def get_reversed_by(self, entry: JournalEntry) -> str | None:
        reversing = getattr(entry, "reversed_by", None)
        return reversing.journal_id if reversing is not None else None


class ManualLineSerializer(serializers.Serializer):
    account = by_code(Account.objects.all(), "code", "account")
    currency = by_code(Currency.objects.all(), "code", "currency")
    side = serializers.ChoiceField(choices=SIDE_CHOICES)
    amount = serializers.DecimalField(
        max_digits=24, decimal_places=4, min_value=0, help_text="Positive; the side gives the sign"
    )
    fx_rate = serializers.DecimalField(
        max_digits=24,
        decimal_places=10,
        required=False,
        allow_null=True,
        help_text="Base units per unit of `currency`; default: the latest primary rate",
    )
    instrument = by_code(
        Instrument.objects.all(),
        "ticker",
        "instrument",
        required=False,
        allow_null=True,
        help_text="Ticker; required on accounts kept per instrument (1100, 1150, 1400)",
    )


class ManualJournalSerializer(serializers.Serializer):
    """A journal entered by hand. Posting it twice with the same source key and body gives
    back the first posting; the same key with another body is refused (409)."""

    source_key = serializers.CharField(
        max_length=80, help_text="Your idempotency key; stored as manual:<source_key>"
    )
    mandate = by_code(Mandate.objects.all(), "code", "mandate")
    accounting_date = serializers.DateField()
    description = serializers.CharField(max_length=200)
    lines = ManualLineSerializer(many=True, allow_empty=False)
    adjusts_date = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="Prior-period adjustment: the closed date it corrects (dated in the open period)",
    )


# --- reports -----------------------------------------------------------------------------


class TrialBalanceRowSerializer(serializers.Serializer):
    account = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()
    normal_side = serializers.CharField()
    currency = serializers.CharField()
    debit = money()
    credit = money()
    balance = money()
    base_debit = money()
    base_credit = money()
    base_balance = money()


class CurrencyTotalSerializer(serializers.Serializer):
    debit = money()
    credit = money()
    difference = money()


class TrialBalanceTotalsSerializer(serializers.Serializer):
    base_debit = money()
    base_credit = money()
    base_difference = money()
    by_currency = serializers.DictField(child=CurrencyTotalSerializer())
    balanced = serializers.BooleanField()


class TrialBalanceSerializer(serializers.Serializer):
    mandate = serializers.CharField()
    base_currency = serializers.CharField()
    as_of = serializers.DateField()
    basis = serializers.CharField()
    known_at = serializers.DateTimeField(allow_null=True)
    rows = TrialBalanceRowSerializer(many=True)
    totals = TrialBalanceTotalsSerializer()


class StatementLineSerializer(serializers.Serializer):
    account = serializers.CharField(allow_blank=True)
    name = serializers.CharField()
    amount = money()


class BalanceSheetSerializer(serializers.Serializer):
    mandate = serializers.CharField()
    base_currency = serializers.CharField()
    as_of = serializers.DateField()
    assets = StatementLineSerializer(many=True)
    liabilities = StatementLineSerializer(many=True)
    equity = StatementLineSerializer(many=True)
    total_assets = money()
    total_liabilities = money()
    total_equity = money()
    balanced = serializers.BooleanField()


class IncomeStatementSerializer(_Renamed):
    mandate = serializers.CharField()
    base_currency = serializers.CharField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    income = StatementLineSerializer(many=True)
    expenses = StatementLineSerializer(many=True)
    total_income = money()
    total_expenses = money()
    net_income = money()


class AccountSerializer(serializers.ModelSerializer):
    statement = serializers.SerializerMethodField()

    class Meta:
        model = Account
        fields = ["code", "name", "type", "normal_side", "by_instrument", "statement"]
        read_only_fields = fields

    def get_statement(self, account: Account) -> str:
        return "balance_sheet" if account.type in ("asset", "liability", "equity") else "income"


class AccountDetailLineSerializer(serializers.Serializer):
    journal_id = serializers.CharField()
    accounting_date = serializers.DateField()
    trade_id = serializers.CharField(allow_null=True)
    description = serializers.CharField()
    currency = serializers.CharField()
    instrument = serializers.CharField(allow_blank=True)
    side = serializers.CharField()
    amount = money()
    base_amount = money()
    running_balance = money()


class AccountDetailSerializer(serializers.Serializer):
    mandate = serializers.CharField()
    account = serializers.CharField()
    name = serializers.CharField()
    currency = serializers.CharField()
    opening_balance = money()
    closing_balance = money()
    lines = AccountDetailLineSerializer(many=True)
    truncated = serializers.BooleanField()


class DifferenceSerializer(serializers.Serializer):
    check = serializers.CharField()
    mandate = serializers.CharField()
    subject = serializers.CharField()
    ledger = money()
    book = money()
    difference = money()
    trade_ids = serializers.ListField(child=serializers.CharField())


class LedgerChecksSerializer(serializers.Serializer):
    mandates = serializers.IntegerField()
    checks = serializers.ListField(child=serializers.CharField())
    differences = DifferenceSerializer(many=True)
    ok = serializers.BooleanField()
    marked_through = serializers.DateField(allow_null=True)


class LedgerSummaryCountsSerializer(serializers.Serializer):
    journals = serializers.IntegerField()
    by_kind = serializers.DictField(child=serializers.IntegerField())
    last_journal = serializers.CharField(allow_null=True)
    last_recorded_at = serializers.DateTimeField(allow_null=True)
    marked_through = serializers.DateField(allow_null=True)
    closed_through = serializers.DictField(
        child=serializers.DateField(), help_text="Mandate code (or * for all) -> last closed day"
    )


class LedgerCheckStatusSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    differences = serializers.IntegerField()


class LedgerOverviewSerializer(serializers.Serializer):
    summary = LedgerSummaryCountsSerializer()
    checks = LedgerCheckStatusSerializer()
    matching = serializers.IntegerField(help_text="Journals matching the filters")
    recent_journals = JournalSerializer(many=True)


# --- periods -----------------------------------------------------------------------------


class PeriodCloseSerializer(serializers.ModelSerializer):
    mandate = serializers.CharField(source="mandate.code", allow_null=True, default=None)

    class Meta:
        model = PeriodClose
        fields = ["id", "mandate", "through", "closed_at", "closed_by", "note"]
        read_only_fields = fields


class PeriodCloseRequestSerializer(serializers.Serializer):
    through = serializers.DateField(help_text="Close every date up to and including this one")
    mandate = by_code(
        Mandate.objects.all(),
        "code",
        "mandate",
        required=False,
        allow_null=True,
        help_text="One mandate; without: every mandate",
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
