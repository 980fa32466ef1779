"""Data quality's pages over a small queue of alerts (two stored runs, four active alerts
and one cleared): the dashboard (heat map, timeline, health, last run) and its HTMX
refresh, the alert queue (filters, live counts, bulk actions, who may use them), one
alert (both values, tolerance, inputs, window, the mandates it blocks, history, the
action forms), rules, runs, the admin (a rule saved there is a new version) and the
overview card."""

from __future__ import annotations

import json
import re

import pytest

from dataquality.models import Alert, AlertAction, DQRule
from dataquality.tests.alert_data import Queue, Ref, apply, finding, queue_build, universe_load

pytestmark = pytest.mark.django_db


@pytest.fixture
def universe(db) -> Ref:  # noqa: ANN001
    return universe_load()


@pytest.fixture
def queue(universe) -> Queue:  # noqa: ANN001
    return queue_build(universe)


@pytest.fixture
def as_viewer(client, viewer):  # noqa: ANN001, ANN201
    client.force_login(viewer)
    return client


@pytest.fixture
def as_operator(client, operator):  # noqa: ANN001, ANN201
    client.force_login(operator)
    return client


@pytest.fixture
def as_admin(client, admin_user):  # noqa: ANN001, ANN201
    client.force_login(admin_user)
    return client


def page(client, path: str, status: int = 200, **headers) -> str:  # noqa: ANN001
    response = client.get(path, **headers)
    assert response.status_code == status, (path, response.status_code)
    return response.content.decode()


def rows(html: str, table: str) -> list[str]:
    body = html[html.index(f'id="{table}"') :]
    body = body[body.index("<tbody>") : body.index("</tbody>")]
    return re.findall(r"<tr[ >].*?</tr>", body, flags=re.S)


# --- the dashboard -----------------------------------------------------------------------


def test_the_dashboard_shows_the_heat_map_timeline_health_and_last_run(as_viewer, queue):
    html = page(as_viewer, "/dataquality/")
    assert 'aria-current="page">Data quality<' in html  # the nav entry, live
    assert "not built yet" not in html
    # Active alerts by severity, linking to the queue.
    assert 'id="dq-open-count">4 active<' in html
    assert re.search(r'id="dq-open-critical"><a href="[^"]+severity=critical">2<', html)
    # The heat map: a row per check, a column per source, failed / evaluated, coloured.
    heat = html[html.index('id="heat-map"') :]
    heat = heat[: heat.index("</table>")]
    assert re.search(r"<th[^>]*>primary</th>.*<th[^>]*>secondary</th>.*custodian", heat, re.S)
    deviation = next(r for r in rows(html, "heat-map") if "price.vendor_deviation" in r)
    assert "heat heat-3" in deviation and "2 / 168" in deviation  # primary: 2 of 168, 1.19%
    spike = next(r for r in rows(html, "heat-map") if "price.spike" in r)
    assert "heat heat-0" in spike  # secondary: no failure
    late = next(r for r in rows(html, "heat-map") if "holding.late_statement" in r)
    assert "1 / 10" in late and "heat-4" in late  # 10%: the reddest
    # The timeline: alerts raised per tick, stacked by severity.
    chart = html[html.index('id="dq-timeline"') :]
    assert chart.count('class="timeline-bar sev-critical"') == 1  # tick 1: three critical
    assert chart.count('class="timeline-bar sev-warning"') == 2  # tick 1 and tick 2
    assert "tick 1: 3 critical" in chart and "tick 2: 1 warning" in chart
    assert "5 raised" in chart
    # Health per source, and the last run.
    assert re.search(r'id="health-primary">\d+(\.\d)?<', html)
    last = html[html.index('id="dq-last-run"') :]
    assert 'href="/dataquality/runs/2/">2</a>' in last
    assert "1 raised · 1 cleared" in last
    # HTMX refresh: the named partial only.
    partial = page(as_viewer, "/dataquality/", HTTP_HX_REQUEST="true")
    assert "<html" not in partial and partial.startswith('<div id="dq-dashboard"')


def test_the_dashboard_says_so_before_any_run(as_viewer, universe):
    html = page(as_viewer, "/dataquality/")
    assert 'id="dq-no-run"' in html and "0 active" in html


