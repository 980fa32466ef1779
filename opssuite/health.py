"""Health checks: the database, the broker when one is configured, the tick's freshness."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from simulator.selectors import clock_state

from . import __version__


def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        extra = check() or {}
        ok, error = True, None
    except Exception as exc:  # health must report, never raise
        extra, ok, error = {}, False, f"{type(exc).__name__}: {exc}"
    result = {"ok": ok, "latency_ms": round((time.perf_counter() - started) * 1000, 2), **extra}
    if error:
        result["error"] = error
    return result


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def database_check() -> dict[str, Any]:
    def check() -> dict[str, Any]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"vendor": connection.vendor}

    return _timed(check)


def broker_check() -> dict[str, Any] | None:
    url = settings.CELERY_BROKER_URL
    if not url:
        return None

    def check() -> dict[str, Any]:
        from kombu import Connection

        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"url": redact_url(url)}

    return _timed(check)


def health_report() -> tuple[bool, dict[str, Any]]:
    database = database_check()
    broker = broker_check()
    tick: dict[str, Any] | None = None
    if database["ok"]:
        state = clock_state()
        tick = {
            "last_id": state.last_tick,
            "sim_time": state.sim_time,
            "last_tick_at": state.last_tick_at,
            "age_seconds": state.age_seconds,
            "running": state.running,
        }
    healthy = database["ok"] and (broker is None or broker["ok"])
    return healthy, {
        "status": "ok" if healthy else "unavailable",
        "version": __version__,
        "mode": "stack" if settings.CELERY_BROKER_URL else "embedded",
        "database": database,
        "broker": broker,
        "tick": tick,
    }
