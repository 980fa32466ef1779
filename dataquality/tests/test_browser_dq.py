"""Data quality in a real browser (Playwright driving Debian's chromium, headless), over a
real simulated session with the default fault scenario: the dashboard shows the heat map,
the alert timeline and health per source and refreshes itself; the alert queue shows the
active alerts with live counts; an operator filters it, ticks an alert and acknowledges
it, opens it and comments - and its history shows both steps with their name.
Screenshots: docs/screenshot-dataquality.png (the dashboard) and test-artifacts/dq-*.png.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from conftest import CHROMIUM
from tests.test_browser import CHROMIUM_ARGS, _let_htmx_poll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOT = ROOT / "docs" / "screenshot-dataquality.png"
USER, PASSWORD = "ops-dq", "pw-Browser-123"
TICKS = 30  # past the first session's close: two days on the timeline, a statement due


@pytest.fixture
def browser_page():  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.on(
            "response",
            lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
        )
        yield page, problems
        browser.close()


@pytest.fixture
def seeded(make_user) -> dict:  # noqa: ANN001
    """A simulated session, made before the browser starts (Django refuses database calls
    from a thread with Playwright's running event loop): what the pages should show."""
    from dataquality.models import ACTIVE_STATUSES, Alert, CheckRun
    from opssuite import pipeline
    from simulator.models import Clock, Scenario
    from simulator.services import sim_universe_load
    from simulator.services.faults import scenarios_ensure

    make_user("operator", username=USER, password=PASSWORD)
    sim_universe_load(seed=20150102, scale="demo", start_date=dt.date(2015, 1, 2))
    scenarios_ensure()
    Clock.objects.filter(pk=1).update(scenario=Scenario.objects.get(name="default"))
    for _ in range(TICKS):
        assert pipeline.tick_advance(worker="browser-test").outcome == "ran"
    active = Alert.objects.filter(status__in=ACTIVE_STATUSES)
    warnings = active.filter(severity="warning").order_by("-raised_sim_time", "-id")
    assert CheckRun.objects.count() == TICKS and warnings.exists()
    return {
        "active": active.count(),
        "warnings": warnings.count(),
        "target": warnings.first().alert_id,
        "raised": Alert.objects.count(),
    }


def test_the_dashboard_and_queue_render_and_an_operator_acknowledges_an_alert(
    live_server, seeded, browser_page
):
    page, problems = browser_page
    target = seeded["target"]
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{live_server.url}/login/?next=/dataquality/")
    page.fill("#id_username", USER)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dataquality/")

    # The dashboard: nav entry, active alerts, heat map, timeline, health, last run.
    assert page.locator("nav a[aria-current=page]").inner_text() == "Data quality"
    assert page.locator("#dq-open-count").inner_text() == f"{seeded['active']} active"
    assert page.locator("#heat-map tbody tr").count() >= 15
    assert page.locator("#heat-map td.heat-0").count() > 10  # most checks pass
    assert page.locator("#dq-timeline rect.timeline-bar").count() >= 1
    assert f"{seeded['raised']} raised" in page.locator("#dq-timeline header").inner_text()
    assert page.locator("#dq-health dd").count() >= 4
    assert f"{TICKS}" in page.locator("#dq-last-run").inner_text()
    _let_htmx_poll(page, "#dq-dashboard")  # it refreshes itself, whole
    assert page.locator("#heat-map tbody tr").count() >= 15
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # The queue: the active alerts, live counts.
    page.click(".dq-tabs a:text('Alert queue')")
    page.wait_for_url(f"{live_server.url}/dataquality/alerts/")
    assert page.locator("#alert-table tbody tr").count() == seeded["active"]
    assert page.locator("#active-count").inner_text() == f"{seeded['active']} active"
    _let_htmx_poll(page, "#dq-counts")

    # Filter to warnings (HTMX swaps the rows, the URL follows).
    page.select_option("#alert-filter select[name=severity]", "warning")
    page.wait_for_url("**severity=warning**")
    page.wait_for_function(
        "n => document.querySelectorAll('#alert-table tbody tr').length === n",
        arg=seeded["warnings"],
    )
    assert page.locator("#alert-table tbody .sev-critical").count() == 0
    page.screenshot(path=str(ARTIFACTS / "dq-queue-warnings.png"), full_page=True)

    # Tick one and acknowledge it: back on the same filtered queue, acknowledged.
    page.check(f"#alert-table input[value='{target}']")
    page.click("#bulk-form button[value=acknowledge]")
    page.wait_for_selector(f".flash:has-text('1 alert acknowledged: {target}')")
    assert "severity=warning" in page.url
    assert "acknowledged" in page.locator(f"#row-{target}").inner_text()
    assert page.locator("#dq-counts").inner_text().count("acknowledged 1") == 1

    # Open it: acknowledged by me; comment; the history has both, with my name.
    page.click(f"#row-{target} a:text('{target}')")
    page.wait_for_url(f"**/dataquality/alerts/{target}/")
    assert page.locator("#alert-status").inner_text() == "acknowledged"
    assert page.locator("#acknowledge-form").count() == 0
    page.fill(
        "#comment-form textarea[name=text]", "Checked with the data vendor: a fix is due tomorrow"
    )
    page.click("#comment-form button[type=submit]")
    page.wait_for_selector(f".flash:has-text('{target}: comment added')")
    history = page.locator("#history-table").inner_text()
    for line in ("Raised", "Acknowledged", "Commented", "fix is due tomorrow"):
        assert line in history, line
    assert page.locator(f"#history-table tbody tr:has-text('{USER}')").count() == 2
    page.screenshot(path=str(ARTIFACTS / "dq-alert.png"), full_page=True)

    # Rules and runs render too.
    page.click(".dq-tabs a:text('Rules')")
    assert page.locator("#rule-table tbody tr").count() > 15
    page.click(".dq-tabs a:text('Check runs')")
    assert page.locator("#run-table tbody tr").count() == TICKS
    page.click("#run-table tbody tr:first-child a")
    page.wait_for_selector("#result-table tbody tr")
    page.wait_for_load_state("networkidle")
    assert problems == []
