"""Price checks on hand-made ticks: GIVEN a tick's prices, WHEN a check runs, THEN it
finds (or not) the problem, with the numbers an analyst would check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dataquality.checks import (
    DEFAULT_RULES,
    MarketFrame,
    Rule,
    check_missing,
    check_scale,
    check_spike,
    check_split_not_reflected,
    check_stale,
    check_vendor_deviation,
    run_checks,
)

SUBJECT = 1  # the instrument under test; peers are 101, 102, ...
PEERS = 30


def tick(
    primary: float,
    secondary: float = math.nan,
    prev_primary: float = math.nan,
    prev_secondary: float = math.nan,
    *,
    peer_return: float = 0.0,
    asset_class: str = "equity",
    **frame: object,
) -> MarketFrame:
    """One tick: the subject instrument (row 0) and PEERS quiet instruments of the same
    class that moved by `peer_return` on both vendors (the market move)."""
    peer_prev = np.linspace(20.0, 80.0, PEERS)
    peer_now = peer_prev * math.exp(peer_return)
    per_row = {}
    for name, value in frame.items():
        if isinstance(value, list | tuple):
            per_row[name] = np.array(list(value) + [_neutral(name)] * PEERS)
        else:
            per_row[name] = value
    return MarketFrame(
        instrument_id=np.array([SUBJECT, *range(101, 101 + PEERS)]),
        asset_class=np.array([asset_class] * (PEERS + 1), dtype=object),
        primary=np.array([primary, *peer_now]),
        secondary=np.array([secondary, *peer_now]),
        prev_primary=np.array([prev_primary, *peer_prev]),
        prev_secondary=np.array([prev_secondary, *peer_prev]),
        **per_row,  # type: ignore[arg-type]
    )


def _neutral(name: str) -> object:
    """A peer's value of a per-row field the test sets only for the subject."""
    return {
        "held": True,
        "expected": True,
        "split_ratio": math.nan,
        "prev_close": math.nan,
        "primary_age_minutes": math.nan,
        "secondary_age_minutes": math.nan,
    }.get(name, 0.0)


def subject(findings: list, rule: str | None = None) -> list:
    return [
        f for f in findings if f.entity_key == str(SUBJECT) and (rule is None or f.rule == rule)
    ]


# --- vendor deviation ------------------------------------------------------------------


def test_vendor_deviation_fires_beyond_tolerance_and_names_both_vendors() -> None:
    found = subject(check_vendor_deviation(tick(100.30, 100.00)))
    assert len(found) == 1
    f = found[0]
    assert f.rule == "price.vendor_deviation" and f.rule_version == 1
    assert f.measured == pytest.approx(30.0)
    assert f.tolerance == 20.0
    assert (f.value, f.value_source, f.reference, f.reference_source) == (
        100.30,
        "primary",
        100.00,
        "secondary",
    )
    assert f.severity == "warning"
    assert set(f.inputs) == {"instrument:1", "price:1:primary", "price:1:secondary"}


def test_vendor_deviation_silent_on_everyday_disagreement() -> None:
    assert subject(check_vendor_deviation(tick(100.03, 100.00))) == []


def test_vendor_deviation_exactly_at_tolerance_is_silent_just_beyond_fires() -> None:
    # 20 bp is the tolerance: 100.20 vs 100 is exactly 20 bp (silent), 100.21 is 21 bp.
    assert subject(check_vendor_deviation(tick(100.20, 100.00))) == []
    assert len(subject(check_vendor_deviation(tick(100.21, 100.00)))) == 1


def test_vendor_deviation_allows_one_quote_tick_of_rounding() -> None:
    # A $2.50 stock quoted in cents: one cent is 40 bp, so 2.51 vs 2.50 is rounding.
    assert subject(check_vendor_deviation(tick(2.51, 2.50, tick_size=0.01))) == []
    assert len(subject(check_vendor_deviation(tick(2.51, 2.50)))) == 1


def test_vendor_deviation_critical_from_five_times_the_tolerance() -> None:
    assert subject(check_vendor_deviation(tick(100.99, 100.00)))[0].severity == "warning"
    assert subject(check_vendor_deviation(tick(101.00, 100.00)))[0].severity == "critical"


def test_vendor_deviation_per_asset_class_tolerance() -> None:
    # Government bonds: 10 bp. 15 bp is nothing for an equity, a finding for a gilt.
    assert subject(check_vendor_deviation(tick(100.15, 100.00))) == []
    bond = subject(check_vendor_deviation(tick(100.15, 100.00, asset_class="govt_bond")))
    assert len(bond) == 1 and bond[0].tolerance == 10.0


