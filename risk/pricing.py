"""Fixed-rate bond pricing off a `YieldCurve`: cash flows, accrued interest, clean and dirty
prices, yields; one bond at a time (`price_bond`) or a whole universe at once with numpy
(`price_bonds`, the simulator's per-tick path).

A pure engine: no database, no Django. `BondSpec.from_terms` reads anything shaped like
`book.models.BondTerms`; callers store what comes back, rounding it then (nothing here
rounds: Decimal fields come in as float64 and results go out as float64).

Conventions
- Schedules are regular, generated backward from maturity in steps of 12/frequency months
  (unadjusted dates: the simulator does not model payment-date holidays). A bond maturing
  on a month end pays on month ends (the Treasury end-of-month rule). An issue date between
  two such dates gives a short first coupon, prorated by the day count. This is QuantLib's
  `Schedule(..., DateGeneration.Backward)` + `FixedRateBond`, which the tests check against.
- Coupon amounts and accrued interest follow the bond's day count:
  "ACT/ACT" is ACT/ACT ICMA (Treasuries: coupon/frequency * days since the last coupon /
  days in the coupon period); "30/360" is the bond basis (ISDA 2006 4.16(f), QuantLib's
  Thirty360.BondBasis: a 31st start becomes the 30th, a 31st end becomes the 30th when the
  start is the 30th or 31st); "ACT/360" and "ACT/365F" are actual days over 360 / 365.
  Regular ACT/ACT ICMA coupons are therefore exactly coupon/frequency; the others vary a
  little with the period's length, as QuantLib's FixedRateBond does.
- Prices, accrued interest and cash-flow amounts are per 100 face; the final flow includes
  the redemption of 100. Cash for a holding is `accrued_amount`, or price * quantity *
  face / 100 (the book's rule for bonds).
- A bond not yet issued on the settlement date asked for settles on its issue date (the
  when-issued convention, and QuantLib's `Bond::settlementDate`): no accrued interest, the
  price is for that date. A bond that has matured by settlement is a ValueError.
- Curve pricing: each flow is discounted at the curve's continuously compounded zero rate
  plus `spread_bp` (a Z-spread, also continuously compounded), over ACT/365F time from the
  curve's as-of date, then carried forward to the settlement date: dirty price =
  sum(amount * DF(t_flow)) / DF(t_settlement). Flows on or before settlement belong to the
  seller and are left out.
- Yield to maturity: compounded at the bond's own frequency, with each flow's exponent
  counted in coupon periods with the bond's day count, stepwise along the schedule (the
  street convention; for ACT/ACT the classic `w + k - 1`). This is QuantLib's
  `BondFunctions.bondYield(bond, clean, bond.dayCounter(), Compounded, frequency)`; we solve
  it ourselves (Newton, vectorised) so that it is the exact inverse of `price_from_yield`
  and runs for a whole universe at once.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from .curves import DAYS_PER_YEAR, YieldCurve, add_months, days_in_month

DAY_COUNTS = ("ACT/ACT", "30/360", "ACT/360", "ACT/365F")  # book.models.DayCount values
FREQUENCIES = (1, 2, 4, 12)
REDEMPTION = 100.0  # per 100 face
BP = 1e-4


@dataclass(frozen=True)
class BondSpec:
    """The terms of a fixed-rate bullet bond that pricing needs (floats, not Decimals)."""

    coupon_rate: float  # annual, as a fraction: 0.025 is 2.5%
    frequency: int  # coupons a year
    day_count: str  # one of DAY_COUNTS
    issue_date: date
    maturity_date: date
    face: float = 100.0  # nominal of one unit, as BondTerms.face

    def __post_init__(self) -> None:
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"frequency {self.frequency!r} is not one of {FREQUENCIES}")
        if self.day_count not in DAY_COUNTS:
            raise ValueError(f"day count {self.day_count!r} is not one of {DAY_COUNTS}")
        if not self.maturity_date > self.issue_date:
            raise ValueError(f"maturity {self.maturity_date} is not after issue {self.issue_date}")
        if not (math.isfinite(self.coupon_rate) and self.coupon_rate >= 0):
            raise ValueError(f"coupon rate {self.coupon_rate!r} must be a finite fraction >= 0")
        if not self.face > 0:
            raise ValueError(f"face {self.face!r} must be positive")

    @classmethod
    def from_terms(cls, terms: Any) -> BondSpec:
        """A spec from any object with BondTerms' attributes (Decimal fields become float)."""
        return cls(
            coupon_rate=float(terms.coupon_rate),
            frequency=int(terms.frequency),
            day_count=str(terms.day_count),
            issue_date=terms.issue_date,
            maturity_date=terms.maturity_date,
            face=float(terms.face),
        )


