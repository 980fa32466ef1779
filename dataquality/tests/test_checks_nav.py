"""NAV input completeness, and the engine end to end (rules as data, one run)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dataquality.checks import (
    DEFAULT_RULES,
    CurveFrame,
    FxFrame,
    HoldingsFrame,
    MarketFrame,
    Rule,
    RuleSet,
    StatementFrame,
    check_nav_inputs,
    check_spike,
    run_checks,
)

# Instruments: 1 USD equity, 2 EUR equity, 3 JPY equity, 4 CHF equity, 50 the EURUSD pair.
PEERS = list(range(101, 131))


def market(
    primary: dict[int, float] | None = None, secondary: dict[int, float] | None = None
) -> MarketFrame:
    ids = [1, 2, 3, 4, *PEERS]
    now = {1: 50.0, 2: 40.0, 3: 2500.0, 4: 80.0, **{i: 30.0 for i in PEERS}}
    p = {**now, **(primary or {})}
    s = {**now, **(secondary or {})}
    return MarketFrame(
        instrument_id=ids,
        asset_class=["equity"] * len(ids),
        primary=[p[i] for i in ids],
        secondary=[s[i] for i in ids],
        prev_primary=[now[i] for i in ids],
        prev_secondary=[now[i] for i in ids],
        currency=["USD", "EUR", "JPY", "CHF", *["USD"] * len(PEERS)],
    )


def fx(pairs: tuple[str, ...] = ("EURUSD", "USDJPY", "GBPUSD", "EURJPY")) -> FxFrame:
    level = {"EURUSD": 1.085, "USDJPY": 120.1, "GBPUSD": 1.513, "EURJPY": 130.3085, "USDCHF": 0.965}
    return FxFrame(
        pair=list(pairs),
        primary=[level[p] for p in pairs],
        secondary=[level[p] for p in pairs],
        instrument_id=[50 if p == "EURUSD" else -1 for p in pairs],
    )


def holdings(
    base: str = "USD", extra: list[tuple[int, str, str, float]] | None = None
) -> HoldingsFrame:
    rows = [(1, "equity", "USD", 100.0), (2, "equity", "EUR", 200.0), (3, "equity", "JPY", 1000.0)]
    rows += [(-1, "cash", "USD", 5000.0)] if extra is None else extra
    return HoldingsFrame(
        mandate=["GEQ"] * len(rows),
        instrument_id=[r[0] for r in rows],
        asset_class=[r[1] for r in rows],
        currency=[r[2] for r in rows],
        base_currency=[base] * len(rows),
        book_quantity=[r[3] for r in rows],
        known=[True] * len(rows),
    )


def test_complete_inputs_have_no_finding() -> None:
    assert check_nav_inputs(holdings(), market(), fx()) == []


def test_held_instrument_without_any_price() -> None:
    found = check_nav_inputs(holdings(), market({2: math.nan}, {2: math.nan}), fx())
    assert [(f.rule, f.entity_kind, f.entity_key) for f in found] == [
        ("nav.price_missing", "mandate", "GEQ")
    ]
    f = found[0]
    assert f.measured == 1.0 and f.reference == 3.0  # one of three priced lines (cash needs none)
    assert set(f.inputs) == {"mandate:GEQ", "instrument:2"}
    assert f.severity == "critical"


def test_secondary_stands_in_for_a_blocked_primary() -> None:
    # A spike on the primary (critical) blocks that price; the secondary is clean.
    frame = market({1: 60.0})
    spikes = check_spike(frame)
    assert [(f.entity_key, f.source) for f in spikes] == [("1", "primary")]
    assert check_nav_inputs(holdings(), frame, fx(), spikes) == []
    primary_only = [Rule("nav.price_missing", params={"use_secondary": False})]
    found = check_nav_inputs(holdings(), frame, fx(), spikes, primary_only)
    assert [f.detail["lacking"] for f in found] == [["instrument:1"]]


def test_warnings_do_not_block() -> None:
    frame = market({1: 50.2})  # a 40 bp vendor deviation: a warning
    findings = run_checks(market=frame)
    assert [f.severity for f in findings] == ["warning"]
    assert check_nav_inputs(holdings(), frame, fx(), findings) == []


def test_missing_fx_path_to_the_base_currency() -> None:
    found = check_nav_inputs(holdings(base="CHF"), market(), fx())
    assert [f.rule for f in found] == ["nav.fx_missing"]
    assert set(found[0].inputs) == {"mandate:GEQ", "fx:USDCHF", "fx:EURCHF", "fx:JPYCHF"}
    # With USDCHF quoted every currency reaches CHF through USD.
    assert (
        check_nav_inputs(holdings(base="CHF"), market(), fx(("EURUSD", "USDJPY", "USDCHF"))) == []
    )


def test_fx_through_one_currency() -> None:
    # A EUR mandate holding a JPY stock: EURJPY directly, or EURUSD and USDJPY.
    assert check_nav_inputs(holdings(base="EUR"), market(), fx(("EURJPY", "EURUSD"))) == []
    assert check_nav_inputs(holdings(base="EUR"), market(), fx(("EURUSD", "USDJPY"))) == []


def test_blocked_fx_rate_breaks_the_path() -> None:
    bad = FxFrame(pair=["EURUSD", "USDJPY"], primary=[1.085, 120.1], secondary=[1.085, 121.0])
    findings = run_checks(fx=bad)
    assert [(f.rule, f.severity) for f in findings] == [("fx.source_deviation", "critical")]
    found = check_nav_inputs(holdings(), market(), bad, findings)
    assert [(f.rule, f.detail["lacking"]) for f in found] == [("nav.fx_missing", ["fx:JPYUSD"])]


def test_holding_of_an_fx_pair_is_priced_from_the_fx_frame() -> None:
    lines = holdings(extra=[(50, "fx", "USD", 1_000_000.0)])
    assert check_nav_inputs(lines, market(), fx()) == []
    found = check_nav_inputs(lines, market(), fx(("USDJPY", "EURJPY")))
    assert [f.detail["lacking"] for f in found if f.rule == "nav.price_missing"] == [
        ["instrument:50"]
    ]


# --- rules and the whole run -------------------------------------------------------------


def test_asset_class_rule_lays_its_params_over_the_generic_one() -> None:
    rules = RuleSet(DEFAULT_RULES)
    govt = rules.get("price.vendor_deviation", "govt_bond")
    equity = rules.get("price.vendor_deviation", "equity")
    assert govt is not None and equity is not None
    assert govt.params["tolerance_bp"] == 10.0 and equity.params["tolerance_bp"] == 20.0
    assert govt.params["critical_multiple"] == 5.0  # inherited


def test_rule_params_left_out_fall_back_on_the_defaults() -> None:
    rule = RuleSet([Rule("price.spike", version=2, params={"k": 5.0})]).get("price.spike", "equity")
    assert rule is not None and rule.version == 2
    assert rule.params["k"] == 5.0 and rule.params["min_jump"] == 0.03


def test_two_rules_for_the_same_class_are_refused() -> None:
    with pytest.raises(ValueError, match="two rules"):
        RuleSet([Rule("price.spike"), Rule("price.spike")])
    with pytest.raises(ValueError, match="severity"):
        Rule("price.spike", severity="fatal")  # type: ignore[arg-type]


def test_run_checks_over_every_frame() -> None:
    frame = market({3: 250000.0}, {2: math.nan})
    close = np.datetime64("2015-01-05T21:00")
    lines = HoldingsFrame(
        mandate=["GEQ", "GEQ", "GEQ"],
        instrument_id=[1, 2, 3],
        asset_class=["equity"] * 3,
        currency=["USD", "EUR", "JPY"],
        base_currency=["USD"] * 3,
        book_quantity=[100.0, 200.0, 1000.0],
        custodian_quantity=[100.0, 190.0, 1000.0],
        statement_in=True,
    )
    found = run_checks(
        market=frame,
        fx=fx(),
        holdings=lines,
        statements=StatementFrame(
            account=["GEQ"], expected_by=[close], received_at=["NaT"], now=close
        ),
        curves=[CurveFrame(name="USD", tenors=[0.25, 0.5, 1, 2, 5, 10], rates=[0.001] * 6)],
    )
    assert [(f.rule, f.entity_key, f.source) for f in found] == [
        ("curve.missing_tenor", "USD", "30y"),
        ("holding.late_statement", "GEQ", "custodian"),
        ("holding.quantity_break", "GEQ:2", "custodian"),
        ("price.missing", "2", "secondary"),
        ("price.scale", "3", "primary"),
    ]
    # The scaled JPY stock still has a validated secondary price: NAV inputs complete.
    assert all(f.rule_version == 1 for f in found)
