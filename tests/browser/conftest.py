"""Real-browser tests: Playwright (sync API) driving Debian's Chromium against `bezel dev`, offline.

Playwright's own browsers are never downloaded (`playwright install` needs the internet): the system's
`chromium` is launched instead; `make test` installs it when it runs as root. Without it these tests are
skipped locally, saying what to install, and fail with CI=true.

Tests here are plain `def` functions: Playwright's sync API refuses to run inside a running asyncio loop,
so they must not be `async def` (pytest-asyncio would run them in one).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import NoReturn
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.browser.support import BezelDev, run_bezel_dev
from tests.support import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "tests" / ".artifacts"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TIMEOUT_MS = 10_000  # generous: a busy 2-core CI machine, and `bezel dev` runs vendors at their usual latency

expect.set_options(timeout=TIMEOUT_MS)


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}: the browser tests cannot run (`make test` installs Chromium as root)",
                    pytrace=False)
    pytest.skip(f"{reason}: apt-get install chromium")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for every browser test (a launch costs about half a second).

    Package-scoped rather than session-scoped on purpose: between two sync calls Playwright leaves its own event
    loop marked as running in this thread, so every pytest-asyncio test that ran after it while it was still open
    would fail ("Runner.run() cannot be called from a running event loop"). It is closed when tests/browser is done.
    """
    if CHROMIUM is None:
        _unavailable("Chromium is not installed")
    with sync_playwright() as playwright:
        try:
            # As root Chromium's own sandbox cannot start: chromium_sandbox=False (Playwright's default) adds
            # --no-sandbox. The page sandbox is not the point here; the pages are our own.
            browser = playwright.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False)
        except PlaywrightError as exc:
            failure = exc
        else:
            yield browser
            browser.close()
            return
    _unavailable(f"Chromium ({CHROMIUM}) did not start: {_launch_error(failure)}")


def _launch_error(exc: PlaywrightError) -> str:
    """Playwright's first line and what Chromium said on stderr, without the 60 flags it was launched with."""
    lines = str(exc).split("Call log:")[0].splitlines()
    said = [line.split("[err] ", 1)[1] for line in lines if "[err] " in line]
    return "; ".join([lines[0], *said[-5:]])


@dataclass
class PageLog:
    """What a page did that a test did not ask for: requests it tried to send off this machine, console errors
    and uncaught exceptions."""

    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
def page_log() -> PageLog:
    """The `page`'s log, for tests that assert on it (e.g. no console error while a vendor is down). Requests
    off this machine and uncaught exceptions already fail the test without asking."""
    return PageLog()


@pytest.fixture
def page(browser: Browser, page_log: PageLog, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a context of its own (no cookies or storage left by another test) that can reach nothing but
    this machine: every other request is aborted and recorded, and the test fails if there was one, so a CDN
    reference in GraphiQL or the storefront shows up here and not on a customer's offline laptop. An uncaught
    exception in the page also fails the test; console errors are kept in `page_log`."""
    with _local_page(browser, page_log, request.node.name) as opened:
        yield opened


@pytest.fixture
def other_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A second shopper: a page like `page` in another context (its own storage, its own connections), held to
    the same rules, for tests of what one shopper's action shows another."""
    with _local_page(browser, PageLog(), f"{request.node.name}-other") as opened:
        yield opened


@contextlib.contextmanager
def _local_page(browser: Browser, page_log: PageLog, test_name: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)

    def local_only(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in LOCAL_HOSTS:
            page_log.blocked.append(route.request.url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            page_log.console_errors.append(f"{message.text} ({message.location.get('url', '?')})")

    context.route("**/*", local_only)
    page = context.new_page()
    page.on("console", console)
    page.on("pageerror", lambda error: page_log.page_errors.append(f"{error.name}: {error.message}"))
    try:
        yield page
        problems = [f"blocked a request off this machine: {url}" for url in page_log.blocked]
        problems += [f"uncaught exception in the page: {error}" for error in page_log.page_errors]
        if problems:
            problems += [f"console error: {error}" for error in page_log.console_errors]
            pytest.fail("\n".join([*problems, f"screenshot {screenshot(page, test_name)}"]), pytrace=False)
    finally:
        context.close()


@pytest.fixture(scope="module")
def bezel_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BezelDev]:
    """`bezel dev` (sandbox vendors at their usual latency, gateway, workers) as `make run` starts it, once per test
    module (it takes about 3 s), with a private Redis and data folder of its own: never the suite's Redis dbs.
    A module that needs it started differently defines its own with `run_bezel_dev` (e.g. `latency_scale=0.05`,
    or `env={"BEZEL_GATEWAY__BUDGET_MS": "5000"}`)."""
    with run_bezel_dev(tmp_path_factory.mktemp("bezel-dev")) as running:
        yield running


@pytest.fixture
def bezel(bezel_process: BezelDev) -> BezelDev:
    """`bezel dev` with its sandbox as it started: no faults, zeroed call counts, starting stock, usual latencies,
    so a test may `bezel.fault("tax", status=503)` or `bezel.latency("engraving", 3000)` and leave it so."""
    bezel_process.reset()
    return bezel_process


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None],
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A full-page screenshot of a failing test's `page`, in tests/.artifacts/<test name>.png (gitignored): what
    the browser showed is most of what a browser test failure means."""
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.failed and report.when in ("setup", "call") and isinstance(page, Page) and not page.is_closed():
        saved = screenshot(page, item.name)
        report.sections.append(("browser screenshot", saved))
        print(f"\nbrowser screenshot of {item.nodeid} {saved}")
    return report


def screenshot(page: Page, test_name: str) -> str:
    """Save the whole page as tests/.artifacts/<test name>.png; says where, or why it could not."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', test_name)}.png"
    try:
        page.screenshot(path=path, full_page=True, timeout=TIMEOUT_MS)
    except PlaywrightError as exc:
        return f"could not be taken: {str(exc).splitlines()[0]}"
    return f"saved to {path.relative_to(ROOT)}"