# -- day counts ---------------------------------------------------------------------------


def _days_30_360(start: date, end: date) -> int:
    # Bond basis, ISDA 2006 4.16(f) (= QuantLib Thirty360.BondBasis); no February rule.
    d1 = min(start.day, 30)
    d2 = 30 if end.day == 31 and d1 == 30 else end.day
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def year_fraction(
    day_count: str, start: date, end: date, period_start: date, period_end: date, frequency: int
) -> float:
    """The day count's year fraction from `start` to `end`, both inside the coupon period
    [`period_start`, `period_end`] (the reference period ACT/ACT ICMA needs)."""
    if day_count == "ACT/ACT":
        return (end - start).days / ((period_end - period_start).days * frequency)
    if day_count == "30/360":
        return _days_30_360(start, end) / 360.0
    if day_count == "ACT/360":
        return (end - start).days / 360.0
    if day_count == "ACT/365F":
        return (end - start).days / 365.0
    raise ValueError(f"day count {day_count!r} is not one of {DAY_COUNTS}")


# -- schedules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _FullSchedule:
    """A bond's whole coupon schedule, settlement-independent (cached per spec).
    dates[0] is the regular coupon date on or before issue (the first period's reference
    start); period k runs from dates[k-1] to dates[k]."""

    dates: tuple[date, ...]
    ordinals: np.ndarray  # the dates as proleptic ordinals, for searching
    amounts: np.ndarray  # coupon of period k at index k-1, per 100 face (first one prorated)
    elapsed: np.ndarray  # coupon periods (frequency * year fraction) from dates[0] to dates[k]


@functools.lru_cache(maxsize=16_384)
def _full_schedule(spec: BondSpec) -> _FullSchedule:
    step = 12 // spec.frequency
    maturity = spec.maturity_date
    end_of_month = maturity.day == days_in_month(maturity.year, maturity.month)
    dates = [maturity]
    # Each date is counted from maturity (not from the previous date) so a clipped day,
    # e.g. Feb 28 for a bond paying on the 30th, does not stick to later dates.
    while dates[-1] > spec.issue_date:
        dates.append(add_months(maturity, -step * len(dates), end_of_month=end_of_month))
    dates.reverse()
    coupon = spec.coupon_rate * REDEMPTION
    amounts, periods = [], []
    for k in range(1, len(dates)):
        start, end = dates[k - 1], dates[k]
        accrual_start = max(start, spec.issue_date)
        amounts.append(
            coupon * year_fraction(spec.day_count, accrual_start, end, start, end, spec.frequency)
        )
        periods.append(
            spec.frequency * year_fraction(spec.day_count, start, end, start, end, spec.frequency)
        )
    schedule = _FullSchedule(
        dates=tuple(dates),
        ordinals=np.array([d.toordinal() for d in dates], dtype=np.int64),
        amounts=np.array(amounts),
        elapsed=np.concatenate(([0.0], np.cumsum(periods))),
    )
    for array in (schedule.ordinals, schedule.amounts, schedule.elapsed):
        array.flags.writeable = False  # cached, shared by every caller
    return schedule


@dataclass(frozen=True)
class _Remaining:
    """What is left of a bond at a settlement date: flows from full.dates[first] on."""

    full: _FullSchedule
    first: int
    settlement: date  # the requested one, or the issue date when that is later
    accrued: float  # per 100 face
    first_periods: float  # coupon periods from settlement to the first flow (yield exponent)


