"""A fake FRED API for tests: `series/observations` answered in FRED's XML from FRED CSV
downloads in a folder, on 127.0.0.1 and a free port, in a background thread.

It behaves like the real API where `fredapi` can tell: an `api_key` is required, the
observation_start/observation_end window is honoured, a missing day comes back as
value=".", and an unknown series or key is an HTTP 400 with FRED's `<error>` document.
"""

from __future__ import annotations

import csv
import datetime as dt
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import quoteattr

ROOT_PATH = "/fred"


@dataclass
class FakeFred:
    """The server: `root_url` is what fredapi's `root_url` should be set to; `requests`
    lists the query parameters of every request it answered."""

    data_dir: Path
    api_key: str = "test-key"
    requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def root_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{ROOT_PATH}"

    def __enter__(self) -> FakeFred:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def observations_xml(self, params: dict[str, str]) -> tuple[int, str]:
        if params.get("api_key") != self.api_key:
            return 400, _error(
                "Bad Request.  The value for variable api_key is not registered.  Read "
                "https://fred.stlouisfed.org/docs/api/api_key.html for more information."
            )
        series_id = params.get("series_id", "")
        path = self.data_dir / f"{series_id}.csv"
        if not series_id.isalnum() or not path.is_file():
            return 400, _error("Bad Request.  The series does not exist.")
        start = params.get("observation_start", "1776-07-04")
        end = params.get("observation_end", "9999-12-31")
        today = dt.date.today().isoformat()  # noqa: DTZ011 - FRED's realtime dates are plain dates
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))[1:]
        lines = [
            f'  <observation realtime_start="{today}" realtime_end="{today}" '
            f"date={quoteattr(day)} value={quoteattr(value)}/>"
            for day, value in rows
            if start <= day <= end  # ISO dates compare as text
        ]
        head = (
            f'<observations realtime_start="{today}" realtime_end="{today}" '
            f"observation_start={quoteattr(start)} observation_end={quoteattr(end)} "
            'units="lin" output_type="1" file_type="xml" order_by="observation_date" '
            f'sort_order="asc" count="{len(lines)}" offset="0" limit="100000">'
        )
        body = "\n".join([head, *lines, "</observations>"])
        return 200, f'<?xml version="1.0" encoding="utf-8" ?>\n{body}\n'

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server calls it by this name
                url = urlsplit(self.path)
                params = {key: values[-1] for key, values in parse_qs(url.query).items()}
                if url.path != f"{ROOT_PATH}/series/observations":
                    status, body = 404, _error("Not Found", code=404)
                else:
                    fake.requests.append(params)
                    status, body = fake.observations_xml(params)
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

        return Handler


def _error(message: str, code: int = 400) -> str:
    return f'<?xml version="1.0" encoding="utf-8" ?>\n<error code="{code}" message={quoteattr(message)}/>\n'
