"""Page-number pagination that answers a malformed `page` or `page_size` with a 400."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


def positive_int_param(request: Any, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw == "last" and name == "page":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"must be a positive integer, got {raw!r}"]}) from None
    if value < 1:
        raise ValidationError({name: [f"must be a positive integer, got {raw!r}"]})
    return value


class StrictPageNumberPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500
    query_params = ("page", "page_size")

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        positive_int_param(request, self.page_query_param)
        size = positive_int_param(request, self.page_size_query_param)
        if size is not None and size > self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"must be at most {self.max_page_size}"]}
            )
        return super().paginate_queryset(queryset, request, view)
