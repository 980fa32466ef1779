"""django-filter, strict: an unknown query parameter is a 400 naming it, not silently ignored.

An ops analyst who types `?trade=T-000123` instead of `?trade_id=` must not get every
event back as though it matched.
"""

from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

from .pagination import StrictPageNumberPagination

ALWAYS_ALLOWED = {"format", *StrictPageNumberPagination.query_params}


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset_class = self.get_filterset_class(view, queryset)
        allowed = set(ALWAYS_ALLOWED) | set(getattr(view, "extra_query_params", ()))
        if filterset_class is not None:
            allowed |= set(filterset_class.base_filters)
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            hint = ", ".join(sorted(allowed))
            raise ValidationError(
                {name: [f"unknown query parameter; allowed: {hint}"] for name in unknown}
            )
        return super().filter_queryset(request, queryset, view)
