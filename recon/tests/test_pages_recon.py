"""The recon's pages over a queue built by the services: the break queue (filters, HTMX
rows, live counts, bulk actions), one break (both sides, candidates, history, the
workflow forms), the aging chart, run history with the file upload, a run's printable
report; the overview's card; and the admin (configuration editable, records read-only)."""

from __future__ import annotations

import io

import pytest

from book.models import Event
from recon.models import Break, BreakAction, BreakStatus, ReconRun, Tolerance

from .conftest import run_ticks, use_scenario
from .queue_data import CONFIRMATIONS, EXECUTIONS, EXPECTED_BREAKS, PNL, Queue, build_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(sim_universe) -> Queue:
    use_scenario("clean")
    run_ticks(8)
    return build_queue()


@pytest.fixture
def as_viewer(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def as_operator(client, operator):
    client.force_login(operator)
    return client


def page(client, path, **headers) -> str:
    response = client.get(path, **headers)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def upload(name: str, text: str) -> io.BytesIO:
    handle = io.BytesIO(text.encode())
    handle.name = name
    return handle


# --- the queue ---------------------------------------------------------------------------


def test_the_queue_lists_open_breaks_with_their_age_and_live_counts(as_viewer, queue):
    html = page(as_viewer, "/recon/")
    assert 'aria-current="page">Recon<' in html and "not built yet" not in html
    for brk in queue.all:
        assert f'href="/recon/breaks/{brk.break_id}/"' in html
    assert html.count('<tr id="row-') == 4
    assert '<span class="badge bucket-4">&gt;10</span>' in html  # the oldest, 12 days
    assert "12d" in html and "2d" in html
    assert f'href="/trades/{queue.trade_id}/"' in html  # the trade the break touches
    # The live counts: open by type and age bucket, polled.
    assert 'id="recon-counts" hx-get="/recon/counts/" hx-trigger="every 10s"' in html
    assert 'id="open-count">4 open<' in html
    counts = page(as_viewer, "/recon/counts/", HTTP_HX_REQUEST="true")
    assert "<html" not in counts and 'id="open-count">4 open<' in counts
    assert "Position quantity" in counts and "Cash balance" in counts
    # A viewer sees no checkboxes and no bulk actions.
    assert 'id="bulk-form"' not in html and 'name="break_ids"' not in html
    assert 'href="/api/recon/breaks?status=open&amp;format=csv"' in html


def test_the_queue_filters_through_htmx_and_names_a_bad_filter(as_viewer, queue):
    rows = page(as_viewer, "/recon/?type=cash_balance", HTTP_HX_REQUEST="true")
    assert "<html" not in rows and 'id="break-rows"' in rows
    assert rows.count('<tr id="row-') == 1 and queue.cash.break_id in rows
    aged = page(as_viewer, "/recon/?age=%3E10", HTTP_HX_REQUEST="true")
    assert aged.count('<tr id="row-') == 1 and queue.outside.break_id in aged
    by_trade = page(as_viewer, f"/recon/?trade_id={queue.trade_id}", HTTP_HX_REQUEST="true")
    assert by_trade.count('<tr id="row-') == 1 and queue.cancelled_trade.break_id in by_trade
    unknown = page(as_viewer, "/recon/?classification=unknown&mandate=GEQ")
    assert unknown.count('<tr id="row-') == 2
    assert 'value="unknown" selected' in unknown  # the form keeps the filter
    assert page(as_viewer, "/recon/?status=resolved").count('<tr id="row-') == 0
    assert page(as_viewer, "/recon/?status=all").count('<tr id="row-') == 4
    bad = page(as_viewer, "/recon/?age=old&mandate=NOPE", HTTP_HX_REQUEST="true")
    assert "age: Select a valid choice" in bad and "mandate: unknown mandate NOPE" in bad


def test_the_queue_costs_the_same_queries_with_more_breaks(
    as_viewer, queue, django_assert_max_num_queries
):
    with django_assert_max_num_queries(20) as one:
        page(as_viewer, "/recon/?classification=missing_trade")
    with django_assert_max_num_queries(20) as four:
        page(as_viewer, "/recon/")
    assert len(one.captured_queries) == len(four.captured_queries)


def test_bulk_actions_from_the_queue_work_the_ticked_breaks(as_operator, operator, queue):
    html = page(as_operator, "/recon/?classification=unknown")
    assert 'id="bulk-form"' in html and html.count('name="break_ids"') == 2
    assert 'name="next" value="classification=unknown&amp;status=open" form="bulk-form"' in html
    chosen = [queue.cash.break_id, queue.unknown.break_id]
    # WHEN the operator ticks two breaks and assigns them to themself
    response = as_operator.post(
        "/recon/bulk/",
        {"action": "assign_me", "break_ids": chosen, "next": "classification=unknown"},
    )
    # THEN both are theirs, and the queue comes back filtered as it was
    assert response.status_code == 302
    assert response["Location"] == "/recon/?classification=unknown"
    assert set(Break.objects.filter(break_id__in=chosen).values_list("assignee", flat=True)) == {
        operator.pk
    }
    after = page(as_operator, response["Location"])
    assert "2 breaks assigned to you" in after
    # Resolving needs a reason code: refused, nothing changed, the ticks kept.
    refused = as_operator.post(
        "/recon/bulk/", {"action": "resolve", "break_ids": chosen, "note": "settled"}
    )
    assert refused.status_code == 400
    text = refused.content.decode()
    assert "reason_code: This field is required." in text
    assert (
        f'value="{queue.cash.break_id}" form="bulk-form" aria-label="Tick {queue.cash.break_id}" checked'
        in text
    )
    assert not Break.objects.filter(status=BreakStatus.RESOLVED).exists()
    resolved = as_operator.post(
        "/recon/bulk/",
        {"action": "resolve", "break_ids": chosen, "reason_code": "custodian_error", "note": "x"},
    )
    assert resolved.status_code == 302
    assert set(Break.objects.filter(break_id__in=chosen).values_list("status", flat=True)) == {
        "resolved"
    }
    assert BreakAction.objects.filter(kind="resolved", actor=operator.username).count() == 2
    # Comment and escalate the rest; nothing ticked is refused.
    rest = [queue.outside.break_id, queue.cancelled_trade.break_id]
    as_operator.post("/recon/bulk/", {"action": "comment", "break_ids": rest, "text": "on it"})
    as_operator.post("/recon/bulk/", {"action": "escalate", "break_ids": rest})
    assert Break.objects.filter(escalated=True).count() == 2
    assert BreakAction.objects.filter(kind="commented", note="on it").count() == 2
    nothing = as_operator.post("/recon/bulk/", {"action": "escalate"})
    assert nothing.status_code == 400 and "tick at least one break" in nothing.content.decode()


def test_a_viewer_cannot_post_to_the_queue(as_viewer, queue):
    response = as_viewer.post(
        "/recon/bulk/", {"action": "assign_me", "break_ids": [queue.cash.break_id]}
    )
    assert response.status_code == 403
    assert not BreakAction.objects.exclude(kind="opened").exists()


# --- one break ---------------------------------------------------------------------------


def test_a_break_page_shows_both_sides_candidates_and_history(as_viewer, queue):
    brk = queue.cancelled_trade
    html = page(as_viewer, f"/recon/breaks/{brk.break_id}/")
    assert "Book (expected settled)" in html and "Custodian" in html
    assert 'class="side-value diff-highlight" id="difference">' in html
    assert "Missing trade" in html and "which the book cancelled" in html
    table = html[html.index('id="candidate-table"') :]
    assert f'<a href="/trades/{queue.trade_id}/">{queue.trade_id}</a>' in table
    assert f'href="/events/trace/{queue.trade_id}/"' in table
    history = html[html.index('id="history-table"') :]
    assert "Opened" in history and queue.new_run.run_id in history
    assert 'id="break-actions"' not in html  # a viewer has no forms
    assert as_viewer.get("/recon/breaks/B-999999/").status_code == 404


def test_the_workflow_forms_on_a_break_page(as_operator, operator, queue):
    brk = queue.cash
    url = f"/recon/breaks/{brk.break_id}/"
    html = page(as_operator, url)
    for form in ("assign-form", "comment-form", "resolve-form", "reason-form", "escalate-form"):
        assert f'id="{form}"' in html
    assert as_operator.post(f"{url}assign/", {"assignee": "me"}).status_code == 302
    assert as_operator.post(f"{url}comment/", {"text": "Custodian to confirm"}).status_code == 302
    # A refusal re-renders the page with the message next to the form.
    refused = as_operator.post(f"{url}resolve/", {"reason_code": "", "note": "done"})
    assert refused.status_code == 400
    assert "reason_code: This field is required." in refused.content.decode()
    assert (
        as_operator.post(f"{url}resolve/", {"reason_code": "timing", "note": "T+3"}).status_code
        == 302
    )
    brk.refresh_from_db()
    assert brk.status == "resolved" and brk.assignee == operator and brk.reason_code == "timing"
    after = page(as_operator, url)
    assert f"{brk.break_id}: resolved." in after
    history = after[after.index('id="history-table"') :]
    for line in ("Assigned", "Custodian to confirm", "Resolved", "T+3", operator.username):
        assert line in history
    assert 'id="reopen-form"' in after and 'id="resolve-form"' not in after
    assert Event.objects.filter(kind="recon.break_resolved", actor=operator.username).exists()
    assert as_operator.post(f"{url}delete/", {}).status_code == 404
    assert as_operator.post("/recon/breaks/B-999999/comment/", {"text": "x"}).status_code == 404


# --- aging and runs ----------------------------------------------------------------------


def test_the_aging_page_charts_open_breaks_by_type_and_bucket(as_viewer, queue):
    html = page(as_viewer, "/recon/aging/")
    chart = html[html.index('id="aging-chart"') : html.index("</figure>")]
    assert chart.count('<rect class="aging-bar') == 3  # quantity: 2-3 and >10; cash: 2-3
    assert "Position quantity, &gt;10 business days: 1" in chart
    assert "Position quantity, 2-3 business days: 2" in chart
    assert 'href="/recon/?type=cash_balance&amp;age=2-3"' in chart
    table = html[html.index('id="aging-table"') :]
    assert '<td class="num"><strong>3</strong></td>' in table
    assert 'id="aging-open">4<' in html


def test_runs_page_upload_and_printable_report(as_operator, operator, queue):
    html = page(as_operator, "/recon/runs/")
    assert queue.new_run.run_id in html and 'id="upload-form"' in html
    assert 'enctype="multipart/form-data"' in html
    rows = page(as_operator, "/recon/runs/?kind=position&source=file", HTTP_HX_REQUEST="true")
    assert "<html" not in rows and rows.count('href="/recon/runs/R-') == 2
    # Upload the three files through the page.
    response = as_operator.post(
        "/recon/runs/upload/",
        {
            "executions": upload("executions.csv", EXECUTIONS),
            "confirmations": upload("broker_confirmations.csv", CONFIRMATIONS),
            "pnl": upload("pnl_snapshot.csv", PNL),
            "price_tolerance": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    run = ReconRun.objects.get(kind="trade", source="file")
    assert response["Location"] == f"/recon/runs/{run.run_id}/"
    report = page(as_operator, response["Location"])
    assert f"{run.run_id}: " in report and "5 breaks, 1 rejected row" in report
    assert 'class="print-report"' in report
    assert f'href="/api/recon/runs/{run.run_id}/breaks.csv"' in report
    table = report[report.index('id="report-breaks"') :]
    assert [t for t, _ in EXPECTED_BREAKS] == [
        line.split("<td>")[1].split("</td>")[0]
        for line in table.split("</table>")[0].split("<tr><td>")[1:]
    ]
    assert "executions.csv" in report[report.index('id="report-rejects"') :]
    # A trade break from the file: our side against the broker's, its trace linked.
    price = Break.objects.get(source="file", match_key="T3", break_type="price_mismatch")
    detail = page(as_operator, f"/recon/breaks/{price.break_id}/")
    assert "Our executions" in detail and "Broker confirmation" in detail
    assert "ours − broker" in detail and 'href="/events/trace/T3/"' in detail
    # A position run's report too.
    position = page(as_operator, f"/recon/runs/{queue.new_run.run_id}/")
    assert "statement" in position and queue.cash.break_id in position
    assert as_operator.get("/recon/runs/R-999999/").status_code == 404


def test_a_bad_upload_through_the_page_says_which_file(as_operator, sim_universe, settings):
    header_only = "trade_id,ticker,quantity,price,timestamp\n"
    response = as_operator.post(
        "/recon/runs/upload/",
        {
            "executions": upload("executions.csv", EXECUTIONS),
            "confirmations": upload("confirms.csv", header_only),
        },
    )
    assert response.status_code == 400
    assert "confirmations: confirms.csv" in response.content.decode()
    missing = as_operator.post("/recon/runs/upload/", {"executions": upload("e.csv", EXECUTIONS)})
    assert missing.status_code == 400 and "confirmations: No file was submitted." in (
        missing.content.decode()
    )
    settings.RECON_MAX_UPLOAD_BYTES = 1024
    big = EXECUTIONS * 20
    too_big = as_operator.post(
        "/recon/runs/upload/",
        {"executions": upload("e.csv", big), "confirmations": upload("c.csv", CONFIRMATIONS)},
    )
    assert too_big.status_code == 413 and "the limit is 1.0 KB" in too_big.content.decode()
    assert not ReconRun.objects.filter(kind="trade", source="file").exists()


def test_a_viewer_sees_runs_but_no_upload(as_viewer, queue):
    html = page(as_viewer, "/recon/runs/")
    assert 'id="upload-form"' not in html
    response = as_viewer.post(
        "/recon/runs/upload/",
        {
            "executions": upload("e.csv", EXECUTIONS),
            "confirmations": upload("c.csv", CONFIRMATIONS),
        },
    )
    assert response.status_code == 403


# --- the overview and the admin ----------------------------------------------------------


def test_the_overview_card_counts_open_breaks(as_viewer, queue):
    html = page(as_viewer, "/")
    tile = html[html.index('id="recon-tile"') :]
    tile = tile[: tile.index("</dl>")]
    assert '<span class="badge bad">4 open</span>' in tile
    assert f'href="/recon/runs/{ReconRun.objects.order_by("-id").first().run_id}/"' in tile


def test_the_admin_edits_tolerances_and_shows_breaks_read_only(client, admin_user, queue):
    client.force_login(admin_user)
    page(client, "/admin/recon/tolerance/")
    page(client, "/admin/recon/reconsettings/")
    tolerance = Tolerance.objects.order_by("asset_class").first()
    change = page(client, f"/admin/recon/tolerance/{tolerance.pk}/change/")
    assert 'name="quantity_abs"' in change
    listing = page(client, f"/admin/recon/break/?q={queue.cash.break_id}")
    assert queue.cash.break_id in listing and "1 result" in listing
    by_trade = page(client, f"/admin/recon/break/?q={queue.trade_id}")
    assert queue.cancelled_trade.break_id in by_trade
    detail = page(client, f"/admin/recon/break/{queue.cash.pk}/change/")
    assert "on the Recon page" in detail and "Opened" in detail
    assert client.get("/admin/recon/break/add/").status_code == 403
    page(client, f"/admin/recon/reconrun/?q={queue.new_run.run_id}")
    # The admin's own action goes through the service, recorded like any other.
    response = client.post(
        "/admin/recon/break/",
        {"action": "breaks_escalate", "_selected_action": [queue.cash.pk]},
    )
    assert response.status_code == 302
    assert BreakAction.objects.filter(
        brk=queue.cash, kind="escalated", actor=admin_user.username
    ).exists()
