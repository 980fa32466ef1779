"""A real browser (Playwright driving Debian's chromium, headless) walks the suite.

It signs in through the login form, opens every navigation page, and finds no server
error, no failed asset and no console error. With a real run behind it (the demo universe,
FRED history when the shared test data is there, two sessions of ticks, a trade booked by
hand and amended) it reads the Market, Trades, one trade's page and Positions, and lets
their HTMX polls fire. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from book.models import Broker, Instrument, Mandate, Trader
from book.services import trade_amend, trade_book
from conftest import CHROMIUM
from opssuite import pipeline
from opssuite.modules import MODULES
from simulator.fred import fred_load
from simulator.services import sim_universe_load

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FRED_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "fred"
TICKS = 30  # past the first session's close, so the curve chart has a previous close
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        problems: list[str] = []
        page.on(
            "console",
            lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )  # noqa: E501
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}"))  # noqa: E501
        page.on(
            "response",
            lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
        )  # noqa: E501
        yield page, problems
        browser.close()


@pytest.fixture
def seeded(make_user):
    """Data made before the browser starts: Playwright's sync API runs an event loop in
    this thread, and Django refuses database calls from a thread with a running loop."""
    user = make_user("admin", username="ops-admin", password="pw-Browser-123")
    if (FRED_DATA_DIR / "DGS10.csv").is_file():
        fred_load(csv_dir=FRED_DATA_DIR, start=dt.date(2014, 12, 1), end=dt.date(2015, 1, 31))
    sim_universe_load(seed=20150102, scale="demo", start_date=dt.date(2015, 1, 2))
    for _ in range(TICKS):
        assert pipeline.tick_advance(worker="browser-test").outcome == "ran"
    trade = trade_book(
        actor=user,
        mandate_id=Mandate.objects.get(code="GEQ").pk,
        instrument_id=Instrument.objects.filter(asset_class="equity", currency="USD").first().pk,
        side="buy",
        quantity=Decimal("1200"),
        price=Decimal("25.50"),
        trade_time=dt.datetime(2015, 1, 5, 15, 0, tzinfo=dt.UTC),
        broker_id=Broker.objects.get(code="GSCO").pk,
        trader_id=Trader.objects.order_by("code").first().pk,
    )
    trade_amend(
        trade_id=trade.trade_id,
        changes={"quantity": Decimal("1000")},
        reason="broker confirmed 1,000",
        actor=user,
    )
    return trade.trade_id


def _let_htmx_poll(page, selector: str) -> None:  # noqa: ANN001
    """Wait until an HTMX poll has replaced `selector` with a fresh copy (a broken
    partial then shows up as an HTTP error or a missing element)."""
    page.evaluate("sel => { document.querySelector(sel).dataset.beforePoll = '1'; }", selector)
    page.wait_for_function(
        "sel => { const el = document.querySelector(sel); return el && !el.dataset.beforePoll; }",
        arg=selector,
        timeout=20_000,
    )


def _ledger_pages(page, url: str) -> None:  # noqa: ANN001
    """Journals (with the ledger-vs-book panel loaded after the page), one journal, the
    trial balance with its basis toggled in place, and an account's general ledger."""
    page.goto(f"{url}/ledger/")
    assert page.locator("#journal-table tbody tr").count() > 10
    page.wait_for_selector("#checks-status", timeout=20_000)
    _let_htmx_poll(page, "#journal-rows")
    page.screenshot(path=str(ARTIFACTS / "ledger-journals.png"), full_page=True)

    page.select_option("select[name=kind]", "trade")
    page.wait_for_url("**kind=trade**")
    page.wait_for_selector("#journal-table .badge.kind-trade")
    page.click("#journal-table tbody tr:first-child td:first-child a")
    page.wait_for_selector("#line-table tbody tr")
    assert page.locator("#journal-trade a").count() == 2  # the trade page and its journals
    page.screenshot(path=str(ARTIFACTS / "ledger-journal.png"), full_page=True)

    page.goto(f"{url}/ledger/trial-balance/?mandate=GEQ")
    assert "balanced" in page.locator("#tb-proof").inner_text()
    rows = page.locator("#tb-table tbody tr").count()
    page.click(".basis-toggle label:has-text('Settlement date')")
    page.wait_for_url("**basis=settlement**")
    page.wait_for_function(
        "() => document.querySelector('#tb-proof').innerText.includes('settlement basis')"
    )
    assert "balanced" in page.locator("#tb-proof").inner_text()
    assert page.locator("#tb-table tbody tr").count() > 1
    page.click(".basis-toggle label:has-text('Trade date')")
    page.wait_for_function(
        "() => document.querySelector('#tb-proof').innerText.includes('trade basis')"
    )
    assert page.locator("#tb-table tbody tr").count() == rows
    page.screenshot(path=str(ARTIFACTS / "ledger-trial-balance.png"), full_page=True)

    page.click("#tb-table tbody tr:first-child td:first-child a")
    page.wait_for_selector("#gl-table tbody tr")
    assert page.locator("#closing-balance").inner_text().strip()
    page.screenshot(path=str(ARTIFACTS / "ledger-account.png"), full_page=True)

    page.goto(f"{url}/ledger/statements/?mandate=GEQ")
    assert page.locator("#balance-sheet .badge.ok").count() == 1
    page.screenshot(path=str(ARTIFACTS / "ledger-statements.png"), full_page=True)