def _remaining(spec: BondSpec, settlement: date) -> _Remaining:
    if settlement >= spec.maturity_date:
        raise ValueError(
            f"the bond maturing {spec.maturity_date} has matured by settlement {settlement}"
        )
    settlement = max(settlement, spec.issue_date)  # when issued: settles on issue
    full = _full_schedule(spec)
    first = int(np.searchsorted(full.ordinals, settlement.toordinal(), side="right"))
    period_start, period_end = full.dates[first - 1], full.dates[first]
    accrual_start = max(period_start, spec.issue_date)

    def fraction(end: date) -> float:
        return year_fraction(
            spec.day_count, accrual_start, end, period_start, period_end, spec.frequency
        )

    accrued = spec.coupon_rate * REDEMPTION * fraction(settlement)
    # QuantLib's stepwise exponent: the rest of the current period, in coupon periods.
    first_periods = spec.frequency * (fraction(period_end) - fraction(settlement))
    return _Remaining(full, first, settlement, accrued, first_periods)


def _flow_arrays(rem: _Remaining) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(date ordinals, amounts per 100 face, yield exponents in periods) of the flows left."""
    full, first = rem.full, rem.first
    ordinals = full.ordinals[first:]
    amounts = full.amounts[first - 1 :].copy()
    amounts[-1] += REDEMPTION
    periods = rem.first_periods + (full.elapsed[first:] - full.elapsed[first])
    return ordinals, amounts, periods


@dataclass(frozen=True)
class CashflowSchedule:
    """The flows a bond still pays after a settlement date, per 100 face: coupon dates
    ascending, their amounts (the last one includes the redemption of 100), the accrued
    interest at settlement, and each flow's yield exponent in coupon periods."""

    settlement: date
    dates: tuple[date, ...]
    amounts: tuple[float, ...]
    accrued: float
    yield_periods: tuple[float, ...]


def cashflow_schedule(spec: BondSpec, settlement: date) -> CashflowSchedule:
    """The coupon dates after `settlement` and what each pays per 100 face (ValueError if
    the bond has matured by then; a bond not yet issued settles on its issue date)."""
    rem = _remaining(spec, settlement)
    _, amounts, periods = _flow_arrays(rem)
    return CashflowSchedule(
        settlement=rem.settlement,
        dates=rem.full.dates[rem.first :],
        amounts=tuple(amounts.tolist()),
        accrued=rem.accrued,
        yield_periods=tuple(periods.tolist()),
    )


def accrued_interest(spec: BondSpec, settlement: date) -> float:
    """Accrued interest at `settlement` per 100 face, per the bond's day count (0 on a
    coupon date: that coupon goes to the seller). Unrounded; the book rounds when storing."""
    return _remaining(spec, settlement).accrued


def accrued_amount(spec: BondSpec, settlement: date, quantity: float | Decimal) -> float:
    """The accrued interest a trade of `quantity` units (each of `spec.face` nominal) buys
    or sells at `settlement`, in the bond's currency. Unrounded."""
    return accrued_interest(spec, settlement) * float(quantity) * spec.face / REDEMPTION


# -- yields -------------------------------------------------------------------------------


def _solve_yields(
    amounts: np.ndarray,
    periods: np.ndarray,
    owner: np.ndarray,
    starts: np.ndarray,
    frequency: np.ndarray,
    dirty: np.ndarray,
    guess: np.ndarray,
) -> np.ndarray:
    """Yields at each bond's frequency that reprice `dirty`, for flows grouped by bond.

    Newton in x = log(1 + y/f), per-period continuous rate: the price sum(a * exp(-n x)) is
    convex and decreasing in x for every real x, so a step from below the root never
    overshoots and one from above lands below it; no domain to fall out of."""
    if np.any(~(dirty > 0)):
        raise ValueError("a yield needs a positive dirty price")
    x = np.log1p(guess / frequency)
    for _ in range(100):
        pv = amounts * np.exp(-periods * x[owner])
        price = np.add.reduceat(pv, starts)
        slope = -np.add.reduceat(periods * pv, starts)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (price - dirty) / slope
        if not np.all(np.isfinite(step)):
            raise ValueError("the yield is undefined: price does not depend on it")
        x -= step
        if np.max(np.abs(step), initial=0.0) < 1e-13:
            return frequency * np.expm1(x)
    raise ValueError("yield to maturity did not converge")  # pragma: no cover - convex