def test_vendor_deviation_rules_are_data() -> None:
    rules = [Rule("price.vendor_deviation", version=3, params={"tolerance_bp": 50.0})]
    assert subject(check_vendor_deviation(tick(100.30, 100.00), rules)) == []
    found = subject(check_vendor_deviation(tick(100.60, 100.00), rules))
    assert found[0].rule_version == 3 and found[0].tolerance == 50.0
    disabled = [Rule("price.vendor_deviation", enabled=False, params={"tolerance_bp": 1.0})]
    assert check_vendor_deviation(tick(110.0, 100.00), disabled) == []


# --- stale -----------------------------------------------------------------------------


def test_stale_fires_when_price_repeats_while_other_vendor_moved() -> None:
    found = subject(check_stale(tick(50.00, 50.20, 50.00, 50.00, tick_size=0.01)))
    assert len(found) == 1
    f = found[0]
    assert f.source == "primary" and f.unit == "bp"
    assert f.measured == pytest.approx(39.84, abs=0.01)
    assert f.tolerance == pytest.approx(10.0 + 0.01 / 50.20 * 1e4)
    assert f.inputs == ("instrument:1", "price:1:primary")


def test_stale_silent_when_price_moved_or_vendors_agree() -> None:
    assert subject(check_stale(tick(50.20, 50.20, 50.00, 50.00))) == []  # it moved
    assert subject(check_stale(tick(50.00, 50.02, 50.00, 50.00))) == []  # 4 bp: a quiet tick


def test_stale_exactly_at_tolerance_is_silent() -> None:
    # 10 bp apart exactly (no tick size given): silent; 11 bp: stale.
    assert subject(check_stale(tick(100.00, 100.10, 100.00, 100.00))) == []
    assert len(subject(check_stale(tick(100.00, 100.11, 100.00, 100.00)))) == 1


def test_stale_first_tick_without_history_is_silent() -> None:
    assert subject(check_stale(tick(50.00, 50.50))) == []


def test_stale_not_blamed_when_the_other_vendor_jumped_implausibly() -> None:
    # The secondary jumped 1.5% in a calm quarter hour: that is the secondary's problem.
    assert subject(check_stale(tick(50.00, 50.75, 50.00, 50.00, vix=12.0))) == []


def test_stale_by_quote_age() -> None:
    found = subject(
        check_stale(tick(50.0, 50.0, 49.9, 49.9, primary_age_minutes=[75.0], tick_size=0.01))
    )
    assert len(found) == 1 and found[0].unit == "minutes" and found[0].measured == 75.0
    assert subject(check_stale(tick(50.0, 50.0, 49.9, 49.9, primary_age_minutes=[60.0]))) == []


# --- missing ---------------------------------------------------------------------------


def test_missing_primary_of_held_instrument_is_a_warning_when_secondary_has_one() -> None:
    found = subject(check_missing(tick(math.nan, 50.0, 50.0, 50.0)))
    assert [(f.source, f.severity) for f in found] == [("primary", "warning")]
    assert found[0].reference == 50.0


def test_missing_everywhere_is_critical() -> None:
    found = subject(check_missing(tick(math.nan, math.nan, 50.0, 50.0)))
    assert sorted((f.source, f.severity) for f in found) == [
        ("primary", "critical"),
        ("secondary", "critical"),
    ]


def test_missing_unheld_is_info_and_not_due_is_silent() -> None:
    unheld = subject(check_missing(tick(math.nan, 50.0, held=[False])))
    assert [f.severity for f in unheld] == ["info"]
    assert subject(check_missing(tick(math.nan, math.nan, expected=[False]))) == []
    quiet = [Rule("price.missing", params={"report_unheld": False})]
    assert subject(check_missing(tick(math.nan, 50.0, held=[False]), quiet)) == []


def test_missing_silent_when_both_present() -> None:
    assert subject(check_missing(tick(50.0, 50.0))) == []


# --- spike -----------------------------------------------------------------------------


def test_spike_fires_on_an_unconfirmed_jump() -> None:
    found = subject(check_spike(tick(110.0, 100.05, 100.0, 100.0, vix=18.0)))
    assert len(found) == 1
    f = found[0]
    assert f.source == "primary" and f.severity == "critical"
    assert f.measured == pytest.approx(math.log(1.10))
    assert f.tolerance == pytest.approx(0.03)  # calm-to-normal: the floor
    assert f.inputs == ("instrument:1", "price:1:primary")


