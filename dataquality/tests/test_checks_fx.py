"""FX checks on hand-made rates (levels of early 2015)."""

from __future__ import annotations

import math

import pytest

from dataquality.checks import (
    FxFrame,
    Rule,
    check_fx_missing,
    check_fx_source_deviation,
    check_fx_triangulation,
    run_checks,
)

EURUSD, GBPUSD, USDJPY, USDCHF = 1.0850, 1.5130, 120.10, 0.9650
EURJPY = EURUSD * USDJPY  # 130.3085
EURGBP = EURUSD / GBPUSD  # 0.717118...
PAIRS = ["EURUSD", "GBPUSD", "USDJPY", "USDCHF", "EURJPY", "EURGBP"]
ARBITRAGE_FREE = [Rule("fx.triangulation", params={"vol_multiple": 0.0})]  # 25 bp flat


def rates(**changes: float) -> list[float]:
    base = dict(
        EURUSD=EURUSD, GBPUSD=GBPUSD, USDJPY=USDJPY, USDCHF=USDCHF, EURJPY=EURJPY, EURGBP=EURGBP
    )
    base.update(changes)
    return [base[p] for p in PAIRS]


def fx(primary: list[float], secondary: list[float] | None = None, vix: float = 15.0) -> FxFrame:
    return FxFrame(pair=PAIRS, primary=primary, secondary=secondary or primary, vix=vix)


# --- source deviation ------------------------------------------------------------------


def test_source_deviation_fires_on_a_mismatched_source() -> None:
    found = check_fx_source_deviation(fx(rates(), rates(USDJPY=USDJPY * 1.003)))
    assert [(f.entity_kind, f.entity_key) for f in found] == [("fx_pair", "USDJPY")]
    f = found[0]
    assert f.measured == pytest.approx(-29.91, abs=0.01)
    assert f.tolerance == 10.0 and f.severity == "warning"
    assert (f.value_source, f.reference_source) == ("primary", "secondary")
    assert set(f.inputs) == {"fx:USDJPY", "fx:USDJPY:primary", "fx:USDJPY:secondary"}


def test_source_deviation_silent_on_everyday_noise() -> None:
    assert check_fx_source_deviation(fx(rates(), rates(EURUSD=1.08505))) == []


def test_source_deviation_exactly_at_tolerance_is_silent() -> None:
    # 10 bp: 1.0850 vs 1.08391608... primary / secondary - 1 = 0.001 exactly on paper.
    at = fx(rates(), rates(EURUSD=EURUSD / 1.001))
    assert check_fx_source_deviation(at) == []
    beyond = fx(rates(), rates(EURUSD=EURUSD / 1.0011))
    assert [f.entity_key for f in check_fx_source_deviation(beyond)] == ["EURUSD"]


def test_source_deviation_critical_from_50bp() -> None:
    found = check_fx_source_deviation(fx(rates(), rates(GBPUSD=GBPUSD / 1.006)))
    assert found[0].severity == "critical"


# --- triangulation ---------------------------------------------------------------------


def test_consistent_crosses_pass_triangulation() -> None:
    # Quoted crosses rounded as a vendor would (3 decimals for yen, 5 otherwise).
    quoted = rates(EURJPY=130.309, EURGBP=0.71712)
    assert check_fx_triangulation(fx(quoted), ARBITRAGE_FREE) == []


def test_cross_off_its_legs_fails_triangulation() -> None:
    # EURJPY quoted 1% rich against EURUSD x USDJPY.
    found = check_fx_triangulation(fx(rates(EURJPY=EURJPY * 1.01)), ARBITRAGE_FREE)
    assert [f.entity_key for f in found] == ["EURJPY"]
    f = found[0]
    assert f.reference == pytest.approx(EURJPY)
    assert f.measured == pytest.approx(100.0)
    assert f.tolerance == 25.0
    assert f.detail["legs"] == ["EURUSD", "USDJPY"]
    assert set(f.inputs) >= {"fx:EURJPY", "fx:EURUSD:primary", "fx:USDJPY:primary"}


def test_cross_through_an_inverted_leg() -> None:
    # EURGBP = EURUSD x USDGBP, and USDGBP is the inverse of the GBPUSD quote.
    found = check_fx_triangulation(fx(rates(EURGBP=EURGBP * 0.995)), ARBITRAGE_FREE)
    assert [f.entity_key for f in found] == ["EURGBP"]
    assert found[0].detail["legs"] == ["EURUSD", "GBPUSD"]
    assert found[0].measured == pytest.approx(-50.0)


def test_triangulation_exactly_at_tolerance_is_silent() -> None:
    at = fx(rates(EURJPY=EURJPY * 1.0025))
    assert check_fx_triangulation(at, ARBITRAGE_FREE) == []
    beyond = fx(rates(EURJPY=EURJPY * 1.0026))
    assert len(check_fx_triangulation(beyond, ARBITRAGE_FREE)) == 1


def test_default_triangulation_tolerance_is_25bp_and_vol_multiple_widens_it() -> None:
    # Defaults: 25 bp (crosses derived from their legs); a vol_multiple of 4 makes it
    # max(25 bp, 4 daily FX vols): 121 bp at VIX 12, 302 bp at VIX 30.
    off = rates(EURJPY=EURJPY * 1.015)
    found = check_fx_triangulation(fx(off, vix=30.0))
    assert len(found) == 1 and found[0].tolerance == pytest.approx(25.0)
    loose = [
        Rule(
            "fx.triangulation",
            params={
                "tolerance_bp": 25.0,
                "vol_multiple": 4.0,
                "fx_annual_vol": 0.08,
                "anchor_currency": "USD",
            },
        )
    ]
    calm = check_fx_triangulation(fx(off, vix=12.0), loose)
    assert len(calm) == 1 and calm[0].tolerance == pytest.approx(120.95, abs=0.01)
    assert check_fx_triangulation(fx(off, vix=30.0), loose) == []


def test_triangulation_skips_crosses_without_both_legs() -> None:
    frame = FxFrame(pair=["EURUSD", "EURJPY"], primary=[EURUSD, EURJPY * 1.05], vix=15.0)
    assert check_fx_triangulation(frame, ARBITRAGE_FREE) == []


# --- missing ---------------------------------------------------------------------------


def test_missing_primary_rate() -> None:
    found = check_fx_missing(fx(rates(USDCHF=math.nan), rates()))
    assert [(f.entity_key, f.source, f.severity) for f in found] == [
        ("USDCHF", "primary", "warning")
    ]


def test_missing_from_every_source_is_critical() -> None:
    found = check_fx_missing(fx(rates(USDCHF=math.nan), rates(USDCHF=math.nan)))
    assert {f.severity for f in found} == {"critical"}
    assert len(found) == 2


def test_clean_fx_tick_has_no_findings() -> None:
    assert run_checks(fx=fx(rates(EURJPY=130.309, EURGBP=0.71712), rates(EURUSD=1.08502))) == []