def _yield_inputs(
    spec: BondSpec, settlement: date
) -> tuple[_Remaining, np.ndarray, np.ndarray, np.ndarray]:
    rem = _remaining(spec, settlement)
    ordinals, amounts, periods = _flow_arrays(rem)
    return rem, ordinals, amounts, periods


def price_from_yield(spec: BondSpec, settlement: date, ytm: float) -> float:
    """The clean price per 100 face at which the bond yields `ytm` (a fraction, compounded
    at the bond's frequency; see the module's conventions)."""
    if not ytm / spec.frequency > -1:
        raise ValueError(f"yield {ytm!r} is below -frequency")
    rem, _, amounts, periods = _yield_inputs(spec, settlement)
    dirty = float(np.dot(amounts, np.exp(-periods * math.log1p(ytm / spec.frequency))))
    return dirty - rem.accrued


def yield_to_maturity(spec: BondSpec, settlement: date, clean_price: float) -> float:
    """The yield (a fraction, compounded at the bond's frequency) at which the bond's clean
    price per 100 face is `clean_price`: the inverse of `price_from_yield`."""
    rem, _, amounts, periods = _yield_inputs(spec, settlement)
    result = _solve_yields(
        amounts,
        periods,
        np.zeros(len(amounts), dtype=np.int64),
        np.zeros(1, dtype=np.int64),
        np.array([float(spec.frequency)]),
        np.array([clean_price + rem.accrued]),
        np.array([spec.coupon_rate]),
    )
    return float(result[0])


# -- curve pricing: one bond --------------------------------------------------------------


@dataclass(frozen=True)
class BondPrice:
    """A bond's price at a settlement date, per 100 face: clean + accrued = dirty; with the
    yield to maturity the clean price implies."""

    clean: float
    dirty: float
    accrued: float
    ytm: float


def price_bond(
    spec: BondSpec, curve: YieldCurve, settlement: date, spread_bp: float = 0.0
) -> BondPrice:
    """The bond priced off `curve` plus a Z-spread of `spread_bp`, for `settlement`."""
    rem = _remaining(spec, settlement)
    ordinals, amounts, _ = _flow_arrays(rem)
    spread = spread_bp * BP
    t = (ordinals - curve.as_of.toordinal()) / DAYS_PER_YEAR
    present_value = float(np.dot(amounts, curve.discount(t) * np.exp(-spread * t)))
    t_settle = curve.time(rem.settlement)
    dirty = present_value / (float(curve.discount(t_settle)) * math.exp(-spread * t_settle))
    clean = dirty - rem.accrued
    return BondPrice(
        clean=clean,
        dirty=dirty,
        accrued=rem.accrued,
        ytm=yield_to_maturity(spec, settlement, clean),
    )


# -- curve pricing: a universe, vectorised ------------------------------------------------


@dataclass(frozen=True, eq=False)
class _FlowMatrix:
    """Every remaining flow of a list of bonds at one settlement date, flattened bond after
    bond (no padding, so a monthly 30-year bond costs no more than its own flows)."""

    days: np.ndarray  # days from the requested settlement to each flow
    settle_days: np.ndarray  # per bond: days to its own settlement (issue, when later)
    amounts: np.ndarray  # per 100 face
    periods: np.ndarray  # yield exponents, coupon periods from settlement
    owner: np.ndarray  # the bond each flow belongs to
    starts: np.ndarray  # index of each bond's first flow
    accrued: np.ndarray  # per bond, per 100 face
    frequency: np.ndarray  # per bond
    coupon: np.ndarray  # per bond


