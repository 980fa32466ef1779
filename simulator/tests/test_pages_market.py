"""The Market page (full and HTMX partial), its server-side charts, and the simulator's
admin: scenarios editable, the clock only through its actions."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from book import events
from book.models import Event
from opssuite import pipeline
from simulator import charts
from simulator.fred import fred_load
from simulator.models import Clock, MarketSnapshot, Price, Scenario
from simulator.services import sim_universe_load

SEED = 20150102


@pytest.fixture
def run(db, fred_data_dir, no_fred_key):
    """The first session and the start of the next, on the shared FRED history."""
    fred_load(csv_dir=fred_data_dir, start=dt.date(2014, 12, 1), end=dt.date(2015, 1, 31))
    sim_universe_load(seed=SEED, scale="demo", start_date=dt.date(2015, 1, 2))
    for _ in range(28):
        assert pipeline.tick_advance(worker="t").outcome == "ran"


def _html(client, path: str, *, htmx: bool = False) -> str:
    response = client.get(path, HTTP_HX_REQUEST="true") if htmx else client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


# --- the page ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_before_the_first_tick_the_page_says_there_is_no_market_yet(client, viewer):
    client.force_login(viewer)
    page = _html(client, "/market/")
    assert "No market yet" in page and "regime-none" in page
    assert "No prices yet" in page
    assert 'id="last-tick">0<' in page


def test_the_market_page_shows_regime_inputs_charts_and_prices(client, viewer, run):
    client.force_login(viewer)
    page = _html(client, "/market/")
    snapshot = MarketSnapshot.objects.get(tick=28)
    # The banner is coloured by the regime and says it.
    assert f'class="regime regime-{snapshot.regime}"' in page
    assert f'<strong id="regime">{snapshot.regime}</strong>' in page
    assert '<strong id="market-tick">28</strong>' in page
    # Each macro input with its FRED series, date and source.
    assert "<code>VIXCLS</code>" in page and "<code>DGS10</code>" in page
    assert "2015-01-05" in page and ">csv<" in page
    # Two inline SVG charts drawn on the server: today's curve over the previous close,
    # and VIX over the market.
    curve = page[page.index('id="curve-chart"') : page.index('id="market-chart"')]
    assert curve.count("<polyline") == 2 and "Previous session" in curve
    market = page[page.index('id="market-chart"') :]
    assert market.count("<polyline") >= 2
    assert "<script" not in page.split("</head>")[1]  # no chart library
    # A price row per instrument with both vendors and their difference in bp.
    rows = re.findall(r"<tr><td><strong>([^<]+)</strong>", page)
    assert len(rows) == Price.objects.filter(tick=28, vendor="primary").count()
    assert "Diff (bp)" in page


def test_the_market_partial_is_the_live_part_and_polls(client, viewer, run):
    client.force_login(viewer)
    partial = _html(client, "/market/", htmx=True)
    assert "<html" not in partial
    assert partial.lstrip().startswith('<div id="market-live" hx-get="/market/"')
    assert 'hx-trigger="every 5s"' in partial
    assert 'id="price-table"' in partial and 'id="macro-inputs"' in partial


def test_the_price_table_filters_by_asset_class(client, viewer, run):
    client.force_login(viewer)
    bonds = _html(client, "/market/?asset_class=govt_bond", htmx=True)
    table = bonds[bonds.index('id="price-table"') :]
    classes = set(re.findall(r"<td><small>(equity|govt_bond|corp_bond)</small></td>", table))
    assert classes == {"govt_bond"}


def test_only_an_admin_sees_the_clock_controls(client, viewer, admin_user, run):
    client.force_login(viewer)
    assert "Pause the clock" not in _html(client, "/market/")
    client.force_login(admin_user)
    assert "Pause the clock" in _html(client, "/market/")
    client.post("/market/clock/", {"running": "0"})
    assert "Resume the clock" in _html(client, "/market/")
    assert Clock.objects.get(pk=1).running is False


# --- the charts (no database) ------------------------------------------------------------


def test_nice_ticks_span_the_data_in_round_steps():
    assert charts.nice_ticks(0.2, 2.9) == [0.0, 1.0, 2.0, 3.0]
    assert charts.nice_ticks(17.1, 19.9) == [17.0, 18.0, 19.0, 20.0]
    flat = charts.nice_ticks(2.0, 2.0)
    assert flat[0] < 2.0 < flat[-1]


def test_a_chart_without_data_says_so():
    assert charts.curve_chart([]).empty
    assert charts.market_chart([]).empty


def test_the_curve_chart_places_tenors_on_a_square_root_axis():
    chart = charts.curve_chart([(0.25, 0.01), (1.0, 0.015), (30.0, 0.03)])
    (panel,) = chart.panels
    (line,) = panel.lines
    xs = [float(p.split(",")[0]) for p in line.path.split()]
    assert xs[0] == chart.left and xs[-1] == chart.right
    # sqrt(1) sits a twelfth of the way from sqrt(0.25) to sqrt(30): short end not crushed.
    assert (xs[1] - xs[0]) / (xs[2] - xs[0]) == pytest.approx(0.5 / (30**0.5 - 0.5), abs=1e-3)
    assert [d.title for d in line.dots] == ["Today: 1.00%", "Today: 1.50%", "Today: 3.00%"]


def test_the_market_chart_marks_each_session_on_the_x_axis():
    history = [
        {"sim_date": dt.date(2015, 1, 2 if i < 3 else 5), "vix": 18 + i, "market_return": 0.001}
        for i in range(5)
    ]
    chart = charts.market_chart(history)
    assert [t.label for t in chart.x_ticks] == ["02 Jan", "05 Jan"]
    assert [p.label for p in chart.panels] == ["VIX", "Market (rebased 100)"]


# --- the admin ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_admin_edits_a_scenario_and_bad_fault_rates_are_refused(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/simulator/scenario/add/",
        {"name": "noisy", "description": "", "fault_rates": '{"price_spike": 0.02}'},
    )
    assert response.status_code == 302
    assert Scenario.objects.get(name="noisy").fault_rates == {"price_spike": 0.02}
    refused = client.post(
        "/admin/simulator/scenario/add/",
        {"name": "bad", "description": "", "fault_rates": '{"meteor": 0.5, "price_spike": 2}'},
    )
    assert refused.status_code == 200
    body = refused.content.decode()
    assert "meteor: not a fault kind" in body and "price_spike: the rate must be" in body
    assert not Scenario.objects.filter(name="bad").exists()


@pytest.mark.django_db
def test_the_clock_admin_pauses_through_the_service(client, admin_user):
    client.force_login(admin_user)
    clock = Clock.objects.get_or_create(pk=1)[0]
    response = client.post(
        "/admin/simulator/clock/", {"action": "pause", "_selected_action": [clock.pk]}
    )
    assert response.status_code == 302
    assert Clock.objects.get(pk=1).running is False
    assert Event.objects.filter(kind=events.CLOCK_PAUSED, actor=admin_user.username).exists()
