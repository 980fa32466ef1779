"""FX checks over an FxFrame: source against source, crosses against their legs, rates
that are not there. Rules are looked up for asset class "fx"."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .findings import Finding, escalate, fmt, tidy
from .frame import TRADING_DAYS, FxFrame
from .rules import (
    CRITICAL,
    FX_MISSING,
    FX_SOURCE_DEVIATION,
    FX_TRIANGULATION,
    Rule,
    RuleSet,
    as_ruleset,
)

FX_CLASS = "fx"
# FX volatility rises with equity stress: the VIX/20 multiplier, bounded like the
# single-name one (a calm day does not make FX still, a panic does not make it wild).
FX_VOL_SCALE_BOUNDS = (0.6, 2.5)


def fx_daily_vol(vix: float, annual_vol: float) -> float:
    """One session's FX volatility at this VIX: annual_vol at VIX 20, scaled by VIX/20."""
    low, high = FX_VOL_SCALE_BOUNDS
    return annual_vol * min(max(vix / 20.0, low), high) / math.sqrt(TRADING_DAYS)


def check_fx_source_deviation(
    fx: FxFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """Primary against secondary rate of each pair, in bp of the secondary: a finding when
    |primary / secondary - 1| x 10,000 > tolerance_bp; critical from critical_multiple x."""
    rule = as_ruleset(rules).get(FX_SOURCE_DEVIATION, FX_CLASS)
    if rule is None or not len(fx):
        return []
    tolerance = float(rule.param("tolerance_bp"))
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = tidy((fx.primary / fx.secondary - 1.0) * 1e4)
    primary, secondary = fx.source_names
    found = []
    for row in np.flatnonzero(np.abs(deviation) > tolerance).tolist():
        pair, measured = str(fx.pair[row]), float(deviation[row])
        found.append(
            Finding(
                rule=rule.code,
                rule_version=rule.version,
                severity=escalate(
                    rule.severity, measured, tolerance, rule.params.get("critical_multiple")
                ),
                entity_kind="fx_pair",
                entity_key=pair,
                source="",
                value=float(fx.primary[row]),
                value_source=primary,
                reference=float(fx.secondary[row]),
                reference_source=secondary,
                tolerance=tolerance,
                measured=measured,
                unit="bp",
                inputs=(f"fx:{pair}", f"fx:{pair}:{primary}", f"fx:{pair}:{secondary}"),
                message=f"{pair} {primary} {fmt(fx.primary[row])} vs {secondary} "
                f"{fmt(fx.secondary[row])}: {measured:+.1f} bp, tolerance {tolerance:.1f} bp",
                asset_class=FX_CLASS,
            )
        )
    return found


def _leg(
    index: dict[tuple[str, str], int], rates: np.ndarray, base: str, quote: str
) -> tuple[float, str] | None:
    """The rate of base/quote from the frame (direct, or the inverse pair) and its pair."""
    if (base, quote) in index:
        row = index[(base, quote)]
        return float(rates[row]), f"{base}{quote}"
    if (quote, base) in index:
        row = index[(quote, base)]
        return 1.0 / float(rates[row]), f"{quote}{base}"
    return None


def check_fx_triangulation(
    fx: FxFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """Each cross (a pair without the anchor currency) against the product of its two
    anchor legs on the primary source, e.g. EURJPY vs EURUSD x USDJPY: a finding when
    |cross / implied - 1| x 10,000 > max(tolerance_bp, vol_multiple x the day's FX vol).
    Crosses whose legs are not both in the frame are skipped."""
    rule = as_ruleset(rules).get(FX_TRIANGULATION, FX_CLASS)
    if rule is None or not len(fx):
        return []
    anchor = str(rule.param("anchor_currency"))
    vol_bp = (
        float(rule.param("vol_multiple"))
        * fx_daily_vol(fx.vix, float(rule.param("fx_annual_vol")))
        * 1e4
    )
    tolerance = max(float(rule.param("tolerance_bp")), vol_bp)
    rates = fx.primary
    index = {
        (str(b), str(q)): row for row, (b, q) in enumerate(zip(fx.base, fx.quote, strict=True))
    }
    source = fx.source_names[0]
    found = []
    for row in range(len(fx)):
        base, quote = str(fx.base[row]), str(fx.quote[row])
        if anchor in (base, quote):
            continue
        first, second = _leg(index, rates, base, anchor), _leg(index, rates, anchor, quote)
        if first is None or second is None:
            continue
        implied = first[0] * second[0]
        direct = float(rates[row])
        if not (math.isfinite(implied) and math.isfinite(direct)) or implied <= 0:
            continue
        measured = round((direct / implied - 1.0) * 1e4, 9)
        if abs(measured) <= tolerance:
            continue
        pair = str(fx.pair[row])
        legs = (first[1], second[1])
        found.append(
            Finding(
                rule=rule.code,
                rule_version=rule.version,
                severity=rule.severity,
                entity_kind="fx_pair",
                entity_key=pair,
                source=source,
                value=direct,
                value_source=f"{pair} {source}",
                reference=implied,
                reference_source=f"{legs[0]} x {legs[1]} {source}",
                tolerance=tolerance,
                measured=measured,
                unit="bp",
                inputs=(
                    f"fx:{pair}",
                    f"fx:{pair}:{source}",
                    *(f"fx:{leg}:{source}" for leg in legs),
                ),
                message=f"{pair} {fmt(direct)} vs {legs[0]} x {legs[1]} = {fmt(implied)}: "
                f"{measured:+.1f} bp, tolerance {tolerance:.1f} bp",
                asset_class=FX_CLASS,
                detail={"legs": list(legs), "vix": fx.vix},
            )
        )
    return found


def check_fx_missing(fx: FxFrame, rules: RuleSet | Iterable[Rule] | None = None) -> list[Finding]:
    """No primary rate for a pair: the rule's severity when the secondary has one, else
    critical; a missing secondary alone is the rule's severity too."""
    rule = as_ruleset(rules).get(FX_MISSING, FX_CLASS)
    if rule is None or not len(fx):
        return []
    found = []
    for source in (0, 1):
        rates, other = fx.rates(source), fx.rates(1 - source)
        name, other_name = fx.source_names[source], fx.source_names[1 - source]
        for row in np.flatnonzero(~np.isfinite(rates)).tolist():
            pair = str(fx.pair[row])
            fallback = bool(np.isfinite(other[row]))
            found.append(
                Finding(
                    rule=rule.code,
                    rule_version=rule.version,
                    severity=rule.severity if fallback else CRITICAL,
                    entity_kind="fx_pair",
                    entity_key=pair,
                    source=name,
                    value=math.nan,
                    value_source=name,
                    reference=float(other[row]),
                    reference_source=other_name,
                    tolerance=0.0,
                    measured=1.0,
                    unit="count",
                    inputs=(f"fx:{pair}", f"fx:{pair}:{name}"),
                    message=f"no {name} rate for {pair}"
                    + (
                        f" ({other_name} has {fmt(other[row])})"
                        if fallback
                        else ", and no other source's"
                    ),
                    asset_class=FX_CLASS,
                )
            )
    return found


FX_CHECKS = (check_fx_missing, check_fx_source_deviation, check_fx_triangulation)
