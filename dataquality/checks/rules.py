"""Rules: what each check looks for and how hard, as data (editable in the admin).

A `Rule` names a check (`code`), its `version` (bump it when the meaning of its params
changes: findings carry it), the asset class it applies to ("" = every class), the
severity of what it finds, and its params. For one asset class the effective rule is the
class's own rule with its params laid over the generic rule's, so an override names only
what differs (`Rule("price.vendor_deviation", asset_class="govt_bond",
params={"tolerance_bp": 10})`). A disabled rule switches its check off for its class.

Comparisons: a measured value matches (a finding) when it is strictly beyond its
tolerance; exactly at the tolerance is silent. Measured values are rounded to 9 decimals
of their unit before the comparison, so a value that is the tolerance on paper (20.0 bp
computed as 20.000000000000284) counts as exactly at it. One exception, said where it
applies: a statement not received by its due time is late at exactly the due time.

How the defaults were calibrated: against the simulator's own everyday noise and the
sizes of the faults it injects (simulator/market.py, simulator/services/market.py,
faults.py, feeds.py), with the reasoning next to each rule below. In short:

price.vendor_deviation  Everyday disagreement between the two vendors is N(0, s) with
    s = 2 bp (equities), 1 bp (government), 4 bp (corporate bonds), plus up to one quote
    tick of rounding; an injected disagreement is 50-200 bp. 20 bp (10 s for equities,
    5 s for corporates) plus one tick never fires on noise (P(|Z| > 5) = 6e-7 a
    quote) and catches every fault on instruments priced above ~3.5 units (below that,
    one cent is over 30 bp). Government bonds: 10 bp (10 s). Critical from 5x the tolerance.
price.stale  A stale quote is the vendor's previous price repeated, so it equals the
    previous price exactly; but a quote also stays put naturally now and then (one tick is
    1-10 bp of a stock, a 15-minute move 20-40 bp). What separates the two is that the
    other vendor moved away: the price is unchanged, the other vendor's price changed by
    a plausible market move (net of the market, within 2.5 sigma, sigma as for spikes: a
    bigger jump is more likely the other vendor's problem, a deviation or a spike - with
    disagreements twice as frequent as stale quotes, from 2.5 sigma on a lone move is
    likelier a bad quote than a true move), and the two are
    more than 10 bp (equities; 5 bp government, 20 bp corporate: 5 s of everyday noise)
    plus one tick apart. A stale quote whose true move was smaller than that cannot be
    told from a quiet one, and is harmless (it is within the vendors' everyday
    disagreement): in simulated months 40-45% of injected stale prices are that small
    (bonds move under a basis point a tick). Or: its timestamp is older than
    `max_age_minutes` (60: four ticks) when quote ages are known.
price.missing  No price where one is due. Warning when the other vendor has one (the
    NAV can fall back), critical when no vendor has; info for an instrument nobody holds.
price.spike  A return beyond k x the instrument's volatility at the current VIX:
    sigma = vol_multiple x VIX/100/sqrt(252) x sqrt(tick_fraction + gap_variance x
    gap_days), after removing the cross-sectional market move (the median return of the
    asset class, times beta). The simulator's single-name residual is 1.1-1.25x the
    VIX-implied index volatility on average (idiosyncratic vol 0.22 scaled by VIX/20,
    plus a sector factor of half the index's), up to 2.5x for the most volatile names;
    with k = 8 on vol_multiple 1.25 the threshold is at least 4 sigma for those and ~8
    for a typical name. An unconfirmed jump is also one the other vendor does not show:
    the vendors must be more than half the threshold apart, so a real move (both vendors)
    is never a spike, and neither is a price returning to the other vendor's after a bad
    tick. `min_jump` (3%) keeps spikes above the largest everyday vendor disagreement
    (injected disagreements reach 2%, injected spikes start at 5%): below it an
    unconfirmed move is reported as a vendor deviation. Thresholds, for a 15-minute
    tick: VIX 12 (calm) 3% (floor; 8 sigma is 1.5%), VIX 28 3.5%, VIX 45 (crisis) 5.6%;
    overnight (gap 1) at VIX 20 6.8%, so the open does not flood. `gap_variance`: each
    calendar day the market was shut adds a quarter of a session's variance.
price.scale  A price 100x or 1/100 of the other vendor's (or, with no other vendor,
    of its own previous price), within +-25%: a units error (pence/pounds, percent of
    par), never a market move.
price.split_not_reflected  On a split's ex-date, a price nearer the pre-split level
    (previous close) than the post-split one (previous close / ratio), in log distance;
    with no previous close, nearer ratio x the other vendor's price than the other
    vendor's price. The split ratios are 2, 3, 1.5 and 0.1: the nearest day move that
    could be mistaken for one is +22% (ratio 1.5).
fx.source_deviation  Everyday source disagreement is 0.5 bp plus rounding (5 decimals,
    3 for yen: under 0.1 bp); an injected mismatch is 30-100 bp. 10 bp = 20 s.
fx.triangulation  A cross (a pair without the anchor currency, USD) against the product
    of its two anchor legs (EURJPY vs EURUSD x USDJPY), on the primary source. The
    simulator derives its true crosses from their legs (as the market's are, free of
    triangular arbitrage), so a cross is off its legs only by quote rounding (under 0.1 bp)
    and the sources' everyday disagreement (0.5 bp): 25 bp flags any injected mismatch on
    a leg or a cross. `vol_multiple` (0 by default) widens the tolerance to that many daily
    FX vols, for a feed whose crosses are not derived from its legs.
fx.missing  No primary rate for a pair: warning when the secondary has one, else critical.
holding.quantity_break  Book vs custodian quantity of one line: any difference (quantities
    are exact decimals; the injected break is 5% of the line, at least one unit).
holding.negative  A negative book quantity where shorts are not allowed (cash and FX
    lines may be negative).
holding.unknown_instrument  A line whose instrument is not in the security master.
holding.late_statement  A statement not received by its due time (+ grace 0): the
    simulator sends a late end-of-day statement 3 ticks after the close, so it is due at
    the close and late at the close tick.
curve.missing_tenor  The core tenors (3m, 6m, 1y, 2y, 5y, 10y, 30y) every source of the
    curve has (FRED's constant maturities and the offline curve alike).
curve.df_not_decreasing  The forward rate between consecutive nodes, -ln(DF2/DF1)/(t2-t1),
    below -10 bp: discount factors rising along the curve. Bill yields at the zero bound
    (2015) can dip a basis point below a shorter tenor: that is not an error.
nav.price_missing, nav.fx_missing  A held line with no validated price (a vendor price
    with no critical finding on it; the secondary may stand in), or no validated FX path
    (direct, inverse, or through one currency) from its currency to the mandate's base.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Severity = Literal["info", "warning", "critical"]
INFO: Severity = "info"
WARNING: Severity = "warning"
CRITICAL: Severity = "critical"
SEVERITY_RANK: dict[str, int] = {INFO: 0, WARNING: 1, CRITICAL: 2}

# Rule codes (one per check).
PRICE_VENDOR_DEVIATION = "price.vendor_deviation"
PRICE_STALE = "price.stale"
PRICE_MISSING = "price.missing"
PRICE_SPIKE = "price.spike"
PRICE_SCALE = "price.scale"
PRICE_SPLIT = "price.split_not_reflected"
FX_SOURCE_DEVIATION = "fx.source_deviation"
FX_TRIANGULATION = "fx.triangulation"
FX_MISSING = "fx.missing"
HOLDING_QUANTITY_BREAK = "holding.quantity_break"
HOLDING_NEGATIVE = "holding.negative"
HOLDING_UNKNOWN = "holding.unknown_instrument"
HOLDING_LATE_STATEMENT = "holding.late_statement"
CURVE_MISSING_TENOR = "curve.missing_tenor"
CURVE_DF = "curve.df_not_decreasing"
NAV_PRICE_MISSING = "nav.price_missing"
NAV_FX_MISSING = "nav.fx_missing"


@dataclass(frozen=True)
class Rule:
    """One check's settings for one asset class ("" = all): code, version, severity, params."""

    code: str
    version: int = 1
    asset_class: str = ""
    severity: Severity = WARNING
    params: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY_RANK:
            raise ValueError(
                f"{self.code}: severity {self.severity!r} is not one of info/warning/critical"
            )
        if self.version < 1:
            raise ValueError(f"{self.code}: version must be 1 or more")

    def param(self, name: str) -> Any:
        try:
            return self.params[name]
        except KeyError:
            raise KeyError(
                f"rule {self.code} ({self.asset_class or 'all classes'}) has no param {name!r}"
            ) from None


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        PRICE_VENDOR_DEVIATION,
        severity=WARNING,
        params={"tolerance_bp": 20.0, "tick_allowance": 1.0, "critical_multiple": 5.0},
    ),
    Rule(PRICE_VENDOR_DEVIATION, asset_class="govt_bond", params={"tolerance_bp": 10.0}),
    Rule(
        PRICE_STALE,
        severity=WARNING,
        params={
            "tolerance_bp": 10.0,
            "tick_allowance": 1.0,
            "max_age_minutes": 60.0,
            "plausible_sigmas": 2.5,
            "vol_multiple": 1.25,
            "gap_variance": 0.25,
            "min_peers": 20,
        },
    ),
    Rule(PRICE_STALE, asset_class="govt_bond", params={"tolerance_bp": 5.0, "vol_multiple": 0.3}),
    Rule(PRICE_STALE, asset_class="corp_bond", params={"tolerance_bp": 20.0, "vol_multiple": 0.4}),
    Rule(PRICE_MISSING, severity=WARNING, params={"report_unheld": True}),
    Rule(
        PRICE_SPIKE,
        severity=CRITICAL,
        params={
            "k": 8.0,
            "vol_multiple": 1.25,
            "min_jump": 0.03,
            "gap_variance": 0.25,
            "confirm_fraction": 0.5,
            "min_peers": 20,
        },
    ),
    Rule(PRICE_SPIKE, asset_class="govt_bond", params={"vol_multiple": 0.3}),
    Rule(PRICE_SPIKE, asset_class="corp_bond", params={"vol_multiple": 0.4}),
    Rule(PRICE_SCALE, severity=CRITICAL, params={"factors": [100.0], "ratio_tolerance": 0.25}),
    Rule(PRICE_SPLIT, severity=CRITICAL, params={}),
    Rule(
        FX_SOURCE_DEVIATION,
        severity=WARNING,
        params={"tolerance_bp": 10.0, "critical_multiple": 5.0},
    ),
    Rule(
        FX_TRIANGULATION,
        severity=WARNING,
        params={
            "tolerance_bp": 25.0,
            "vol_multiple": 0.0,
            "fx_annual_vol": 0.08,
            "anchor_currency": "USD",
        },
    ),
    Rule(FX_MISSING, severity=WARNING, params={}),
    Rule(
        HOLDING_QUANTITY_BREAK,
        severity=CRITICAL,
        params={"tolerance_units": 0.0, "tolerance_relative": 0.0},
    ),
    Rule(HOLDING_NEGATIVE, severity=CRITICAL, params={"allow_negative": False}),
    Rule(HOLDING_NEGATIVE, asset_class="cash", params={"allow_negative": True}),
    Rule(HOLDING_NEGATIVE, asset_class="fx", params={"allow_negative": True}),
    Rule(HOLDING_UNKNOWN, severity=CRITICAL, params={}),
    Rule(HOLDING_LATE_STATEMENT, severity=WARNING, params={"grace_minutes": 0.0}),
    Rule(
        CURVE_MISSING_TENOR,
        severity=WARNING,
        params={"expected_tenors": [0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]},
    ),
    Rule(CURVE_DF, severity=CRITICAL, params={"min_forward_rate": -0.001}),
    Rule(
        NAV_PRICE_MISSING,
        severity=CRITICAL,
        params={"blocking_severity": CRITICAL, "use_secondary": True, "no_price_classes": ["cash"]},
    ),
    Rule(NAV_FX_MISSING, severity=CRITICAL, params={"blocking_severity": CRITICAL}),
)


