"""The market engine: pure numpy, no database. Given a sim date's real-world anchors (VIX,
the index return, FX fixings) and the instruments' factor loadings, it draws the day's
intraday paths so that every path ends exactly on the day's close.

Model (log returns, one trading day split into `steps` ticks):
- market factor M: the real index's close-to-close log return on the sim date when the
  index is loaded (S&P 500), else a draw N(0, sigma_d) with sigma_d = VIX / 100 / sqrt(252);
- sector factors S_k ~ N(0, (0.5 sigma_d)^2), one per sector;
- idiosyncratic e_i ~ N(0, (idio_vol_i / sqrt(252) * m)^2), m = clip(VIX / 20, 0.6, 2.5), so
  a crisis day moves single names more;
- instrument i: R_i = beta_i M + sector_beta_i S_k(i) + e_i.
Each component's intraday path is a Brownian bridge: Gaussian increments shifted so they
sum exactly to the day's total; a linear combination of bridges is a bridge, so every
instrument's path ends on its close. Random numbers come from a generator seeded by
(seed, date, stream): a day is the same whichever process or tick order computes it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

TRADING_DAYS = 252

# VIX level -> regime. Upper bounds (exclusive); documented in the README.
REGIME_BOUNDS: tuple[tuple[float, str], ...] = (
    (15.0, "calm"),
    (22.0, "normal"),
    (32.0, "stressed"),
    (math.inf, "crisis"),
)

STREAM_EQUITY = 1
STREAM_FX = 2
STREAM_VENDOR = 3
STREAM_ACTIVITY = 4
STREAM_FAULTS = 5
STREAM_SPLITS = 6
STREAM_SCALE = 7


def regime_for_vix(vix: float) -> str:
    for bound, name in REGIME_BOUNDS:
        if vix < bound:
            return name
    raise AssertionError("unreachable: the last bound is infinite")


def daily_vol(vix: float) -> float:
    """The one-day volatility VIX implies (VIX is annualised, in percent)."""
    return vix / 100.0 / math.sqrt(TRADING_DAYS)


def day_rng(seed: int, sim_date: dt.date, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, sim_date.toordinal(), stream]))


def bridge(
    totals: np.ndarray, steps: int, step_vol: np.ndarray, rng: np.random.Generator
) -> np.ndarray:  # noqa: E501
    """Increments (steps x n) that look like a random walk and sum exactly to `totals`."""
    totals = np.asarray(totals, dtype=float)
    z = rng.standard_normal((steps, totals.size)) * np.asarray(step_vol, dtype=float)
    z += (totals - z.sum(axis=0)) / steps
    return z


@dataclass(frozen=True)
class EquityDay:
    market_return: float  # the day's market factor (log)
    daily_returns: np.ndarray  # (n,) each instrument's log return over the day
    increments: np.ndarray  # (steps, n) per-tick log returns, summing to daily_returns
    market_increments: np.ndarray  # (steps,) the market factor's path


def equity_day(
    *,
    seed: int,
    sim_date: dt.date,
    vix: float,
    index_return: float | None,
    sector_index: np.ndarray,
    n_sectors: int,
    beta: np.ndarray,
    sector_beta: np.ndarray,
    idio_vol: np.ndarray,
    steps: int,
) -> EquityDay:
    rng = day_rng(seed, sim_date, STREAM_EQUITY)
    sigma_d = daily_vol(vix)
    drawn_market = rng.normal(0.0, sigma_d)  # drawn either way: the stream stays aligned
    market = float(index_return) if index_return is not None else float(drawn_market)
    sectors = rng.normal(0.0, 0.5 * sigma_d, n_sectors)
    scale = float(np.clip(vix / 20.0, 0.6, 2.5))
    idio_daily_vol = idio_vol / math.sqrt(TRADING_DAYS) * scale
    idio = rng.normal(0.0, 1.0, beta.size) * idio_daily_vol

    step_sigma = sigma_d / math.sqrt(steps)
    market_path = bridge(np.array([market]), steps, np.array([step_sigma]), rng)[:, 0]
    sector_path = bridge(sectors, steps, np.full(n_sectors, 0.5 * step_sigma), rng)
    idio_path = bridge(idio, steps, idio_daily_vol / math.sqrt(steps), rng)
    increments = (
        np.outer(market_path, beta) + sector_path[:, sector_index] * sector_beta + idio_path
    )
    daily = beta * market + sector_beta * sectors[sector_index] + idio
    return EquityDay(market, daily, increments, market_path)


def fx_day(
    *,
    seed: int,
    sim_date: dt.date,
    vix: float,
    previous: np.ndarray,
    fixings: np.ndarray,
    steps: int,
    annual_vol: float = 0.08,
) -> np.ndarray:
    """Intraday FX paths (steps x pairs) from yesterday's close to today's close.

    Where a real fixing is known (not NaN) the path ends on it; else the day's move is a
    draw whose volatility follows the VIX regime (FX vol rises with equity stress)."""
    rng = day_rng(seed, sim_date, STREAM_FX)
    scale = float(np.clip(vix / 20.0, 0.6, 2.5))
    sigma_d = annual_vol / math.sqrt(TRADING_DAYS) * scale
    drawn = rng.normal(0.0, sigma_d, previous.size)
    totals = np.where(
        np.isnan(fixings), drawn, np.log(np.where(np.isnan(fixings), 1.0, fixings) / previous)
    )  # noqa: E501
    increments = bridge(totals, steps, np.full(previous.size, sigma_d / math.sqrt(steps)), rng)
    return previous * np.exp(np.cumsum(increments, axis=0))


def vendor_quotes(
    *,
    seed: int,
    sim_date: dt.date,
    slot: int,
    true_prices: np.ndarray,
    disagreement_bp: np.ndarray,
    decimals: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(primary, secondary) quotes: the primary vendor is the model price rounded to the
    instrument's quote precision; the secondary differs by a small noise of
    `disagreement_bp` basis points (a realistic everyday disagreement, not a fault)."""
    rng = np.random.default_rng(
        np.random.SeedSequence([seed, sim_date.toordinal(), STREAM_VENDOR, slot])
    )
    noise = rng.standard_normal(true_prices.size) * disagreement_bp / 10_000.0
    primary = _round_each(true_prices, decimals)
    secondary = _round_each(true_prices * (1.0 + noise), decimals)
    return primary, secondary


def _round_each(values: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    factor = np.power(10.0, decimals)
    return np.round(values * factor) / factor
