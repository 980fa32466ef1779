"""Treasury yield curves: zero rates bootstrapped from the constant-maturity par yields FRED
publishes, with vectorised discount factors for the pricing engine.

A pure engine: no database, no Django. The simulator builds one curve per sim date from the
FRED observations and hands it to `risk.pricing`.

Conventions (every number on a `YieldCurve` follows them)
- Time is ACT/365F years from the curve's `as_of` date: `t = days / 365`. One calendar axis
  for every bond, so two bonds paying on the same date get the same discount factor, and a
  QuantLib `ZeroCurve([as_of, *node_dates], [zero_rates[0], *zero_rates], Actual365Fixed(),
  NullCalendar(), Linear(), Continuous)` is the same curve up to the last node (QuantLib
  extrapolates beyond it with flat forwards, not a flat zero rate); the tests price par
  bonds through exactly that, and the risk module's key-rate work can bump those nodes.
- Zero rates are continuously compounded: `discount(t) = exp(-zero_rate(t) * t)`.
- Between nodes the zero rate is linear in t; beyond the first and last nodes it is flat.
- Input par yields are FRED's CMT convention: semi-annual bond-equivalent yields, as
  fractions (FRED publishes percent; `par_yields_from_fred` converts).
- No rounding anywhere: the curve is float64 all the way; whoever stores a number rounds it.

Bootstrap (why not QuantLib's PiecewiseLogCubicDiscount with FixedRateBondHelpers)
The CMT tenors are hypothetical instruments on an exact grid (a "10-year" is a par bond
maturing ten calendar years out), so the bootstrap is exact and sequential on that grid and
needs no solver:
1. Tenors up to one year are Treasury bills, i.e. zero-coupon: a yield `y` to the date
   `as_of + m months` gives `DF = (1 + y/2) ** (-2 t)` (bond-equivalent, semi-annual
   compounding; FRED's sub-six-month bill yields are strictly simple-interest quotes, a
   difference under 2 bp of yield at 5% for one month, i.e. ~1e-5 of price, ignored).
2. Longer tenors are semi-annual par bonds issued on `as_of`, coupon dates
   `as_of + 6k months`, each coupon exactly c/2 (regular ACT/ACT ICMA periods). Par yields
   for the coupon dates between tenors are interpolated linearly in maturity (flat before
   the first tenor), the six- and twelve-month points are taken as bills (step 1), and
   each coupon date's discount factor then follows from par pricing of the bond maturing
   there: `DF_n = (1 - c * 0.5 * sum(DF_1..DF_{n-1})) / (1 + c * 0.5)`.
So `par_yield(tenor)` returns every input exactly (and the interpolated par yield at every
half-year beyond one year), which QuantLib's smooth piecewise curves only approach to their
solver accuracy; and the result is a small node table that numpy interpolates in
microseconds for the tick path. QuantLib stays the independent check in the tests.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import numpy.typing as npt

DAYS_PER_YEAR = 365.0  # ACT/365F, the curve's time axis

# FRED's daily Treasury constant-maturity series and their tenors in years.
FRED_CMT_TENORS: dict[str, float] = {
    "DGS1MO": 1 / 12,
    "DGS3MO": 0.25,
    "DGS6MO": 0.5,
    "DGS1": 1.0,
    "DGS2": 2.0,
    "DGS3": 3.0,
    "DGS5": 5.0,
    "DGS7": 7.0,
    "DGS10": 10.0,
    "DGS20": 20.0,
    "DGS30": 30.0,
}

BILL_MONTHS = 12  # tenors up to a year are bills (zero-coupon); longer ones are par bonds
COUPON_MONTHS = 6  # CMT par bonds pay semi-annually


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def days_in_month(year: int, month: int) -> int:
    """The number of days in a month (calendar.monthrange without the weekday it also
    works out: schedules call this tens of thousands of times)."""
    if month == 2 and calendar.isleap(year):
        return 29
    return _MONTH_DAYS[month - 1]


def add_months(start: date, months: int, *, end_of_month: bool = False) -> date:
    """`start` moved by whole calendar months, the day clipped to the month's length (or the
    month's last day when `end_of_month`: the rule for bonds maturing on a month end)."""
    years, month_index = divmod(start.month - 1 + months, 12)
    year, month = start.year + years, month_index + 1
    last_day = days_in_month(year, month)
    return date(year, month, last_day if end_of_month else min(start.day, last_day))


