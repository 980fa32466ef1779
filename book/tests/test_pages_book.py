"""The book's pages (Trades blotter, one trade, Positions; full and HTMX partial) and its
admin, over a real simulator run."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.admin.sites import site
from django.test import RequestFactory

from book import events
from book.models import Broker, Event, Instrument, Mandate, Trade, Trader, TradeVersion
from book.services import trade_amend, trade_book
from opssuite import pipeline
from simulator.services import sim_universe_load

pytestmark = pytest.mark.django_db

D = Decimal
FRIDAY = dt.datetime(2015, 1, 2, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def run():
    sim_universe_load(seed=20150102, scale="demo", start_date=dt.date(2015, 1, 2))
    for _ in range(2):
        assert pipeline.tick_advance(worker="t").outcome == "ran"


@pytest.fixture
def manual(run, operator) -> Trade:
    """A trade booked by hand and amended once, by an operator."""
    equity = Instrument.objects.filter(asset_class="equity", currency="USD").order_by("ticker")[0]
    trade = trade_book(
        actor=operator,
        mandate_id=Mandate.objects.get(code="GEQ").pk,
        instrument_id=equity.pk,
        side="buy",
        quantity=D("1200"),
        price=D("25.5"),
        trade_time=FRIDAY,
        broker_id=Broker.objects.get(code="GSCO").pk,
        trader_id=Trader.objects.order_by("code").first().pk,
    )
    return trade_amend(
        trade_id=trade.trade_id,
        changes={"quantity": D("1000")},
        reason="broker confirmed 1,000",
        actor=operator,
    )


def _html(client, path: str, *, htmx: bool = False) -> str:
    response = client.get(path, HTTP_HX_REQUEST="true") if htmx else client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


# --- pages with no data ------------------------------------------------------------------


def test_the_book_pages_render_before_anything_is_loaded(client, viewer):
    client.force_login(viewer)
    assert "No trades match." in _html(client, "/trades/")
    assert "No mandates yet" in _html(client, "/positions/")


# --- the blotter -------------------------------------------------------------------------


def test_the_blotter_lists_trades_linking_to_their_pages(client, viewer, manual):
    client.force_login(viewer)
    page = _html(client, "/trades/")
    assert "<html" in page and 'id="trade-filter"' in page
    assert f'href="/trades/{manual.trade_id}/"' in page
    assert Trade.objects.filter(source="simulator").first().trade_id in page


def test_the_blotter_partial_is_the_rows_alone_and_keeps_the_filters(client, viewer, manual):
    client.force_login(viewer)
    partial = _html(client, "/trades/?source=manual&mandate=GEQ", htmx=True)
    assert "<html" not in partial and 'id="trade-filter"' not in partial
    assert partial.startswith('<div id="trade-rows"')
    assert 'hx-get="/trades/?source=manual&amp;mandate=GEQ"' in partial
    assert manual.trade_id in partial
    assert "1 trade matches." in partial


def test_the_blotter_filters_by_mandate_instrument_status_and_date(client, viewer, manual):
    client.force_login(viewer)
    ticker = manual.instrument.ticker
    assert manual.trade_id in _html(client, f"/trades/?instrument={ticker}&mandate=GEQ")
    assert manual.trade_id not in _html(client, f"/trades/?instrument={ticker}&mandate=BAL")
    assert manual.trade_id in _html(client, "/trades/?status=amended")
    assert manual.trade_id not in _html(client, "/trades/?status=executed")
    assert manual.trade_id not in _html(client, "/trades/?trade_date_from=2015-01-05")
    assert manual.trade_id in _html(client, "/trades/?trade_date_to=2015-01-02&source=manual")


def test_a_bad_blotter_filter_says_what_is_wrong(client, viewer, manual):
    client.force_login(viewer)
    page = _html(client, "/trades/?instrument=NOPE")
    assert "instrument: unknown instrument NOPE" in page
    assert manual.trade_id not in page


# --- one trade ---------------------------------------------------------------------------


def test_the_trade_page_shows_terms_versions_with_reason_and_actor_and_events(
    client, viewer, operator, manual
):
    client.force_login(viewer)
    page = _html(client, f"/trades/{manual.trade_id}/")
    assert f"<h2>{manual.trade_id}</h2>" in page
    assert "GEQ buys 1,000" in page and "25.50" in page
    assert "broker confirmed 1,000" in page and operator.username in page
    assert "1,200 → 1,000" in page  # what version 2 changed
    assert events.TRADE_BOOKED in page and events.TRADE_AMENDED in page
    assert 'id="amend-form"' not in page  # a viewer gets no change forms


def test_the_trade_page_partial_is_its_live_part(client, viewer, manual):
    client.force_login(viewer)
    partial = _html(client, f"/trades/{manual.trade_id}/", htmx=True)
    assert "<html" not in partial and partial.startswith('<div id="trade-live"')
    assert 'id="version-table"' in partial and 'id="trade-events"' in partial


def test_a_poll_of_an_unchanged_trade_swaps_nothing(client, operator, manual):
    client.force_login(operator)
    page = _html(client, f"/trades/{manual.trade_id}/")
    polled = re.search(r'id="trade-live" hx-get="([^"]+)"', page).group(1)
    # WHEN nothing happened to the trade, THEN the poll is a 204 and HTMX keeps the page
    assert client.get(polled, HTTP_HX_REQUEST="true").status_code == 204
    # WHEN it changes, THEN the same poll brings the new version
    trade_amend(trade_id=manual.trade_id, changes={"price": D("26")}, reason="re-priced")
    fresh = client.get(polled, HTTP_HX_REQUEST="true")
    assert fresh.status_code == 200 and "re-priced" in fresh.content.decode()


def test_an_unknown_trade_page_is_a_404(client, viewer, run):
    client.force_login(viewer)
    assert client.get("/trades/T-999999/").status_code == 404


def test_an_operator_amends_and_cancels_from_the_trade_page(client, operator, manual):
    client.force_login(operator)
    page = _html(client, f"/trades/{manual.trade_id}/")
    assert 'id="amend-form"' in page and 'id="cancel-form"' in page
    response = client.post(
        f"/trades/{manual.trade_id}/amend/", {"price": "25.75", "reason": "broker's price"}
    )
    assert response.status_code == 302
    assert Trade.objects.get(pk=manual.pk).price == D("25.75")
    response = client.post(f"/trades/{manual.trade_id}/cancel/", {"reason": "wrong account"})
    assert response.status_code == 302
    versions = list(TradeVersion.objects.filter(trade=manual).order_by("version"))
    assert [(v.status, v.reason, v.actor) for v in versions[2:]] == [
        ("amended", "broker's price", operator.username),
        ("cancelled", "wrong account", operator.username),
    ]
    page = _html(client, f"/trades/{manual.trade_id}/")
    assert 'id="cancel-form"' not in page  # nothing left to change


def test_a_bad_amendment_on_the_page_is_refused_with_the_reason(client, operator, manual):
    client.force_login(operator)
    response = client.post(f"/trades/{manual.trade_id}/amend/", {"quantity": "-5", "reason": "x"})
    assert response.status_code == 400
    assert "must be a positive decimal" in response.content.decode()
    response = client.post(f"/trades/{manual.trade_id}/cancel/", {"reason": ""})
    assert response.status_code == 400
    assert Trade.objects.get(pk=manual.pk).version == 2


def test_a_viewer_cannot_change_a_trade_from_the_page(client, viewer, manual):
    client.force_login(viewer)
    assert client.post(f"/trades/{manual.trade_id}/cancel/", {"reason": "x"}).status_code == 403
    assert Trade.objects.get(pk=manual.pk).status == "amended"


# --- positions ---------------------------------------------------------------------------


def test_positions_by_mandate_with_prices_cash_and_a_partial(client, viewer, manual):
    client.force_login(viewer)
    page = _html(client, "/positions/?mandate=GEQ")
    assert 'aria-current="page" title="Global Equity Core">GEQ' in page
    assert manual.instrument.ticker in page
    assert 'id="cash-table"' in page and "USD" in page
    assert "Unrealized P&amp;L" in page
    partial = _html(client, "/positions/?mandate=GEQ", htmx=True)
    assert "<html" not in partial and partial.startswith('<div id="positions-live"')
    assert manual.instrument.ticker in partial


def test_positions_as_of_a_date_before_any_trade_are_empty(client, viewer, manual):
    client.force_login(viewer)
    page = _html(client, "/positions/?mandate=GEQ&as_of=2014-12-31")
    assert "Positions as of 2014-12-31" in page and "No positions on 2014-12-31." in page
    page = _html(client, "/positions/?mandate=GEQ&as_of=2015-01-02")
    assert manual.instrument.ticker in page


def test_positions_say_what_is_wrong_with_a_bad_query(client, viewer, run):
    client.force_login(viewer)
    assert "No mandate NOPE." in _html(client, "/positions/?mandate=NOPE")
    assert "is not a date" in _html(client, "/positions/?as_of=31/12/2014")


# --- the admin ---------------------------------------------------------------------------

READ_ONLY = {
    "book.event",
    "book.tradeversion",
    "book.lotrelief",
    "book.trade",
    "simulator.injectedfault",
    "simulator.price",
    "simulator.fxquote",
    "simulator.marketsnapshot",
    "simulator.modelclose",
    "simulator.fredobservation",
}


def test_every_book_and_simulator_model_is_in_the_admin():
    for app in ("book", "simulator"):
        for model in apps.get_app_config(app).get_models():
            assert model in site._registry, model._meta.label


@pytest.mark.parametrize("label", sorted(READ_ONLY))
def test_records_of_what_happened_are_read_only_in_the_admin(admin_user, label):
    model = apps.get_model(label)
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    model_admin = site._registry[model]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, None)
    assert not model_admin.has_delete_permission(request, None)


def test_every_admin_list_renders_with_data(client, admin_user, manual):
    client.force_login(admin_user)
    for app in ("book", "simulator"):
        for model in apps.get_app_config(app).get_models():
            meta = model._meta
            response = client.get(f"/admin/{meta.app_label}/{meta.model_name}/?q=a")
            assert response.status_code == 200, meta.label


def test_the_trade_admin_cancels_through_the_service_with_a_reason(client, admin_user, manual):
    client.force_login(admin_user)
    url = "/admin/book/trade/"
    asked = client.post(url, {"action": "_cancel_trades", "_selected_action": [manual.pk]})
    assert asked.status_code == 200 and b"Cancel these trades" in asked.content
    done = client.post(
        url,
        {
            "action": "_cancel_trades",
            "_selected_action": [manual.pk],
            "apply": "1",
            "reason": "cancelled from the admin",
        },
    )
    assert done.status_code == 302
    assert Trade.objects.get(pk=manual.pk).status == "cancelled"
    cancelled = Event.objects.get(trade_id=manual.trade_id, kind=events.TRADE_CANCELLED)
    assert (cancelled.actor, cancelled.payload["reason"]) == (
        admin_user.username,
        "cancelled from the admin",
    )


def test_numbers_read_as_stored_less_trailing_zeros_never_rounded():
    from opssuite.templatetags.opsformat import num, payload_summary

    assert num(D("25.50000000")) == "25.50"
    assert num(D("0.12345678")) == "0.12345678"
    assert num(D("1000.000000"), 0) == "1,000"
    assert num(D("-1234.5")) == "-1,234.50"
    assert num(D("-0.0000")) == "0.00"
    assert num("1200.000000", 0) == "1,200"  # terms are stored as strings
    assert (num("GSCO"), num("2015-01-02"), num(None)) == ("GSCO", "2015-01-02", "")
    summary = payload_summary({"reason": "dup", "before": {"quantity": "1"}})
    assert summary == "reason=dup · before {…}"