def test_spike_silent_on_an_ordinary_move() -> None:
    assert subject(check_spike(tick(100.4, 100.4, 100.0, 100.0))) == []


def test_spike_exactly_at_threshold_is_silent_just_beyond_fires() -> None:
    at = 100.0 * math.exp(0.03)
    assert subject(check_spike(tick(at, 100.0, 100.0, 100.0, vix=12.0))) == []
    beyond = 100.0 * math.exp(0.0301)
    assert len(subject(check_spike(tick(beyond, 100.0, 100.0, 100.0, vix=12.0)))) == 1


def test_spike_first_tick_without_history_is_silent() -> None:
    assert subject(check_spike(tick(110.0, 100.0))) == []


def test_spike_is_regime_aware_same_jump_alerts_in_calm_not_in_crisis() -> None:
    # A 4.5% jump: calm (VIX 12) threshold 3%, crisis (VIX 45) about 5.6%.
    jump = 100.0 * math.exp(0.045)
    assert len(subject(check_spike(tick(jump, 100.0, 100.0, 100.0, vix=12.0)))) == 1
    assert subject(check_spike(tick(jump, 100.0, 100.0, 100.0, vix=45.0))) == []


def test_spike_threshold_widens_over_a_holiday_gap() -> None:
    # VIX 25: a 6% jump within the session is a spike; after a four-day holiday weekend
    # (gap_days=4) the threshold is about 16% and the same move is not.
    jump = 100.0 * math.exp(0.06)
    intraday = tick(jump, math.nan, 100.0, 100.0, vix=25.0)
    assert len(subject(check_spike(intraday))) == 1
    after_holiday = tick(jump, math.nan, 100.0, 100.0, vix=25.0, gap_days=4.0)
    assert subject(check_spike(after_holiday)) == []


def test_spike_overnight_open_does_not_flood() -> None:
    # Every instrument opens 5% apart from its own history (overnight news, no second
    # vendor): net of the market nothing is a spike, and neither is one 5% name alone
    # at the open (threshold ~6.8% at VIX 20 with one night's variance).
    gap_open = tick(105.0, math.nan, 100.0, math.nan, peer_return=0.05, vix=20.0, gap_days=1.0)
    frame = MarketFrame(
        instrument_id=gap_open.instrument_id,
        asset_class=gap_open.asset_class,
        primary=gap_open.primary,
        prev_primary=gap_open.prev_primary,
        vix=20.0,
        gap_days=1.0,
    )
    assert check_spike(frame) == []
    lone = tick(105.0, math.nan, 100.0, math.nan, vix=20.0, gap_days=1.0)
    assert subject(check_spike(lone)) == []


def test_market_wide_move_is_not_a_spike() -> None:
    # A crash tick: everything -6% on the primary vendor, no second vendor to confirm.
    crash = tick(94.18, math.nan, 100.0, math.nan, peer_return=math.log(0.9418), vix=30.0)
    assert check_spike(crash) == []
    # The same -6% alone, in the same tick of a quiet market, is a spike.
    alone = tick(94.18, math.nan, 100.0, math.nan, vix=30.0)
    assert len(subject(check_spike(alone))) == 1


def test_spike_confirmed_by_the_other_vendor_is_a_real_move() -> None:
    assert subject(check_spike(tick(110.0, 110.02, 100.0, 100.0))) == []


def test_spike_not_repeated_when_the_price_comes_back() -> None:
    # The tick after a bad print: the primary returns from 110 to the secondary's 100.
    assert subject(check_spike(tick(100.0, 100.01, 110.0, 100.0))) == []


def test_spike_of_the_secondary_names_the_secondary() -> None:
    found = subject(check_spike(tick(100.0, 92.0, 100.0, 100.0)))
    assert [f.source for f in found] == ["secondary"]


# --- scale -----------------------------------------------------------------------------


def test_scale_x100_names_the_vendor_that_moved() -> None:
    found = subject(check_scale(tick(4512.0, 45.10, 45.00, 45.00)))
    assert [(f.source, f.detail["factor"]) for f in found] == [("primary", 100.0)]
    assert found[0].measured == pytest.approx(4512.0 / 45.10)
    assert found[0].reference_source == "secondary"


def test_scale_div100() -> None:
    found = subject(check_scale(tick(45.0, 0.4512, 45.0, 45.0)))
    assert [(f.source, f.detail["factor"]) for f in found] == [("secondary", 0.01)]


def test_scale_both_vendors_scaled_against_their_previous_prices() -> None:
    found = subject(check_scale(tick(4500.0, 4501.0, 45.0, 45.0)))
    assert sorted(f.source for f in found) == ["primary", "secondary"]
    assert all(f.reference_source.endswith("previous") for f in found)


