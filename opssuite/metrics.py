"""Prometheus counters of the platform; each module registers its own beside its code."""

from prometheus_client import Counter, Histogram

TICKS = Counter(
    "opssuite_ticks_total",
    "Tick pipeline runs by outcome (ran, failed, claimed_elsewhere, already_done, ...)",
    ["outcome"],
)
TICK_SECONDS = Histogram(
    "opssuite_tick_seconds",
    "Wall seconds a tick's pipeline took, steps and commit included",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
