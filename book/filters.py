"""Query filters of the book's lists. References are named by their codes (mandate code,
instrument ticker, currency code): an unknown one is a 400 naming the parameter, never an
empty list that reads as "nothing there"."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from . import events
from .models import (
    AssetClass,
    Currency,
    Event,
    Instrument,
    Mandate,
    Side,
    Strategy,
    Trade,
    TradeSource,
    TradeStatus,
)

ISO_DATE = ["%Y-%m-%d"]


def by_code(queryset: QuerySet, field: str, noun: str) -> django_filters.ModelChoiceFilter:
    """A reference named by its code; an unknown code says so."""
    return django_filters.ModelChoiceFilter(
        queryset=queryset,
        to_field_name=field,
        label=f"{noun.capitalize()} ({field})",
        error_messages={"invalid_choice": f"unknown {noun} %(value)s"},
    )


class EventFilter(django_filters.FilterSet):
    trade_id = django_filters.CharFilter()
    kind = django_filters.ChoiceFilter(choices=events.kind_choices)
    source = django_filters.ChoiceFilter(choices=events.Source.choices)
    mandate = django_filters.CharFilter()
    instrument = django_filters.CharFilter()
    tick = django_filters.NumberFilter()
    since = django_filters.IsoDateTimeFilter(
        field_name="wall_time", lookup_expr="gte", label="Recorded at or after (ISO 8601)"
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="wall_time", lookup_expr="lt", label="Recorded before (ISO 8601)"
    )
    after_id = django_filters.NumberFilter(
        field_name="id", lookup_expr="gt", label="Only events with a larger id (polling)"
    )

    class Meta:
        model = Event
        fields: list[str] = []


class InstrumentFilter(django_filters.FilterSet):
    asset_class = django_filters.ChoiceFilter(choices=AssetClass.choices)
    currency = by_code(Currency.objects.all(), "code", "currency")
    sector = django_filters.CharFilter(lookup_expr="iexact")
    active = django_filters.BooleanFilter()
    search = django_filters.CharFilter(
        method="filter_search", label="Part of a ticker, ISIN or name"
    )

    class Meta:
        model = Instrument
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(ticker__icontains=value) | Q(isin__icontains=value) | Q(name__icontains=value)
        )


class MandateFilter(django_filters.FilterSet):
    strategy = django_filters.ChoiceFilter(choices=Strategy.choices)
    active = django_filters.BooleanFilter()

    class Meta:
        model = Mandate
        fields: list[str] = []


class TradeFilter(django_filters.FilterSet):
    """The blotter's filters, shared by GET /api/book/trades and the Trades page."""

    trade_id = django_filters.CharFilter(label="Trade id, e.g. T-000123")
    mandate = by_code(Mandate.objects.all(), "code", "mandate")
    instrument = by_code(Instrument.objects.all(), "ticker", "instrument")
    status = django_filters.ChoiceFilter(choices=TradeStatus.choices)
    side = django_filters.ChoiceFilter(choices=Side.choices)
    source = django_filters.ChoiceFilter(choices=TradeSource.choices)
    # ISO dates only: 02/01/2015 is a different day in New York and in London.
    trade_date_from = django_filters.DateFilter(
        field_name="trade_date",
        lookup_expr="gte",
        label="Trade date on or after (YYYY-MM-DD)",
        input_formats=ISO_DATE,
    )
    trade_date_to = django_filters.DateFilter(
        field_name="trade_date",
        lookup_expr="lte",
        label="Trade date on or before (YYYY-MM-DD)",
        input_formats=ISO_DATE,
    )
    tick = django_filters.NumberFilter(label="Booked in this tick")

    class Meta:
        model = Trade
        fields: list[str] = []
