"""Data quality's API over a small queue of alerts (two stored runs, four active alerts
and one cleared): the summary, the queue's filters (a bad value is a 400 naming the
parameter), CSV, one alert in full, the workflow one by one and in bulk with the roles
that may use it, rules changed as new versions by an admin, runs and a check's trend,
the NAV gate and the late-alert selector, and the metrics."""

from __future__ import annotations

import csv
import io

import pytest
from prometheus_client import REGISTRY

from book.models import Event
from dataquality import events, metrics
from dataquality.models import Alert, CheckRun, DQRule
from dataquality.tests.alert_data import Queue, Ref, apply, finding, queue_build, universe_load

pytestmark = pytest.mark.django_db


@pytest.fixture
def universe(db) -> Ref:  # noqa: ANN001
    return universe_load()


@pytest.fixture
def queue(universe) -> Queue:  # noqa: ANN001
    return queue_build(universe)


@pytest.fixture
def reader(api_client, viewer):  # noqa: ANN001, ANN201
    api_client.force_authenticate(viewer)
    return api_client


@pytest.fixture
def worker(api_client, operator):  # noqa: ANN001, ANN201
    api_client.force_authenticate(operator)
    return api_client


def ids(body) -> list[str]:  # noqa: ANN001
    return [a["alert_id"] for a in body["results"]]