# --- the queue ---------------------------------------------------------------------------


def test_the_queue_lists_active_alerts_filters_them_and_counts_them_live(as_viewer, queue):
    html = page(as_viewer, "/dataquality/alerts/")
    listed = rows(html, "alert-table")
    assert len(listed) == 4 and queue.cleared not in html  # active by default
    held = next(r for r in listed if queue.held in r)
    assert queue.ref.held.ticker in held and "149.3" in held and "/ 20 bp" in held
    assert "sev-critical" in held and "alert-open" in held
    assert 'name="alert_ids"' not in html  # a viewer gets no checkboxes, no bulk bar
    assert 'id="bulk-form"' not in html
    # The live counts, polled.
    assert 'hx-get="/dataquality/alerts/counts/"' in html and 'id="active-count">4 active' in html
    counts = page(as_viewer, "/dataquality/alerts/counts/")
    assert "<html" not in counts and 'id="count-critical">2 critical' in counts
    # Filters through HTMX: the rows only.
    geq = page(as_viewer, "/dataquality/alerts/?mandate=GEQ", HTTP_HX_REQUEST="true")
    assert "<html" not in geq
    assert {queue.held, queue.statement} == {
        i for i in (queue.held, queue.unheld, queue.other, queue.statement) if i in geq
    }
    everything = page(as_viewer, "/dataquality/alerts/?status=all")
    assert len(rows(everything, "alert-table")) == 5 and "alert-resolved" in everything
    assert 'id="alerts-csv"' in everything and "format=csv" in everything
    # A bad filter says which, rather than showing nothing.
    bad = page(as_viewer, "/dataquality/alerts/?instrument=NOPE", HTTP_HX_REQUEST="true")
    assert "instrument: unknown instrument NOPE" in bad


def test_the_queue_page_costs_the_same_queries_with_more_alerts(
    as_viewer, queue, django_assert_max_num_queries
):
    from book.models import Instrument

    page(as_viewer, "/dataquality/alerts/")
    with django_assert_max_num_queries(20) as few:
        page(as_viewer, "/dataquality/alerts/")
    apply(
        3, [finding(i, severity="info") for i in Instrument.objects.exclude(asset_class="fx")[:60]]
    )
    with django_assert_max_num_queries(20) as many:
        html = page(as_viewer, "/dataquality/alerts/")
    assert len(rows(html, "alert-table")) == 60
    assert len(many.captured_queries) == len(few.captured_queries)


def test_an_operator_acknowledges_snoozes_and_comments_in_bulk(as_operator, queue, operator):
    html = page(as_operator, "/dataquality/alerts/?severity=critical")
    assert 'id="bulk-form"' in html and f'value="{queue.held}" form="bulk-form"' in html
    both = [queue.held, queue.other]
    back = "severity=critical"
    done = as_operator.post(
        "/dataquality/alerts/bulk/",
        {"alert_ids": both, "action": "acknowledge", "next": back},
        follow=True,
    )
    assert done.redirect_chain[-1][0] == "/dataquality/alerts/?severity=critical"
    text = done.content.decode()
    assert "2 alerts acknowledged" in text
    assert set(Alert.objects.filter(alert_id__in=both).values_list("status", flat=True)) == {
        "acknowledged"
    }
    # Snooze needs its ticks: the page comes back with the error and the boxes ticked.
    refused = as_operator.post(
        "/dataquality/alerts/bulk/", {"alert_ids": both, "action": "snooze", "next": back}
    )
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "ticks:" in body and f'value="{queue.held}" form="bulk-form" aria-label' in body
    assert f'value="{queue.held}" form="bulk-form" aria-label="Tick {queue.held}" checked' in body
    as_operator.post(
        "/dataquality/alerts/bulk/", {"alert_ids": both, "action": "snooze", "ticks": "3"}
    )
    assert Alert.objects.get(alert_id=queue.held).snoozed_until_tick == 5
    as_operator.post("/dataquality/alerts/bulk/", {"alert_ids": both, "action": "assign_me"})
    assert Alert.objects.get(alert_id=queue.other).assignee == operator
    as_operator.post(
        "/dataquality/alerts/bulk/",
        {"alert_ids": both, "action": "comment", "text": "both vendors re-sending"},
    )
    assert AlertAction.objects.filter(kind="commented", note="both vendors re-sending").count() == 2
    # Nothing ticked, or an unknown button: said so, nothing done.
    none = as_operator.post("/dataquality/alerts/bulk/", {"action": "acknowledge"})
    assert none.status_code == 400 and "tick at least one alert" in none.content.decode()
    odd = as_operator.post("/dataquality/alerts/bulk/", {"alert_ids": both, "action": "delete"})
    assert odd.status_code == 400 and "unknown action" in odd.content.decode()


