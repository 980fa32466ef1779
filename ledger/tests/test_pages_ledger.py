"""The ledger's pages over a simulated session: journals (filters, HTMX rows), one
journal, the trial balance with its proof and basis toggle, statements, an account's
general ledger, ledger vs book, closing a period; and the admin, strictly read-only."""

from __future__ import annotations

import datetime as dt

import pytest

from book.models import Mandate, Trade
from ledger import selectors
from ledger.models import JournalEntry, PeriodClose
from ledger.tests.conftest import DAY, run_ticks, use_scenario

pytestmark = pytest.mark.django_db

FIRST_DAY = dt.date(2015, 1, 2)


@pytest.fixture
def one_day(sim_universe):
    use_scenario("clean")
    run_ticks(DAY)


@pytest.fixture
def as_viewer(client, viewer):
    client.force_login(viewer)
    return client


def page(client, path, **headers):
    response = client.get(path, **headers)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def test_the_journals_page_lists_filters_and_refreshes_its_rows(as_viewer, one_day):
    html = page(as_viewer, "/ledger/")
    assert 'aria-current="page">Ledger<' in html  # the nav entry, no longer a placeholder
    assert "not built yet" not in html
    last = JournalEntry.objects.order_by("-seq").first()
    assert f">{last.journal_id}</a>" in html
    assert f'<dd id="journal-total">{JournalEntry.objects.count()}</dd>' in html
    # One trade id -> its journals only.
    trade = Trade.objects.filter(mandate__code="GEQ").order_by("trade_id").first()
    theirs = list(JournalEntry.objects.filter(trade_id=trade.trade_id))
    rows = page(as_viewer, f"/ledger/?trade_id={trade.trade_id}", HTTP_HX_REQUEST="true")
    assert "<html" not in rows
    assert rows.count('href="/ledger/journals/') == len(theirs) >= 1
    assert f"{len(theirs)} journal" in rows
    # A bad filter says which, rather than showing nothing.
    bad = page(as_viewer, "/ledger/?account=9999", HTTP_HX_REQUEST="true")
    assert "account: unknown account 9999" in bad
    # The ledger-vs-book panel loads into the page.
    panel = page(as_viewer, "/ledger/checks/?compact=1", HTTP_HX_REQUEST="true")
    assert '<span class="badge ok">agrees</span>' in panel
    # The overview's Ledger card carries the same figures.
    overview = page(as_viewer, "/")
    tile = overview[overview.index('id="ledger-tile"') :]
    assert f"<dd>{JournalEntry.objects.count()} " in tile
    assert '<span class="badge ok">agrees</span>' in tile[: tile.index("</dl>")]


def test_the_journals_page_costs_the_same_queries_with_more_journals(
    as_viewer, one_day, django_assert_max_num_queries
):
    # GIVEN a filter that matches a few journals and one that matches 200 (the page)
    trade = Trade.objects.filter(mandate__code="GEQ").order_by("trade_id").first()
    assert JournalEntry.objects.count() > 200
    with django_assert_max_num_queries(12) as few:
        page(as_viewer, f"/ledger/?trade_id={trade.trade_id}")
    with django_assert_max_num_queries(12) as many:
        page(as_viewer, "/ledger/")
    # THEN the number of queries does not depend on the number of rows
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_journal_page_shows_its_lines_and_links_its_trade(as_viewer, one_day):
    entry = JournalEntry.objects.filter(kind="trade").order_by("seq").first()
    html = page(as_viewer, f"/ledger/journals/{entry.journal_id}/")
    assert f"<h2>{entry.journal_id} " in html
    assert f'href="/trades/{entry.trade_id}/"' in html
    assert f'href="/ledger/?trade_id={entry.trade_id}"' in html
    for line in entry.lines.all():
        assert f'href="/ledger/accounts/{line.account_id}/?mandate=' in html
    assert 'id="base-debit"' in html
    assert as_viewer.get("/ledger/journals/J-999999/").status_code == 404


