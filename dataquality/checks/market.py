"""Price checks over a MarketFrame: every instrument of one tick at once.

Each function takes the frame and the rules and returns its findings. They are independent
(each can run alone); `run_checks` runs them all and keeps one finding per root cause
(a spike also shows as a vendor deviation: only the spike is reported).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .findings import Finding, escalate, fmt, matches, tidy
from .frame import MarketFrame, daily_vol
from .rules import (
    CRITICAL,
    INFO,
    PRICE_MISSING,
    PRICE_SCALE,
    PRICE_SPIKE,
    PRICE_SPLIT,
    PRICE_STALE,
    PRICE_VENDOR_DEVIATION,
    Rule,
    RuleSet,
    as_ruleset,
)

VENDORS = (0, 1)


def _price_inputs(instrument_id: int, names: Iterable[str]) -> tuple[str, ...]:
    return (f"instrument:{instrument_id}", *(f"price:{instrument_id}:{n}" for n in names))


def _tick_allowance_bp(
    market: MarketFrame, allowance: np.ndarray, reference: np.ndarray
) -> np.ndarray:
    """One quote tick of rounding, in bp of the reference price (0 where tick size unknown)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = allowance * market.tick_size / reference * 1e4
    return np.where(np.isfinite(bp), bp, 0.0)