def test_sign_in_and_open_every_page(live_server, seeded, browser_page):
    page, problems = browser_page
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("#id_username", "ops-admin")
    page.fill("#id_password", "pw-Browser-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("#last-tick").inner_text() == str(TICKS)
    assert page.evaluate("typeof htmx") == "object"
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    for module in MODULES:
        path = "/" if module.slug == "overview" else f"/{module.slug}/"
        page.click(f"nav >> text='{module.label}'")
        page.wait_for_url(f"{live_server.url}{path}")
        assert page.locator("h2").first.inner_text().strip(), path
        assert page.locator("nav a[aria-current=page]").inner_text() == module.label
    page.screenshot(path=str(ARTIFACTS / "events.png"), full_page=True)

    trade_id = seeded
    page.goto(f"{live_server.url}/market/")
    assert page.locator("#regime").inner_text().lower() in ("calm", "normal", "stressed", "crisis")
    assert page.locator("#curve-chart polyline").count() >= 1
    assert page.locator("#market-chart polyline").count() == 2
    assert page.locator("#price-table tbody tr").count() > 10
    _let_htmx_poll(page, "#market-live")
    page.screenshot(path=str(ARTIFACTS / "market.png"), full_page=True)

    page.goto(f"{live_server.url}/trades/")
    assert page.locator("#trade-table tbody tr").count() >= 1
    page.select_option("select[name=source]", "manual")
    page.wait_for_selector(f"#trade-table a:text('{trade_id}')")
    assert page.locator("#trade-table tbody tr").count() == 1
    assert "source=manual" in page.url
    _let_htmx_poll(page, "#trade-rows")
    page.screenshot(path=str(ARTIFACTS / "trades.png"), full_page=True)

    page.click(f"#trade-table a:text('{trade_id}')")
    page.wait_for_url(f"{live_server.url}/trades/{trade_id}/")
    assert page.locator("#version-table tbody tr").count() == 2
    assert "broker confirmed 1,000" in page.locator("#version-table").inner_text()
    assert "trade.amended" in page.locator("#trade-events").inner_text()
    page.screenshot(path=str(ARTIFACTS / "trade.png"), full_page=True)

    page.goto(f"{live_server.url}/positions/?mandate=GEQ")
    assert page.locator("#position-table tbody tr").count() > 1
    assert page.locator("#cash-table tbody tr").count() >= 1
    _let_htmx_poll(page, "#positions-live")
    page.screenshot(path=str(ARTIFACTS / "positions.png"), full_page=True)

    _ledger_pages(page, live_server.url)

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info", timeout=15000)
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"))

    page.goto(f"{live_server.url}/admin/")
    assert "opssuite back office" in page.content()
    page.wait_for_load_state("networkidle")  # an icon request comes late: let it fail here

    assert problems == []