def test_a_viewer_may_not_post_actions(as_viewer, queue):
    response = as_viewer.post(
        "/dataquality/alerts/bulk/", {"alert_ids": [queue.held], "action": "acknowledge"}
    )
    assert response.status_code == 403
    single = as_viewer.post(f"/dataquality/alerts/{queue.held}/acknowledge/", {})
    assert single.status_code == 403
    assert Alert.objects.get(alert_id=queue.held).status == "open"


# --- one alert ---------------------------------------------------------------------------


def test_an_alert_page_shows_both_values_the_tolerance_its_inputs_and_what_it_blocks(
    as_viewer, queue
):
    held = queue.ref.held
    html = page(as_viewer, f"/dataquality/alerts/{queue.held}/")
    assert f"<h2>{queue.held}" in html
    assert 'id="alert-value">101.5<' in html
    assert 'id="alert-reference">100<' in html
    assert 'id="alert-measured">149.3 <small>bp</small>' in html
    assert "tolerance 20 bp · 7.5× the tolerance" in html
    assert f"price:{held.pk}:primary" in html and f"instrument:{held.pk}" in html
    assert re.search(r'id="alert-window">2015-01-05 14:45 – <em>ongoing</em>', html)
    assert "ticks 1–2 · 2 times" in html
    mandates = html[html.index('id="alert-mandates"') :]
    assert ">GEQ</a>" in mandates[:400] and "blocks their NAV while active" in mandates[:600]
    assert ">USFI<" not in mandates[:400]
    assert rows(html, "history-table")[0].count("Raised") == 1
    assert 'id="alert-actions"' not in html  # viewers read only
    # A warning touching GEQ says it does not block; an unheld equity touches no mandate.
    statement = page(as_viewer, f"/dataquality/alerts/{queue.statement}/")
    assert "Not critical: it does not block their NAV" in statement
    unheld = page(as_viewer, f"/dataquality/alerts/{queue.unheld}/")
    assert "No mandate holds what this alert touches" in unheld
    page(as_viewer, "/dataquality/alerts/A-999999/", status=404)


def test_an_operator_works_one_alert_from_its_page(as_operator, queue, operator, make_user):
    make_user("operator", username="ops-colleague")
    url = f"/dataquality/alerts/{queue.held}/"
    html = page(as_operator, url)
    for form in ("acknowledge-form", "snooze-form", "assign-form", "comment-form", "resolve-form"):
        assert f'id="{form}"' in html, form
    done = as_operator.post(f"{url}acknowledge/", {"note": "looking"}, follow=True)
    assert f"{queue.held}: acknowledged." in done.content.decode()
    as_operator.post(f"{url}assign/", {"assignee": "ops-colleague"})
    as_operator.post(f"{url}comment/", {"text": "vendor says a bad print"})
    bad = as_operator.post(f"{url}snooze/", {"ticks": "0"})
    assert bad.status_code == 400 and "ticks:" in bad.content.decode()
    as_operator.post(f"{url}resolve/", {"note": "print corrected"})
    html = page(as_operator, url)
    assert 'id="alert-status">resolved<' in html
    assert 'id="alert-assignee">ops-colleague<' in html
    history = "".join(rows(html, "history-table"))
    for line in (
        "Acknowledged",
        "Assigned",
        "Commented",
        "Resolved",
        "bad print",
        "print corrected",
    ):
        assert line in history, line
    assert history.count(operator.username) == 4
    # Resolved: only assign and comment remain.
    assert 'id="resolve-form"' not in html and 'id="comment-form"' in html
    assert as_operator.post(f"{url}escalate/", {}).status_code == 404


# --- rules and runs ----------------------------------------------------------------------


