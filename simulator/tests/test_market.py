"""The market: FRED-anchored, deterministic, paths that end on the close."""

from __future__ import annotations

import datetime as dt
import hashlib
import math

import numpy as np
import pytest
from django.db import transaction

from opssuite import pipeline
from simulator import market
from simulator.fred import fred_load
from simulator.models import Clock, FxQuote, MarketSnapshot, ModelClose, Price
from simulator.services import sim_universe_load

SEED = 20150102


def test_regimes_follow_the_documented_vix_thresholds():
    assert [market.regime_for_vix(v) for v in (11, 14.99, 15, 21.9, 22, 31.9, 32, 80)] == [
        "calm",
        "calm",
        "normal",
        "normal",
        "stressed",
        "stressed",
        "crisis",
        "crisis",
    ]


def test_a_bridge_ends_exactly_on_its_total():
    rng = np.random.default_rng(1)
    totals = np.array([0.01, -0.03, 0.0])
    path = market.bridge(totals, 26, np.array([0.002, 0.004, 0.001]), rng)
    assert path.shape == (26, 3)
    assert np.allclose(path.sum(axis=0), totals, atol=1e-15)


def _equity_day(seed, day=dt.date(2015, 3, 2), index_return=None, vix=20.0):
    n = 50
    return market.equity_day(
        seed=seed,
        sim_date=day,
        vix=vix,
        index_return=index_return,
        sector_index=np.arange(n) % 5,
        n_sectors=5,
        beta=np.linspace(0.5, 1.5, n),
        sector_beta=np.ones(n),
        idio_vol=np.full(n, 0.25),
        steps=26,
    )


def test_the_day_is_the_same_for_a_seed_and_differs_for_another():
    a, b, c = _equity_day(1), _equity_day(1), _equity_day(2)
    assert np.array_equal(a.increments, b.increments)
    assert not np.array_equal(a.increments, c.increments)
    assert np.allclose(a.increments.sum(axis=0), a.daily_returns)


def test_the_market_factor_is_the_real_index_return_when_known():
    day = _equity_day(1, index_return=-0.0184)
    assert day.market_return == -0.0184
    assert math.isclose(day.market_increments.sum(), -0.0184, abs_tol=1e-15)


def test_a_crisis_day_moves_single_names_more_than_a_calm_one():
    calm = np.std(_equity_day(3, vix=12).daily_returns)
    crisis = np.std(_equity_day(3, vix=45).daily_returns)
    assert crisis > 2 * calm


@pytest.fixture
def universe(db):  # noqa: ANN001
    sim_universe_load(seed=SEED, scale="demo", start_date=dt.date(2015, 1, 2))


def _run(ticks: int) -> None:
    for _ in range(ticks):
        result = pipeline.tick_advance(worker="test")
        assert result.outcome == "ran", result


def _price_hash() -> str:
    rows = Price.objects.order_by("tick", "instrument__ticker", "vendor").values_list(
        "tick", "instrument__ticker", "vendor", "price"
    )
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()


def test_same_seed_same_prices_byte_for_byte(universe):
    hashes = []
    for _ in range(2):
        with transaction.atomic():
            _run(30)
            hashes.append(_price_hash())
            transaction.set_rollback(True)
    assert hashes[0] == hashes[1]
    Clock.objects.filter(pk=1).update(seed=SEED + 1)
    with transaction.atomic():
        _run(30)
        assert _price_hash() != hashes[0]
        transaction.set_rollback(True)


def test_every_instrument_has_two_vendor_quotes_each_tick(universe):
    _run(3)
    per_tick = Price.objects.filter(tick=3)
    assert per_tick.filter(vendor="primary").count() == per_tick.filter(vendor="secondary").count()
    assert per_tick.filter(vendor="primary").count() == 84  # 60 equities + 24 bonds
    assert FxQuote.objects.filter(tick=3).count() == 12
    snapshot = MarketSnapshot.objects.get(tick=3)
    assert snapshot.regime in ("calm", "normal", "stressed", "crisis")


def test_the_next_day_starts_from_the_model_close(universe):
    _run(27)  # a full session, then the first tick of the next
    assert ModelClose.objects.filter(sim_date=dt.date(2015, 1, 2)).count() == 90
    snapshot = MarketSnapshot.objects.get(tick=27)
    assert snapshot.sim_date == dt.date(2015, 1, 5)


@pytest.mark.django_db
def test_with_the_shared_fred_data_the_curve_and_fx_are_fred_on_that_date(
    fred_data_dir, no_fred_key
):  # noqa: E501
    fred_load(csv_dir=fred_data_dir, start=dt.date(2014, 12, 1), end=dt.date(2015, 2, 28))
    sim_universe_load(seed=SEED, scale="demo", start_date=dt.date(2015, 1, 2))
    _run(26)
    day = dt.date(2015, 1, 2)
    snapshot = MarketSnapshot.objects.filter(sim_date=day).order_by("tick").first()
    fred = {}
    for line in (fred_data_dir / "DGS10.csv").read_text().splitlines()[1:]:
        date, value = line.split(",")
        fred[date] = value
    assert snapshot.curve["10.0"] == pytest.approx(float(fred["2015-01-02"]) / 100, abs=1e-12)
    assert snapshot.macro["curve"]["DGS10"]["source"] == "csv"
    eurusd = {}
    for line in (fred_data_dir / "DEXUSEU.csv").read_text().splitlines()[1:]:
        date, value = line.split(",")
        eurusd[date] = value
    close = ModelClose.objects.get(sim_date=day, instrument__ticker="EURUSD").price
    assert close == pytest.approx(float(eurusd["2015-01-02"]), abs=1e-12)
    last = FxQuote.objects.get(tick=26, pair__ticker="EURUSD", source="primary").rate
    assert float(last) == pytest.approx(float(eurusd["2015-01-02"]), abs=1e-5)


@pytest.mark.django_db
def test_a_days_ticks_add_up_to_the_real_index_return(fred_data_dir, no_fred_key):
    fred_load(
        csv_dir=fred_data_dir,
        series_ids=["SP500", "VIXCLS"],
        start=dt.date(2014, 12, 1),
        end=dt.date(2015, 1, 31),
    )  # noqa: E501
    sim_universe_load(seed=SEED, scale="demo", start_date=dt.date(2015, 1, 2))
    _run(26)
    closes = {}
    for line in (fred_data_dir / "SP500.csv").read_text().splitlines()[1:]:
        date, value = line.split(",")
        if value != ".":
            closes[date] = float(value)
    expected = math.log(closes["2015-01-02"] / closes["2014-12-31"])
    total = sum(
        MarketSnapshot.objects.filter(sim_date=dt.date(2015, 1, 2)).values_list(
            "market_return", flat=True
        )
    )  # noqa: E501
    assert total == pytest.approx(expected, abs=1e-12)
