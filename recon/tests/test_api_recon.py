"""The recon API over a queue built by the services: the summary, the break list with
every filter (age buckets included) and a 400 for a bad one, one break, the workflow
actions one by one and in bulk (recorded on the break, in the event log and in the
trade's trace), roles, runs, and file runs with good and bad uploads."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from book.models import Event
from recon import engine
from recon.api import BREAK_CSV_HEADER
from recon.models import Break, BreakAction, BreakStatus, ReconRun

from .conftest import run_ticks, use_scenario
from .queue_data import (
    CONFIRMATIONS,
    EXECUTIONS,
    EXPECTED_BREAKS,
    PNL,
    Queue,
    build_queue,
)

pytestmark = pytest.mark.django_db

BREAKS = "/api/recon/breaks"
RUNS = "/api/recon/runs"


@pytest.fixture
def queue(sim_universe) -> Queue:
    """A clean simulated morning, then two statements that differ from the book."""
    use_scenario("clean")
    run_ticks(8)
    return build_queue()


@pytest.fixture
def reader(api_client, viewer):
    api_client.force_authenticate(viewer)
    return api_client


@pytest.fixture
def writer(api_client, operator):
    api_client.force_authenticate(operator)
    return api_client


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(row["break_id"] for row in response.json()["results"])


def parse_csv(response) -> list[list[str]]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode())))


def upload(name: str, text: str) -> io.BytesIO:
    handle = io.BytesIO(text.encode())
    handle.name = name
    return handle


def files(**changes: str | None) -> dict[str, io.BytesIO]:
    given = {
        "executions": ("executions.csv", EXECUTIONS),
        "confirmations": ("broker_confirmations.csv", CONFIRMATIONS),
        "pnl": ("pnl_snapshot.csv", PNL),
    }
    body = {}
    for field, (name, text) in given.items():
        text = changes.get(field, text)
        if text is not None:
            body[field] = upload(name, text)
    return body


# --- the summary -------------------------------------------------------------------------


def test_the_summary_counts_open_breaks_by_type_age_mandate_and_classification(reader, queue):
    response = reader.get("/api/recon")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["as_of"] == queue.today.isoformat()
    assert body["open"] == 4
    assert body["by_type"] == {"cash_balance": 1, "position_quantity": 3}
    assert body["by_age_bucket"] == {"0-1": 0, "2-3": 3, "4-5": 0, "6-10": 0, ">10": 1}
    assert body["by_type_and_age"]["position_quantity"] == {
        "0-1": 0,
        "2-3": 2,
        "4-5": 0,
        "6-10": 0,
        ">10": 1,
    }
    assert body["by_mandate"] == {"GEQ": 4}
    assert body["by_classification"] == {"missing_trade": 2, "unknown": 2}
    runs = [r["run_id"] for r in body["last_runs"]]
    assert runs[:2] == [queue.new_run.run_id, queue.old_run.run_id]
    assert body["last_runs"][0]["breaks_found"] == 4
    assert set(body["recent_runs_totals"]) == {"position", "trade"}
    assert body["recent_runs_totals"]["position"]["breaks"] >= 5
    assert body["recent_runs_totals"]["position"]["matched"] > 0
    # The summary takes no parameters: a typo is named, not ignored.
    assert reader.get("/api/recon?mandate=GEQ").json()["detail"] == {
        "mandate": ["unknown query parameter"]
    }


# --- the list and its filters ------------------------------------------------------------


def test_the_list_filters_by_type_status_mandate_age_trade_and_more(reader, queue):
    q = queue
    every = sorted(b.break_id for b in q.all)
    assert ids(reader.get(BREAKS)) == every
    assert ids(reader.get(f"{BREAKS}?status=open&mandate=GEQ&recon=position")) == every
    assert ids(reader.get(f"{BREAKS}?type=cash_balance")) == [q.cash.break_id]
    assert ids(reader.get(f"{BREAKS}?classification=unknown")) == sorted(
        [q.cash.break_id, q.unknown.break_id]
    )
    assert ids(reader.get(f"{BREAKS}?trade_id={q.trade_id}")) == [q.cancelled_trade.break_id]
    # Age buckets, in business days since first seen.
    assert ids(reader.get(f"{BREAKS}?age=%3E10")) == [q.outside.break_id]
    assert ids(reader.get(f"{BREAKS}?age=2-3")) == sorted(
        [q.cancelled_trade.break_id, q.cash.break_id, q.unknown.break_id]
    )
    assert ids(reader.get(f"{BREAKS}?age=0-1")) == []
    assert ids(reader.get(f"{BREAKS}?status=resolved")) == []
    assert ids(reader.get(f"{BREAKS}?escalated=false")) == every
    assert ids(reader.get(f"{BREAKS}?recon=trade")) == []
    rows = {r["break_id"]: r for r in reader.get(BREAKS).json()["results"]}
    old = rows[q.outside.break_id]
    assert (old["age"], old["age_bucket"], old["times_seen"]) == (12, ">10", 2)
    assert old["difference"] == "100" and old["mandate"] == "GEQ" and old["instrument"]
    # Escalated first, then the oldest.
    assert next(iter(rows)) == q.outside.break_id


@pytest.mark.parametrize(
    "query, field",
    [
        ("type=nope", "type"),
        ("status=closed", "status"),
        ("mandate=NOPE", "mandate"),
        ("age=11", "age"),
        ("age=10%2B", "age"),
        ("classification=weird", "classification"),
        ("assignee=ghost", "assignee"),
        ("escalated=maybe", "escalated"),
        ("recon=both", "recon"),
        ("trade=T-000001", "trade"),
        ("page=0", "page"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_parameter(reader, sim_universe, query, field):
    response = reader.get(f"{BREAKS}?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "validation_error" and list(body["detail"]) == [field]
    assert reader.get(f"{BREAKS}?mandate=NOPE").json()["detail"]["mandate"] == [
        "unknown mandate NOPE"
    ]


def test_the_list_is_paginated_and_costs_the_same_queries_per_page(
    reader, queue, django_assert_max_num_queries
):
    first = reader.get(f"{BREAKS}?page_size=2").json()
    assert first["count"] == 4 and len(first["results"]) == 2 and first["next"]
    with django_assert_max_num_queries(6) as one:
        reader.get(f"{BREAKS}?page_size=1")
    with django_assert_max_num_queries(6) as four:
        reader.get(f"{BREAKS}?page_size=50")
    assert len(one.captured_queries) == len(four.captured_queries)


def test_the_list_exports_every_matching_break_as_csv(reader, queue):
    response = reader.get(f"{BREAKS}?format=csv&classification=unknown")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = parse_csv(response)
    assert rows[0] == BREAK_CSV_HEADER
    assert sorted(r[0] for r in rows[1:]) == sorted([queue.cash.break_id, queue.unknown.break_id])
    cash = next(r for r in rows[1:] if r[0] == queue.cash.break_id)
    record = dict(zip(BREAK_CSV_HEADER, cash, strict=True))
    assert record["difference"] == "1234.56" and record["currency"] == "USD"
    assert record["age_bucket"] == "2-3" and record["mandate"] == "GEQ"
    # A bad filter on a CSV request still answers in JSON, naming it.
    bad = reader.get(f"{BREAKS}?format=csv&age=old")
    assert bad.status_code == 400 and bad.json()["detail"].keys() == {"age"}


# --- one break ---------------------------------------------------------------------------


def test_a_break_shows_both_sides_its_candidates_age_and_history(reader, queue):
    brk = queue.cancelled_trade
    response = reader.get(f"{BREAKS}/{brk.break_id}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["break_type"] == "position_quantity"
    assert body["classification"] == "missing_trade"
    assert body["trade_id"] == queue.trade_id and body["trade_ids"] == [queue.trade_id]
    assert float(body["external_value"]) - float(body["internal_value"]) == float(
        body["difference"]
    )
    assert [c["trade_id"] for c in body["candidates"]] == [queue.trade_id]
    assert body["detail"]["statement_id"]
    assert (body["age"], body["age_bucket"]) == (2, "2-3")
    assert body["first_run"] == body["last_run"] == queue.new_run.run_id
    assert [(h["kind"], h["actor"], h["run"]) for h in body["history"]] == [
        ("opened", "system", queue.new_run.run_id)
    ]
    missing = reader.get(f"{BREAKS}/B-999999")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


# --- the workflow ------------------------------------------------------------------------


def test_each_action_changes_the_break_and_is_recorded_with_who_did_it(writer, operator, queue):
    brk = queue.cancelled_trade
    url = f"{BREAKS}/{brk.break_id}"
    name = operator.get_username()

    def act(action: str, **body) -> dict:
        response = writer.post(f"{url}/{action}", body, format="json")
        assert response.status_code == 200, (action, response.content)
        return response.json()

    assert act("assign", assignee=name)["assignee"] == name
    assert act("comment", text="Custodian settled a trade we cancelled")["status"] == "open"
    assert act("reason", reason_code="booking_error")["reason_code"] == "booking_error"
    assert act("escalate", note="desk to confirm")["escalated"] is True
    resolved = act("resolve", reason_code="booking_error", note="rebooked as T-new")
    assert resolved["status"] == "resolved" and resolved["resolved_date"]
    assert resolved["resolution"] == f"resolved by {name}: rebooked as T-new"
    reopened = act("reopen", note="the custodian disagrees")
    assert reopened["status"] == "open" and reopened["resolution"] == ""
    assert act("assign", assignee=None)["assignee"] is None
    # THEN every action is in the break's history, with who did it and the note
    history = [(h["kind"], h["actor"], h["note"]) for h in reopened["history"]]
    assert history[1:] == [
        ("assigned", name, f"assigned to {name}"),
        ("commented", name, "Custodian settled a trade we cancelled"),
        ("reason", name, ""),
        ("escalated", name, "desk to confirm"),
        ("resolved", name, "rebooked as T-new"),
        ("reopened", name, "the custodian disagrees"),
    ]
    # AND in the event log, under the trade id it touches, with the actor
    kinds = [
        "recon.break_assigned",
        "recon.break_commented",
        "recon.break_reason",
        "recon.break_escalated",
        "recon.break_resolved",
        "recon.break_reopened",
        "recon.break_assigned",
    ]
    events = Event.objects.filter(trade_id=queue.trade_id, kind__in=kinds).order_by("id")
    assert [e.kind for e in events] == kinds
    assert {e.actor for e in events} == {name}
    assert all(e.payload["break_id"] == brk.break_id for e in events)
    # AND the trade's trace shows the break, from opened to the last action
    trace = writer.get(f"/api/trace/{queue.trade_id}").json()["events"]
    traced = [e["kind"] for e in trace if e["kind"].startswith("recon.")]
    assert traced == ["recon.break_opened", *kinds]


@pytest.mark.parametrize(
    "action, body, field",
    [
        ("resolve", {"reason_code": "because"}, "reason_code"),
        ("resolve", {}, "reason_code"),
        ("reason", {"reason_code": ""}, "reason_code"),
        ("comment", {"text": "   "}, "text"),
        ("comment", {}, "text"),
        ("assign", {"assignee": "ghost"}, "assignee"),
        ("assign", {}, "assignee"),
        ("reopen", {"note": "still open"}, "break_ids"),  # the service refuses: it is open
    ],
)
def test_a_refused_action_is_a_400_naming_the_field_and_changes_nothing(
    writer, queue, action, body, field
):
    brk = queue.cash
    before = BreakAction.objects.count(), Event.objects.count()
    response = writer.post(f"{BREAKS}/{brk.break_id}/{action}", body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["detail"]) == [field]
    assert (BreakAction.objects.count(), Event.objects.count()) == before


def test_breaks_go_only_to_people_who_can_work_them_and_unknown_ones_are_404(writer, viewer, queue):
    refused = writer.post(
        f"{BREAKS}/{queue.cash.break_id}/assign", {"assignee": viewer.username}, format="json"
    )
    assert refused.status_code == 400
    assert "operator role" in refused.json()["detail"]["assignee"][0]
    missing = writer.post(f"{BREAKS}/B-999999/comment", {"text": "hello"}, format="json")
    assert missing.status_code == 404
    # Resolving twice: the second is refused, naming the break.
    body = {"reason_code": "timing"}
    assert writer.post(f"{BREAKS}/{queue.cash.break_id}/resolve", body).status_code == 200
    again = writer.post(f"{BREAKS}/{queue.cash.break_id}/resolve", body)
    assert again.status_code == 400
    assert queue.cash.break_id in again.json()["detail"]["break_ids"][0]


def test_bulk_actions_change_every_break_named_or_none(writer, operator, queue):
    chosen = [queue.cash.break_id, queue.unknown.break_id]
    assigned = writer.post(
        f"{BREAKS}/bulk",
        {"action": "assign", "break_ids": chosen, "assignee": operator.username},
        format="json",
    )
    assert assigned.status_code == 200, assigned.content
    assert assigned.json()["count"] == 2
    assert {b["assignee"] for b in assigned.json()["breaks"]} == {operator.username}
    # One unknown id: nothing changes at all.
    before = BreakAction.objects.count()
    refused = writer.post(
        f"{BREAKS}/bulk",
        {"action": "resolve", "break_ids": [*chosen, "B-999999"], "reason_code": "timing"},
        format="json",
    )
    assert refused.status_code == 400
    assert "B-999999" in refused.json()["detail"]["break_ids"][0]
    assert BreakAction.objects.count() == before
    assert not Break.objects.filter(status=BreakStatus.RESOLVED).exists()
    # The action's own field is required.
    missing = writer.post(
        f"{BREAKS}/bulk", {"action": "resolve", "break_ids": chosen}, format="json"
    )
    assert missing.status_code == 400 and list(missing.json()["detail"]) == ["reason_code"]
    unknown = writer.post(
        f"{BREAKS}/bulk", {"action": "delete", "break_ids": chosen}, format="json"
    )
    assert unknown.status_code == 400 and list(unknown.json()["detail"]) == ["action"]
    empty = writer.post(f"{BREAKS}/bulk", {"action": "escalate", "break_ids": []}, format="json")
    assert empty.status_code == 400 and list(empty.json()["detail"]) == ["break_ids"]
    resolved = writer.post(
        f"{BREAKS}/bulk",
        {"action": "resolve", "break_ids": chosen, "reason_code": "timing", "note": "settles T+3"},
        format="json",
    )
    assert resolved.status_code == 200
    assert {b["status"] for b in resolved.json()["breaks"]} == {"resolved"}
    actions = BreakAction.objects.filter(kind="resolved").values_list("brk__break_id", "actor")
    assert sorted(actions) == sorted((b, operator.username) for b in chosen)
    assert Event.objects.filter(kind="recon.break_resolved", actor=operator.username).count() == 2


def test_a_viewer_reads_but_cannot_act(reader, queue):
    assert reader.get(BREAKS).status_code == 200
    url = f"{BREAKS}/{queue.cash.break_id}"
    for action, body in [
        ("assign", {"assignee": None}),
        ("comment", {"text": "x"}),
        ("resolve", {"reason_code": "timing"}),
        ("escalate", {}),
    ]:
        response = reader.post(f"{url}/{action}", body, format="json")
        assert response.status_code == 403, action
        assert response.json()["error"] == "permission_denied"
    bulk = {"action": "escalate", "break_ids": [queue.cash.break_id]}
    assert reader.post(f"{BREAKS}/bulk", bulk, format="json").status_code == 403
    assert reader.post(RUNS, files(), format="multipart").status_code == 403
    assert not BreakAction.objects.exclude(kind="opened").exists()
    assert not ReconRun.objects.filter(kind="trade", source="file").exists()


# --- runs --------------------------------------------------------------------------------


def test_runs_list_filter_and_one_run_with_its_breaks(reader, queue):
    listed = reader.get(f"{RUNS}?kind=position").json()["results"]
    assert [r["run_id"] for r in listed][:2] == [queue.new_run.run_id, queue.old_run.run_id]
    imported = reader.get(f"{RUNS}?source=file").json()["results"]  # statements imported
    assert [r["run_id"] for r in imported] == [queue.new_run.run_id, queue.old_run.run_id]
    assert reader.get(f"{RUNS}?source=file&kind=trade").json()["results"] == []
    assert list(reader.get(f"{RUNS}?kind=nav").json()["detail"]) == ["kind"]
    detail = reader.get(f"{RUNS}/{queue.new_run.run_id}").json()
    assert detail["statement"] and detail["mandate"] == "GEQ" and detail["status"] == "completed"
    assert detail["summary"]["breaks"] == 4
    assert sorted(b["break_id"] for b in detail["breaks"]) == sorted(b.break_id for b in queue.all)
    assert detail["rejects"] == [] and detail["breaks_truncated"] is False
    assert reader.get(f"{RUNS}/R-999999").status_code == 404


def test_a_file_run_reports_its_breaks_and_rejects_and_exports_breaks_csv(writer, operator, db):
    response = writer.post(RUNS, files(), format="multipart")
    assert response.status_code == 201, response.content
    run = response.json()
    assert run["kind"] == "trade" and run["source"] == "file" and run["actor"] == operator.username
    assert run["files"] == {
        "executions": "executions.csv",
        "confirmations": "broker_confirmations.csv",
        "pnl": "pnl_snapshot.csv",
    }
    assert sorted((b["match_key"], b["break_type"]) for b in run["breaks"]) == EXPECTED_BREAKS
    assert run["summary"]["breaks_by_type"]["quantity_mismatch"] == 1
    assert run["rules"]["price_tolerance"] == "0.005000"
    # The row with a bad timestamp is a reject with its line (the header is line 1).
    assert [(r["file"], r["line"]) for r in run["rejects"]] == [("executions.csv", 6)]
    assert "timestamp" in run["rejects"][0]["reason"]
    # breaks.csv: exactly the file's columns, sorted, the same rows the engine writes.
    exported = writer.get(f"{RUNS}/{run['run_id']}/breaks.csv")
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    rows = parse_csv(exported)
    assert rows[0] == [
        "trade_id",
        "break_type",
        "field",
        "internal_value",
        "external_value",
        "difference",
    ]
    assert [tuple(r[:2]) for r in rows[1:]] == EXPECTED_BREAKS
    result, _ = engine.reconcile_files(EXECUTIONS.encode(), CONFIRMATIONS.encode(), PNL.encode())
    assert rows[1:] == [[str(v) for v in row.values()] for row in result.breaks_rows()]
    # The breaks joined the queue, and the file's trade ids have a trace.
    assert Break.objects.filter(source="file", status="open").count() == len(EXPECTED_BREAKS)
    trace = writer.get("/api/trace/T3").json()["events"]
    assert {e["payload"]["break_type"] for e in trace if e["kind"] == "recon.break_opened"} == {
        "pnl_inconsistent",
        "price_mismatch",
    }
    missing = writer.get(f"{RUNS}/R-999999/breaks.csv")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_tolerances_given_with_the_files_are_applied(writer, db):
    response = writer.post(
        RUNS,
        {**files(), "price_tolerance": "0.02", "time_tolerance_ms": "50"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    run = response.json()
    assert Decimal(run["rules"]["price_tolerance"]) == Decimal("0.02")
    assert run["rules"]["time_tolerance_ms"] == 50
    found = {(b["match_key"], b["break_type"]) for b in run["breaks"]}
    assert ("T3", "price_mismatch") not in found  # 0.01 is within 0.02
    assert ("T1", "timestamp_drift") in found  # 100 ms is beyond 50
    bad = writer.post(RUNS, {**files(), "price_tolerance": "-1"}, format="multipart")
    assert bad.status_code == 400 and list(bad.json()["detail"]) == ["price_tolerance"]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"confirmations": None}, "confirmations"),
        ({"executions": None, "confirmations": None}, "executions"),
        ({"executions": ""}, "executions"),
        ({"confirmations": "trade_id,ticker,quantity,price,timestamp\n"}, "confirmations"),
        ({"executions": "id,symbol,qty,px,time\nT1,AAPL,1,1,2024-01-02T10:00:00Z\n"}, "executions"),
        ({"pnl": "trade_id,pnl\nT1,1\n"}, "pnl"),
        ({"pnl": "\n\n"}, "pnl"),
    ],
)
def test_a_bad_upload_is_a_400_naming_the_file_and_writes_nothing(writer, db, changes, field):
    before = Event.objects.count()
    response = writer.post(RUNS, files(**changes), format="multipart")
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"], response.json()
    assert not ReconRun.objects.exists() and not Break.objects.exists()
    assert Event.objects.count() == before


def test_two_files_with_the_same_name_are_told_apart(writer, db):
    body = files(confirmations="trade_id,ticker,quantity,price,timestamp\n")
    body["executions"].name = body["confirmations"].name = "trades.csv"
    response = writer.post(RUNS, body, format="multipart")
    assert response.status_code == 400
    assert list(response.json()["detail"]) == ["confirmations"]


def test_an_upload_over_the_limit_is_a_413_before_it_is_read(writer, db, settings):
    settings.RECON_MAX_UPLOAD_BYTES = 2048
    big = EXECUTIONS + "".join(f"X{i},AAPL,1,1.00,2024-01-02T10:00:00Z\n" for i in range(200))
    response = writer.post(RUNS, files(executions=big), format="multipart")
    assert response.status_code == 413, response.content
    body = response.json()
    assert body["error"] == "upload_too_large" and "2.0 KB" in body["message"]
    # A client that declares 1 GB is refused on the declaration, the body unread.
    settings.RECON_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
    declared = writer.post(RUNS, files(), format="multipart", CONTENT_LENGTH=str(1 << 30))
    assert declared.status_code == 413
    assert "1.0 GB" in declared.json()["message"]
    assert not ReconRun.objects.exists()


def test_the_bytes_received_are_counted_too(db, settings):
    """A request that declares less than it sends is stopped by the upload handler."""
    from recon.api import UploadLimitHandler, UploadTooLarge

    handler = UploadLimitHandler(limit=10)
    assert handler.receive_data_chunk(b"12345", 0) == b"12345"
    with pytest.raises(UploadTooLarge):
        handler.receive_data_chunk(b"678901", 5)


def test_the_schema_documents_the_recon_endpoints(reader, db):
    schema = reader.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path in [
        "/api/recon",
        "/api/recon/breaks",
        "/api/recon/breaks/{break_id}",
        "/api/recon/breaks/{break_id}/resolve",
        "/api/recon/breaks/bulk",
        "/api/recon/runs",
        "/api/recon/runs/{run_id}",
        "/api/recon/runs/{run_id}/breaks.csv",
    ]:
        assert path in paths, path
    assert "multipart/form-data" in paths["/api/recon/runs"]["post"]["requestBody"]["content"]
