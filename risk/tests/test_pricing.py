"""Bond pricing: closed forms, the bootstrap's par property, Treasury and 30/360 accrued
examples, QuantLib as an independent pricer, and the vectorised path equal to the scalar one."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import numpy as np
import pytest
import QuantLib as ql

from risk.curves import YieldCurve, add_months, par_yields_from_fred
from risk.pricing import (
    DAY_COUNTS,
    BondSpec,
    accrued_amount,
    accrued_interest,
    cashflow_schedule,
    price_bond,
    price_bonds,
    price_from_yield,
    yield_to_maturity,
    yields_to_maturity,
)

from .test_curves import AS_OF, FRED_2015_06_01

QL_DAY_COUNTS = {
    "ACT/ACT": ql.ActualActual(ql.ActualActual.ISMA),
    "30/360": ql.Thirty360(ql.Thirty360.BondBasis),
    "ACT/360": ql.Actual360(),
    "ACT/365F": ql.Actual365Fixed(),
}
# 2.5% Treasury paying May 15 / Nov 15.
TREASURY = BondSpec(0.025, 2, "ACT/ACT", date(2014, 11, 15), date(2024, 11, 15))


@pytest.fixture
def fred_curve() -> YieldCurve:
    return YieldCurve.from_par_yields(AS_OF, par_yields_from_fred(FRED_2015_06_01))


def _ql_date(d: date) -> ql.Date:
    return ql.Date(d.day, d.month, d.year)


def _ql_bond(spec: BondSpec, settlement_days: int) -> ql.FixedRateBond:
    maturity = spec.maturity_date
    end_of_month = maturity.day == calendar.monthrange(maturity.year, maturity.month)[1]
    schedule = ql.Schedule(
        _ql_date(spec.issue_date),
        _ql_date(maturity),
        ql.Period(12 // spec.frequency, ql.Months),
        ql.NullCalendar(),
        ql.Unadjusted,
        ql.Unadjusted,
        ql.DateGeneration.Backward,
        end_of_month,
    )
    return ql.FixedRateBond(
        settlement_days,
        100.0,
        schedule,
        [spec.coupon_rate],
        QL_DAY_COUNTS[spec.day_count],
        ql.Unadjusted,
        100.0,
        _ql_date(spec.issue_date),
    )


def _random_specs(count: int, seed: int, settlement: date) -> list[BondSpec]:
    """Bonds of every frequency and day count, month-end and 29th-31st maturities, short
    first coupons, a few not issued yet, all alive at `settlement`."""
    rng = np.random.default_rng(seed)
    specs: list[BondSpec] = []
    while len(specs) < count:
        issue = settlement - timedelta(days=int(rng.integers(-30, 3650)))
        year, month = settlement.year + int(rng.integers(0, 31)), int(rng.integers(1, 13))
        day = min(int(rng.choice([1, 15, 28, 29, 30, 31])), calendar.monthrange(year, month)[1])
        maturity = date(year, month, day)
        if maturity <= max(settlement, issue):
            continue
        specs.append(
            BondSpec(
                coupon_rate=float(rng.uniform(0.0, 0.09)),
                frequency=int(rng.choice([1, 2, 4, 12], p=[0.15, 0.55, 0.15, 0.15])),
                day_count=str(rng.choice(DAY_COUNTS)),
                issue_date=issue,
                maturity_date=maturity,
            )
        )
    return specs


# -- flat curves and closed forms ---------------------------------------------------------


def test_flat_curve_price_is_the_closed_form() -> None:
    # GIVEN a 3-year annual 5% bond settling on its issue date, 2021-01-01, whose coupons
    # fall exactly 1, 2 and 3 ACT/365F years out (no leap day in between)
    spec = BondSpec(0.05, 1, "ACT/ACT", date(2021, 1, 1), date(2024, 1, 1))
    rate = 0.04
    # WHEN it is priced off a flat 4% continuously compounded curve
    price = price_bond(spec, YieldCurve.flat(date(2021, 1, 1), rate), date(2021, 1, 1))
    # THEN it is the annuity plus the discounted redemption
    v = np.exp(-rate)
    closed_form = 5.0 * v * (1 - v**3) / (1 - v) + 100.0 * v**3
    assert price.dirty == pytest.approx(closed_form, abs=1e-12)
    assert price.clean == price.dirty and price.accrued == 0.0
    # and its annual yield is the flat rate annually compounded
    assert price.ytm == pytest.approx(np.expm1(rate), abs=1e-12)


def test_price_from_yield_is_the_closed_form_on_a_coupon_date() -> None:
    # GIVEN the 2.5% Treasury on a coupon date with 19 coupons to go, at a 3% yield
    y, n = 0.03, 19
    v = 1 / (1 + y / 2)
    closed_form = 1.25 * (1 - v**n) / (y / 2) + 100.0 * v**n
    assert price_from_yield(TREASURY, date(2015, 5, 15), y) == pytest.approx(closed_form, 1e-12)
    assert yield_to_maturity(TREASURY, date(2015, 5, 15), closed_form) == pytest.approx(y, 1e-12)


def test_yield_and_price_are_inverse_between_coupons() -> None:
    for settlement in (date(2015, 6, 1), date(2019, 2, 28), date(2024, 11, 14)):
        for y in (-0.005, 0.0, 0.021, 0.15):
            clean = price_from_yield(TREASURY, settlement, y)
            assert yield_to_maturity(TREASURY, settlement, clean) == pytest.approx(y, abs=1e-12)


# -- the bootstrap property ---------------------------------------------------------------


@pytest.mark.parametrize("months", [24, 48, 84, 120, 150, 180, 300, 360])
def test_bond_paying_the_par_yield_prices_at_par_on_a_coupon_date(
    fred_curve: YieldCurve, months: int
) -> None:
    # GIVEN a Treasury issued a year ago whose coupon is the curve's par yield at its
    # maturity, and whose coupon dates line up with the curve date
    maturity = add_months(AS_OF, months)
    spec = BondSpec(
        coupon_rate=fred_curve.par_yield(months / 12),
        frequency=2,
        day_count="ACT/ACT",
        issue_date=add_months(AS_OF, -12),
        maturity_date=maturity,
    )
    # WHEN it is priced for settlement on that coupon date
    price = price_bond(spec, fred_curve, AS_OF)
    # THEN it is worth its face: clean = dirty = 100, yielding its coupon
    assert price.accrued == 0.0
    assert price.clean == pytest.approx(100.0, abs=1e-6)
    assert price.ytm == pytest.approx(spec.coupon_rate, abs=1e-9)


# -- accrued interest ---------------------------------------------------------------------


def test_treasury_accrued_interest_is_act_act_icma() -> None:
    # GIVEN the 2.5% Treasury settling 2015-06-01: 17 days into the 184-day period
    # 2015-05-15 .. 2015-11-15
    assert accrued_interest(TREASURY, date(2015, 6, 1)) == pytest.approx(1.25 * 17 / 184, 1e-15)
    # on a coupon date nothing has accrued, and the coupon paid that day is not a flow
    assert accrued_interest(TREASURY, date(2015, 11, 15)) == 0.0
    assert cashflow_schedule(TREASURY, date(2015, 11, 15)).dates[0] == date(2016, 5, 15)
    # the other half-year is 181 days
    assert accrued_interest(TREASURY, date(2016, 2, 15)) == pytest.approx(1.25 * 92 / 182, 1e-15)


def test_thirty_360_accrued_interest_counts_thirty_day_months() -> None:
    # GIVEN a 5% 30/360 corporate paying Jan 15 / Jul 15
    corporate = BondSpec(0.05, 2, "30/360", date(2014, 7, 15), date(2020, 7, 15))
    # WHEN it settles on 2015-03-31: 15 days of January, 30 of February (28 actual), 31 of
    # March (the end is only cut to 30 when the start is the 30th or 31st) = 76 days
    assert accrued_interest(corporate, date(2015, 3, 31)) == pytest.approx(5.0 * 76 / 360, 1e-15)
    # GIVEN a bond paying on month ends, last coupon 2015-05-31: the start counts as the
    # 30th, so the 31st of July counts as the 30th too: 60 days, not the actual 61
    month_end = BondSpec(0.05, 2, "30/360", date(2014, 11, 30), date(2020, 11, 30))
    assert accrued_interest(month_end, date(2015, 7, 31)) == pytest.approx(5.0 * 60 / 360, 1e-15)


def test_accrued_amount_is_for_units_of_the_bonds_face() -> None:
    # GIVEN 250 units of a 1,000-face Treasury (the book's quantity x face / 100 rule)
    spec = BondSpec(0.025, 2, "ACT/ACT", date(2014, 11, 15), date(2024, 11, 15), face=1000.0)
    amount = accrued_amount(spec, date(2015, 6, 1), Decimal("250"))
    assert amount == pytest.approx(250 * 1000 * 0.025 / 2 * 17 / 184, 1e-14)


# -- schedules ----------------------------------------------------------------------------


def test_schedule_runs_back_from_maturity_and_ends_with_the_face() -> None:
    schedule = cashflow_schedule(TREASURY, date(2015, 6, 1))
    assert schedule.dates[0] == date(2015, 11, 15) and schedule.dates[-1] == date(2024, 11, 15)
    assert len(schedule.dates) == 19
    assert schedule.amounts[:-1] == (1.25,) * 18
    assert schedule.amounts[-1] == 101.25
    assert schedule.yield_periods[0] == pytest.approx(167 / 184) and schedule.yield_periods[
        1:3
    ] == (
        pytest.approx(1 + 167 / 184),
        pytest.approx(2 + 167 / 184),
    )


def test_month_end_maturity_pays_on_month_ends() -> None:
    # GIVEN a 2-year note maturing 2017-02-28 (a month end): it pays Aug 31 and Feb 28/29
    note = BondSpec(0.01, 2, "ACT/ACT", date(2015, 2, 28), date(2017, 2, 28))
    assert cashflow_schedule(note, date(2015, 3, 2)).dates == (
        date(2015, 8, 31),
        date(2016, 2, 29),
        date(2016, 8, 31),
        date(2017, 2, 28),
    )


def test_short_first_coupon_is_prorated() -> None:
    # GIVEN a Treasury issued 2015-06-01 paying May 15 / Nov 15: the first period runs
    # from issue (not from the quasi-coupon date 2015-05-15) to 2015-11-15
    spec = BondSpec(0.03, 2, "ACT/ACT", date(2015, 6, 1), date(2025, 5, 15))
    schedule = cashflow_schedule(spec, date(2015, 6, 1))
    assert schedule.amounts[0] == pytest.approx(1.5 * 167 / 184, 1e-15)
    assert schedule.amounts[1] == 1.5
    assert schedule.accrued == 0.0
    assert accrued_interest(spec, date(2015, 6, 11)) == pytest.approx(1.5 * 10 / 184, 1e-15)


# -- spread sensitivity -------------------------------------------------------------------


def test_price_falls_as_the_spread_rises_by_about_duration_per_bp(fred_curve: YieldCurve) -> None:
    settlement = date(2015, 6, 2)
    spreads = np.arange(-50.0, 501.0, 25.0)
    prices = [price_bond(TREASURY, fred_curve, settlement, s).clean for s in spreads]
    assert np.all(np.diff(prices) < 0)

    # THEN one more basis point costs duration x price x 1bp, duration being the
    # PV-weighted time to each flow (the spread is continuously compounded)
    schedule = cashflow_schedule(TREASURY, settlement)
    t = np.array([fred_curve.time(d) for d in schedule.dates]) - fred_curve.time(settlement)
    base = price_bond(TREASURY, fred_curve, settlement, 100.0)
    bumped = price_bond(TREASURY, fred_curve, settlement, 101.0)
    forward = fred_curve.discount(t + fred_curve.time(settlement)) / fred_curve.discount(
        fred_curve.time(settlement)
    )
    present_values = np.array(schedule.amounts) * forward * np.exp(-0.01 * t)
    duration = float(np.dot(t, present_values) / present_values.sum())
    assert 8.0 < duration < 9.0
    expected_change = -duration * base.dirty * 1e-4
    assert bumped.dirty - base.dirty == pytest.approx(expected_change, rel=1e-3)


# -- QuantLib as an independent pricer ----------------------------------------------------


def test_prices_and_yields_match_quantlib_fixed_rate_bonds() -> None:
    # GIVEN bonds of every day count and frequency, settling 0-3 days after the curve date,
    # priced off a flat continuously compounded ACT/365F curve plus a spread
    as_of, rate = date(2015, 6, 1), 0.03
    ql.Settings.instance().evaluationDate = _ql_date(as_of)
    rng = np.random.default_rng(7)
    checked = 0
    for spec in _random_specs(120, seed=11, settlement=as_of + timedelta(days=3)):
        settlement_days = int(rng.integers(0, 4))
        settlement = as_of + timedelta(days=settlement_days)
        spread_bp = float(rng.uniform(0.0, 400.0))
        ours = price_bond(spec, YieldCurve.flat(as_of, rate), settlement, spread_bp)

        bond = _ql_bond(spec, settlement_days)
        flat = ql.FlatForward(
            _ql_date(as_of), rate + spread_bp * 1e-4, ql.Actual365Fixed(), ql.Continuous
        )
        bond.setPricingEngine(ql.DiscountingBondEngine(ql.YieldTermStructureHandle(flat)))
        assert ours.dirty == pytest.approx(bond.dirtyPrice(), abs=1e-6), spec
        assert ours.clean == pytest.approx(bond.cleanPrice(), abs=1e-6), spec
        assert ours.accrued == pytest.approx(bond.accruedAmount(), abs=1e-9), spec
        assert bond.settlementDate() == _ql_date(max(settlement, spec.issue_date))
        ql_yield = ql.BondFunctions.bondYield(
            bond,
            ql.BondPrice(ours.clean, ql.BondPrice.Clean),
            QL_DAY_COUNTS[spec.day_count],
            ql.Compounded,
            spec.frequency,
            bond.settlementDate(),
            1e-13,
            200,
        )
        assert ours.ytm == pytest.approx(ql_yield, abs=1e-9), spec
        checked += 1
    assert checked == 120


# -- the vectorised path ------------------------------------------------------------------


def test_price_bonds_equals_price_bond_for_200_random_bonds(fred_curve: YieldCurve) -> None:
    # GIVEN 200 bonds of every kind and their own spreads, settling T+1 after the curve date
    settlement = date(2015, 6, 2)
    specs = _random_specs(200, seed=3, settlement=settlement)
    spreads = np.random.default_rng(4).uniform(-20.0, 600.0, len(specs))
    # WHEN priced together
    prices = price_bonds(specs, fred_curve, settlement, spreads)
    yields = yields_to_maturity(specs, settlement, prices.clean)
    # THEN each is what pricing it alone gives
    for i, (spec, spread) in enumerate(zip(specs, spreads, strict=True)):
        one = price_bond(spec, fred_curve, settlement, float(spread))
        assert prices.clean[i] == pytest.approx(one.clean, abs=1e-9)
        assert prices.dirty[i] == pytest.approx(one.dirty, abs=1e-9)
        assert prices.accrued[i] == pytest.approx(one.accrued, abs=1e-12)
        assert yields[i] == pytest.approx(one.ytm, abs=1e-9)
    # and a second tick (cached cash flows, a moved curve, one spread for all) still agrees
    moved = fred_curve.shifted(7.5)
    again = price_bonds(specs, moved, settlement, 35.0)
    assert again.clean[17] == pytest.approx(price_bond(specs[17], moved, settlement, 35.0).clean)


def test_price_bonds_of_nothing_is_empty(fred_curve: YieldCurve) -> None:
    assert price_bonds([], fred_curve, AS_OF).clean.shape == (0,)
    assert yields_to_maturity([], AS_OF, []).shape == (0,)


# -- bad input ----------------------------------------------------------------------------


def test_matured_bonds_are_refused(fred_curve: YieldCurve) -> None:
    matured = BondSpec(0.02, 2, "ACT/ACT", date(2010, 5, 15), date(2015, 5, 15))
    for settlement in (date(2015, 5, 15), date(2015, 6, 1)):
        with pytest.raises(ValueError, match="has matured"):
            price_bond(matured, fred_curve, settlement)
        with pytest.raises(ValueError, match="has matured"):
            accrued_interest(matured, settlement)
    with pytest.raises(ValueError, match="bond 1: .*has matured"):
        price_bonds([TREASURY, matured], fred_curve, date(2015, 6, 1))


def test_a_bond_not_yet_issued_settles_on_its_issue_date(fred_curve: YieldCurve) -> None:
    # GIVEN a new 10-year issued 2015-06-15, traded when issued on the curve date
    new_issue = BondSpec(0.0218, 2, "ACT/ACT", date(2015, 6, 15), date(2025, 6, 15))
    # WHEN priced for settlement before its issue date
    early = price_bond(new_issue, fred_curve, date(2015, 6, 2))
    # THEN it is priced for settlement on the issue date, with nothing accrued
    assert early == price_bond(new_issue, fred_curve, date(2015, 6, 15))
    assert early.accrued == 0.0
    assert cashflow_schedule(new_issue, date(2015, 6, 2)).settlement == date(2015, 6, 15)
    together = price_bonds([TREASURY, new_issue], fred_curve, date(2015, 6, 2))
    assert together.dirty[1] == pytest.approx(early.dirty, abs=1e-12)


def test_spec_reads_book_terms_and_checks_them() -> None:
    terms = SimpleNamespace(
        coupon_rate=Decimal("0.025000"),
        frequency=2,
        day_count="ACT/ACT",
        issue_date=date(2014, 11, 15),
        maturity_date=date(2024, 11, 15),
        face=Decimal("100.0000"),
        issuer="United States Treasury",
    )
    spec = BondSpec.from_terms(terms)
    assert spec == TREASURY
    assert isinstance(spec.coupon_rate, float) and isinstance(spec.face, float)
    for bad in ({"frequency": 3}, {"day_count": "ACT/ACT ISDA"}, {"coupon_rate": -0.01}):
        with pytest.raises(ValueError):
            BondSpec(**{**vars(TREASURY), **bad})
    with pytest.raises(ValueError, match="not after issue"):
        BondSpec(0.02, 2, "ACT/ACT", date(2020, 1, 1), date(2020, 1, 1))
