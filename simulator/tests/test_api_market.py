"""GET /api/market/context and /api/market/prices: what an API client reads of the market."""

from __future__ import annotations

import datetime as dt

import pytest

from opssuite import pipeline
from simulator.fred import fred_load
from simulator.models import FxQuote, MarketSnapshot, Price
from simulator.services import sim_universe_load

pytestmark = pytest.mark.django_db

SEED = 20150102
FIRST_SESSION = dt.date(2015, 1, 2)


def _run(ticks: int) -> None:
    for _ in range(ticks):
        assert pipeline.tick_advance(worker="t").outcome == "ran"


@pytest.fixture
def universe():
    sim_universe_load(seed=SEED, scale="demo", start_date=FIRST_SESSION)


@pytest.fixture
def reader(api_client, viewer):
    api_client.force_authenticate(viewer)
    return api_client


# --- context -----------------------------------------------------------------------------


def test_before_the_first_tick_the_context_is_the_clock_and_nulls(reader):
    body = reader.get("/api/market/context").json()
    assert body["clock"]["last_tick"] == 0
    assert body["tick"] is None and body["regime"] is None and body["vix"] is None
    assert body["macro"] == [] and body["curve"] == [] and body["fx"] == []


def test_the_context_names_each_fred_input_with_its_series_date_and_source(
    reader, universe, fred_data_dir, no_fred_key
):
    # GIVEN the shared FRED history loaded from CSV and a few ticks of the first session
    fred_load(csv_dir=fred_data_dir, start=dt.date(2014, 12, 1), end=dt.date(2015, 1, 31))
    _run(3)
    # WHEN a client reads the context
    body = reader.get("/api/market/context").json()
    # THEN it is the latest tick's market, with every input traceable to FRED
    snapshot = MarketSnapshot.objects.get(tick=3)
    assert body["tick"] == 3 and body["clock"]["last_tick"] == 3
    assert body["sim_date"] == "2015-01-02"
    assert body["regime"] == snapshot.regime
    assert float(body["vix"]) == pytest.approx(float(snapshot.vix))
    by_series = {m["series"]: m for m in body["macro"] if m["series"]}
    assert by_series["VIXCLS"]["date"] == "2015-01-02"
    assert by_series["VIXCLS"]["source"] == "csv"
    assert by_series["VIXCLS"]["unit"] == "index"
    assert by_series["DGS10"]["input"] == "curve"
    assert by_series["DGS10"]["unit"] == "percent"
    assert by_series["DEXUSEU"]["input"] == "fx"
    assert body["curve_source"] == "fred"
    ten_year = next(p for p in body["curve"] if p["label"] == "10Y")
    assert ten_year["tenor"] == 10.0
    assert ten_year["par_yield"] == pytest.approx(by_series["DGS10"]["value"] / 100, abs=1e-12)
    assert [p["tenor"] for p in body["curve"]] == sorted(p["tenor"] for p in body["curve"])
    eurusd = next(f for f in body["fx"] if f["pair"] == "EURUSD")
    stored = FxQuote.objects.get(tick=3, pair__ticker="EURUSD", source="primary")
    assert float(eurusd["quotes"]["primary"]["rate"]) == pytest.approx(float(stored.rate))
    assert eurusd["quotes"]["primary"]["tick"] == 3
    assert eurusd["quotes"]["secondary"]["tick"] == 3
    assert eurusd["fixing"]["series"] == "DEXUSEU"


def test_without_fred_the_defaults_say_so(reader, universe, no_fred_key):
    _run(1)
    body = reader.get("/api/market/context").json()
    vix = next(m for m in body["macro"] if m["input"] == "vix")
    assert (vix["source"], vix["series"], vix["date"]) == ("default", None, None)
    credit = next(m for m in body["macro"] if m["input"] == "credit")
    assert (credit["source"], credit["unit"]) == ("default", "fraction")
    assert body["curve_source"] == "default"


# --- prices ------------------------------------------------------------------------------


@pytest.fixture
def priced(universe):
    _run(3)
    return Price.objects.filter(tick=3, vendor="primary").select_related("instrument").first()


def test_prices_filter_by_instrument_vendor_and_since_a_tick(reader, priced):
    ticker = priced.instrument.ticker
    body = reader.get(f"/api/market/prices?instrument={ticker}").json()
    assert body["count"] == 6  # 3 ticks x 2 vendors
    assert {r["instrument"] for r in body["results"]} == {ticker}
    assert [r["tick"] for r in body["results"]] == [3, 3, 2, 2, 1, 1]  # newest first
    primary = reader.get(f"/api/market/prices?instrument={ticker}&vendor=primary").json()
    assert {r["vendor"] for r in primary["results"]} == {"primary"}
    recent = reader.get(f"/api/market/prices?instrument={ticker}&since=2").json()
    assert {r["tick"] for r in recent["results"]} == {2, 3}
    assert recent["results"][0]["price"] is not None


def test_prices_since_an_iso_sim_time(reader, priced):
    tick_two = MarketSnapshot.objects.get(tick=2).sim_time.isoformat()
    ticker = priced.instrument.ticker
    response = reader.get("/api/market/prices", {"instrument": ticker, "since": tick_two})
    assert {r["tick"] for r in response.json()["results"]} == {2, 3}
    # An unescaped "+00:00" arrives as " 00:00": still understood.
    spaced = reader.get(f"/api/market/prices?instrument={ticker}&since={tick_two}")
    assert spaced.status_code == 200, spaced.json()
    assert {r["tick"] for r in spaced.json()["results"]} == {2, 3}


@pytest.mark.parametrize(
    "query, field",
    [
        ("instrument=NOPE", "instrument"),
        ("vendor=tertiary", "vendor"),
        ("since=yesterday", "since"),
        ("since=2015-01-02T15:00:00", "since"),  # no offset: ambiguous
        ("ticker=ABC", "ticker"),  # not a parameter of this list
        ("page_size=0", "page_size"),
    ],
)
def test_bad_price_queries_are_a_400_naming_the_parameter(reader, priced, query, field):
    response = reader.get(f"/api/market/prices?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in body["detail"]


def test_an_unknown_ticker_says_which(reader, priced):
    body = reader.get("/api/market/prices?instrument=NOPE").json()
    assert body["detail"]["instrument"] == ["unknown instrument NOPE"]


def test_the_price_list_costs_the_same_queries_however_long_the_page(
    reader, priced, django_assert_max_num_queries
):
    with django_assert_max_num_queries(4):  # auth, count, page
        body = reader.get("/api/market/prices?page_size=500").json()
    assert len(body["results"]) == 500


def test_the_market_needs_a_signed_in_user(api_client):
    assert api_client.get("/api/market/context").status_code in (401, 403)
    assert api_client.get("/api/market/prices").status_code in (401, 403)
