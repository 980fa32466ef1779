"""Curve sanity on hand-made curves (US Treasury levels of 2015, zero rates)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dataquality.checks import CurveFrame, check_discount_factors, check_missing_tenors

TENORS = [1 / 12, 0.25, 0.5, 1, 2, 3, 5, 7, 10, 20, 30]
RATES = [0.0002, 0.0003, 0.0010, 0.0025, 0.0060, 0.0100, 0.0150, 0.0185, 0.0210, 0.0250, 0.0280]


def curve(rates: list[float] = RATES, tenors: list[float] = TENORS) -> CurveFrame:
    return CurveFrame(name="USD", tenors=tenors, rates=rates)


def test_a_full_curve_passes() -> None:
    assert check_missing_tenors(curve()) == []
    assert check_discount_factors(curve()) == []


def test_missing_tenor() -> None:
    drop = TENORS.index(5)
    found = check_missing_tenors(
        curve(RATES[:drop] + RATES[drop + 1 :], TENORS[:drop] + TENORS[drop + 1 :])
    )
    assert [(f.entity_key, f.source, f.measured) for f in found] == [("USD", "5y", 5.0)]
    assert found[0].inputs == ("curve:USD",)


def test_node_without_a_rate_is_missing() -> None:
    rates = list(RATES)
    rates[TENORS.index(0.25)] = math.nan
    assert [f.source for f in check_missing_tenors(curve(rates))] == ["3m"]


def test_optional_tenors_may_be_absent() -> None:
    # 1m, 3y, 7y and 20y are not among the expected tenors (the offline curve lacks them).
    keep = [i for i, t in enumerate(TENORS) if t not in (1 / 12, 3, 7, 20)]
    assert check_missing_tenors(curve([RATES[i] for i in keep], [TENORS[i] for i in keep])) == []


def test_discount_factor_rising_along_the_curve() -> None:
    # 7y at 1%: DF(7y) = 0.932 above DF(5y) = 0.928, a forward of -0.25%.
    rates = list(RATES)
    rates[TENORS.index(7)] = 0.0100
    found = check_discount_factors(curve(rates))
    assert [f.source for f in found] == ["7y"]
    f = found[0]
    assert f.measured == pytest.approx(-0.0025, abs=1e-12)
    assert f.value == pytest.approx(math.exp(-0.07)) and f.reference == pytest.approx(
        math.exp(-0.075)
    )


def test_zero_bound_bills_are_not_an_error() -> None:
    # 1m at 0.00% and 3m at -0.01%: a forward of -1.5 bp, inside the -10 bp tolerance.
    rates = [0.0, -0.0001, *RATES[2:]]
    assert check_discount_factors(curve(rates)) == []


def test_forward_exactly_at_the_limit_is_silent() -> None:
    dfs = np.array([0.98, 0.98 * math.exp(0.001)])  # forward -0.001 over one year
    at = CurveFrame(name="USD", tenors=[1.0, 2.0], discount_factors=dfs)
    assert check_discount_factors(at) == []
    beyond = CurveFrame(
        name="USD", tenors=[1.0, 2.0], discount_factors=[0.98, 0.98 * math.exp(0.0011)]
    )
    assert [f.source for f in check_discount_factors(beyond)] == ["2y"]


def test_non_positive_discount_factor() -> None:
    frame = CurveFrame(name="USD", tenors=[1.0, 2.0, 5.0], discount_factors=[0.99, 0.0, 0.9])
    assert [f.source for f in check_discount_factors(frame)] == ["2y"]
