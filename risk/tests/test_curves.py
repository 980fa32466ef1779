"""The Treasury curve: bootstrapped from FRED CMT par yields, it must give them back, discount
sensibly, and agree with QuantLib pricing par bonds off the same zero rates."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
import QuantLib as ql

from risk.curves import FRED_CMT_TENORS, YieldCurve, add_months, par_yields_from_fred

AS_OF = date(2015, 6, 1)
# FRED DGS* for 2015-06-01, percent.
FRED_2015_06_01 = {
    "DGS1MO": 0.01,
    "DGS3MO": 0.02,
    "DGS6MO": 0.08,
    "DGS1": 0.26,
    "DGS2": 0.66,
    "DGS3": 0.99,
    "DGS5": 1.54,
    "DGS7": 1.90,
    "DGS10": 2.18,
    "DGS20": 2.63,
    "DGS30": 2.94,
}


@pytest.fixture
def curve() -> YieldCurve:
    return YieldCurve.from_par_yields(AS_OF, par_yields_from_fred(FRED_2015_06_01))


def _ql_date(d: date) -> ql.Date:
    return ql.Date(d.day, d.month, d.year)


def test_fred_curve_gives_back_every_input_par_yield(curve: YieldCurve) -> None:
    for series_id, percent in FRED_2015_06_01.items():
        assert curve.par_yield(FRED_CMT_TENORS[series_id]) == pytest.approx(
            percent / 100, abs=1e-10
        ), series_id


def test_fred_curve_discount_factors_are_positive_and_decreasing(curve: YieldCurve) -> None:
    t = np.linspace(0.0, 40.0, 4001)
    discounts = curve.discount(t)
    assert discounts[0] == 1.0
    assert np.all(discounts > 0)
    assert np.all(np.diff(discounts) < 0)


def test_par_yields_between_tenors_are_linear_in_maturity(curve: YieldCurve) -> None:
    # GIVEN 3y at 0.99% and 5y at 1.54%: the 4y par bond in the bootstrap used the midpoint.
    assert curve.par_yield(4.0) == pytest.approx((0.0099 + 0.0154) / 2, abs=1e-12)
    assert curve.par_yield(15.0) == pytest.approx((0.0218 + 0.0263) / 2, abs=1e-12)


def test_quantlib_prices_par_bonds_at_100_off_the_bootstrapped_zero_rates(
    curve: YieldCurve,
) -> None:
    # An independent check of the bootstrap: QuantLib's own linear zero curve on our nodes
    # (ACT/365F, continuous) and its own bond pricer, no code of ours in between.
    ql.Settings.instance().evaluationDate = _ql_date(AS_OF)
    dates = [_ql_date(AS_OF)] + [_ql_date(d) for d in curve.node_dates]
    zeros = [curve.zero_rates[0], *curve.zero_rates]
    handle = ql.YieldTermStructureHandle(
        ql.ZeroCurve(
            dates, zeros, ql.Actual365Fixed(), ql.NullCalendar(), ql.Linear(), ql.Continuous
        )
    )
    for years in (2, 4, 7, 10, 15, 30):
        maturity = add_months(AS_OF, 12 * years)
        schedule = ql.Schedule(
            _ql_date(AS_OF),
            _ql_date(maturity),
            ql.Period(6, ql.Months),
            ql.NullCalendar(),
            ql.Unadjusted,
            ql.Unadjusted,
            ql.DateGeneration.Backward,
            False,
        )
        bond = ql.FixedRateBond(
            0, 100.0, schedule, [curve.par_yield(years)], ql.ActualActual(ql.ActualActual.ISMA)
        )
        bond.setPricingEngine(ql.DiscountingBondEngine(handle))
        assert bond.cleanPrice() == pytest.approx(100.0, abs=1e-8), years


def test_bills_are_zero_coupon_bond_equivalent_yields(curve: YieldCurve) -> None:
    # GIVEN the 1-year bill at 0.26%: one year of semi-annual compounding to its date.
    t = curve.time(date(2016, 6, 1))
    assert float(curve.discount(t)) == pytest.approx((1 + 0.0026 / 2) ** (-2 * t), rel=1e-14)


def test_missing_tenors_are_interpolated_and_the_long_end_extrapolated_flat() -> None:
    # GIVEN a 2004-style day: no 1-month bill, no 30-year bond, a FRED "." for the 7-year.
    observations = {**FRED_2015_06_01, "DGS1MO": None, "DGS30": None, "DGS7": math.nan}
    curve = YieldCurve.from_par_yields(AS_OF, par_yields_from_fred(observations))
    for series_id in ("DGS3MO", "DGS1", "DGS5", "DGS10", "DGS20"):
        tenor = FRED_CMT_TENORS[series_id]
        assert curve.par_yield(tenor) == pytest.approx(FRED_2015_06_01[series_id] / 100, abs=1e-10)
    assert curve.par_yield(7.0) == pytest.approx(0.0154 + (0.0218 - 0.0154) * 2 / 5, abs=1e-12)
    last = curve.node_times[-1]
    assert curve.node_dates[-1] == date(2035, 6, 1)
    assert curve.zero_rate(last + 10.0) == curve.zero_rate(last)
    assert curve.zero_rate(0.01) == curve.zero_rate(0.0) == curve.zero_rates[0]


def test_flat_curve_discounts_continuously() -> None:
    curve = YieldCurve.flat(AS_OF, 0.04)
    t = np.array([0.0, 0.5, 7.25, 50.0])
    np.testing.assert_allclose(curve.zero_rate(t), 0.04, rtol=0, atol=0)
    np.testing.assert_allclose(curve.discount(t), np.exp(-0.04 * t), rtol=1e-15)


def test_shifted_curve_moves_every_zero_rate(curve: YieldCurve) -> None:
    up = curve.shifted(25)
    t = np.linspace(0.0, 35.0, 71)
    np.testing.assert_allclose(up.zero_rate(t) - curve.zero_rate(t), 0.0025, atol=1e-15)
    np.testing.assert_allclose(up.discount(t) / curve.discount(t), np.exp(-0.0025 * t), rtol=1e-13)
    assert up.as_of == curve.as_of and up.node_dates == curve.node_dates


def test_curves_compare_by_value(curve: YieldCurve) -> None:
    same = YieldCurve.from_par_yields(AS_OF, par_yields_from_fred(FRED_2015_06_01))
    assert same == curve and hash(same) == hash(curve)
    assert curve.shifted(1) != curve


@pytest.mark.parametrize(
    ("par_yields", "message"),
    [
        ({}, "no par yields"),
        ({1.3: 0.01}, "whole number of months"),
        ({1.25: 0.01}, "whole number of coupon periods"),
        ({0.5: 0.01, 30.0: 5.0}, "non-positive discount factor"),
    ],
)
def test_bad_quotes_are_refused(par_yields: dict[float, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        YieldCurve.from_par_yields(AS_OF, par_yields)


def test_fred_observations_are_percent_and_named() -> None:
    assert par_yields_from_fred({"DGS10": 2.18, "DGS30": None}) == {10.0: 0.0218}
    with pytest.raises(ValueError, match="DEXUSEU"):
        par_yields_from_fred({"DEXUSEU": 1.1})