def check_vendor_deviation(
    market: MarketFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """The primary vendor's price against the secondary's, in bp of the secondary:
    a finding when |primary / secondary - 1| x 10,000 > tolerance_bp + tick_allowance ticks.
    Neither vendor is blamed (source ""); critical from critical_multiple x the tolerance."""
    ruleset = as_ruleset(rules)
    resolved = ruleset.for_classes(PRICE_VENDOR_DEVIATION, market.classes)
    if resolved is None:
        return []
    ci = market.class_index
    p, q = market.primary, market.secondary
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = tidy((p / q - 1.0) * 1e4)
    tolerance = resolved.param("tolerance_bp", ci) + _tick_allowance_bp(
        market, resolved.param("tick_allowance", ci), q
    )
    hit = resolved.enabled(ci) & (np.abs(deviation) > tolerance)
    primary_name, secondary_name = market.vendor_names

    found = []
    for row, rule, asset_class in matches(hit, resolved, ci, market.classes):
        iid = int(market.instrument_id[row])
        measured, tol = float(deviation[row]), float(tolerance[row])
        found.append(
            Finding(
                rule=rule.code,
                rule_version=rule.version,
                severity=escalate(
                    rule.severity, measured, tol, rule.params.get("critical_multiple")
                ),
                entity_kind="instrument",
                entity_key=str(iid),
                source="",
                value=float(p[row]),
                value_source=primary_name,
                reference=float(q[row]),
                reference_source=secondary_name,
                tolerance=tol,
                measured=measured,
                unit="bp",
                inputs=_price_inputs(iid, market.vendor_names),
                message=f"{primary_name} {fmt(p[row])} vs {secondary_name} {fmt(q[row])}: "
                f"{measured:+.1f} bp, tolerance {tol:.1f} bp",
                asset_class=asset_class,
            )
        )
    return found


def check_stale(
    market: MarketFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """A vendor's price that did not change while the other vendor's moved, plausibly for
    the market (its return net of the market move within plausible_sigmas x sigma, sigma
    as for spikes), and the two are now more than tolerance_bp (+ tick_allowance ticks)
    apart; or a quote timestamp older than max_age_minutes (when ages are known). A move
    of the other vendor too large for the market is that vendor's problem (a vendor
    deviation or spike), not this one's staleness. No history (first tick): silent."""
    ruleset = as_ruleset(rules)
    resolved = ruleset.for_classes(PRICE_STALE, market.classes)
    if resolved is None:
        return []
    ci = market.class_index
    enabled = resolved.enabled(ci)
    max_age = resolved.param("max_age_minutes", ci)
    _, sigma = spike_threshold(
        market,
        np.ones(len(market)),
        resolved.param("vol_multiple", ci),
        np.zeros(len(market)),
        resolved.param("gap_variance", ci),
    )
    plausible = resolved.param("plausible_sigmas", ci) * sigma
    min_peers = resolved.param("min_peers", ci)
    found: list[Finding] = []
    for vendor in VENDORS:
        other = 1 - vendor
        price, previous, age = market.quotes(vendor)
        other_price, other_previous, _ = market.quotes(other)
        other_returns = market.log_return(other)
        other_move = np.abs(
            other_returns - market.beta * market_move(market, other_returns, min_peers)
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = tidy(np.abs(price / other_price - 1.0) * 1e4)
        tolerance = resolved.param("tolerance_bp", ci) + _tick_allowance_bp(
            market, resolved.param("tick_allowance", ci), other_price
        )
        unchanged = np.isfinite(price) & (price == previous)
        other_moved = (
            np.isfinite(other_price) & (other_price != other_previous) & (other_move <= plausible)
        )
        by_price = unchanged & other_moved & (gap > tolerance)
        by_age = np.isfinite(price) & (tidy(age) > max_age)
        hit = enabled & (by_price | by_age)
        name, other_name = market.vendor_names[vendor], market.vendor_names[other]

        for row, rule, asset_class in matches(hit, resolved, ci, market.classes):
            iid = int(market.instrument_id[row])
            if by_price[row]:
                measured, tol, unit = float(gap[row]), float(tolerance[row]), "bp"
                why = (
                    f"unchanged at {fmt(price[row])} while {other_name} moved to "
                    f"{fmt(other_price[row])} ({measured:.1f} bp apart)"
                )
            else:
                measured, tol, unit = float(age[row]), float(max_age[row]), "minutes"
                why = f"quote {measured:.0f} minutes old, limit {tol:.0f}"
            found.append(
                Finding(
                    rule=rule.code,
                    rule_version=rule.version,
                    severity=rule.severity,
                    entity_kind="instrument",
                    entity_key=str(iid),
                    source=name,
                    value=float(price[row]),
                    value_source=name,
                    reference=float(other_price[row]),
                    reference_source=other_name,
                    tolerance=tol,
                    measured=measured,
                    unit=unit,
                    inputs=_price_inputs(iid, (name,)),
                    message=f"{name} stale: {why}",
                    asset_class=asset_class,
                    detail={
                        "previous": float(previous[row]),
                        "reason": "unchanged" if unit == "bp" else "age",
                    },
                )
            )
    return found


def check_missing(
    market: MarketFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """No price from a vendor where one is due. Held instruments: the rule's severity when
    the other vendor has a price, critical when no vendor has; unheld: info (or nothing
    when report_unheld is false)."""
    ruleset = as_ruleset(rules)
    resolved = ruleset.for_classes(PRICE_MISSING, market.classes)
    if resolved is None:
        return []
    ci = market.class_index
    report_unheld = resolved.param("report_unheld", ci) > 0
    due = resolved.enabled(ci) & market.expected
    found: list[Finding] = []
    for vendor in VENDORS:
        price = market.quotes(vendor)[0]
        other_price = market.quotes(1 - vendor)[0]
        missing = due & ~np.isfinite(price) & (market.held | report_unheld)
        name, other_name = market.vendor_names[vendor], market.vendor_names[1 - vendor]

        for row, rule, asset_class in matches(missing, resolved, ci, market.classes):
            iid = int(market.instrument_id[row])
            fallback = bool(np.isfinite(other_price[row]))
            if not market.held[row]:
                severity = INFO
            elif fallback:
                severity = rule.severity
            else:
                severity = CRITICAL
            found.append(
                Finding(
                    rule=rule.code,
                    rule_version=rule.version,
                    severity=severity,
                    entity_kind="instrument",
                    entity_key=str(iid),
                    source=name,
                    value=math.nan,
                    value_source=name,
                    reference=float(other_price[row]),
                    reference_source=other_name,
                    tolerance=0.0,
                    measured=1.0,
                    unit="count",
                    inputs=_price_inputs(iid, (name,)),
                    message=f"no {name} price"
                    + (
                        f" ({other_name} has {fmt(other_price[row])})"
                        if fallback
                        else ", and no other vendor's"
                    )
                    + ("" if market.held[row] else "; not held"),
                    asset_class=asset_class,
                    detail={"held": bool(market.held[row])},
                )
            )
    return found


def market_move(market: MarketFrame, returns: np.ndarray, min_peers: np.ndarray) -> np.ndarray:
    """Each row's market move: the median return of its asset class this tick (the
    cross-sectional market factor), 0 for a class with fewer than min_peers returns."""
    ci = market.class_index
    moves = np.zeros(len(market.classes))
    finite = np.isfinite(returns)
    for position in range(len(market.classes)):
        in_class = ci == position
        values = returns[in_class & finite]
        peers = min_peers[in_class]
        if values.size and np.isfinite(peers).any() and values.size >= np.nanmax(peers):
            moves[position] = float(np.median(values))
    return moves[ci]


def spike_threshold(
    market: MarketFrame,
    k: np.ndarray,
    vol_multiple: np.ndarray,
    min_jump: np.ndarray,
    gap_variance: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(threshold, sigma) per row: sigma is the instrument's volatility over the time since
    its previous price at this VIX; the threshold max(k sigma, min_jump)."""
    elapsed = market.tick_fraction + gap_variance * market.gap_days
    sigma = vol_multiple * daily_vol(market.vix) * np.sqrt(elapsed)
    return np.maximum(k * sigma, min_jump), sigma


def check_spike(
    market: MarketFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """A vendor's return, net of the market move (beta x the asset class's median
    return), beyond max(k sigma, min_jump), sigma from the VIX (see spike_threshold),
    that the other vendor does not confirm (the vendors more than confirm_fraction x the
    threshold apart, or no other vendor). No history: silent. A split going ex today is
    taken out of the return."""
    ruleset = as_ruleset(rules)
    resolved = ruleset.for_classes(PRICE_SPIKE, market.classes)
    if resolved is None:
        return []
    ci = market.class_index
    enabled = resolved.enabled(ci)
    threshold, sigma = spike_threshold(
        market,
        resolved.param("k", ci),
        resolved.param("vol_multiple", ci),
        resolved.param("min_jump", ci),
        resolved.param("gap_variance", ci),
    )
    confirm = resolved.param("confirm_fraction", ci) * threshold
    min_peers = resolved.param("min_peers", ci)
    apart = np.abs(market.log_gap)
    found: list[Finding] = []
    for vendor in VENDORS:
        other = 1 - vendor
        returns = market.log_return(vendor)
        move = market_move(market, returns, min_peers)
        residual = tidy(returns - market.beta * move)
        other_price = market.quotes(other)[0]
        unconfirmed = ~np.isfinite(other_price) | (apart > confirm)
        hit = enabled & (np.abs(residual) > threshold) & unconfirmed
        price, previous, _ = market.quotes(vendor)
        name, other_name = market.vendor_names[vendor], market.vendor_names[other]

        for row, rule, asset_class in matches(hit, resolved, ci, market.classes):
            iid = int(market.instrument_id[row])
            measured, tol = float(residual[row]), float(threshold[row])
            found.append(
                Finding(
                    rule=rule.code,
                    rule_version=rule.version,
                    severity=rule.severity,
                    entity_kind="instrument",
                    entity_key=str(iid),
                    source=name,
                    value=float(price[row]),
                    value_source=name,
                    reference=float(previous[row]),
                    reference_source=f"{name} previous",
                    tolerance=tol,
                    measured=measured,
                    unit="log_return",
                    inputs=_price_inputs(iid, (name,)),
                    message=f"{name} jumped {measured:+.2%} net of the market "
                    f"({fmt(previous[row])} -> {fmt(price[row])}), threshold {tol:.2%}"
                    + (
                        f"; {other_name} at {fmt(other_price[row])}"
                        if np.isfinite(other_price[row])
                        else ""
                    ),
                    asset_class=asset_class,
                    detail={
                        "sigma": float(sigma[row]),
                        "vix": market.vix,
                        "market_move": float(move[row]),
                        "other_price": float(other_price[row]),
                        "gap_days": float(market.gap_days[row]),
                    },
                )
            )
    return found


def check_scale(
    market: MarketFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """A price `factor` times (or 1/factor of) the other vendor's price, within
    ratio_tolerance (log distance); when there is no other vendor, or the other vendor is
    off from its own previous price by the same factor (both scaled), against the vendor's
    previous price. Of two vendors a factor apart, the one named is the one that moved by
    the factor from its own previous price (both, when neither has a previous price)."""
    ruleset = as_ruleset(rules)
    resolved = ruleset.for_classes(PRICE_SCALE, market.classes)
    if resolved is None:
        return []
    ci = market.class_index
    enabled = resolved.enabled(ci)
    width = np.log1p(resolved.param("ratio_tolerance", ci))
    factors = sorted(
        {float(f) for r in resolved.rules if r is not None for f in r.param("factors")}
    )
    found: list[Finding] = []
    for vendor in VENDORS:
        other = 1 - vendor
        price, previous, _ = market.quotes(vendor)
        other_price, other_previous, _ = market.quotes(other)
        with np.errstate(divide="ignore", invalid="ignore"):
            vs_other = np.log(price / other_price)
            vs_previous = np.log(price * market.previous_adjustment / previous)
            other_vs_previous = np.log(other_price * market.previous_adjustment / other_previous)
        hit = np.zeros(len(market), dtype=bool)
        factor_of = np.full(len(market), np.nan)
        against_previous = np.zeros(len(market), dtype=bool)
        # Which vendor is off, when the two are a factor apart: the one that also jumped
        # by it from its own previous price (the other did not move by the inverse);
        # with no history on either side, both are named.
        own_unmoved = np.abs(vs_previous) < width
        for factor in factors:
            for scaled_by in (factor, 1.0 / factor):
                log_factor = math.log(scaled_by)
                other_inverse = np.abs(other_vs_previous + log_factor) < width
                near_other = (np.abs(vs_other - log_factor) < width) & ~own_unmoved & ~other_inverse
                other_scaled = np.abs(other_vs_previous - log_factor) < width
                use_previous = ~np.isfinite(other_price) | other_scaled
                near_previous = use_previous & (np.abs(vs_previous - log_factor) < width)
                new = enabled & ~hit & (near_other | near_previous)
                factor_of[new] = scaled_by
                against_previous |= new & ~near_other
                hit |= new
        name, other_name = market.vendor_names[vendor], market.vendor_names[other]

        for row, rule, asset_class in matches(hit, resolved, ci, market.classes):
            iid = int(market.instrument_id[row])
            use_prev = bool(against_previous[row])
            reference = float(previous[row] if use_prev else other_price[row])
            ratio = float(price[row]) / reference
            found.append(
                Finding(
                    rule=rule.code,
                    rule_version=rule.version,
                    severity=rule.severity,
                    entity_kind="instrument",
                    entity_key=str(iid),
                    source=name,
                    value=float(price[row]),
                    value_source=name,
                    reference=reference,
                    reference_source=f"{name} previous" if use_prev else other_name,
                    tolerance=float(rule.param("ratio_tolerance")),
                    measured=ratio,
                    unit="ratio",
                    inputs=_price_inputs(iid, (name,)),
                    message=f"{name} {fmt(price[row])} is {ratio:.4g}x "
                    f"{'its previous' if use_prev else other_name} {fmt(reference)}: scaled by {factor_of[row]:g}",
                    asset_class=asset_class,
                    detail={"factor": float(factor_of[row])},
                )
            )
    return found


def check_split_not_reflected(
    market: MarketFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """On a split's ex-date, a vendor price nearer the pre-split level than the post-split
    one (in log distance). The post-split level is the previous close / ratio; with no
    previous close, the other vendor's price (so a price `ratio` x the other's is unsplit)."""
    ruleset = as_ruleset(rules)
    resolved = ruleset.for_classes(PRICE_SPLIT, market.classes)
    if resolved is None:
        return []
    ci = market.class_index
    split = resolved.enabled(ci) & market.has_split
    if not split.any():
        return []
    ratio = np.where(split, market.split_ratio, 1.0)
    log_ratio = np.log(ratio)
    found: list[Finding] = []
    for vendor in VENDORS:
        other = 1 - vendor
        price = market.quotes(vendor)[0]
        other_price = market.quotes(other)[0]
        by_close = np.isfinite(market.prev_close)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = np.where(by_close, market.prev_close / ratio, other_price)
            observed = np.log(price / expected)  # ~0 reflected, ~log(ratio) not reflected
        hit = split & np.isfinite(observed) & (np.abs(observed - log_ratio) < np.abs(observed))
        name, other_name = market.vendor_names[vendor], market.vendor_names[other]

        for row, rule, asset_class in matches(hit, resolved, ci, market.classes):
            iid = int(market.instrument_id[row])
            r = float(ratio[row])
            found.append(
                Finding(
                    rule=rule.code,
                    rule_version=rule.version,
                    severity=rule.severity,
                    entity_kind="instrument",
                    entity_key=str(iid),
                    source=name,
                    value=float(price[row]),
                    value_source=name,
                    reference=float(expected[row]),
                    reference_source="previous close / ratio" if by_close[row] else other_name,
                    tolerance=math.sqrt(r),
                    measured=float(math.exp(observed[row])),
                    unit="ratio",
                    inputs=_price_inputs(iid, (name,)),
                    message=f"{name} {fmt(price[row])} on the ex-date of a {r:g}-for-1 split; "
                    f"expected about {fmt(expected[row])}",
                    asset_class=asset_class,
                    detail={"split_ratio": r},
                )
            )
    return found


# One finding per root cause: when a more specific check names a vendor's price, the
# generic ones on that price are dropped, and so are the findings that only measure the
# gap between the vendors (the vendor deviation, the other vendor "stale" against a
# price that jumped).
PRICE_PRECEDENCE = (PRICE_SPLIT, PRICE_SCALE, PRICE_SPIKE, PRICE_STALE)
JUMPS = frozenset((PRICE_SPLIT, PRICE_SCALE, PRICE_SPIKE))


def explain_price_findings(findings: list[Finding]) -> list[Finding]:
    """One finding per price problem: per instrument and vendor only the most specific of
    split > scale > spike > stale is kept; a vendor deviation on an instrument with any
    of those is dropped; and so is a stale-by-comparison finding on one vendor when the
    other vendor's price jumped (split, scale, spike). Other findings pass through."""
    best: dict[tuple[str, str], int] = {}
    jumped: set[str] = set()
    for f in findings:
        if f.rule in PRICE_PRECEDENCE:
            rank = PRICE_PRECEDENCE.index(f.rule)
            key = (f.entity_key, f.source)
            best[key] = min(rank, best.get(key, rank))
            if f.rule in JUMPS:
                jumped.add(f.entity_key)
    explained = {key[0] for key in best}
    kept = []
    for f in findings:
        if f.rule in PRICE_PRECEDENCE:
            if PRICE_PRECEDENCE.index(f.rule) != best[(f.entity_key, f.source)]:
                continue
            if (
                f.rule == PRICE_STALE
                and f.entity_key in jumped
                and f.detail.get("reason") == "unchanged"
            ):
                continue
        elif f.rule == PRICE_VENDOR_DEVIATION and f.entity_key in explained:
            continue
        kept.append(f)
    return kept


MARKET_CHECKS = (
    check_missing,
    check_split_not_reflected,
    check_scale,
    check_spike,
    check_stale,
    check_vendor_deviation,
)
