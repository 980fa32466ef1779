"""A real browser (Playwright driving Debian's chromium, headless) walks the suite.

It signs in through the login form, opens every navigation page, and finds no server
error, no failed asset and no console error. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CHROMIUM
from opssuite import pipeline
from opssuite.modules import MODULES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
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
    make_user("admin", username="ops-admin", password="pw-Browser-123")
    for _ in range(2):
        pipeline.tick_advance(worker="browser-test")


def test_sign_in_and_open_every_page(live_server, seeded, browser_page):
    page, problems = browser_page
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("#id_username", "ops-admin")
    page.fill("#id_password", "pw-Browser-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("#last-tick").inner_text() == "2"
    assert page.evaluate("typeof htmx") == "object"
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    for module in MODULES:
        path = "/" if module.slug == "overview" else f"/{module.slug}/"
        page.click(f"nav >> text='{module.label}'")
        page.wait_for_url(f"{live_server.url}{path}")
        assert page.locator("h2").first.inner_text().strip(), path
        assert page.locator("nav a[aria-current=page]").inner_text() == module.label
    page.screenshot(path=str(ARTIFACTS / "events.png"), full_page=True)

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info", timeout=15000)
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"))

    page.goto(f"{live_server.url}/admin/")
    assert "opssuite back office" in page.content()

    assert problems == []