def test_scale_without_second_vendor_uses_previous_price() -> None:
    found = subject(check_scale(tick(0.45, math.nan, 45.2, math.nan)))
    assert [f.detail["factor"] for f in found] == [0.01]


def test_scale_silent_on_good_prices_and_on_the_way_back() -> None:
    assert subject(check_scale(tick(45.1, 45.1, 45.0, 45.0))) == []
    assert subject(check_scale(tick(45.1, 45.1, 4510.0, 45.0))) == []  # fixed this tick


def test_scale_edge_of_ratio_tolerance() -> None:
    # Within +-25% (log distance) of exactly 100x: 120x is scaled, 130x is not.
    assert len(subject(check_scale(tick(1200.0, 10.0, 10.0, 10.0)))) == 1
    assert subject(check_scale(tick(1300.0, 10.0, 10.0, 10.0))) == []


# --- splits ----------------------------------------------------------------------------


def test_split_not_reflected_by_one_vendor() -> None:
    # 2:1 split ex today; yesterday's close 80. The secondary still quotes ~80.
    frame = tick(40.3, 80.5, 80.0, 80.0, split_ratio=[2.0], prev_close=[80.0], gap_days=1.0)
    found = subject(check_split_not_reflected(frame))
    assert [f.source for f in found] == ["secondary"]
    f = found[0]
    assert f.reference == pytest.approx(40.0) and f.measured == pytest.approx(80.5 / 40.0)
    assert f.detail["split_ratio"] == 2.0


def test_split_not_reflected_by_either_vendor_needs_the_previous_close() -> None:
    frame = tick(80.4, 80.5, 80.0, 80.0, split_ratio=[2.0], prev_close=[80.0], gap_days=1.0)
    assert sorted(f.source for f in subject(check_split_not_reflected(frame))) == [
        "primary",
        "secondary",
    ]


def test_split_without_previous_close_falls_back_on_the_other_vendor() -> None:
    frame = tick(40.2, 80.5, 40.1, 80.0, split_ratio=[2.0])
    assert [f.source for f in subject(check_split_not_reflected(frame))] == ["secondary"]


def test_reverse_split_not_reflected() -> None:
    # 1:10 reverse split (ratio 0.1): post-split price 10x the close of 3.00.
    frame = tick(30.1, 3.02, 3.0, 3.0, split_ratio=[0.1], prev_close=[3.0], gap_days=1.0)
    assert [f.source for f in subject(check_split_not_reflected(frame))] == ["secondary"]


def test_reflected_split_is_silent_and_not_a_spike() -> None:
    frame = tick(40.3, 40.32, 80.0, 80.0, split_ratio=[2.0], prev_close=[80.0], gap_days=1.0)
    assert subject(check_split_not_reflected(frame)) == []
    assert subject(check_spike(frame)) == []
    no_second_vendor = tick(40.3, math.nan, 80.0, math.nan, split_ratio=[2.0], gap_days=1.0)
    assert subject(check_spike(no_second_vendor)) == []


def test_no_split_today_is_silent() -> None:
    assert check_split_not_reflected(tick(40.0, 80.0, 40.0, 80.0)) == []


# --- one finding per root cause --------------------------------------------------------


def test_run_checks_reports_a_spike_once_not_also_as_vendor_deviation() -> None:
    found = subject(run_checks(market=tick(110.0, 100.05, 100.0, 100.0)))
    assert [f.rule for f in found] == ["price.spike"]


def test_run_checks_reports_a_scaled_price_once() -> None:
    found = subject(run_checks(market=tick(4512.0, 45.10, 45.00, 45.00)))
    assert [(f.rule, f.source) for f in found] == [("price.scale", "primary")]


def test_run_checks_reports_an_unreflected_split_once() -> None:
    frame = tick(40.3, 80.5, 80.0, 80.0, split_ratio=[2.0], prev_close=[80.0], gap_days=1.0)
    found = subject(run_checks(market=frame))
    assert [(f.rule, f.source) for f in found] == [("price.split_not_reflected", "secondary")]


def test_run_checks_explain_off_keeps_every_finding() -> None:
    found = subject(run_checks(market=tick(110.0, 100.05, 100.0, 100.0), explain=False))
    assert {f.rule for f in found} == {"price.spike", "price.vendor_deviation"}


def test_a_clean_tick_has_no_findings() -> None:
    assert run_checks(market=tick(100.2, 100.21, 100.0, 100.01), rules=DEFAULT_RULES) == []
