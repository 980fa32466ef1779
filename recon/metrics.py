"""Prometheus metrics of the recon: runs and their duration, matched and broken items
(counted where the run happens), and open breaks by type and age bucket (read from the
database at scrape time, so every process that serves /metrics reports the same queue)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RUNS = Counter("opssuite_recon_runs_total", "Recon runs by kind and status", ["kind", "status"])
RUN_SECONDS = Histogram(
    "opssuite_recon_run_seconds",
    "Wall seconds a recon run took",
    ["kind"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ITEMS = Counter(
    "opssuite_recon_items_total",
    "Items compared by recon runs: matched, or mismatched (a break found)",
    ["kind", "outcome"],
)


def runs_observe(runs: Iterable) -> None:
    for run in runs:
        RUNS.labels(kind=run.kind, status=run.status).inc()
        RUN_SECONDS.labels(kind=run.kind).observe(run.duration_ms / 1000)
        summary = run.summary or {}
        ITEMS.labels(kind=run.kind, outcome="matched").inc(summary.get("matched", 0) or 0)
        ITEMS.labels(kind=run.kind, outcome="mismatched").inc(
            sum((summary.get("breaks_by_type") or {}).values())
        )


def _family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "opssuite_recon_open_breaks",
        "Open recon breaks by break type and age bucket (business days)",
        labels=["break_type", "age_bucket"],
    )


class OpenBreaksCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Registration asks for the names: answer without touching the database.
        yield _family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db import DatabaseError

        from .selectors import open_break_counts

        family = _family()
        try:
            counts = open_break_counts()
        except DatabaseError:  # no database yet (migrations not run): report nothing
            counts = {}
        for (break_type, bucket), count in sorted(counts.items()):
            family.add_metric([break_type, bucket], count)
        yield family


_registered = False


def register() -> None:
    global _registered
    if not _registered:
        REGISTRY.register(OpenBreaksCollector())
        _registered = True