# A param a rule leaves out falls back on the default generic rule's (so a rule edited
# in the admin need only hold the params that differ).
DEFAULT_PARAMS: dict[str, Mapping[str, Any]] = {
    r.code: r.params for r in DEFAULT_RULES if not r.asset_class
}


class RuleSet:
    """Rules by code and asset class, resolved to the effective rule of each class: the
    class's params over the generic rule's over the default generic rule's."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._by_code: dict[str, dict[str, Rule]] = {}
        for rule in rules:
            per_class = self._by_code.setdefault(rule.code, {})
            if rule.asset_class in per_class:
                raise ValueError(
                    f"two rules for {rule.code} and asset class {rule.asset_class or 'all'!r}"
                )
            per_class[rule.asset_class] = rule
        self._cache: dict[tuple[str, str], Rule | None] = {}

    def __iter__(self):  # type: ignore[no-untyped-def]
        for per_class in self._by_code.values():
            yield from per_class.values()

    def get(self, code: str, asset_class: str = "") -> Rule | None:
        """The effective rule of `code` for `asset_class`: its own rule's params over the
        generic rule's; None when there is none or it is disabled."""
        key = (code, asset_class)
        if key not in self._cache:
            self._cache[key] = self._resolve(code, asset_class)
        return self._cache[key]

    def _resolve(self, code: str, asset_class: str) -> Rule | None:
        per_class = self._by_code.get(code, {})
        generic, own = per_class.get(""), per_class.get(asset_class) if asset_class else None
        rule = own or generic
        if (
            rule is None
            or not rule.enabled
            or (own is not None and generic is not None and not generic.enabled)
        ):
            return None
        params = {
            **DEFAULT_PARAMS.get(code, {}),
            **(generic.params if generic is not None else {}),
            **(own.params if own is not None else {}),
        }
        return Rule(
            code,
            version=rule.version,
            asset_class=asset_class if own is not None else rule.asset_class,
            severity=rule.severity,
            params=params,
        )

    def for_classes(self, code: str, classes: Sequence[str]) -> ClassRules | None:
        """The effective rules of `code` for each of `classes`; None if none applies."""
        rules = [self.get(code, c) for c in classes]
        if all(r is None for r in rules):
            return None
        return ClassRules(code, tuple(rules))


@dataclass(frozen=True)
class ClassRules:
    """One check's effective rule per asset class of a frame, as per-row arrays."""

    code: str
    rules: tuple[Rule | None, ...]

    def enabled(self, class_index: np.ndarray) -> np.ndarray:
        """Rows whose asset class has the rule on."""
        on = np.array([r is not None for r in self.rules], dtype=bool)
        return on[class_index]

    def param(self, name: str, class_index: np.ndarray) -> np.ndarray:
        """A numeric param as a per-row array (NaN where the rule is off)."""
        values = np.array(
            [float(r.param(name)) if r is not None else np.nan for r in self.rules],
            dtype=np.float64,
        )
        return values[class_index]

    def rule(self, class_position: int) -> Rule:
        rule = self.rules[class_position]
        if rule is None:
            raise LookupError(f"{self.code} is off for this asset class")
        return rule


def as_ruleset(rules: RuleSet | Iterable[Rule] | None) -> RuleSet:
    if rules is None:
        return RuleSet(DEFAULT_RULES)
    if isinstance(rules, RuleSet):
        return rules
    return RuleSet(rules)
