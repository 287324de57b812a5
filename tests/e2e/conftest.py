"""Browser journeys: Playwright (Python, sync API) drives Debian's Chromium against pytest-django's
``live_server`` (real PostgreSQL and Redis), which serves the built dashboard exactly as ``make run`` does:
``/static/`` from ``frontend/dist`` through whitenoise and ``index.html`` for every other non-API path.

Playwright's own browser download is not used (no network for it); ``make chromium`` installs Debian's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import launch_chromium
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
DIST_INDEX = ROOT / "frontend" / "dist" / "index.html"
ARTIFACTS = ROOT / "test-results"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so the page fixture can screenshot a failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def built_dashboard() -> Path:
    if not DIST_INDEX.exists():
        pytest.fail(
            "frontend/dist/index.html is missing: the browser tests need the built dashboard. Run "
            "`npm --prefix frontend run build` (after `.venv/bin/python manage.py spectacular --format openapi-json "
            "--file frontend/openapi.json`), or `make frontend`.",
            pytrace=False,
        )
    from django.conf import settings

    if DIST_INDEX.parent not in [Path(p) for p in settings.STATICFILES_DIRS]:
        pytest.fail(
            "frontend/dist was built after Django's settings were loaded; run pytest again.", pytrace=False
        )
    return DIST_INDEX


@pytest.fixture(scope="module")
def browser(built_dashboard) -> Iterator:
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def new_page(browser, live_server, request):
    """``new_page()`` opens a fresh browser context (its own localStorage) on the live server. Uncaught
    JavaScript errors fail the test; a failing test leaves a screenshot in test-results/."""
    contexts = []
    page_errors: list[str] = []

    def _open():
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": 1280, "height": 860},
            locale="en-US",
            timezone_id="Europe/Paris",
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        return page

    yield _open

    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for index, context in enumerate(contexts):
        if failed:
            for page in context.pages:
                ARTIFACTS.mkdir(exist_ok=True)
                name = re.sub(r"[^\w.-]+", "_", request.node.name)
                page.screenshot(path=str(ARTIFACTS / f"{name}-failure-{index}.png"), full_page=True)
        context.close()
    assert not page_errors, f"uncaught errors in the page: {page_errors}"


@pytest.fixture
def screenshot():
    """``screenshot(page, "name")`` saves test-results/name.png (full page) and returns its path."""

    def _shot(page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    """Signs in through the dashboard's form, as a person would."""
    page.goto("/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