def tenor_months(tenor: float) -> int:
    """A tenor in years as whole months; CMT tenors are whole months (1/12 is one month)."""
    months = round(tenor * 12)
    if months <= 0 or abs(tenor * 12 - months) > 1e-6:
        raise ValueError(f"tenor {tenor!r} years is not a positive whole number of months")
    return months


def par_yields_from_fred(observations: Mapping[str, float | None]) -> dict[float, float]:
    """FRED CMT observations for one date ({"DGS10": 2.18, ...} in percent) as par yields by
    tenor in years, as fractions. Missing days (None, NaN: FRED's ".") are left out, so
    the curve is built from whichever tenors were published (no DGS30 in 2002-2006)."""
    par_yields: dict[float, float] = {}
    for series_id, percent in observations.items():
        if series_id not in FRED_CMT_TENORS:
            raise ValueError(f"{series_id} is not a Treasury constant-maturity series")
        if percent is None or math.isnan(percent):
            continue
        par_yields[FRED_CMT_TENORS[series_id]] = float(percent) / 100.0
    return par_yields


@dataclass(frozen=True)
class YieldCurve:
    """A zero curve as of one date: continuously compounded zero rates at node dates,
    linear in ACT/365F time between nodes and flat beyond them."""

    as_of: date
    node_dates: tuple[date, ...]
    zero_rates: tuple[float, ...]
    _times: np.ndarray = field(init=False, repr=False, compare=False)
    _zeros: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.node_dates or len(self.node_dates) != len(self.zero_rates):
            raise ValueError("a curve needs one zero rate per node date, and at least one node")
        times = np.array([(d - self.as_of).days for d in self.node_dates], float) / DAYS_PER_YEAR
        zeros = np.array(self.zero_rates, dtype=float)
        if times[0] <= 0 or np.any(np.diff(times) <= 0):
            raise ValueError("node dates must be after as_of and strictly increasing")
        if not np.all(np.isfinite(zeros)):
            raise ValueError("zero rates must be finite")
        times.flags.writeable = False
        zeros.flags.writeable = False
        # Frozen: the cached arrays are set once here, the only place that may.
        object.__setattr__(self, "_times", times)
        object.__setattr__(self, "_zeros", zeros)

    # -- construction --------------------------------------------------------------------

    @classmethod
    def flat(cls, as_of: date, rate: float) -> YieldCurve:
        """A flat curve: the same continuously compounded zero rate at every maturity."""
        return cls(as_of, (add_months(as_of, 12),), (float(rate),))

    @classmethod
    def from_par_yields(cls, as_of: date, par_yields: Mapping[float, float]) -> YieldCurve:
        """The curve bootstrapped from CMT par yields by tenor in years (fractions: 0.0215).
        Tenors up to a year are read as bills, longer ones as semi-annual par bonds; see the
        module docstring. Missing tenors are interpolated; NaN entries count as missing."""
        quotes = {
            tenor_months(tenor): float(value)
            for tenor, value in par_yields.items()
            if value is not None and not math.isnan(value)
        }
        if not quotes:
            raise ValueError(f"no par yields to build the {as_of} curve from")
        for months in quotes:
            if months > BILL_MONTHS and months % COUPON_MONTHS:
                raise ValueError(
                    f"a {months}-month par bond tenor is not a whole number of coupon periods"
                )
        quoted_months = np.array(sorted(quotes), dtype=float)
        quoted_yields = np.array([quotes[m] for m in sorted(quotes)])

        last = max(quotes)
        grid = range(COUPON_MONTHS, last + 1, COUPON_MONTHS)
        node_months = sorted(set(grid) | {m for m in quotes if m <= BILL_MONTHS})

        node_dates: list[date] = []
        zero_rates: list[float] = []
        annuity = 0.0  # 0.5 * sum of the discount factors of the coupon dates so far
        for months in node_months:
            node = add_months(as_of, months)
            t = (node - as_of).days / DAYS_PER_YEAR
            # Inputs are returned exactly by np.interp at their own tenors.
            par = float(np.interp(months, quoted_months, quoted_yields))
            if months <= BILL_MONTHS:
                discount = (1.0 + par / 2.0) ** (-2.0 * t)
            else:
                discount = (1.0 - par * annuity) / (1.0 + par * 0.5)
            if not discount > 0.0:
                raise ValueError(
                    f"par yield {par:.6f} at {months} months gives a non-positive "
                    f"discount factor: the {as_of} quotes are inconsistent"
                )
            if months % COUPON_MONTHS == 0:
                annuity += 0.5 * discount
            node_dates.append(node)
            zero_rates.append(-math.log(discount) / t)
        return cls(as_of, tuple(node_dates), tuple(zero_rates))

    def shifted(self, bp: float) -> YieldCurve:
        """The curve with every continuously compounded zero rate moved by `bp` basis points
        (a parallel shift of the zero curve, the same shift `spread_bp` applies)."""
        return replace(self, zero_rates=tuple(z + bp / 10_000.0 for z in self.zero_rates))

    # -- reading -------------------------------------------------------------------------

    @property
    def node_times(self) -> np.ndarray:
        """The node dates as ACT/365F years from `as_of` (read-only)."""
        return self._times

    def time(self, when: date) -> float:
        """ACT/365F years from `as_of` to `when` (negative before it)."""
        return (when - self.as_of).days / DAYS_PER_YEAR

    def zero_rate(self, t: npt.ArrayLike) -> np.ndarray:
        """Continuously compounded zero rate(s) for ACT/365F time(s) `t`, vectorised."""
        return np.interp(t, self._times, self._zeros)

    def discount(self, t: npt.ArrayLike) -> np.ndarray:
        """Discount factor(s) `exp(-zero_rate(t) * t)` for ACT/365F time(s) `t`, vectorised
        (1 at t = 0)."""
        t = np.asarray(t, dtype=float)
        return np.exp(-np.interp(t, self._times, self._zeros) * t)

    def par_yield(self, tenor: float) -> float:
        """The CMT-style par yield (a fraction) for a tenor in years (whole months).

        Up to a year: the bill's bond-equivalent zero-coupon yield. Beyond: the coupon of a
        semi-annual bond issued on `as_of` and maturing `tenor` later that is worth its
        face, coupon dates counted back from maturity in six-month steps; a short first
        period pays a coupon prorated ACT/ACT ICMA."""
        months = tenor_months(tenor)
        maturity = add_months(self.as_of, months)
        if months <= BILL_MONTHS:
            t = self.time(maturity)
            return float(2.0 * (self.discount(t) ** (-1.0 / (2.0 * t)) - 1.0))
        offsets = list(range(months, 0, -COUPON_MONTHS))[::-1]
        dates = [add_months(self.as_of, m) for m in offsets]
        accruals = np.full(len(dates), 0.5)
        stub = offsets[0] % COUPON_MONTHS
        if stub:
            quasi_start = add_months(self.as_of, stub - COUPON_MONTHS)
            accruals[0] = 0.5 * (dates[0] - self.as_of).days / (dates[0] - quasi_start).days
        discounts = self.discount(np.array([self.time(d) for d in dates]))
        return float((1.0 - discounts[-1]) / np.dot(accruals, discounts))
