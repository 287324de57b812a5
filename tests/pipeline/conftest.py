"""Fixtures for the send-pipeline tests: the local FCM and Web Push peers (one per session, reset per
test), settings that point the transports at them, connected apps with real credentials in
workspace A, and the in-process pipeline runner."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.fakes.fcm import FakeFcm
from tests.fakes.webpush import FakeWebPush
from tests.pipeline.support import Pipeline, make_fcm_app, make_web_app
from tests.tenants.support import base_schema_once, fast_tenancy  # noqa: F401 - autouse fixtures


# The peers run on daemon threads for the whole session and are not stopped: a stop waits for the
# transports' keep-alive connections to drain (seconds), and the threads end with the process.
@pytest.fixture(scope="session")
def fcm_server():
    return FakeFcm().start()


@pytest.fixture(scope="session")
def webpush_server():
    return FakeWebPush().start()


@pytest.fixture
def fake_fcm(fcm_server):
    fcm_server.reset()
    fcm_server.retry_after = 120
    yield fcm_server
    fcm_server.fault_all = None


@pytest.fixture
def fake_webpush(webpush_server):
    webpush_server.reset()
    webpush_server.retry_after = 30
    return webpush_server


@pytest.fixture(autouse=True)
def pipeline_settings(settings, fcm_server, webpush_server):
    settings.PUSHPILOT_FCM_API_URL = fcm_server.base_url
    settings.PUSHPILOT_PUSH_CA_BUNDLE = fcm_server.ca_file
    settings.PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS = [webpush_server.origin]
    settings.PUSHPILOT_SEND_RETRY_BASE_MS = 200
    settings.PUSHPILOT_SEND_RETRY_MAX_SECONDS = 5
    yield settings
    cache.delete_pattern("*pp:backoff:*")


@pytest.fixture
def pipeline(monkeypatch):
    """Runs published pipeline tasks in this process with the real clock."""
    return Pipeline(monkeypatch)


@pytest.fixture
def web_app(ws_a):
    return make_web_app(ws_a)


@pytest.fixture
def fcm_app(ws_a, fake_fcm):
    return make_fcm_app(ws_a, fake_fcm)
