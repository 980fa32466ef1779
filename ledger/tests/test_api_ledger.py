"""The ledger's API over a real simulated session: the trial balance balances (trade and
settlement basis, as recorded at a past time), manual journals are idempotent and
checked, periods close, every report exports CSV, and lists cost the same queries
however many journals there are."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from book.models import Mandate, Trade, TradeStatus
from book.services import trade_cancel
from ledger.models import JournalEntry, JournalLine, PeriodClose
from ledger.tests.conftest import DAY, run_ticks, use_scenario

pytestmark = pytest.mark.django_db

D = Decimal
FIRST_DAY = dt.date(2015, 1, 2)  # Friday: the first session
NEXT_DAY = dt.date(2015, 1, 5)  # Monday
FOUR_DP = re.compile(r"^-?\d+\.\d{4}$")


@pytest.fixture
def one_day(sim_universe):
    """A clean first session: the book funded, trades booked (settling T+1/T+2, so still
    unsettled at its close), day end marked."""
    use_scenario("clean")
    run_ticks(DAY)


@pytest.fixture
def reader(api_client, viewer):
    api_client.force_authenticate(viewer)
    return api_client


@pytest.fixture
def writer(api_client, operator):
    api_client.force_authenticate(operator)
    return api_client


def tb(client, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"/api/ledger/trial-balance?{query}")


def rows_by_key(body):
    return {(r["account"], r["currency"]): r for r in body["rows"]}


def manual(**changes):
    body = {
        "source_key": "accrual-fix-1",
        "mandate": "GEQ",
        "accounting_date": FIRST_DAY.isoformat(),
        "description": "Audit fee accrued by hand",
        "lines": [
            {"account": "5000", "currency": "USD", "side": "D", "amount": "1250.00"},
            {"account": "2100", "currency": "USD", "side": "C", "amount": "1250.00"},
        ],
    }
    body.update(changes)
    return body


def parse_csv(response):
    content = (
        b"".join(response.streaming_content) if response.streaming else response.content
    ).decode()
    return list(csv.reader(io.StringIO(content)))


# --- the trial balance -------------------------------------------------------------------


def test_after_a_simulated_day_every_mandate_balances(reader, one_day):
    # GIVEN a clean first session, WHEN each mandate's trial balance is read at its close
    for mandate in Mandate.objects.all():
        response = tb(reader, mandate=mandate.code, as_of=FIRST_DAY)
        assert response.status_code == 200, response.content
        body = response.json()
        # THEN debits equal credits in base and in every currency, with 4 dp strings
        totals = body["totals"]
        assert totals["balanced"] is True, mandate.code
        assert totals["base_debit"] == totals["base_credit"]
        assert totals["base_difference"] == "0.0000"
        assert all(t["difference"] == "0.0000" for t in totals["by_currency"].values())
        assert body["base_currency"] == mandate.base_currency_id
        rows = rows_by_key(body)
        assert ("1000", mandate.base_currency_id) in rows  # the capital arrived as cash
        assert ("3000", mandate.base_currency_id) in rows
        for row in body["rows"]:
            for name in ("debit", "credit", "balance", "base_debit", "base_credit"):
                assert FOUR_DP.match(row[name]), (name, row[name])
    summary = reader.get("/api/ledger").json()
    assert summary["summary"]["journals"] == JournalEntry.objects.count() > 0
    assert summary["checks"] == {"ok": True, "differences": 0}
    assert len(summary["recent_journals"]) == 20
    assert summary["recent_journals"][0]["journal_id"] == summary["summary"]["last_journal"]


def test_settlement_basis_leaves_out_trades_that_have_not_settled(reader, one_day):
    # GIVEN trades bought on the first day that settle later
    assert Trade.objects.filter(trade_date=FIRST_DAY, settlement_date__gt=FIRST_DAY).exists()
    trade = rows_by_key(tb(reader, mandate="GEQ", as_of=FIRST_DAY, basis="trade").json())
    settlement = tb(reader, mandate="GEQ", as_of=FIRST_DAY, basis="settlement").json()
    # THEN on the trade basis the purchases and what is owed for them are there...
    assert ("1100", "USD") in trade and ("2000", "USD") in trade
    # ...and on the settlement basis not yet, and that basis balances too
    assert settlement["basis"] == "settlement" and settlement["totals"]["balanced"] is True
    on_settlement = rows_by_key(settlement)
    assert ("2000", "USD") not in on_settlement
    assert D(on_settlement.get(("1100", "USD"), {"balance": "0"})["balance"]) < D(
        trade[("1100", "USD")]["balance"]
    )


def test_known_at_shows_the_book_as_it_was_recorded_then(reader, sim_universe):
    use_scenario("clean")
    run_ticks(DAY // 2)
    midday = timezone.now()
    assert not JournalEntry.objects.filter(recorded_at__gt=midday).exists()
    run_ticks(DAY - DAY // 2)
    assert JournalEntry.objects.filter(recorded_at__gt=midday).exists()
    now = tb(reader, mandate="GEQ", as_of=FIRST_DAY).json()
    then = tb(
        reader, mandate="GEQ", as_of=FIRST_DAY, known_at=midday.isoformat().replace("+00:00", "Z")
    ).json()
    # THEN the book as recorded at midday holds fewer postings, and balanced as well
    assert then["known_at"] is not None and then["totals"]["balanced"] is True
    assert D(then["totals"]["base_debit"]) < D(now["totals"]["base_debit"])
    before_anything = tb(reader, mandate="GEQ", as_of=FIRST_DAY, known_at="2000-01-01T00:00:00Z")
    assert before_anything.json()["rows"] == []
    # AND a time without its offset is refused rather than guessed
    naive = tb(reader, mandate="GEQ", as_of=FIRST_DAY, known_at="2015-01-02T12:00:00")
    assert naive.status_code == 400 and list(naive.json()["detail"]) == ["known_at"]


@pytest.mark.parametrize(
    "query, fields",
    [
        ("", {"mandate", "as_of"}),
        ("mandate=GEQ", {"as_of"}),
        ("as_of=2015-01-02", {"mandate"}),
        ("mandate=GEQ&as_of=", {"as_of"}),
        ("mandate=NOPE&as_of=2015-01-02", {"mandate"}),
        ("mandate=GEQ&as_of=02/01/2015", {"as_of"}),
        ("mandate=GEQ&as_of=2015-01-02&basis=cash", {"basis"}),
        ("mandate=GEQ&as_of=2015-01-02&asof=2015-01-02", {"asof"}),
    ],
)
def test_trial_balance_parameters_are_a_400_naming_them(reader, sim_universe, query, fields):
    response = reader.get(f"/api/ledger/trial-balance?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "validation_error"
    assert set(body["detail"]) == fields


def test_statements_and_the_general_ledger_agree_with_the_trial_balance(reader, one_day):
    rows = rows_by_key(tb(reader, mandate="GEQ", as_of=FIRST_DAY).json())
    sheet = reader.get(f"/api/ledger/balance-sheet?mandate=GEQ&as_of={FIRST_DAY}").json()
    assert sheet["balanced"] is True
    assert D(sheet["total_assets"]) == D(sheet["total_liabilities"]) + D(sheet["total_equity"])
    income = reader.get(f"/api/ledger/income-statement?mandate=GEQ&from={FIRST_DAY}&to={FIRST_DAY}")
    assert income.status_code == 200, income.content
    statement = income.json()
    assert (statement["from"], statement["to"]) == (FIRST_DAY.isoformat(),) * 2
    assert D(statement["net_income"]) == D(statement["total_income"]) - D(
        statement["total_expenses"]
    )
    # The general ledger of cash: its running balance ends where the trial balance stands.
    gl = reader.get(f"/api/ledger/accounts/1000?mandate=GEQ&currency=USD&to={FIRST_DAY}").json()
    assert gl["lines"] and gl["opening_balance"] == "0.0000"
    assert gl["closing_balance"] == gl["lines"][-1]["running_balance"]
    assert gl["closing_balance"] == rows[("1000", "USD")]["balance"]
    assert reader.get("/api/ledger/accounts/9999?mandate=GEQ").status_code == 404
    missing = reader.get("/api/ledger/accounts/1000")
    assert missing.status_code == 400 and list(missing.json()["detail"]) == ["mandate"]
    backwards = reader.get(
        f"/api/ledger/income-statement?mandate=GEQ&from={NEXT_DAY}&to={FIRST_DAY}"
    )
    assert backwards.status_code == 400 and list(backwards.json()["detail"]) == ["to"]


def test_the_chart_and_the_ledger_vs_book_check(reader, one_day):
    chart = reader.get("/api/ledger/accounts").json()
    codes = [a["code"] for a in chart]
    assert {"1000", "1100", "2000", "3000", "4000", "5100"} <= set(codes)
    assert codes == sorted(codes)
    cash = next(a for a in chart if a["code"] == "1000")
    assert (cash["type"], cash["normal_side"], cash["statement"]) == ("asset", "D", "balance_sheet")
    check = reader.get("/api/ledger/checks?mandate=GEQ").json()
    assert check["ok"] is True and check["differences"] == [] and check["mandates"] == 1
    assert reader.get("/api/ledger/checks?mandate=NOPE").status_code == 400


# --- journals ----------------------------------------------------------------------------


def test_journals_filter_by_trade_account_kind_and_date(reader, one_day):
    trade = Trade.objects.filter(mandate__code="GEQ").order_by("trade_id").first()
    of_trade = reader.get(f"/api/ledger/journals?trade_id={trade.trade_id}").json()
    assert of_trade["count"] >= 1
    assert {j["trade_id"] for j in of_trade["results"]} == {trade.trade_id}
    assert {j["kind"] for j in of_trade["results"]} == {"trade"}
    fees = reader.get("/api/ledger/journals?kind=fee&mandate=GEQ").json()
    assert fees["count"] >= 1 and {j["kind"] for j in fees["results"]} == {"fee"}
    on_fees = reader.get("/api/ledger/journals?account=5100&mandate=GEQ").json()
    assert (
        on_fees["count"]
        == JournalEntry.objects.filter(mandate__code="GEQ", lines__account_id="5100")
        .distinct()
        .count()
    )
    later = reader.get(f"/api/ledger/journals?date_from={NEXT_DAY}").json()
    assert later["count"] == 0
    summary = reader.get(f"/api/ledger?trade_id={trade.trade_id}").json()
    assert summary["matching"] == of_trade["count"]
    for path in ("/api/ledger/journals", "/api/ledger"):
        unknown = reader.get(f"{path}?trade=T-000001")
        assert unknown.status_code == 400 and list(unknown.json()["detail"]) == ["trade"]
        bad = reader.get(f"{path}?account=9999&kind=nope&date_from=yesterday")
        assert bad.status_code == 400
        assert set(bad.json()["detail"]) == {"account", "kind", "date_from"}
        assert bad.json()["detail"]["account"] == ["unknown account 9999"]


def test_a_journal_has_its_lines_and_a_cancelled_trade_its_reversal(reader, one_day, operator):
    # GIVEN a trade of the first day cancelled before it settles, and one more tick
    trade = (
        Trade.objects.filter(mandate__code="GEQ", settlement_date__gt=FIRST_DAY)
        .exclude(status__in=[TradeStatus.SETTLED, TradeStatus.CANCELLED])
        .order_by("trade_id")
        .first()
    )
    trade_cancel(trade_id=trade.trade_id, reason="booked twice", actor=operator)
    run_ticks(1)
    journals = reader.get(f"/api/ledger/journals?trade_id={trade.trade_id}").json()["results"]
    reversal = next(j for j in journals if j["kind"] == "reversal")
    # THEN the reversal names the entry it reverses, and that entry names its reversal
    original = reader.get(f"/api/ledger/journals/{reversal['reversal_of']}").json()
    assert original["reversed_by"] == reversal["journal_id"]
    assert original["trade_id"] == trade.trade_id and len(original["lines"]) >= 2
    debits = sum(D(ln["base_amount"]) for ln in original["lines"] if ln["side"] == "D")
    credits = sum(D(ln["base_amount"]) for ln in original["lines"] if ln["side"] == "C")
    assert debits == credits > 0
    line = original["lines"][0]
    assert set(line) >= {"account", "account_name", "currency", "side", "amount", "fx_rate"}
    assert FOUR_DP.match(line["amount"])
    back = reader.get(f"/api/ledger/journals/{reversal['journal_id']}").json()
    assert sorted((ln["account"], ln["side"]) for ln in back["lines"]) == sorted(
        (ln["account"], "C" if ln["side"] == "D" else "D") for ln in original["lines"]
    )
    assert reader.get("/api/ledger/journals/J-999999").status_code == 404


def test_the_journal_list_costs_the_same_queries_for_any_page_size(
    reader, one_day, django_assert_max_num_queries
):
    with django_assert_max_num_queries(3):  # role, count, the page (joins in one)
        small = reader.get("/api/ledger/journals?page_size=5").json()
    with django_assert_max_num_queries(3):
        large = reader.get("/api/ledger/journals?page_size=500").json()
    assert len(small["results"]) == 5 and len(large["results"]) > 50


# --- manual journals ---------------------------------------------------------------------


def test_a_manual_journal_is_posted_once_and_its_replay_returns_it(writer, sim_universe):
    # WHEN an operator posts a balanced journal
    first = writer.post("/api/ledger/journals", manual(), format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["kind"] == "manual" and body["source_key"] == "manual:accrual-fix-1"
    assert body["actor"] == writer.handler._force_user.username
    assert [(ln["account"], ln["side"], ln["amount"]) for ln in body["lines"]] == [
        ("5000", "D", "1250.0000"),
        ("2100", "C", "1250.0000"),
    ]
    # THEN the same body again is the same journal (200), and nothing new is posted
    again = writer.post("/api/ledger/journals", manual(), format="json")
    assert again.status_code == 200 and again.json()["journal_id"] == body["journal_id"]
    assert JournalEntry.objects.filter(kind="manual").count() == 1
    # AND the same key with another body is a conflict in the one error format
    other = manual(
        lines=[{**manual()["lines"][0], "amount": "99"}, {**manual()["lines"][1], "amount": "99"}]
    )
    conflict = writer.post("/api/ledger/journals", other, format="json")
    assert conflict.status_code == 409
    assert conflict.json()["error"] == "conflict"
    assert list(conflict.json()["detail"]) == ["source_key"]
    assert body["journal_id"] in conflict.json()["message"]


def test_a_replay_after_the_market_moved_is_still_the_same_journal(writer, one_day):
    # GIVEN a journal with a EUR line valued at the day's rate
    body = manual(
        source_key="eur-fee",
        lines=[
            {"account": "5000", "currency": "EUR", "side": "D", "amount": "100"},
            {"account": "1000", "currency": "EUR", "side": "C", "amount": "100"},
        ],
    )
    first = writer.post("/api/ledger/journals", body, format="json")
    assert first.status_code == 201, first.content
    assert D(first.json()["lines"][0]["fx_rate"]) > 0
    # WHEN the rates move and the client retries the same request
    run_ticks(2)
    again = writer.post("/api/ledger/journals", body, format="json")
    # THEN it is recognised as the same posting, not refused as a new payload
    assert again.status_code == 200, again.content
    assert again.json()["journal_id"] == first.json()["journal_id"]


@pytest.mark.parametrize(
    "changes, field",
    [
        (
            {
                "lines": [
                    {"account": "5000", "currency": "USD", "side": "D", "amount": "100"},
                    {"account": "2100", "currency": "USD", "side": "C", "amount": "90"},
                ]
            },
            "lines",
        ),
        ({"mandate": "NOPE"}, "mandate"),
        ({"lines": [{"account": "5000", "currency": "USD", "side": "D", "amount": "1"}]}, "lines"),
        ({"lines": []}, "lines"),
        ({"accounting_date": "2015-13-01"}, "accounting_date"),
        ({"description": ""}, "description"),
    ],
)
def test_a_bad_manual_journal_is_a_400_naming_the_field(writer, sim_universe, changes, field):
    response = writer.post("/api/ledger/journals", manual(**changes), format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["detail"]) == [field]
    assert not JournalEntry.objects.filter(kind="manual").exists()


def test_an_unknown_account_is_named_on_its_line(writer, sim_universe):
    lines = manual()["lines"]
    response = writer.post(
        "/api/ledger/journals",
        manual(lines=[lines[0], {**lines[1], "account": "2999"}]),
        format="json",
    )
    assert response.status_code == 400
    # Only the line at fault is named, by its index.
    assert response.json()["detail"]["lines"] == {"1": {"account": ["unknown account 2999"]}}
    by_instrument = writer.post(
        "/api/ledger/journals",
        manual(lines=[{**lines[0], "account": "1100"}, lines[1]]),
        format="json",
    )
    assert by_instrument.status_code == 400
    assert "per instrument" in " ".join(by_instrument.json()["detail"]["lines"])


def test_a_viewer_cannot_post_and_the_operator_cannot_close(
    api_client, viewer, operator, sim_universe
):
    api_client.force_authenticate(viewer)
    refused = api_client.post("/api/ledger/journals", manual(), format="json")
    assert refused.status_code == 403 and refused.json()["error"] == "permission_denied"
    api_client.force_authenticate(operator)
    close = api_client.post("/api/ledger/periods/close", {"through": "2015-01-02"}, format="json")
    assert close.status_code == 403
    assert not JournalEntry.objects.filter(kind="manual").exists()
    assert not PeriodClose.objects.exists()


def test_a_closed_period_refuses_postings_but_takes_an_adjustment(
    api_client, admin_user, operator, sim_universe
):
    # GIVEN the admin closes GEQ through the first day
    api_client.force_authenticate(admin_user)
    closed = api_client.post(
        "/api/ledger/periods/close",
        {"through": FIRST_DAY.isoformat(), "mandate": "GEQ", "note": "signed off"},
        format="json",
    )
    assert closed.status_code == 201, closed.content
    assert closed.json()["mandate"] == "GEQ" and closed.json()["closed_by"] == admin_user.username
    again = api_client.post(
        "/api/ledger/periods/close", {"through": "2014-12-31", "mandate": "GEQ"}, format="json"
    )
    assert again.status_code == 400 and list(again.json()["detail"]) == ["through"]
    periods = api_client.get("/api/ledger/periods?mandate=GEQ").json()
    assert [p["through"] for p in periods["results"]] == [FIRST_DAY.isoformat()]
    # WHEN an operator posts a journal dated inside it
    api_client.force_authenticate(operator)
    refused = api_client.post("/api/ledger/journals", manual(), format="json")
    # THEN it is refused naming the date; dated in the open period as an adjustment it posts
    assert refused.status_code == 400
    assert list(refused.json()["detail"]) == ["accounting_date"]
    adjustment = manual(
        source_key="accrual-fix-2",
        accounting_date=NEXT_DAY.isoformat(),
        adjusts_date=FIRST_DAY.isoformat(),
    )
    posted = api_client.post("/api/ledger/journals", adjustment, format="json")
    assert posted.status_code == 201, posted.content
    assert posted.json()["adjusts_date"] == FIRST_DAY.isoformat()
    # Another mandate is not closed.
    other = api_client.post(
        "/api/ledger/journals", manual(source_key="bal-1", mandate="BAL"), format="json"
    )
    assert other.status_code == 201, other.content


# --- CSV ---------------------------------------------------------------------------------


def test_every_report_exports_csv_with_a_header(reader, one_day):
    exports = {
        f"/api/ledger/trial-balance?mandate=GEQ&as_of={FIRST_DAY}&format=csv": (
            "trial-balance-GEQ-2015-01-02-trade.csv",
            ["mandate", "base_currency", "as_of", "basis", "account", "name", "type"],
        ),
        f"/api/ledger/balance-sheet?mandate=GEQ&as_of={FIRST_DAY}&format=csv": (
            "balance-sheet-GEQ-2015-01-02.csv",
            ["mandate", "base_currency", "as_of", "section", "account", "name", "amount"],
        ),
        f"/api/ledger/income-statement?mandate=GEQ&from={FIRST_DAY}&to={FIRST_DAY}&format=csv": (
            "income-statement-GEQ-2015-01-02-2015-01-02.csv",
            ["mandate", "base_currency", "from", "to", "section", "account", "name", "amount"],
        ),
        "/api/ledger/accounts/1000?mandate=GEQ&currency=USD&format=csv": (
            "account-1000-GEQ-USD.csv",
            ["mandate", "account", "balance_currency", "journal_id", "accounting_date"],
        ),
        "/api/ledger/journals?mandate=GEQ&format=csv": (
            "journals-GEQ.csv",
            ["journal_id", "seq", "mandate", "kind", "trade_id", "accounting_date"],
        ),
        "/api/ledger/checks?format=csv": (
            "ledger-vs-book.csv",
            ["check", "mandate", "subject", "ledger", "book", "difference", "trade_ids"],
        ),
    }
    for path, (filename, header_start) in exports.items():
        response = reader.get(path)
        assert response.status_code == 200, (path, response.content[:300])
        assert response["Content-Type"].startswith("text/csv"), path
        assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
        rows = parse_csv(response)
        assert rows[0][: len(header_start)] == header_start, path
        assert all(len(row) == len(rows[0]) for row in rows), path

    trial = parse_csv(
        reader.get(f"/api/ledger/trial-balance?mandate=GEQ&as_of={FIRST_DAY}&format=csv")
    )
    header, *body = trial
    total = dict(zip(header, body[-1], strict=True))
    assert total["account"] == "TOTAL" and total["base_balance"] == "0.0000"
    assert total["base_debit"] == total["base_credit"]
    lines = parse_csv(reader.get("/api/ledger/journals?mandate=GEQ&format=csv"))
    assert len(lines) - 1 == JournalLine.objects.filter(entry__mandate__code="GEQ").count()
    first = dict(zip(lines[0], lines[1], strict=True))
    assert first["journal_id"].startswith("J-") and FOUR_DP.match(first["amount"])


def test_a_csv_request_with_bad_parameters_answers_in_json(reader, sim_universe):
    response = reader.get("/api/ledger/trial-balance?mandate=GEQ&format=csv")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert list(response.json()["detail"]) == ["as_of"]
