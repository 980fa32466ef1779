"""Prometheus metrics of data quality: per check, the entities evaluated and the failures
found (counted where the run happens: `runs_observe(run)` after a CheckRun is recorded),
runs and their duration; and the active alerts by rule and severity (read from the
database at scrape time, so every process that serves /metrics reports the same queue)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RUNS = Counter("opssuite_dq_runs_total", "Data-quality check runs (one a tick)")
RUN_SECONDS = Histogram(
    "opssuite_dq_run_seconds",
    "Wall seconds a data-quality check run took (every check, alerts and results stored)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVALUATED = Counter(
    "opssuite_dq_check_evaluated_total",
    "Entities a data-quality check evaluated (all sources), by rule",
    ["rule"],
)
FAILED = Counter(
    "opssuite_dq_check_failed_total",
    "Entities that failed a data-quality check (findings, all sources), by rule",
    ["rule"],
)


def runs_observe(run: Any) -> None:
    """Count one recorded CheckRun: its duration, and each rule's evaluated and failed
    entities (its CheckResult rows, summed over sources: one query)."""
    RUNS.inc()
    RUN_SECONDS.observe((run.duration_ms or 0) / 1000)
    totals: dict[str, list[int]] = {}
    for rule, evaluated, failed in run.results.values_list("rule", "evaluated", "failed"):
        total = totals.setdefault(rule, [0, 0])
        total[0] += evaluated
        total[1] += failed
    for rule, (evaluated, failed) in sorted(totals.items()):
        EVALUATED.labels(rule=rule).inc(evaluated)
        FAILED.labels(rule=rule).inc(failed)


def _family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "opssuite_dq_active_alerts",
        "Active data-quality alerts (open, acknowledged, snoozed) by rule and severity",
        labels=["rule", "severity"],
    )


class ActiveAlertsCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Registration asks for the names: answer without touching the database.
        yield _family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db import DatabaseError

        from .queries import active_alert_counts

        family = _family()
        try:
            counts = active_alert_counts()
        except DatabaseError:  # no database yet (migrations not run): report nothing
            counts = {}
        for (rule, severity), count in sorted(counts.items()):
            family.add_metric([rule, severity], count)
        yield family


_registered = False


def register() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(ActiveAlertsCollector())
        _registered = True
