"""The data-quality check engine: pure, vectorised checks over one tick's data.

No database and no Django here: the pipeline step builds the frames from the tick's rows,
calls `run_checks`, and turns the findings into alerts (dedup, gates, runs stored).

Inputs (frame.py; frozen dataclasses of numpy arrays, one row per entity; NaN = missing):

    MarketFrame(instrument_id, asset_class, primary, secondary=None, prev_primary=None,
                prev_secondary=None, vix=20.0, tick_fraction=1/26, gap_days=0.0,
                prev_close=None, split_ratio=None, tick_size=0.0, beta=None, held=None,
                expected=None, primary_age_minutes=None, secondary_age_minutes=None,
                currency=None, vendor_names=("primary", "secondary"))
    FxFrame(pair, primary, secondary=None, base=None, quote=None, instrument_id=None,
            vix=20.0, source_names=("primary", "secondary"))
    HoldingsFrame(mandate, instrument_id, book_quantity, custodian_quantity=None,
                  statement_in=False, asset_class=None, currency=None, base_currency=None,
                  reported_id=None, account=None, negative_allowed=None, known=None)
    StatementFrame(account, expected_by, received_at, now, mandate=None)
    CurveFrame(name, tenors, rates=None, discount_factors=None)

Rules (rules.py): `Rule(code, version=1, asset_class="", severity="warning", params={},
enabled=True)`; `DEFAULT_RULES` (with the calibration of every threshold in rules.py's
docstring); `RuleSet(rules)` resolves a code for an asset class (the class's params over
the generic rule's). Every function takes `rules` as a RuleSet or any iterable of Rule
(None = DEFAULT_RULES).

Output (findings.py): `Finding(rule, rule_version, severity, entity_kind, entity_key,
source, value, value_source, reference, reference_source, tolerance, measured, unit,
inputs, message, asset_class, detail)`; `finding.dedup_key` = (rule, entity_kind,
entity_key, source) is what stays the same while a condition persists.

    run_checks(*, market=None, fx=None, holdings=None, statements=None, curves=(),
               rules=None, explain=True) -> list[Finding]

runs every check whose frame is given, in this order: prices, FX, (explain), holdings,
statements, curves, NAV inputs (which needs the price and FX findings), and returns the
findings sorted by (rule, entity_key, source). With explain=True one price problem gives
one finding: per instrument and vendor only the most specific of split > scale > spike >
stale is kept, and a vendor deviation that one of them explains is dropped.

Per-check functions (each usable alone; `rules` optional):
    market.py    check_vendor_deviation, check_stale, check_missing, check_spike,
                 check_scale, check_split_not_reflected (MarketFrame)
    fx.py        check_fx_source_deviation, check_fx_triangulation, check_fx_missing
    holdings.py  check_quantity_breaks, check_negative_positions,
                 check_unknown_instruments (HoldingsFrame), check_late_statements
                 (StatementFrame)
    curve.py     check_missing_tenors, check_discount_factors (CurveFrame)
    nav.py       check_nav_inputs(holdings, market, fx, findings, rules)

Rule codes, and the simulator fault each one is there to catch:
    price.vendor_deviation     vendor_disagreement
    price.stale                stale_price
    price.missing              missing_price
    price.spike                price_spike
    price.scale                (no simulator fault yet: x100 / /100 unit errors)
    price.split_not_reflected  split_not_reflected
    fx.source_deviation        fx_source_mismatch
    fx.triangulation, fx.missing
    holding.quantity_break     custodian_quantity
    holding.late_statement     late_statement
    holding.negative, holding.unknown_instrument
    curve.missing_tenor, curve.df_not_decreasing
    nav.price_missing, nav.fx_missing   (consequences: a mandate's NAV lacks inputs)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .curve import check_discount_factors, check_missing_tenors
from .findings import Finding
from .frame import CurveFrame, FxFrame, HoldingsFrame, MarketFrame, StatementFrame
from .fx import check_fx_missing, check_fx_source_deviation, check_fx_triangulation
from .holdings import (
    check_late_statements,
    check_negative_positions,
    check_quantity_breaks,
    check_unknown_instruments,
)
from .market import (
    MARKET_CHECKS,
    check_missing,
    check_scale,
    check_spike,
    check_split_not_reflected,
    check_stale,
    check_vendor_deviation,
    explain_price_findings,
)
from .nav import check_nav_inputs
from .rules import (
    CRITICAL,
    DEFAULT_RULES,
    INFO,
    SEVERITY_RANK,
    WARNING,
    Rule,
    RuleSet,
    Severity,
    as_ruleset,
)


def run_checks(
    *,
    market: MarketFrame | None = None,
    fx: FxFrame | None = None,
    holdings: HoldingsFrame | None = None,
    statements: StatementFrame | None = None,
    curves: Sequence[CurveFrame] = (),
    rules: RuleSet | Iterable[Rule] | None = None,
    explain: bool = True,
) -> list[Finding]:
    """Every check whose input is given, over one tick; findings sorted by rule, entity
    key and source (see the module docstring)."""
    ruleset = as_ruleset(rules)
    found: list[Finding] = []
    if market is not None and len(market):
        for check in MARKET_CHECKS:
            found += check(market, ruleset)
    if fx is not None and len(fx):
        found += check_fx_missing(fx, ruleset)
        found += check_fx_source_deviation(fx, ruleset)
        found += check_fx_triangulation(fx, ruleset)
    if explain:
        found = explain_price_findings(found)
    if holdings is not None and len(holdings):
        found += check_quantity_breaks(holdings, ruleset)
        found += check_negative_positions(holdings, ruleset)
        found += check_unknown_instruments(holdings, ruleset)
    if statements is not None:
        found += check_late_statements(statements, ruleset)
    for curve in curves:
        found += check_missing_tenors(curve, ruleset)
        found += check_discount_factors(curve, ruleset)
    if holdings is not None and len(holdings):
        found += check_nav_inputs(holdings, market, fx, found, ruleset)
    found.sort(key=lambda f: (f.rule, f.entity_key, f.source))
    return found


__all__ = [
    "CRITICAL",
    "DEFAULT_RULES",
    "INFO",
    "SEVERITY_RANK",
    "WARNING",
    "CurveFrame",
    "Finding",
    "FxFrame",
    "HoldingsFrame",
    "MarketFrame",
    "Rule",
    "RuleSet",
    "Severity",
    "StatementFrame",
    "check_discount_factors",
    "check_fx_missing",
    "check_fx_source_deviation",
    "check_fx_triangulation",
    "check_late_statements",
    "check_missing",
    "check_missing_tenors",
    "check_nav_inputs",
    "check_negative_positions",
    "check_quantity_breaks",
    "check_scale",
    "check_spike",
    "check_split_not_reflected",
    "check_stale",
    "check_unknown_instruments",
    "check_vendor_deviation",
    "explain_price_findings",
    "run_checks",
]