def test_the_rules_page_lists_each_rule_with_its_version(as_viewer, queue, admin_user):
    DQRule.objects.filter(code="price.stale", asset_class="").update(version=3)
    html = page(as_viewer, "/dataquality/rules/")
    assert len(rows(html, "rule-table")) == DQRule.objects.count()
    stale = html[html.index('id="rule-price.stale"') :]
    stale = stale[: stale.index("</tr>")]
    assert "v3" in stale and "tolerance_bp 10.0" in stale and "sev-warning" in stale
    assert '?rule=price.stale">1</a>' in stale  # its active alert
    assert "/admin/dataquality/dqrule/" not in html  # a viewer does not edit
    from django.test import Client

    as_admin = Client()
    as_admin.force_login(admin_user)
    admin_html = page(as_admin, "/dataquality/rules/")
    assert "/admin/dataquality/dqrule/" in admin_html


def test_the_runs_page_and_one_run_with_each_check_per_source(as_viewer, queue):
    html = page(as_viewer, "/dataquality/runs/")
    listed = rows(html, "run-table")
    assert len(listed) == 2 and 'href="/dataquality/runs/2/">2<' in listed[0]
    assert "2 critical" in listed[0] and "2 warning" in listed[0]
    one = page(as_viewer, "/dataquality/runs/1/")
    results = rows(one, "result-table")
    spike = next(r for r in results if "price.spike" in r and ">primary<" in r)
    assert ">84<" in spike and ">1<" in spike and "1.19%" in spike
    assert 'href="/dataquality/runs/2/">tick 2 →' in one
    page(as_viewer, "/dataquality/runs/99/", status=404)


# --- the admin and the overview ----------------------------------------------------------


def test_a_rule_saved_in_the_admin_is_a_new_version(as_admin, queue, admin_user):
    rule = DQRule.objects.get(code="price.spike", asset_class="")
    url = f"/admin/dataquality/dqrule/{rule.pk}/change/"
    assert page(as_admin, url)
    form = {"severity": "critical", "params": '{"k": 9.0}', "enabled": "on"}
    # A param the engine does not know is refused on its field, nothing saved.
    bad = as_admin.post(url, {**form, "params": '{"kk": 9.0}'})
    assert bad.status_code == 200 and "not a param of price.spike" in bad.content.decode()
    assert DQRule.objects.get(pk=rule.pk).version == 1
    saved = as_admin.post(url, form)
    assert saved.status_code == 302
    rule.refresh_from_db()
    assert rule.version == 2 and rule.params["k"] == 9.0 and rule.params["min_jump"] == 0.03
    assert rule.updated_by == admin_user.username
    # Saved again as shown, unchanged: no new version. (The form posts the params it
    # showed as a hidden initial value: the model field's default is callable.)
    shown = json.dumps(rule.params)
    as_admin.post(url, {**form, "params": shown, "initial-params": shown})
    assert DQRule.objects.get(pk=rule.pk).version == 2


def test_the_admin_shows_runs_and_alerts_read_only_and_works_alerts_through_services(
    as_admin, queue, admin_user
):
    alert = Alert.objects.get(alert_id=queue.held)
    html = page(as_admin, f"/admin/dataquality/alert/{alert.pk}/change/")
    assert queue.held in html and "Raised" in html and f"price:{queue.ref.held.pk}:primary" in html
    assert 'name="_save"' not in html
    run_list = page(as_admin, "/admin/dataquality/checkrun/")
    assert "dataquality/checkrun/" in run_list
    assert as_admin.get("/admin/dataquality/dqrule/add/").status_code == 403
    # The workflow from the admin's list goes through the service: recorded, with who.
    done = as_admin.post(
        "/admin/dataquality/alert/",
        {"action": "alerts_acknowledge", "_selected_action": [alert.pk]},
        follow=True,
    )
    assert "1 alert(s) acknowledged" in done.content.decode()
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    assert alert.actions.filter(kind="acknowledged", actor=admin_user.username).exists()


def test_the_overview_card_shows_active_alerts_and_the_last_run(as_viewer, queue):
    html = page(as_viewer, "/")
    tile = html[html.index('id="dataquality-tile"') :]
    tile = tile[: tile.index("</dl>")]
    assert "4 active" in tile and "2 critical" in tile
    assert 'href="/dataquality/runs/2/">tick 2<' in tile