def refused(response, *fields: str) -> dict:  # noqa: ANN001
    """A 400 in the suite's error format, naming exactly `fields`."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "validation_error"
    assert set(body["detail"]) == set(fields), body
    return body["detail"]


def parse_csv(response) -> list[list[str]]:  # noqa: ANN001
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode())))


# --- the summary -------------------------------------------------------------------------


def test_the_summary_counts_active_alerts_by_severity_check_and_source(reader, queue):
    response = reader.get("/api/dataquality")
    assert response.status_code == 200
    body = response.json()
    assert body["open"] == 4
    assert body["by_severity"] == {"critical": 2, "warning": 2, "info": 0}
    assert body["by_rule"] == {
        "holding.late_statement": 1,
        "price.stale": 1,
        "price.vendor_deviation": 2,
    }
    assert body["by_source"] == {"custodian": 1, "primary": 2, "secondary": 1}
    # Health per source over the stored runs, less a penalty per active alert.
    assert set(body["health"]) == {"primary", "secondary", "custodian"}
    assert all(0 <= score <= 100 for score in body["health"].values())
    assert body["health"]["primary"] < 100
    heat = body["heat_map"]["primary"]["price.vendor_deviation"]
    assert heat == {"evaluated": 168, "failed": 2}
    assert body["last_run"]["tick"] == 2 and body["last_run"]["findings"] == 4
    assert body["rules"] == DQRule.objects.count() > 10
    assert reader.get("/api/dataquality?mandate=GEQ").status_code == 400


# --- the queue ---------------------------------------------------------------------------


def test_the_alert_list_filters_by_each_parameter(reader, queue, operator):
    everything = reader.get("/api/dataquality/alerts").json()
    assert everything["count"] == 5
    first = everything["results"][0]
    for field in [
        "alert_id",
        "rule",
        "rule_version",
        "severity",
        "status",
        "entity",
        "source",
        "instrument",
        "mandate",
        "value",
        "reference",
        "tolerance",
        "measured",
        "unit",
        "first_seen_tick",
        "last_seen_tick",
        "times_seen",
        "window_start",
        "window_end",
        "raised_sim_time",
        "assignee",
    ]:
        assert field in first, field
    # Newest raised first: the statement (tick 2) before the tick-1 alerts.
    assert ids(everything)[0] == queue.statement

    def listed(query: str) -> set[str]:
        response = reader.get(f"/api/dataquality/alerts?{query}")
        assert response.status_code == 200, (query, response.content)
        return set(ids(response.json()))

    active = {queue.held, queue.unheld, queue.other, queue.statement}
    assert listed("active=true") == active
    assert listed("active=false") == listed("status=resolved") == {queue.cleared}
    assert listed("severity=critical") == {queue.held, queue.other, queue.cleared}
    assert listed("rule=price.stale") == {queue.unheld}
    assert listed("source=custodian") == {queue.statement}
    assert listed(f"instrument={queue.ref.unheld.ticker}") == {queue.unheld, queue.cleared}
    # A mandate: the alerts on its inputs (its equity's price, its custodian statement).
    assert listed("mandate=GEQ") == {queue.held, queue.statement}
    assert listed("mandate=USFI") == {queue.other}
    assert listed("severity=critical&active=true&mandate=GEQ") == {queue.held}
    Alert.objects.filter(alert_id=queue.other).update(assignee=operator)
    assert listed(f"assignee={operator.username}") == {queue.other}


def test_a_bad_filter_value_is_a_400_naming_the_parameter(reader, queue):
    for query, field in [
        ("status=closed", "status"),
        ("active=maybe", "active"),
        ("severity=fatal", "severity"),
        ("rule=price.nope", "rule"),
        ("source=vendor9", "source"),
        ("instrument=NOPE", "instrument"),
        ("mandate=NOPE", "mandate"),
        ("assignee=ghost", "assignee"),
        ("trade_id=T-000001", "trade_id"),
        ("page=0", "page"),
    ]:
        detail = refused(reader.get(f"/api/dataquality/alerts?{query}"), field)
        if field in ("instrument", "mandate", "assignee"):
            assert "unknown" in detail[field][0], detail


def test_the_alert_list_is_paginated_and_exports_csv(reader, queue):
    page = reader.get("/api/dataquality/alerts?page_size=2").json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["next"]
    response = reader.get("/api/dataquality/alerts?severity=critical&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "alerts-critical.csv" in response["Content-Disposition"]
    rows = parse_csv(response)
    header, body = rows[0], rows[1:]
    assert header[:5] == ["alert_id", "rule", "rule_version", "severity", "status"]
    assert {r[0] for r in body} == {queue.held, queue.other, queue.cleared}
    held = next(r for r in body if r[0] == queue.held)
    assert held[header.index("instrument")] == queue.ref.held.ticker
    assert held[header.index("measured")] == "149.3"
    assert held[header.index("window_end")] == ""
    # A bad filter on a CSV request is still the JSON error.
    bad = reader.get("/api/dataquality/alerts?severity=fatal&format=csv")
    assert bad["Content-Type"] == "application/json"
    refused(bad, "severity")


def test_the_alert_list_costs_the_same_queries_however_many_alerts(
    reader, queue, django_assert_max_num_queries
):
    from book.models import Instrument

    url = "/api/dataquality/alerts?page_size=100&mandate=GEQ"
    reader.get(url)  # the role is read once per user
    # GIVEN GEQ's two alerts, WHEN 40 more alerts on GEQ's inputs are added
    with django_assert_max_num_queries(8) as few:
        assert reader.get(url).json()["count"] == 2
    # (each on another instrument, all touching GEQ's equity's price: a NAV input)
    touching = f"price:{queue.ref.held.pk}:primary"
    more = [
        finding(i, rule="price.missing", severity="info", inputs=(touching, f"instrument:{i.pk}"))
        for i in Instrument.objects.exclude(asset_class="fx")[:40]
    ]
    apply(3, more)
    # THEN the page of 42 costs as many queries as the page of 2
    with django_assert_max_num_queries(8) as many:
        body = reader.get(url).json()
    assert body["count"] == 42
    assert len(many.captured_queries) == len(few.captured_queries)


def test_one_alert_in_full_with_inputs_window_and_history(reader, queue):
    response = reader.get(f"/api/dataquality/alerts/{queue.held}")
    assert response.status_code == 200
    body = response.json()
    held = queue.ref.held
    assert body["alert_id"] == queue.held
    assert (body["rule"], body["rule_version"], body["severity"]) == (
        "price.vendor_deviation",
        1,
        "critical",
    )
    assert body["entity"] == f"instrument:{held.pk}" and body["instrument"] == held.ticker
    assert (body["value"], body["value_source"]) == (101.5, "primary")
    assert (body["reference"], body["reference_source"]) == (100.0, "secondary")
    assert (body["tolerance"], body["measured"], body["unit"]) == (20.0, 149.3, "bp")
    assert body["inputs"] == sorted([f"instrument:{held.pk}", f"price:{held.pk}:primary"])
    assert body["window"] == {
        "start": "2015-01-05T14:45:00Z",
        "end": None,
        "first_seen_tick": 1,
        "last_seen_tick": 2,
    }
    assert body["times_seen"] == 2 and body["detail"] == {"vix": 17.5}
    assert [h["kind"] for h in body["history"]] == ["raised"]
    cleared = reader.get(f"/api/dataquality/alerts/{queue.cleared}").json()
    assert cleared["status"] == "resolved" and cleared["window"]["end"] == "2015-01-05T15:00:00Z"
    assert [h["kind"] for h in cleared["history"]] == ["raised", "auto_resolved"]
    missing = reader.get("/api/dataquality/alerts/A-999999")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


# --- the workflow ------------------------------------------------------------------------


def test_an_operator_works_an_alert_through_each_action(worker, queue, operator, make_user):
    colleague = make_user("operator", username="ops-colleague")
    url = f"/api/dataquality/alerts/{queue.held}"
    ack = worker.post(f"{url}/acknowledge", {"note": "on it"}, format="json")
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    snooze = worker.post(f"{url}/snooze", {"ticks": 4}, format="json")
    assert snooze.json()["status"] == "snoozed" and snooze.json()["snoozed_until_tick"] == 6
    assign = worker.post(f"{url}/assign", {"assignee": "ops-colleague"}, format="json")
    assert assign.json()["assignee"] == "ops-colleague"
    comment = worker.post(f"{url}/comment", {"text": "vendor re-sends at 16:00"}, format="json")
    assert comment.status_code == 200
    resolve = worker.post(f"{url}/resolve", {"note": "false alarm"}, format="json")
    body = resolve.json()
    assert body["status"] == "resolved"
    assert body["resolution"] == f"resolved by {operator.username}: false alarm"
    assert [(h["kind"], h["actor"]) for h in body["history"]] == [
        ("raised", "system"),
        ("acknowledged", operator.username),
        ("snoozed", operator.username),
        ("assigned", operator.username),
        ("commented", operator.username),
        ("resolved", operator.username),
    ]
    logged = [e for e in Event.objects.filter(source="dataquality", actor=operator.username)]
    assert {e.kind for e in logged} == {
        events.ALERT_ACKNOWLEDGED,
        events.ALERT_SNOOZED,
        events.ALERT_ASSIGNED,
        events.ALERT_COMMENTED,
        events.ALERT_RESOLVED,
    }
    assert colleague.dq_alerts.get().alert_id == queue.held


def test_actions_refuse_bad_input_naming_the_field(worker, queue, viewer):
    url = f"/api/dataquality/alerts/{queue.held}"
    refused(worker.post(f"{url}/snooze", {"ticks": 0}, format="json"), "ticks")
    refused(worker.post(f"{url}/snooze", {}, format="json"), "ticks")
    refused(worker.post(f"{url}/comment", {"text": ""}, format="json"), "text")
    refused(worker.post(f"{url}/assign", {"assignee": "ghost"}, format="json"), "assignee")
    detail = refused(
        worker.post(f"{url}/assign", {"assignee": viewer.username}, format="json"), "assignee"
    )
    assert "operator role" in detail["assignee"][0]
    # A resolved alert: the service refuses (DQError -> 400 naming alert_ids).
    cleared = f"/api/dataquality/alerts/{queue.cleared}"
    detail = refused(worker.post(f"{cleared}/acknowledge", {}, format="json"), "alert_ids")
    assert "already resolved" in detail["alert_ids"][0]
    assert worker.post("/api/dataquality/alerts/A-999999/acknowledge", {}).status_code == 404
    assert Alert.objects.get(alert_id=queue.held).status == "open"


def test_bulk_actions_change_all_the_alerts_or_none(worker, queue):
    both = [queue.held, queue.unheld]
    response = worker.post(
        "/api/dataquality/alerts/bulk",
        {"action": "snooze", "alert_ids": both, "ticks": 3},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["action"] == "snooze" and body["count"] == 2
    assert {a["status"] for a in body["alerts"]} == {"snoozed"}
    # One unknown id: nothing changes.
    detail = refused(
        worker.post(
            "/api/dataquality/alerts/bulk",
            {"action": "acknowledge", "alert_ids": [queue.other, "A-999999"]},
            format="json",
        ),
        "alert_ids",
    )
    assert "A-999999" in detail["alert_ids"][0]
    assert Alert.objects.get(alert_id=queue.other).status == "open"
    refused(
        worker.post("/api/dataquality/alerts/bulk", {"action": "snooze", "alert_ids": both}),
        "ticks",
    )
    refused(
        worker.post("/api/dataquality/alerts/bulk", {"action": "delete", "alert_ids": both}),
        "action",
    )
    refused(
        worker.post(
            "/api/dataquality/alerts/bulk",
            {"action": "acknowledge", "alert_ids": []},
            format="json",
        ),
        "alert_ids",
    )


def test_a_viewer_reads_but_may_not_act_and_anonymous_gets_nothing(reader, queue, api_client):
    assert reader.get("/api/dataquality/alerts").status_code == 200
    url = f"/api/dataquality/alerts/{queue.held}"
    for action, body in [
        ("acknowledge", {}),
        ("snooze", {"ticks": 2}),
        ("assign", {"assignee": None}),
        ("comment", {"text": "hi"}),
        ("resolve", {}),
    ]:
        response = reader.post(f"{url}/{action}", body, format="json")
        assert response.status_code == 403, action
    bulk = reader.post(
        "/api/dataquality/alerts/bulk",
        {"action": "acknowledge", "alert_ids": [queue.held]},
        format="json",
    )
    assert bulk.status_code == 403
    assert Alert.objects.get(alert_id=queue.held).actions.count() == 1
    api_client.force_authenticate(None)
    assert api_client.get("/api/dataquality").status_code == 401


# --- rules -------------------------------------------------------------------------------


def test_rules_are_listed_and_changed_by_an_admin_as_a_new_version(
    reader, api_client, queue, admin_user, operator
):
    rules = reader.get("/api/dataquality/rules").json()
    assert len(rules) == DQRule.objects.count()
    spike = next(r for r in rules if r["code"] == "price.spike" and r["asset_class"] == "")
    assert (spike["version"], spike["severity"], spike["enabled"]) == (1, "critical", True)
    assert spike["params"]["k"] == 8.0
    filtered = reader.get("/api/dataquality/rules?code=price.spike&asset_class=all").json()
    assert [r["id"] for r in filtered] == [spike["id"]]
    refused(reader.get("/api/dataquality/rules?code=nope"), "code")
    url = f"/api/dataquality/rules/{spike['id']}"
    # Viewers and operators may not change configuration.
    assert reader.patch(url, {"params": {"k": 9}}, format="json").status_code == 403
    api_client.force_authenticate(operator)
    assert api_client.patch(url, {"params": {"k": 9}}, format="json").status_code == 403
    # An admin may: a new version, the other params kept, the change in the log.
    api_client.force_authenticate(admin_user)
    changed = api_client.patch(url, {"params": {"k": 9.0}, "severity": "warning"}, format="json")
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["version"], body["severity"], body["params"]["k"]) == (2, "warning", 9.0)
    assert body["params"]["min_jump"] == 0.03 and body["updated_by"] == admin_user.username
    assert Event.objects.filter(kind=events.RULE_CHANGED).count() == 1
    # What the engine could not take is refused, naming the field, and changes nothing.
    for bad, field in [
        ({"params": {"k": "eight"}}, "params"),
        ({"params": {"kk": 8}}, "params"),
        ({"severity": "fatal"}, "severity"),
        ({"enabled": "perhaps"}, "enabled"),
        ({"version": 7}, "version"),
        ({}, "non_field_errors"),
    ]:
        refused(api_client.patch(url, bad, format="json"), field)
    assert DQRule.objects.get(pk=spike["id"]).version == 2
    assert api_client.put(url, {"params": {}}, format="json").status_code == 405
    assert api_client.patch("/api/dataquality/rules/99999", {"enabled": False}).status_code == 404


# --- runs --------------------------------------------------------------------------------


def test_runs_list_and_one_run_with_its_results_and_a_trend(reader, queue):
    runs = reader.get("/api/dataquality/runs").json()
    assert [r["tick"] for r in runs["results"]] == [2, 1]
    last = runs["results"][0]
    assert last["sim_time"] == "2015-01-05T15:00:00Z"
    assert (last["findings"], last["opened"], last["resolved"]) == (4, 1, 1)
    assert last["summary"]["by_severity"] == {"critical": 2, "warning": 2}
    assert last["duration_ms"] >= 0
    one = reader.get("/api/dataquality/runs/1").json()
    results = {(r["rule"], r["source"]): r for r in one["results"]}
    assert results[("price.spike", "primary")] == {
        "rule": "price.spike",
        "source": "primary",
        "evaluated": 84,
        "failed": 1,
    }
    assert results[("price.vendor_deviation", "secondary")]["failed"] == 1
    assert results[("price.stale", "secondary")]["failed"] == 0  # passes are stored too
    assert reader.get("/api/dataquality/runs/99").status_code == 404
    trend = reader.get("/api/dataquality/trend?rule=price.spike").json()
    assert trend["rule"] == "price.spike"
    assert trend["points"] == [
        {"tick": 1, "evaluated": 168, "failed": 1},
        {"tick": 2, "evaluated": 168, "failed": 0},
    ]
    refused(reader.get("/api/dataquality/trend"), "rule")
    refused(reader.get("/api/dataquality/trend?rule=price.nope"), "rule")
    refused(reader.get("/api/dataquality/trend?rule=price.spike&ticks=0"), "ticks")


# --- the gate and late alerts ------------------------------------------------------------


def test_the_gate_answers_per_mandate_naming_the_blocking_alerts(reader, queue):
    geq = reader.get("/api/dataquality/gate?mandate=GEQ&at=2015-01-05T15:00:00Z").json()
    assert geq["publish"] is False and geq["mandate"] == "GEQ"
    assert [b["alert_id"] for b in geq["blocking"]] == [queue.held]  # not USFI's bond
    assert geq["blocking"][0]["severity"] == "critical"
    assert geq["inputs_checked"] > 3
    # USFI's own critical alert blocks USFI; GEQ's late statement is only a warning.
    usfi = reader.get("/api/dataquality/gate?mandate=USFI&at=2015-01-05T15:00:00Z").json()
    assert [b["alert_id"] for b in usfi["blocking"]] == [queue.other]
    # A mandate whose inputs no critical alert touches may publish.
    gmac = reader.get("/api/dataquality/gate?mandate=GMAC&at=2015-01-05T15:00:00Z").json()
    assert gmac["publish"] is True and gmac["blocking"] == []
    # Before the alert was raised, its window does not cover the time asked about.
    early = reader.get("/api/dataquality/gate?mandate=GEQ&at=2015-01-05T14:30:00Z").json()
    assert early["publish"] is True
    # Without `at`: the clock's last tick; an offset given as + survives the query string.
    now = reader.get("/api/dataquality/gate?mandate=GEQ").json()
    assert now["at"] == "2015-01-05T15:00:00Z" and now["publish"] is False
    plus = reader.get("/api/dataquality/gate?mandate=GEQ&at=2015-01-05T10:00:00%2B05:00").json()
    assert plus["at"] == "2015-01-05T05:00:00Z"


def test_the_gate_refuses_an_unknown_mandate_or_a_bad_time(reader, queue):
    detail = refused(reader.get("/api/dataquality/gate?mandate=NOPE"), "mandate")
    assert "unknown mandate NOPE" in detail["mandate"][0]
    refused(reader.get("/api/dataquality/gate"), "mandate")
    refused(reader.get("/api/dataquality/gate?mandate=GEQ&at=yesterday"), "at")
    naive = refused(reader.get("/api/dataquality/gate?mandate=GEQ&at=2015-01-05T15:00:00"), "at")
    assert "offset" in naive["at"][0]
    refused(reader.get("/api/dataquality/gate?mandate=GEQ&when=now"), "when")


def test_late_alerts_are_those_raised_after_publication_covering_the_nav_time(reader, queue):
    # A report for GEQ's NAV at tick 2 published at tick 1: the statement alert (raised
    # at tick 2) came after it; the equity's alert (tick 1) was known.
    url = "/api/dataquality/late-alerts?mandate=GEQ&at=2015-01-05T15:00:00Z"
    body = reader.get(f"{url}&after=2015-01-05T14:45:00Z").json()
    assert body["count"] == 1 and [a["alert_id"] for a in body["alerts"]] == [queue.statement]
    assert body["alerts"][0]["rule"] == "holding.late_statement"
    assert (body["mandate"], body["after"]) == ("GEQ", "2015-01-05T14:45:00Z")
    earlier = reader.get(f"{url}&after=2015-01-05T14:30:00Z").json()
    assert [a["alert_id"] for a in earlier["alerts"]] == [queue.held, queue.statement]
    critical = reader.get(f"{url}&after=2015-01-05T14:30:00Z&severity=critical").json()
    assert [a["alert_id"] for a in critical["alerts"]] == [queue.held]
    refused(reader.get(url), "after")
    refused(reader.get(f"{url}&after=soon"), "after")
    refused(
        reader.get(
            "/api/dataquality/late-alerts?mandate=NOPE&at=2015-01-05T15:00:00Z&after=2015-01-05T14:00:00Z"
        ),
        "mandate",
    )


# --- metrics and the schema --------------------------------------------------------------


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_each_check_and_read_active_alerts_at_scrape_time(client, queue, admin_user):
    # GIVEN the counters as they stand (other tests may have counted runs)
    before_eval = sample("opssuite_dq_check_evaluated_total", rule="price.spike")
    before_fail = sample("opssuite_dq_check_failed_total", rule="price.spike")
    before_runs = sample("opssuite_dq_runs_total")
    # WHEN the pipeline observes the run at tick 1
    metrics.runs_observe(CheckRun.objects.get(tick=1))
    # THEN each rule's evaluated and failed entities are counted (all sources)
    assert sample("opssuite_dq_check_evaluated_total", rule="price.spike") == before_eval + 168
    assert sample("opssuite_dq_check_failed_total", rule="price.spike") == before_fail + 1
    assert sample("opssuite_dq_runs_total") == before_runs + 1
    # ...and /metrics reads the active alerts by rule and severity from the database
    client.force_login(admin_user)
    text = client.get("/metrics").content.decode()
    assert (
        'opssuite_dq_active_alerts{rule="price.vendor_deviation",severity="critical"} 2.0' in text
    )
    assert 'opssuite_dq_active_alerts{rule="holding.late_statement",severity="warning"} 1.0' in text
    assert "price.spike" not in [
        line for line in text.splitlines() if line.startswith("opssuite_dq_active_alerts{")
    ]


def test_the_schema_documents_every_data_quality_endpoint(client, viewer):
    client.force_login(viewer)
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path in [
        "/api/dataquality",
        "/api/dataquality/alerts",
        "/api/dataquality/alerts/{alert_id}",
        "/api/dataquality/alerts/{alert_id}/acknowledge",
        "/api/dataquality/alerts/{alert_id}/snooze",
        "/api/dataquality/alerts/{alert_id}/assign",
        "/api/dataquality/alerts/{alert_id}/comment",
        "/api/dataquality/alerts/{alert_id}/resolve",
        "/api/dataquality/alerts/bulk",
        "/api/dataquality/rules",
        "/api/dataquality/rules/{id}",
        "/api/dataquality/runs",
        "/api/dataquality/runs/{tick}",
        "/api/dataquality/trend",
        "/api/dataquality/gate",
        "/api/dataquality/late-alerts",
    ]:
        assert path in paths, path
    assert "patch" in paths["/api/dataquality/rules/{id}"]
    assert "put" not in paths["/api/dataquality/rules/{id}"]


def test_the_api_root_links_data_quality(reader):
    links = reader.get("/api/").json()
    for name in ["dataquality", "dq_alerts", "dq_rules", "dq_runs"]:
        assert reader.get(links[name]).status_code == 200, name
