"""CSV for API reports: `?format=csv` on a view that lists `CSVRenderer` among its renderers.

The view hands the renderer a `CSVTable` (a header line and flat rows); anything else - an
error body above all - is not a table, and `CSVMixin` answers it in JSON instead, so a
client asking for CSV still reads the suite's one error format.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response


@dataclass
class CSVTable:
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return out.getvalue()


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if not isinstance(data, CSVTable):
            raise TypeError("CSVRenderer renders a CSVTable; the view handed it something else")
        return csv_text(data.header, data.rows).encode(self.charset)


def csv_response(table: CSVTable, filename: str) -> Response:
    response = Response(table)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class CSVMixin:
    """JSON (and the browsable API) by default; CSV on `?format=csv`. Errors stay JSON."""

    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]

    def wants_csv(self, request: Request) -> bool:
        return getattr(request, "accepted_renderer", None) is not None and isinstance(
            request.accepted_renderer, CSVRenderer
        )

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if (
            isinstance(response, Response)
            and isinstance(getattr(request, "accepted_renderer", None), CSVRenderer)
            and not isinstance(response.data, CSVTable)
        ):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
