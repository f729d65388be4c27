"""Headless Chromium (Debian's ``chromium``) driven by Playwright against the running site.

Playwright's synchronous API runs an event loop in the test thread while it is open, so the
browser and the site live for this package only, never beside the asynchronous tests.
Playwright's own browser download is not used: the suite launches the system's Chromium. Under
CI=true a missing Chromium fails the suite (scripts/ensure-chromium.sh installs it); elsewhere
it skips. A failed test leaves a screenshot (its path is printed at the end of the run), and
with CHANGETRAIL_UI_SCREENSHOTS=<folder> the suite saves the pictures docs/ui.md shows.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from tests.conftest import IN_CI
from tests.web.browser.seed import seed
from tests.web.browser.site import Site, running

VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
# A zone far from UTC, so a page that ignored the viewer's zone would show wrong hours.
TIME_ZONE = "Asia/Kolkata"
_failure_shots: list[str] = []


def chromium_path() -> str | None:
    return os.environ.get("CHANGETRAIL_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        message = "Chromium is not installed; scripts/ensure-chromium.sh installs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running(tmp_path_factory.mktemp("site")) as started:
        seed(started)
        yield started


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"report_{report.when}", report)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _failure_shots:
        terminalreporter.write_line(line)


def _failures_folder(factory: pytest.TempPathFactory) -> Path:
    named = os.environ.get("CHANGETRAIL_UI_FAILURES")
    folder = Path(named) if named else factory.getbasetemp() / "ui-failures"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(
    chromium: Browser, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Page]:
    context = chromium.new_context(viewport=VIEWPORT, timezone_id=TIME_ZONE, locale="en-GB")
    context.set_default_timeout(10_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
            shot = _failures_folder(tmp_path_factory) / f"{name}.png"
            opened.screenshot(path=str(shot), full_page=True)
            _failure_shots.append(f"screenshot of failed {request.node.nodeid}: {shot}")
        context.close()


class Docs:
    """Saves the pictures of docs/ui.md when CHANGETRAIL_UI_SCREENSHOTS names a folder."""

    def __init__(self, folder: str | None) -> None:
        self.folder = Path(folder) if folder else None

    def shoot(self, page: Page, name: str, *, full_page: bool = False) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(self.folder / f"{name}.png"), full_page=full_page)


@pytest.fixture(scope="session")
def docs() -> Docs:
    return Docs(os.environ.get("CHANGETRAIL_UI_SCREENSHOTS"))


def sign_in(page: Page, site: Site, key: str, path: str = "/ui") -> None:
    page.goto(site.url(path))
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


@pytest.fixture(scope="package")
def reader_key(site: Site) -> str:
    return site.key("changes:read", "incidents:read", "services:read")


@pytest.fixture
def reader(page: Page, site: Site, reader_key: str) -> Page:
    """A page signed in with read scopes in the seeded organisation."""
    sign_in(page, site, reader_key)
    return page
