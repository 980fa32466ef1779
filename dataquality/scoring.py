"""Data quality measured against the simulator's ground truth (InjectedFault): per fault
kind DQ owns, how many injected faults an alert of the right rule caught in the tick they
were injected (recall), how many of the alerts of those rules stand for a real fault
(precision), and alerts per 1,000 instrument-days (the clean scenario's false alarms).

Ground truth is only read here, after the fact: the checks never see it.

A fault with **no material effect** is left out of recall and counted apart (the table's
"no effect" column): a stale or disagreeing quote within five standard deviations of the
vendors' everyday disagreement plus one quote tick of the true price (bond model prices
move once a day, so a repeated intraday bond quote is usually exactly right). Below that
floor the quote is statistically indistinguishable from an honest one - the same floor the
checks' tolerances are set at (dataquality.checks.rules) - so no check can, or should,
raise it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count

from .models import Alert

# Fault kind -> the rule that must catch it, and how the fault names its entity.
OWNED: dict[str, tuple[str, str]] = {
    "price_spike": ("price.spike", "instrument"),
    "stale_price": ("price.stale", "instrument"),
    "missing_price": ("price.missing", "instrument"),
    "vendor_disagreement": ("price.vendor_deviation", "instrument"),
    "fx_source_mismatch": ("fx.source_deviation", "fx_pair"),
    "scale_error": ("price.scale", "instrument"),
    "split_not_reflected": ("price.split_not_reflected", "instrument"),
    "custodian_quantity": ("holding.quantity_break", "holding"),
    "late_statement": ("holding.late_statement", "statement"),
}
SPIKE_KINDS = {"price_spike"}
SIBLINGS = {
    "price.stale": ("price.vendor_deviation",),
    "price.vendor_deviation": ("price.stale",),
}
RECALL_TARGET = {"rule": 0.98, "spike": 0.90}
PRECISION_TARGET = 0.95
CLEAN_TARGET = 1.0  # alerts per 1,000 instrument-days


@dataclass
class KindScore:
    kind: str
    rule: str
    injected: int = 0
    no_effect: int = 0
    detected: int = 0
    relabelled: int = 0  # of `detected`: caught by a sibling rule on the same entity
    missed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def scored(self) -> int:
        return self.injected - self.no_effect

    @property
    def recall(self) -> float | None:
        return self.detected / self.scored if self.scored else None


@dataclass
class Score:
    kinds: list[KindScore]
    alerts: int
    true_alerts: int
    owned_alerts: int
    other_alerts: dict[str, int]
    false_alerts: list[dict[str, Any]]
    instrument_days: float

    @property
    def recall(self) -> float | None:
        scored = sum(k.scored for k in self.kinds)
        return sum(k.detected for k in self.kinds) / scored if scored else None

    @property
    def precision(self) -> float | None:
        return self.true_alerts / self.owned_alerts if self.owned_alerts else None

    @property
    def false_per_1000(self) -> float:
        false = self.owned_alerts - self.true_alerts
        return 1000.0 * false / self.instrument_days if self.instrument_days else 0.0

    @property
    def alerts_per_1000(self) -> float:
        return 1000.0 * self.alerts / self.instrument_days if self.instrument_days else 0.0

    def line(self) -> str:
        def f(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.3f}"

        return (
            f"dq recall={f(self.recall)} precision={f(self.precision)} "
            f"false_alerts_per_1000={self.false_per_1000:.2f}"
        )


def _entity(
    fault: Any, kind: str, mandates: dict[int, tuple[str, str]], pairs: dict[int, str]
) -> str | None:
    entity = OWNED[kind][1]
    if entity == "instrument":
        return str(fault.instrument_id) if fault.instrument_id else None
    if entity == "fx_pair":
        return pairs.get(fault.instrument_id)
    if entity == "holding":
        code = mandates.get(fault.mandate_id, ("", ""))[0]
        return f"{code}:{fault.instrument_id}"
    if entity == "statement":
        return mandates.get(fault.mandate_id, ("", ""))[1]
    return None


NOISE_SIGMAS = 5


def _no_effect(fault: Any, classes: dict[int, tuple[str, float]]) -> bool:
    """Did this fault move the quote beyond everyday vendor noise (see the docstring)?"""
    from simulator.services.market import VENDOR_DISAGREEMENT_BP

    detail = fault.detail or {}
    expected, published = detail.get("expected"), detail.get("published")
    if fault.kind not in ("stale_price", "vendor_disagreement") or expected is None:
        return False
    try:
        expected, published = float(expected), float(published)
    except (TypeError, ValueError):
        return False
    if not expected:
        return False
    asset_class, tick = classes.get(fault.instrument_id, ("equity", 0.01))
    noise_bp = VENDOR_DISAGREEMENT_BP.get(asset_class, 2.0)
    moved_bp = abs(published - expected) / abs(expected) * 1e4
    floor_bp = NOISE_SIGMAS * noise_bp + tick / abs(expected) * 1e4
    return moved_bp <= floor_bp


def score(*, instruments: int, days: float) -> Score:
    """Score every alert raised so far against every fault injected so far."""
    from book.models import Instrument, Mandate
    from simulator.models import InjectedFault

    mandates = {
        m.pk: (m.code, m.custody_account.code)
        for m in Mandate.objects.select_related("custody_account")
    }
    pairs = dict(Instrument.objects.filter(asset_class="fx").values_list("pk", "ticker"))
    classes = {
        pk: (cls, 0.0001 if cls != "equity" else (1.0 if ccy == "JPY" else 0.01))
        for pk, cls, ccy in Instrument.objects.values_list("pk", "asset_class", "currency_id")
    }
    alerts = list(Alert.objects.all())
    by_rule_entity: dict[tuple[str, str], list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_rule_entity[(alert.rule, alert.entity_key)].append(alert)
    # Every fault's (entity key, tick), any kind: an owned alert on an entity that some
    # fault touched at a tick the alert covers stands for a real problem.
    touched: dict[str, set[int]] = defaultdict(set)
    kinds = {kind: KindScore(kind=kind, rule=rule) for kind, (rule, _) in OWNED.items()}
    for fault in InjectedFault.objects.order_by("tick", "id"):
        if fault.kind in OWNED:
            key = _entity(fault, fault.kind, mandates, pairs)
            if key:
                touched[key].add(fault.tick)
        if fault.instrument_id:
            touched[str(fault.instrument_id)].add(fault.tick)
            if fault.instrument_id in pairs:
                touched[pairs[fault.instrument_id]].add(fault.tick)
        if fault.kind not in OWNED:
            continue
        score_kind = kinds[fault.kind]
        score_kind.injected += 1
        if _no_effect(fault, classes):
            score_kind.no_effect += 1
            continue
        key = _entity(fault, fault.kind, mandates, pairs)
        caught = any(
            a.first_seen_tick <= fault.tick <= a.last_seen_tick
            for a in by_rule_entity.get((score_kind.rule, key or ""), [])
        )
        # One tick cannot always tell a stale quote from the other vendor's bad one (one
        # vendor moved, the other did not): the instrument is flagged, under the sibling
        # rule. Counted as detected, and shown apart (`as sibling`).
        sibling = not caught and any(
            a.first_seen_tick <= fault.tick <= a.last_seen_tick
            for rule in SIBLINGS.get(score_kind.rule, ())
            for a in by_rule_entity.get((rule, key or ""), [])
        )
        if caught or sibling:
            score_kind.detected += 1
            score_kind.relabelled += int(sibling)
        else:
            score_kind.missed.append({"tick": fault.tick, "entity": key, "detail": fault.detail})
    owned_rules = {rule for rule, _ in OWNED.values()}
    owned = [a for a in alerts if a.rule in owned_rules]
    true, false = 0, []
    for alert in owned:
        ticks = touched.get(alert.entity_key, set())
        if any(alert.first_seen_tick <= t <= alert.last_seen_tick for t in ticks):
            true += 1
        else:
            false.append(
                {
                    "alert_id": alert.alert_id,
                    "rule": alert.rule,
                    "entity": alert.entity_key,
                    "tick": alert.first_seen_tick,
                    "message": alert.message,
                }
            )
    other = dict(
        Alert.objects.exclude(rule__in=owned_rules)
        .values_list("rule")
        .annotate(n=Count("id"))
        .order_by("rule")
    )
    return Score(
        kinds=[k for k in kinds.values()],
        alerts=len(alerts),
        true_alerts=true,
        owned_alerts=len(owned),
        other_alerts=other,
        false_alerts=false,
        instrument_days=instruments * days,
    )


def table(result: Score) -> str:
    """The per-kind table dq_score prints, ending with the one summary line."""
    lines = [
        f"{'fault kind':<22} {'rule':<28} {'injected':>8} {'no effect':>9} "
        f"{'detected':>8} {'as sibling':>10} {'recall':>7} {'target':>6}"
    ]
    for k in result.kinds:
        target = RECALL_TARGET["spike" if k.kind in SPIKE_KINDS else "rule"]
        recall = "n/a" if k.recall is None else f"{k.recall:.3f}"
        lines.append(
            f"{k.kind:<22} {k.rule:<28} {k.injected:>8} {k.no_effect:>9} {k.detected:>8} "
            f"{k.relabelled:>10} {recall:>7} {target:>6.2f}"
        )
    lines.append(
        f"alerts {result.alerts}: {result.owned_alerts} from the rules above, "
        f"{result.true_alerts} standing for an injected fault; other rules {result.other_alerts}"
    )
    for false in result.false_alerts[:20]:
        lines.append(
            f"  false alert {false['alert_id']} {false['rule']} {false['entity']} "
            f"@ {false['tick']}: {false['message']}"
        )
    for k in result.kinds:
        for miss in k.missed[:5]:
            lines.append(f"  missed {k.kind} {miss['entity']} @ {miss['tick']}: {miss['detail']}")
    lines.append(
        f"instrument-days {result.instrument_days:.0f}; all alerts per 1,000 instrument-days "
        f"{result.alerts_per_1000:.2f}"
    )
    lines.append(result.line())
    return "\n".join(lines)
