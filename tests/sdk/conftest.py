"""Fixtures for the Web SDK's browser tests: Debian's Chromium through Playwright (sync API), pytest-django's
``live_server`` serving the SDK and a test page on one origin, and a loopback recorder playing the SDK API.

The dashboard build is not needed here, unlike tests/e2e. Playwright's own browser download is not used."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser import launch_chromium
from tests.sdk.recorder import Recorder, start_recorder
from tests.sdk.support import SDK_KEY, VAPID_PUBLIC_KEY


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder, server = start_recorder()
    recorder.respond("GET", "/sdk/v1/config", 200, {"vapid_public_key": VAPID_PUBLIC_KEY})
    yield recorder
    server.shutdown()
    server.server_close()


@pytest.fixture
def sdk_site(settings, live_server):
    """The live server with the test page at /sdk-test/ next to the SDK files under /sdk/."""
    settings.ROOT_URLCONF = "tests.sdk.urls"
    return live_server


@pytest.fixture
def sdk_page(browser, sdk_site, recorder):
    """``sdk_page(notifications=True)`` → a page (``page.context`` is its own browser context) on the test page, SDK initialised against the
    recorder. Uncaught page errors fail the test."""
    contexts = []
    errors: list[str] = []

    def _open(*, notifications: bool = True, init: bool = True):
        context = browser.new_context(base_url=sdk_site.url, locale="fr-FR", timezone_id="Europe/Paris")
        if notifications:
            context.grant_permissions(["notifications"], origin=sdk_site.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/sdk-test/")
        if init:
            page.evaluate(
                "([key, api]) => ppTest.init({sdkKey: key, apiOrigin: api})", [SDK_KEY, recorder.url]
            )
        return page

    yield _open
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
