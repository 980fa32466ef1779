"""Filters of the market lists."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from book.filters import by_code
from book.models import Instrument

from .models import Price, Vendor


class TickOrTimeField(forms.CharField):
    """A tick number (`120`) or an aware ISO 8601 time (`2015-01-02T15:00:00Z`)."""

    def to_python(self, value):  # type: ignore[no-untyped-def]
        value = super().to_python(value).strip()
        if not value:
            return None
        if value.isdigit():
            return int(value)
        parsed = parse_datetime(value)
        if parsed is None and " " in value:
            # An unescaped `+` of an offset arrives as a space: 15:00:00 01:00.
            head, _, offset = value.rpartition(" ")
            parsed = parse_datetime(f"{head}+{offset}")
        if parsed is None:
            raise forms.ValidationError(
                "must be a tick number or an ISO 8601 time, e.g. 2015-01-02T15:00:00Z"
            )
        if parsed.tzinfo is None:
            raise forms.ValidationError("an ISO time must state its UTC offset, e.g. ...Z")
        return parsed


@extend_schema_field(OpenApiTypes.STR)
class TickOrTimeFilter(django_filters.Filter):
    field_class = TickOrTimeField

    def filter(self, qs: QuerySet, value):  # type: ignore[no-untyped-def]
        if value is None:
            return qs
        if isinstance(value, int):
            return qs.filter(tick__gte=value)
        return qs.filter(sim_time__gte=value)


class PriceFilter(django_filters.FilterSet):
    instrument = by_code(Instrument.objects.all(), "ticker", "instrument")
    vendor = django_filters.ChoiceFilter(choices=Vendor.choices)
    since = TickOrTimeFilter(label="From this tick on (a number) or this sim time on (ISO 8601)")
    tick = django_filters.NumberFilter()

    class Meta:
        model = Price
        fields: list[str] = []