def test_the_trial_balance_page_proves_debits_equal_credits(as_viewer, one_day):
    html = page(as_viewer, f"/ledger/trial-balance/?mandate=GEQ&as_of={FIRST_DAY}")
    tb = selectors.trial_balance(Mandate.objects.get(code="GEQ"), as_of=FIRST_DAY)
    assert tb.totals["balanced"]
    assert '<span class="badge ok">balanced</span>' in html
    assert 'value="2015-01-02"' in html and 'value="trade" checked' in html
    assert html.count('href="/ledger/accounts/') == len(tb.rows)
    assert (
        "/api/ledger/trial-balance?mandate=GEQ&amp;as_of=2015-01-02&amp;basis=trade&amp;format=csv"
        in html
    )
    # The basis toggle and the as-of picker swap the result in place.
    settlement = page(
        as_viewer,
        f"/ledger/trial-balance/?mandate=GEQ&as_of={FIRST_DAY}&basis=settlement",
        HTTP_HX_REQUEST="true",
    )
    assert "<html" not in settlement and "settlement basis" in settlement
    assert "balanced" in settlement
    wrong = page(as_viewer, "/ledger/trial-balance/?mandate=GEQ&as_of=soon&basis=cash")
    assert "as_of: &#x27;soon&#x27; is not a date" in wrong and "basis: &#x27;cash&#x27;" in wrong
    # Without parameters: the first mandate as of its latest posting.
    default = page(as_viewer, "/ledger/trial-balance/")
    assert '<span class="badge ok">balanced</span>' in default


def test_statements_and_an_account_drill_down(as_viewer, one_day):
    html = page(as_viewer, f"/ledger/statements/?mandate=GEQ&as_of={FIRST_DAY}")
    assert "assets = liabilities + equity" in html and 'id="net-income"' in html
    gl = page(as_viewer, f"/ledger/accounts/1000/?mandate=GEQ&currency=USD&to={FIRST_DAY}")
    detail = selectors.account_detail(
        Mandate.objects.get(code="GEQ"), account="1000", currency="USD", date_to=FIRST_DAY
    )
    assert detail["lines"]
    assert gl.count('href="/ledger/journals/') == len(detail["lines"])
    assert "Running balance" in gl and 'id="closing-balance"' in gl
    assert as_viewer.get("/ledger/accounts/9999/").status_code == 404


def test_the_ledger_vs_book_page_names_the_trades_of_a_difference(as_viewer, one_day, monkeypatch):
    differences = [
        {
            "check": "payable",
            "mandate": "GEQ",
            "subject": "USD",
            "ledger": 10,
            "book": 12,
            "difference": -2,
            "trade_ids": ["T-000007", "T-000009"],
        }
    ]
    monkeypatch.setattr(
        selectors,
        "ledger_vs_book",
        lambda mandate=None: {
            "mandates": 1,
            "checks": [],
            "differences": differences,
            "ok": False,
            "marked_through": FIRST_DAY,
        },
    )
    html = page(as_viewer, "/ledger/checks/?mandate=GEQ")
    assert "1 difference" in html
    assert 'href="/ledger/?trade_id=T-000007"' in html and "T-000009" in html


def test_closing_a_period_from_the_page_is_for_admins(client, operator, admin_user, sim_universe):
    client.force_login(operator)
    assert "Close a period" not in page(client, "/ledger/periods/")
    refused = client.post("/ledger/periods/close/", {"through": "2015-01-02"})
    assert refused.status_code == 403
    client.force_login(admin_user)
    bad = client.post("/ledger/periods/close/", {"through": "someday"})
    assert bad.status_code == 400 and "through: a date" in bad.content.decode()
    done = client.post(
        "/ledger/periods/close/", {"through": "2015-01-02", "mandate": "GEQ", "note": "Q4"}
    )
    assert done.status_code == 302
    close = PeriodClose.objects.get()
    assert (close.mandate.code, close.through, close.closed_by) == (
        "GEQ",
        FIRST_DAY,
        admin_user.username,
    )
    listed = page(client, "/ledger/periods/")
    assert "2015-01-02" in listed and "Q4" in listed


def test_pages_render_before_anything_is_posted(as_viewer, sim_universe):
    for path in (
        "/ledger/",
        "/ledger/trial-balance/",
        "/ledger/statements/",
        "/ledger/checks/",
        "/ledger/periods/",
        "/ledger/accounts/1100/",
    ):
        page(as_viewer, path)


def test_the_admin_shows_journals_and_changes_nothing(client, admin_user, one_day):
    client.force_login(admin_user)
    entry = JournalEntry.objects.filter(kind="trade").first()
    listing = page(client, f"/admin/ledger/journalentry/?q={entry.trade_id}")
    assert entry.journal_id in listing
    detail = page(client, f"/admin/ledger/journalentry/{entry.pk}/change/")
    assert entry.source_key in detail and 'name="_save"' not in detail
    assert client.get("/admin/ledger/journalentry/add/").status_code == 403
    assert client.post(f"/admin/ledger/journalentry/{entry.pk}/delete/").status_code == 403
    for model in ("account", "periodclose", "ledgerbalance", "instrumentbalance"):
        page(client, f"/admin/ledger/{model}/")
        assert client.get(f"/admin/ledger/{model}/add/").status_code == 403
