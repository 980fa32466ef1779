"""Log context: every log line carries the tick id and trade id in force, when known.

`log_context(tick_id=..., trade_id=...)` sets them for the code inside the block (a
contextvar, so threads and Celery tasks each see their own); `ContextFilter` copies them
onto each record for the formatter.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

# Never mutated in place: log_context() sets a new dict, so the shared default stays empty.
_context: contextvars.ContextVar[dict[str, object]] = contextvars.ContextVar(
    "opssuite_log_context",
    default={},  # noqa: B039
)


@contextlib.contextmanager
def log_context(**values: object) -> Iterator[None]:
    merged = {**_context.get(), **{k: v for k, v in values.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def current_log_context() -> dict[str, object]:
    return dict(_context.get())


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        record.tick_id = context.get("tick_id", "-")
        record.trade_id = context.get("trade_id", "-")
        return True
