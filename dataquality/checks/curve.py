"""Curve sanity: the tenors a curve must have, and discount factors that fall with tenor."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .findings import Finding
from .frame import CurveFrame
from .rules import CURVE_DF, CURVE_MISSING_TENOR, Rule, RuleSet, as_ruleset

# Two tenors closer than this (in years, about 30 seconds) are the same tenor.
TENOR_MATCH_YEARS = 1e-6


def _tenor_label(years: float) -> str:
    months = years * 12
    if abs(months - round(months)) < 1e-6 and months < 12:
        return f"{round(months)}m"
    return f"{years:g}y"


def check_missing_tenors(
    curve: CurveFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """Each expected tenor (rule param, in years) the curve has no finite node for: one
    finding per missing tenor."""
    rule = as_ruleset(rules).get(CURVE_MISSING_TENOR, "")
    if rule is None:
        return []
    have = curve.tenors[np.isfinite(curve.discount_factors)]
    found = []
    for tenor in sorted(float(t) for t in rule.param("expected_tenors")):
        if have.size and np.min(np.abs(have - tenor)) <= TENOR_MATCH_YEARS:
            continue
        label = _tenor_label(tenor)
        found.append(
            Finding(
                rule=rule.code,
                rule_version=rule.version,
                severity=rule.severity,
                entity_kind="curve",
                entity_key=curve.name,
                source=label,
                value=math.nan,
                value_source=curve.name,
                reference=tenor,
                reference_source="expected tenors",
                tolerance=0.0,
                measured=tenor,
                unit="years",
                inputs=(f"curve:{curve.name}",),
                message=f"curve {curve.name} has no {label} node",
            )
        )
    return found


def check_discount_factors(
    curve: CurveFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """Consecutive finite nodes whose forward rate -ln(DF2/DF1)/(t2-t1) is below
    min_forward_rate (a discount factor rising along the curve), and any discount factor
    that is not positive. One finding per offending node (keyed by its tenor)."""
    rule = as_ruleset(rules).get(CURVE_DF, "")
    if rule is None:
        return []
    finite = np.isfinite(curve.discount_factors)
    tenors, dfs = curve.tenors[finite], curve.discount_factors[finite]
    minimum = float(rule.param("min_forward_rate"))
    found = []
    for i in np.flatnonzero(dfs <= 0).tolist():
        found.append(
            _df_finding(rule, curve, float(tenors[i]), float(dfs[i]), math.nan, -math.inf, minimum)
        )
    positive = dfs > 0
    tenors, dfs = tenors[positive], dfs[positive]
    if dfs.size >= 2:
        with np.errstate(divide="ignore", invalid="ignore"):
            forwards = -np.log(dfs[1:] / dfs[:-1]) / np.diff(tenors)
        forwards = np.round(forwards, 12)
        for i in np.flatnonzero(forwards < minimum).tolist():
            found.append(
                _df_finding(
                    rule,
                    curve,
                    float(tenors[i + 1]),
                    float(dfs[i + 1]),
                    float(dfs[i]),
                    float(forwards[i]),
                    minimum,
                )
            )
    return found


def _df_finding(
    rule: Rule,
    curve: CurveFrame,
    tenor: float,
    df: float,
    previous: float,
    forward: float,
    minimum: float,
) -> Finding:
    label = _tenor_label(tenor)
    why = (
        "is not positive"
        if math.isnan(previous)
        else f"rises from {previous:.8f} (forward {forward:+.4%})"
    )
    return Finding(
        rule=rule.code,
        rule_version=rule.version,
        severity=rule.severity,
        entity_kind="curve",
        entity_key=curve.name,
        source=label,
        value=df,
        value_source=f"{curve.name} {label}",
        reference=previous,
        reference_source=f"{curve.name} previous node",
        tolerance=minimum,
        measured=forward,
        unit="rate",
        inputs=(f"curve:{curve.name}",),
        message=f"curve {curve.name}: discount factor at {label} {df:.8f} {why}",
    )


CURVE_CHECKS = (check_missing_tenors, check_discount_factors)
