"""Local peers for the transport tests: started once per module on free loopback ports, reset
between tests. The FCM fake speaks HTTP/2 over TLS with the test CA, as Google does."""

from __future__ import annotations

import pytest

from tests.fakes.fcm import FakeFcm
from tests.fakes.webpush import FakeWebPush


@pytest.fixture(scope="module")
def fcm_server():
    server = FakeFcm().start()
    yield server
    server.stop()


@pytest.fixture
def fake_fcm(fcm_server):
    fcm_server.reset()
    fcm_server.slow_seconds = 2.0
    fcm_server.retry_after = 120
    yield fcm_server
    fcm_server.fault_all = None


@pytest.fixture(scope="module")
def webpush_server():
    server = FakeWebPush().start()
    yield server
    server.stop()


@pytest.fixture
def fake_webpush(webpush_server):
    webpush_server.reset()
    webpush_server.slow_seconds = 2.0
    webpush_server.retry_after = 30
    return webpush_server