@functools.lru_cache(maxsize=8)
def _flow_matrix(specs: tuple[BondSpec, ...], settlement: date) -> _FlowMatrix:
    # Built once per settlement date (the simulator's ticks within a day all hit the
    # cache); the curve, spreads and as-of date only enter at pricing time.
    day_parts, amount_parts, period_parts, counts, accrued, settles = [], [], [], [], [], []
    for index, spec in enumerate(specs):
        try:
            rem = _remaining(spec, settlement)
        except ValueError as exc:
            raise ValueError(f"bond {index}: {exc}") from exc
        ordinals, amounts, periods = _flow_arrays(rem)
        day_parts.append(ordinals)
        amount_parts.append(amounts)
        period_parts.append(periods)
        counts.append(len(amounts))
        accrued.append(rem.accrued)
        settles.append((rem.settlement - settlement).days)
    counts_array = np.array(counts, dtype=np.int64)
    matrix = _FlowMatrix(
        days=(np.concatenate(day_parts) - settlement.toordinal()).astype(float),
        settle_days=np.array(settles, dtype=float),
        amounts=np.concatenate(amount_parts),
        periods=np.concatenate(period_parts),
        owner=np.repeat(np.arange(len(specs)), counts_array),
        starts=np.concatenate(([0], np.cumsum(counts_array)[:-1])),
        accrued=np.array(accrued),
        frequency=np.array([float(s.frequency) for s in specs]),
        coupon=np.array([s.coupon_rate for s in specs]),
    )
    for array in vars(matrix).values():
        array.flags.writeable = False  # shared by every tick that hits the cache
    return matrix


@dataclass(frozen=True, eq=False)
class BondPrices:
    """Prices of many bonds at one settlement date, per 100 face, in the order given."""

    clean: np.ndarray
    dirty: np.ndarray
    accrued: np.ndarray


def _spreads(spreads_bp: npt.ArrayLike, count: int) -> np.ndarray:
    spreads = np.broadcast_to(np.asarray(spreads_bp, dtype=float), (count,))
    return spreads * BP


def price_bonds(
    specs: Sequence[BondSpec],
    curve: YieldCurve,
    settlement: date,
    spreads_bp: npt.ArrayLike = 0.0,
) -> BondPrices:
    """Every bond priced off `curve` plus its Z-spread (one per bond, or one for all), as
    `price_bond` does one: same conventions, same numbers to float rounding."""
    if not specs:
        empty = np.zeros(0)
        return BondPrices(clean=empty, dirty=empty, accrued=empty)
    matrix = _flow_matrix(tuple(specs), settlement)
    spreads = _spreads(spreads_bp, len(matrix.starts))
    shift = (settlement - curve.as_of).days
    t = (matrix.days + shift) / DAYS_PER_YEAR
    rates = curve.zero_rate(t) + spreads[matrix.owner]
    present_value = np.add.reduceat(matrix.amounts * np.exp(-rates * t), matrix.starts)
    t_settle = (matrix.settle_days + shift) / DAYS_PER_YEAR
    settle_discount = np.exp(-(curve.zero_rate(t_settle) + spreads) * t_settle)
    dirty = present_value / settle_discount
    return BondPrices(clean=dirty - matrix.accrued, dirty=dirty, accrued=matrix.accrued)


def yields_to_maturity(
    specs: Sequence[BondSpec], settlement: date, clean_prices: npt.ArrayLike
) -> np.ndarray:
    """`yield_to_maturity` for many bonds at once (same numbers to float rounding)."""
    if not specs:
        return np.zeros(0)
    matrix = _flow_matrix(tuple(specs), settlement)
    clean = np.broadcast_to(np.asarray(clean_prices, dtype=float), matrix.accrued.shape)
    return _solve_yields(
        matrix.amounts,
        matrix.periods,
        matrix.owner,
        matrix.starts,
        matrix.frequency,
        clean + matrix.accrued,
        matrix.coupon,
    )
