"""Browser tests: Playwright for Python driving Debian's Chromium against a live server.

Never `playwright install`: the browser is /usr/bin/chromium (scripts/ensure-chromium
installs it). A missing browser fails the run; it never skips.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Playwright's sync API keeps an event loop running in this thread; the ORM calls the
# tests make between page steps are plain synchronous code all the same.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, transactional_db):
    # UTC whatever the host: sign-up records the browser's zone, and the dates asserted are UTC.
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP, timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []

    def on_console(message) -> None:
        # A page answering 402/422 on purpose logs "Failed to load resource": the
        # documents' statuses are the tests' business; sub-resources are checked below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def on_response(response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            errors.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", on_response)
    yield page
    context.close()
    # A CSP violation, a script error or a missing static file: the pages have none.
    assert errors == [], errors


def screenshots(page, name: str) -> None:
    """`name`-phone.png and `name`-desktop.png of the whole page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
    page.set_viewport_size(DESKTOP)


README_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SERIOUS = {"serious", "critical"}
_axe = None


def axe_violations(page) -> list[str]:
    """axe-core's serious and critical violations of the page as it is now."""
    global _axe
    if _axe is None:
        from axe_playwright_python.sync_playwright import Axe

        _axe = Axe()
    violations = _axe.run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {[node['target'] for node in v['nodes']][:3]}"
        for v in violations if v["impact"] in SERIOUS
    ]


def check_page(page, label: str = "") -> None:
    """The page as a phone and a desktop show it: never wider than the screen (no sideways
    scrolling), and no serious or critical axe-core violation. Leaves the desktop size."""
    for name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{label or page.url} scrolls sideways on a {name}: {widths}"
        assert axe_violations(page) == [], f"{label or page.url} on a {name}"
    page.set_viewport_size(DESKTOP)


def readme_screenshot(page, name: str, size: dict = DESKTOP) -> None:
    """docs/screenshots/<name>.png for the README, only when CAMCARE_README_SCREENSHOTS=1
    (the committed pictures do not change at every test run)."""
    if os.environ.get("CAMCARE_README_SCREENSHOTS") != "1":
        return
    README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(size)
    page.screenshot(path=README_SCREENSHOTS / f"{name}.png", full_page=True)
    page.set_viewport_size(DESKTOP)


LOS_ANGELES = "America/Los_Angeles"


@pytest.fixture
def la_page(browser, live_server, transactional_db):
    """A page of a browser whose clock is in Los Angeles, failing the test on any script
    error, CSP violation or missing static file (as tests/e2e/conftest.py's `page`)."""
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, timezone_id=LOS_ANGELES)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error"
            and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
            if response.status >= 400 and response.request.resource_type != "document" else None)
    yield page
    context.close()
    assert errors == [], errors
