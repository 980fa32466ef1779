"""An operator works the break queue in a real browser (Playwright driving Debian's
chromium, headless): filters the queue, ticks a break and assigns it to themself,
opens it, comments, resolves it with a reason code - and the history shows each step
with their name. Screenshots: docs/screenshot-recon.png and test-artifacts/recon-*.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CHROMIUM
from recon.tests.conftest import run_ticks, use_scenario
from recon.tests.queue_data import CONFIRMATIONS, EXECUTIONS, PNL, build_queue
from tests.test_browser import CHROMIUM_ARGS, _let_htmx_poll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOT = ROOT / "docs" / "screenshot-recon.png"
USER, PASSWORD = "ops-recon", "pw-Browser-123"


@pytest.fixture
def browser_page():
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
def seeded(make_user, sim_universe):
    """Made before the browser starts (Django refuses database calls from a thread with
    Playwright's running event loop)."""
    make_user("operator", username=USER, password=PASSWORD)
    use_scenario("clean")
    run_ticks(8)
    return build_queue()


def test_an_operator_filters_assigns_comments_and_resolves_a_break(
    live_server, seeded, browser_page
):
    page, problems = browser_page
    queue = seeded
    target = queue.cash.break_id
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{live_server.url}/login/?next=/recon/")
    page.fill("#id_username", USER)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/recon/")
    assert page.locator("nav a[aria-current=page]").inner_text() == "Recon"
    assert page.locator("#break-table tbody tr").count() == 4
    assert page.locator("#open-count").inner_text() == "4 open"
    _let_htmx_poll(page, "#recon-counts")

    # Filter: the breaks nothing explains yet (HTMX swaps the rows, the URL follows).
    page.select_option("#break-filter select[name=classification]", "unknown")
    page.wait_for_url("**classification=unknown**")
    page.wait_for_function("() => document.querySelectorAll('#break-table tbody tr').length === 2")
    page.screenshot(path=str(ARTIFACTS / "recon-queue-filtered.png"), full_page=True)

    # Tick one and assign it to me: back on the same filtered queue, mine.
    page.check(f"#break-table input[value='{target}']")
    page.click("#bulk-form button[value=assign_me]")
    page.wait_for_selector(".flash:has-text('1 break assigned to you')")
    assert "classification=unknown" in page.url
    assert USER in page.locator(f"#row-{target}").inner_text()

    # Open it, comment, resolve with a reason code.
    page.click(f"#row-{target} a:text('{target}')")
    page.wait_for_url(f"**/recon/breaks/{target}/")
    assert page.locator("#break-assignee").inner_text() == USER
    assert page.locator("#difference").inner_text() == "1,234.56"
    page.fill("#comment-form textarea[name=text]", "Custodian credited a fee rebate twice")
    page.click("#comment-form button[type=submit]")
    page.wait_for_selector(f".flash:has-text('{target}: comment added')")
    page.select_option("#resolve-form select[name=reason_code]", "custodian_error")
    page.fill("#resolve-form input[name=note]", "custodian reverses the rebate tomorrow")
    page.click("#resolve-form button[type=submit]")
    page.wait_for_selector(f".flash:has-text('{target}: resolved')")
    assert page.locator("#break-status").inner_text() == "resolved"
    history = page.locator("#history-table").inner_text()
    for line in ("Assigned", "Commented", "Resolved", "fee rebate", "reverses the rebate"):
        assert line in history, line
    assert page.locator(f"#history-table tbody tr:has-text('{USER}')").count() == 3
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # The queue no longer lists it as open; the counts follow.
    page.goto(f"{live_server.url}/recon/")
    assert page.locator("#break-table tbody tr").count() == 3
    assert page.locator("#open-count").inner_text() == "3 open"
    page.goto(f"{live_server.url}/recon/aging/")
    assert page.locator("#aging-chart rect").count() >= 2
    page.screenshot(path=str(ARTIFACTS / "recon-aging.png"), full_page=True)

    # Files through the upload form (the size check, then CSRF, then the engine), to the
    # run's report - which prints without the navigation.
    page.goto(f"{live_server.url}/recon/runs/")
    for field, name, text in [
        ("executions", "executions.csv", EXECUTIONS),
        ("confirmations", "broker_confirmations.csv", CONFIRMATIONS),
        ("pnl", "pnl_snapshot.csv", PNL),
    ]:
        page.set_input_files(
            f"#upload-form input[name={field}]",
            files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}],
        )
    page.click("#upload-form button[type=submit]")
    page.wait_for_url("**/recon/runs/R-*/")
    assert "5 breaks, 1 rejected row" in page.locator(".flash").inner_text()
    assert page.locator("#report-breaks tbody tr").count() == 5
    assert page.locator("#report-rejects tbody tr").count() == 1
    page.screenshot(path=str(ARTIFACTS / "recon-run-report.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.locator(".shell-header").is_visible()
    assert not page.locator("#report-csv").is_visible()
    page.emulate_media(media="screen")
    page.wait_for_load_state("networkidle")
    assert problems == []
