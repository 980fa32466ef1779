"""The book's API: instruments, mandates, trades (list, detail, booking by hand, cancel,
amend) and positions, over a real simulator run."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from book import events
from book.models import (
    Broker,
    CashBalance,
    Event,
    Instrument,
    Mandate,
    Position,
    Trade,
    Trader,
    TradeVersion,
)
from book.selectors import market_value
from book.services import (
    TradeRequest,
    settlements_process,
    trade_book,
    trade_cancel,
    trades_book,
)
from opssuite import pipeline
from simulator.models import Clock, Price
from simulator.services import sim_universe_load

pytestmark = pytest.mark.django_db

D = Decimal
# Friday 2 January 2015 is the first session; Monday 5 January the next. 15:00 UTC is
# 10:00 in New York.
FRIDAY = dt.datetime(2015, 1, 2, 15, 0, tzinfo=dt.UTC)
MONDAY = dt.datetime(2015, 1, 5, 15, 0, tzinfo=dt.UTC)
SATURDAY = dt.datetime(2015, 1, 3, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def run():
    """The demo universe after two ticks: prices, positions and simulator trades exist."""
    sim_universe_load(seed=20150102, scale="demo", start_date=dt.date(2015, 1, 2))
    for _ in range(2):
        assert pipeline.tick_advance(worker="t").outcome == "ran"


@pytest.fixture
def equity(run) -> Instrument:
    # One the simulator has not traded for GEQ, so positions are ours alone.
    traded = Trade.objects.filter(mandate__code="GEQ").values("instrument")
    return (
        Instrument.objects.filter(asset_class="equity", currency="USD", sim__isnull=False)
        .exclude(pk__in=traded)
        .order_by("ticker")
        .first()
    )


def book(equity, *, side="buy", quantity="100", price="10", when=FRIDAY, mandate="GEQ"):
    return trade_book(
        mandate_id=Mandate.objects.get(code=mandate).pk,
        instrument_id=equity.pk,
        side=side,
        quantity=D(quantity),
        price=D(price),
        trade_time=when,
        broker_id=Broker.objects.get(code="GSCO").pk,
        trader_id=Trader.objects.order_by("code").first().pk,
        source="manual",
    )


@pytest.fixture
def reader(api_client, viewer):
    api_client.force_authenticate(viewer)
    return api_client


@pytest.fixture
def writer(api_client, operator):
    api_client.force_authenticate(operator)
    return api_client


def _ticket(equity, **changes):
    return {
        "mandate": "GEQ",
        "instrument": equity.ticker,
        "side": "buy",
        "quantity": "250",
        "price": "41.25",
        "trade_time": "2015-01-02T14:50:00Z",  # before the sim time of tick 2 (15:00)
        "broker": "GSCO",
        "trader": Trader.objects.order_by("code").first().code,
        **changes,
    }


# --- reference data ----------------------------------------------------------------------


def test_instruments_filter_by_class_currency_sector_and_search(reader, run):
    bonds = reader.get("/api/book/instruments?asset_class=govt_bond&page_size=500").json()
    assert bonds["count"] == Instrument.objects.filter(asset_class="govt_bond").count() > 0
    bond = bonds["results"][0]
    assert bond["bond_terms"]["maturity_date"] and bond["bond_terms"]["coupon_rate"]
    chf = reader.get("/api/book/instruments?currency=CHF&asset_class=equity").json()
    assert chf["count"] > 0
    assert {(i["currency"], i["bond_terms"]) for i in chf["results"]} == {("CHF", None)}
    some = Instrument.objects.filter(asset_class="equity").exclude(sector="").first()
    sector = reader.get(f"/api/book/instruments?sector={some.sector.upper()}").json()
    assert some.ticker in {i["ticker"] for i in sector["results"]}
    by_isin = reader.get(f"/api/book/instruments?search={some.isin[-6:]}").json()
    assert [i["ticker"] for i in by_isin["results"]] == [some.ticker]
    fx = reader.get("/api/book/instruments?search=EURUSD").json()["results"][0]
    assert (fx["asset_class"], fx["base_currency"], fx["currency"]) == ("fx", "EUR", "USD")


def test_a_bond_is_found_by_its_ticker_with_spaces_and_slashes(reader, run):
    bond = Instrument.objects.filter(asset_class="govt_bond").first()
    response = reader.get(f"/api/book/instruments/{bond.ticker}")
    assert response.status_code == 200
    assert response.json()["isin"] == bond.isin


def test_an_unknown_currency_is_a_400_naming_it(reader, run):
    response = reader.get("/api/book/instruments?currency=XXX")
    assert response.status_code == 400
    assert response.json()["detail"] == {"currency": ["unknown currency XXX"]}


def test_mandates_carry_benchmark_custody_units_and_cash(reader, run):
    body = reader.get("/api/book/mandates?page_size=50").json()
    geq = next(m for m in body["results"] if m["code"] == "GEQ")
    mandate = Mandate.objects.get(code="GEQ")
    assert geq["custody_account"]["code"] == mandate.custody_account.code
    assert geq["custody_account"]["custodian"] == mandate.custody_account.custodian.code
    assert D(geq["units_outstanding"]) == mandate.units_outstanding > 0
    assert sum(D(line["weight"]) for line in geq["benchmark"]) == pytest.approx(D(1))
    usd = next(c for c in geq["cash_balances"] if c["currency"] == "USD")
    stored = CashBalance.objects.get(mandate=mandate, currency="USD")
    assert (D(usd["settled"]), D(usd["projected"])) == (stored.settled, stored.projected)


def test_the_mandate_list_costs_the_same_queries_for_every_mandate(
    reader, run, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):  # role, count, mandates, benchmark, cash
        body = reader.get("/api/book/mandates").json()
    assert body["count"] == 5


# --- trades: reading ---------------------------------------------------------------------


def test_the_blotter_filters_by_mandate_instrument_status_dates_id_and_source(reader, equity):
    friday = book(equity, when=FRIDAY)
    monday = book(equity, when=MONDAY, side="sell", quantity="40")
    other = book(equity, when=MONDAY, mandate="BAL")

    def ids(query: str) -> set[str]:
        response = reader.get(f"/api/book/trades?page_size=500&{query}")
        assert response.status_code == 200, response.json()
        return {t["trade_id"] for t in response.json()["results"]}

    mine = {friday.trade_id, monday.trade_id, other.trade_id}
    assert ids(f"instrument={equity.ticker}") == mine
    assert ids("source=manual") == mine
    assert ids(f"instrument={equity.ticker}&mandate=GEQ") == {friday.trade_id, monday.trade_id}
    assert ids(f"instrument={equity.ticker}&trade_date_from=2015-01-05") == {
        monday.trade_id,
        other.trade_id,
    }
    assert ids(f"instrument={equity.ticker}&trade_date_to=2015-01-02") == {friday.trade_id}
    assert ids(f"trade_id={monday.trade_id}") == {monday.trade_id}
    assert ids("source=manual&side=sell") == {monday.trade_id}
    assert ids("source=manual&status=executed") == mine
    assert ids("source=manual&status=cancelled") == set()
    assert len(ids("source=simulator")) > 0


@pytest.mark.parametrize(
    "query, field",
    [
        ("instrument=NOPE", "instrument"),
        ("mandate=NOPE", "mandate"),
        ("status=lost", "status"),
        ("trade_date_from=02/01/2015", "trade_date_from"),
        ("trade_date=2015-01-02", "trade_date"),  # the parameters are _from and _to
    ],
)
def test_a_bad_blotter_query_is_a_400_naming_the_parameter(reader, run, query, field):
    response = reader.get(f"/api/book/trades?{query}")
    assert response.status_code == 400
    assert field in response.json()["detail"]


def test_the_blotter_costs_the_same_queries_however_many_trades(
    reader, equity, django_assert_max_num_queries
):
    # GIVEN the simulator's first trades and forty more booked by hand
    trades_book(
        [
            TradeRequest(
                mandate_id=mandate.pk,
                instrument_id=equity.pk,
                side="buy",
                quantity=D(10 + n),
                price=D("10"),
                trade_time=FRIDAY,
                broker_id=Broker.objects.get(code="GSCO").pk,
                trader_id=Trader.objects.order_by("code").first().pk,
            )
            for n in range(8)
            for mandate in Mandate.objects.all()
        ]
    )
    assert Trade.objects.count() >= 50
    # WHEN a client reads a full page, THEN the queries do not grow with the rows
    with django_assert_max_num_queries(3):  # role, count, the page (all joins in one)
        body = reader.get("/api/book/trades?page_size=500").json()
    assert len(body["results"]) == min(500, Trade.objects.count())
    assert {"mandate", "instrument", "broker", "trader", "order_id"} <= set(body["results"][0])


def test_one_trade_with_its_versions_and_events(writer, equity):
    trade = book(equity)
    writer.post(
        f"/api/book/trades/{trade.trade_id}/amend",
        {"price": "10.25", "reason": "broker's price"},
        format="json",
    )
    body = writer.get(f"/api/book/trades/{trade.trade_id}").json()
    assert [v["version"] for v in body["versions"]] == [1, 2]
    assert body["versions"][1]["reason"] == "broker's price"
    assert body["versions"][1]["terms"]["price"] == "10.25000000"
    assert [e["kind"] for e in body["events"]] == [events.TRADE_BOOKED, events.TRADE_AMENDED]


def test_an_unknown_trade_is_a_404(reader, run):
    response = reader.get("/api/book/trades/T-999999")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


# --- trades: booking by hand -------------------------------------------------------------


def test_an_operator_books_a_trade_by_hand(writer, operator, equity):
    response = writer.post("/api/book/trades", _ticket(equity), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    trade = Trade.objects.get(trade_id=body["trade_id"])
    assert (trade.source, trade.status, trade.side) == ("manual", "executed", "buy")
    assert (trade.quantity, trade.price) == (D("250"), D("41.25"))
    assert trade.settlement_date == dt.date(2015, 1, 7)  # T+3 in 2015
    assert body["versions"][0]["actor"] == operator.username
    booked = Event.objects.get(trade_id=trade.trade_id, kind=events.TRADE_BOOKED)
    assert (booked.actor, booked.actor_user_id) == (operator.username, operator.pk)
    position = Position.objects.get(mandate__code="GEQ", instrument=equity)
    assert position.quantity == D("250")


def test_optional_costs_and_settlement_date_are_taken(writer, equity):
    ticket = _ticket(equity, commission="1.50", fees="0.25", settlement_date="2015-01-09")
    body = writer.post("/api/book/trades", ticket, format="json").json()
    assert (D(body["commission"]), D(body["fees"])) == (D("1.50"), D("0.25"))
    assert body["settlement_date"] == "2015-01-09"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"instrument": "NOPE"}, "instrument"),
        ({"mandate": "NOPE"}, "mandate"),
        ({"broker": "NOPE"}, "broker"),
        ({"quantity": "-5"}, "quantity"),
        ({"quantity": "0"}, "quantity"),
        ({"price": "abc"}, "price"),
        ({"side": "short"}, "side"),
        ({"settlement_date": "2015-01-01"}, "settlement_date"),  # before the trade date
        ({"trade_time": "2014-12-27T15:00:00Z"}, "trade_time"),  # a Saturday
        ({"trade_time": "2015-01-02T15:00:00"}, "trade_time"),  # no UTC offset
        ({"commission": "-1"}, "commission"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_books_nothing(writer, equity, changes, field):
    before = Trade.objects.count()
    response = writer.post("/api/book/trades", _ticket(equity, **changes), format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["error"] == "validation_error"
    assert list(body["detail"]) == [field], body
    assert Trade.objects.count() == before


def test_a_missing_field_is_named(writer, equity):
    ticket = _ticket(equity)
    del ticket["trader"]
    response = writer.post("/api/book/trades", ticket, format="json")
    assert response.status_code == 400
    assert "trader" in response.json()["detail"]


def test_the_refusals_say_why(writer, equity):
    detail = writer.post(
        "/api/book/trades", _ticket(equity, trade_time="2014-12-27T15:00:00Z"), format="json"
    ).json()["detail"]
    assert detail["trade_time"] == ["2014-12-27 is not a business day"]
    detail = writer.post(
        "/api/book/trades", _ticket(equity, instrument="NOPE"), format="json"
    ).json()["detail"]
    assert detail["instrument"] == ["unknown instrument NOPE"]


def test_a_trade_without_a_time_is_booked_at_the_current_sim_time_and_tick(writer, equity):
    # GIVEN the clock after two ticks (15:00 UTC on the first session)
    clock = Clock.objects.get()
    ticket = _ticket(equity)
    del ticket["trade_time"]
    # WHEN an operator books a trade without a time
    response = writer.post("/api/book/trades", ticket, format="json")
    # THEN it carries the clock's sim time and tick, as do its version and event
    assert response.status_code == 201, response.json()
    trade = Trade.objects.get(trade_id=response.json()["trade_id"])
    assert (
        (trade.trade_time, trade.tick)
        == (clock.last_tick_sim_time, clock.last_tick)
        == (
            dt.datetime(2015, 1, 2, 15, 0, tzinfo=dt.UTC),
            2,
        )
    )
    version = TradeVersion.objects.get(trade=trade)
    assert (version.tick, version.sim_time) == (2, clock.last_tick_sim_time)
    booked = Event.objects.get(trade_id=trade.trade_id, kind=events.TRADE_BOOKED)
    assert (booked.tick, booked.sim_time) == (2, clock.last_tick_sim_time)


def test_an_earlier_trade_time_is_kept_and_booked_at_the_current_tick(writer, equity):
    response = writer.post("/api/book/trades", _ticket(equity), format="json")
    trade = Trade.objects.get(trade_id=response.json()["trade_id"])
    assert trade.trade_time == dt.datetime(2015, 1, 2, 14, 50, tzinfo=dt.UTC)
    assert trade.tick == 2
    assert TradeVersion.objects.get(trade=trade).sim_time == Clock.objects.get().last_tick_sim_time


def test_a_trade_time_after_the_current_sim_time_is_a_400_naming_it(writer, equity):
    # 15:00:01 UTC is one second after the sim time of the last tick.
    response = writer.post(
        "/api/book/trades", _ticket(equity, trade_time="2015-01-02T15:00:01Z"), format="json"
    )
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["error"] == "validation_error"
    assert list(body["detail"]) == ["trade_time"]
    assert "after the current sim time" in body["detail"]["trade_time"][0]
    assert not Trade.objects.filter(source="manual").exists()


def test_before_the_first_tick_a_trade_needs_a_time(writer, db):
    sim_universe_load(seed=20150102, scale="demo", start_date=dt.date(2015, 1, 2))
    equity = Instrument.objects.filter(asset_class="equity", currency="USD").first()
    ticket = _ticket(equity)
    del ticket["trade_time"]
    response = writer.post("/api/book/trades", ticket, format="json")
    assert response.status_code == 400
    assert "clock has not run" in response.json()["detail"]["trade_time"][0]
    given = writer.post("/api/book/trades", _ticket(equity), format="json")
    assert given.status_code == 201, given.json()
    assert given.json()["tick"] is None


def test_cancel_and_amend_record_the_current_tick_and_sim_time(writer, equity):
    # GIVEN a trade booked at tick 2, and the clock moved on a tick
    amended, cancelled = book(equity), book(equity, quantity="50")
    assert pipeline.tick_advance(worker="t").outcome == "ran"
    now = Clock.objects.get()
    # WHEN an operator amends one and cancels the other
    writer.post(
        f"/api/book/trades/{amended.trade_id}/amend",
        {"price": "10.5", "reason": "broker's price"},
        format="json",
    )
    writer.post(f"/api/book/trades/{cancelled.trade_id}/cancel", {"reason": "dup"}, format="json")
    # THEN their new versions and events carry the tick and sim time of the change
    for trade, kind in ((amended, events.TRADE_AMENDED), (cancelled, events.TRADE_CANCELLED)):
        version = TradeVersion.objects.get(trade=trade, version=2)
        assert (version.tick, version.sim_time) == (3, now.last_tick_sim_time)
        event = Event.objects.get(trade_id=trade.trade_id, kind=kind)
        assert (event.tick, event.sim_time) == (3, now.last_tick_sim_time)
    body = writer.get(f"/api/book/trades/{amended.trade_id}").json()
    assert body["versions"][1]["tick"] == 3
    assert body["versions"][1]["sim_time"] == "2015-01-02T15:15:00Z"


def test_an_amendment_to_a_trade_time_after_the_sim_time_is_a_400(writer, equity):
    trade = book(equity)
    response = writer.post(
        f"/api/book/trades/{trade.trade_id}/amend",
        {"trade_time": "2015-01-02T20:00:00Z", "reason": "later"},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert list(response.json()["detail"]) == ["trade_time"]
    assert Trade.objects.get(pk=trade.pk).version == 1


def test_a_viewer_may_not_book_cancel_or_amend(reader, equity):
    trade = book(equity)
    for path, body in [
        ("/api/book/trades", _ticket(equity)),
        (f"/api/book/trades/{trade.trade_id}/cancel", {"reason": "no"}),
        (f"/api/book/trades/{trade.trade_id}/amend", {"price": "11", "reason": "no"}),
    ]:
        response = reader.post(path, body, format="json")
        assert response.status_code == 403, path
        assert response.json()["error"] == "permission_denied"
    assert Trade.objects.get(pk=trade.pk).version == 1


# --- trades: cancel and amend ------------------------------------------------------------


def test_an_operator_cancels_a_trade_and_the_position_unwinds(writer, operator, equity):
    trade = book(equity, quantity="300")
    response = writer.post(
        f"/api/book/trades/{trade.trade_id}/cancel", {"reason": "booked twice"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    version = TradeVersion.objects.get(trade=trade, version=2)
    assert (version.status, version.reason, version.actor) == (
        "cancelled",
        "booked twice",
        operator.username,
    )
    cancelled = Event.objects.get(trade_id=trade.trade_id, kind=events.TRADE_CANCELLED)
    assert cancelled.actor == operator.username
    assert not Position.objects.filter(
        mandate__code="GEQ", instrument=equity, quantity__gt=0
    ).exists()


def test_an_operator_amends_a_trade_and_cash_and_position_follow(writer, operator, equity):
    trade = book(equity, quantity="300", price="10")
    response = writer.post(
        f"/api/book/trades/{trade.trade_id}/amend",
        {"quantity": "200", "reason": "broker confirmed 200"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["version"], D(body["quantity"])) == ("amended", 2, D("200"))
    assert D(body["gross"]) == D("2000")
    assert body["versions"][1]["actor"] == operator.username
    assert Position.objects.get(mandate__code="GEQ", instrument=equity).quantity == D("200")
    amended = Event.objects.get(trade_id=trade.trade_id, kind=events.TRADE_AMENDED)
    assert amended.payload["before"]["quantity"] == "300.000000"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"side": "sell", "reason": "x"}, "side"),  # not amendable: cancel and rebook
        ({"reason": "nothing"}, "non_field_errors"),
        ({"price": "11"}, "reason"),
        ({"price": "11", "reason": "   "}, "reason"),
        ({"quantity": "-1", "reason": "x"}, "quantity"),
        ({"settlement_date": "2014-12-31", "reason": "x"}, "settlement_date"),
        ({"trade_time": "2014-12-28T15:00:00Z", "reason": "x"}, "trade_time"),  # Sunday
    ],
)
def test_a_bad_amendment_is_a_400_naming_the_field(writer, equity, body, field):
    trade = book(equity)
    response = writer.post(f"/api/book/trades/{trade.trade_id}/amend", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["detail"]
    assert Trade.objects.get(pk=trade.pk).version == 1


def test_cancel_and_amend_of_an_unknown_trade_are_404s(writer, run):
    for action, body in [("cancel", {"reason": "x"}), ("amend", {"price": "1", "reason": "x"})]:
        response = writer.post(f"/api/book/trades/T-999999/{action}", body, format="json")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_a_cancelled_or_settled_trade_cannot_change(writer, equity):
    cancelled = book(equity)
    writer.post(f"/api/book/trades/{cancelled.trade_id}/cancel", {"reason": "dup"}, format="json")
    again = writer.post(
        f"/api/book/trades/{cancelled.trade_id}/cancel", {"reason": "dup"}, format="json"
    )
    assert again.status_code == 400
    assert "is cancelled" in again.json()["detail"]["trade_id"][0]

    settled = book(equity)
    settlements_process(as_of=settled.settlement_date)
    assert Trade.objects.get(pk=settled.pk).status == "settled"
    for action, body in [("cancel", {"reason": "x"}), ("amend", {"price": "1", "reason": "x"})]:
        response = writer.post(f"/api/book/trades/{settled.trade_id}/{action}", body, format="json")
        assert response.status_code == 400, action
        assert "settled" in response.json()["detail"]["trade_id"][0]


# --- positions ---------------------------------------------------------------------------


def test_positions_carry_the_latest_primary_price_and_market_value(reader, equity):
    book(equity, quantity="100")
    body = reader.get("/api/book/positions?mandate=GEQ&page_size=500").json()
    assert {p["mandate"] for p in body["results"]} == {"GEQ"}
    row = next(p for p in body["results"] if p["instrument"] == equity.ticker)
    latest = Price.objects.filter(instrument=equity, vendor="primary").order_by("-tick").first()
    assert (D(row["price"]), row["price_tick"]) == (latest.price, latest.tick)
    assert D(row["quantity"]) == D("100")
    assert D(row["market_value"]) == (D("100") * latest.price).quantize(D("0.01"))
    assert D(row["cost_basis"]) > 0 and row["realized_pnl"] is not None


def test_positions_as_of_a_date_replay_the_trades_up_to_it(reader, equity):
    # GIVEN a buy on Friday, a sale on Monday, and a cancelled buy on Friday
    book(equity, quantity="100", when=FRIDAY)
    book(equity, side="sell", quantity="30", when=MONDAY)
    cancelled = book(equity, quantity="999", when=FRIDAY)
    trade_cancel(trade_id=cancelled.trade_id, reason="dup")

    def quantity(as_of: str) -> D | None:
        rows = reader.get(f"/api/book/positions?mandate=GEQ&as_of={as_of}&page_size=500")
        assert rows.status_code == 200, rows.json()
        found = [p for p in rows.json()["results"] if p["instrument"] == equity.ticker]
        return D(found[0]["quantity"]) if found else None

    # THEN each date sees the live trades booked for dates up to it
    assert quantity("2015-01-01") is None
    assert quantity("2015-01-02") == D("100")
    assert quantity("2015-01-05") == D("70")
    assert Position.objects.get(mandate__code="GEQ", instrument=equity).quantity == D("70")


def test_positions_as_of_are_priced_at_that_date(reader, equity):
    book(equity, quantity="10", when=FRIDAY)
    body = reader.get("/api/book/positions?mandate=GEQ&as_of=2015-01-02&page_size=500").json()
    row = next(p for p in body["results"] if p["instrument"] == equity.ticker)
    assert row["price_time"].startswith("2015-01-02")
    assert row["cost_basis"] is None and row["realized_pnl"] is None


@pytest.mark.parametrize(
    "query, field",
    [("mandate=NOPE", "mandate"), ("as_of=yesterday", "as_of"), ("asof=2015-01-02", "asof")],
)
def test_a_bad_positions_query_is_a_400_naming_the_parameter(reader, run, query, field):
    response = reader.get(f"/api/book/positions?{query}")
    assert response.status_code == 400
    assert field in response.json()["detail"]


@pytest.mark.parametrize("as_of", ["", "&as_of=2015-01-02"])
def test_positions_cost_the_same_queries_however_many(
    reader, run, django_assert_max_num_queries, as_of
):
    assert Position.objects.count() >= 10
    with django_assert_max_num_queries(3):  # role, count, one query (prices as subqueries)
        body = reader.get(f"/api/book/positions?page_size=500{as_of}").json()
    assert body["count"] >= 10


def test_bond_market_value_is_per_100_of_face():
    row = {"quantity": D("1000000"), "price": D("99.5"), "asset_class": "govt_bond"}
    assert market_value(row) == D("995000.00")
    assert market_value({**row, "asset_class": "equity", "quantity": D("10")}) == D("995.00")
    assert market_value({**row, "price": None}) is None
