"""The market is anchored to real history: the market factor follows the real index, and
where no index is loaded its volatility follows the real VIX. Uses the offline FRED subset
that ships in the arch package (S&P 500 and VIX, 2014-2018)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from book.calendar import business_day_range
from simulator import market
from simulator.fred import fred_load, series_window
from simulator.services.market import day_anchors

START = dt.date(2018, 3, 1)
DAYS = 60


@pytest.fixture
def history(db):  # noqa: ANN001
    fred_load(series_ids=["SP500", "VIXCLS"], start=dt.date(2017, 12, 1), end=dt.date(2018, 12, 31))  # noqa: E501


def _factor(day: dt.date, anchors: dict, use_index: bool) -> float:
    one = np.ones(1)
    return market.equity_day(
        seed=7,
        sim_date=day,
        vix=anchors["vix"],
        index_return=anchors["index_return"] if use_index else None,
        sector_index=np.zeros(1, dtype=int),
        n_sectors=1,
        beta=one,
        sector_beta=one,
        idio_vol=np.full(1, 0.2),
        steps=26,
    ).market_increments.sum()


def test_the_market_factor_follows_the_real_index(history):
    days = business_day_range(START, DAYS)
    simulated, real = [], []
    closes = dict(series_window("SP500", dt.date(2018, 2, 1), dt.date(2018, 12, 31)))
    ordered = sorted(closes)
    for day in days:
        anchors = day_anchors(day)
        if day not in closes:
            continue
        before = ordered[ordered.index(day) - 1]
        real.append(np.log(closes[day] / closes[before]))
        simulated.append(_factor(day, anchors, use_index=True))
        assert anchors["macro"]["index"]["source"] == "offline"
    assert len(real) >= 55
    assert np.corrcoef(simulated, real)[0, 1] > 0.9


def test_without_an_index_realized_volatility_follows_vix(history):
    days = business_day_range(START - dt.timedelta(days=40), DAYS + 20)
    anchors = {day: day_anchors(day) for day in days}
    returns = [_factor(day, anchors[day], use_index=False) for day in days]
    errors = []
    for k in range(20, len(days)):
        realized = np.std(returns[k - 19 : k + 1], ddof=1) * np.sqrt(252) * 100
        errors.append(abs(realized / anchors[days[k]]["vix"] - 1))
    assert np.mean(errors) < 0.25
    assert {anchors[d]["macro"]["vix"]["source"] for d in days} == {"offline"}
