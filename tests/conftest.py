"""Base fixtures: alice owns workspace A, bob is a member of A, charlie owns workspace B and is an
outsider to A. Isolation is tested by default because every test can reach both workspaces."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tenants import routing, services
from tenants.models import Membership, Role, User

PASSWORD = "Correct-Horse-42"


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def base_schema_once(django_db_setup, django_db_blocker):
    """The hidden base schema, created once per session outside any test transaction and kept, instead
    of inside every test's rolled-back transaction (about 0.5 s each)."""
    from django.db import connection

    from tenants.schemas import ensure_base_schema

    test_name = connection.settings_dict["TEST"].get("NAME")
    if test_name and connection.settings_dict["NAME"] != test_name:
        return  # no collected test uses the database (e.g. tests/test_launcher.py alone): none was made
    with django_db_blocker.unblock():
        ensure_base_schema()


@pytest.fixture(scope="session", autouse=True)
def no_connection_outlives_the_session(django_db_setup, django_db_blocker):
    """A thread of the live server (e2e and SDK tests) can still hold a connection to the test
    database when the session ends; PostgreSQL then refuses to drop it ("being accessed by other
    users") and the database is left behind on the server. Close them before Django drops it."""
    yield
    from django.db import connection

    test_name = connection.settings_dict["TEST"].get("NAME")
    if test_name and connection.settings_dict["NAME"] != test_name:
        return  # no test database was made
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def fast_tenancy(settings, base_schema_once):
    """PBKDF2 costs ~0.2 s per user; tests that are not about hashing use a cheap hasher."""
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(autouse=True)
def _fresh_state():
    """Throttle counters and the routing map must not leak from one test into the next."""
    caches["throttle"].delete_pattern("*")  # only this run's keys; clear() would flush the db
    routing.clear()
    yield
    routing.clear()


def token_for(user: User) -> str:
    return str(RefreshToken.for_user(user).access_token)


class Api:
    """An HTTP client for one principal (a user's JWT, an API key, or nobody)."""

    def __init__(self, *, user: User | None = None, api_key: str | None = None, workspace=None):
        self.client = APIClient()
        if user is not None:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        elif api_key is not None:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
        self.workspace = workspace

    def _headers(self, headers):
        headers = dict(headers or {})
        if self.workspace is not None and "HTTP_X_WORKSPACE_ID" not in headers:
            headers["HTTP_X_WORKSPACE_ID"] = str(getattr(self.workspace, "pk", self.workspace))
        return headers

    def request(self, method: str, path: str, data=None, headers=None, **kw):
        fn = getattr(self.client, method.lower())
        fmt = kw.pop("format", "json")
        if method.upper() == "GET":
            return fn(path, data, **self._headers(headers), **kw)
        return fn(path, data, format=fmt, **self._headers(headers), **kw)

    def get(self, path, data=None, **kw):
        return self.request("GET", path, data, **kw)

    def post(self, path, data=None, **kw):
        return self.request("POST", path, data, **kw)

    def patch(self, path, data=None, **kw):
        return self.request("PATCH", path, data, **kw)

    def put(self, path, data=None, **kw):
        return self.request("PUT", path, data, **kw)

    def delete(self, path, data=None, **kw):
        return self.request("DELETE", path, data, **kw)


@pytest.fixture
def make_user(db):
    def _make(email: str, password: str = PASSWORD, full_name: str = "") -> User:
        return User.objects.create_user(email, password, full_name=full_name)

    return _make


@pytest.fixture
def alice(make_user):
    return make_user("alice@example.com", full_name="Alice Owner")


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.com", full_name="Bob Member")


@pytest.fixture
def charlie(make_user):
    return make_user("charlie@example.com", full_name="Charlie Outsider")


@pytest.fixture
def ws_a(alice, bob):
    workspace = services.workspace_create(owner=alice, name="Alpha Foods")
    Membership.objects.create(workspace=workspace, user=bob, role=Role.MEMBER)
    return workspace


@pytest.fixture
def ws_b(charlie):
    return services.workspace_create(owner=charlie, name="Beta Pharma")


@pytest.fixture
def member_with_role(make_user, ws_a):
    """A user holding ``role`` in workspace A."""

    def _make(role: str) -> User:
        if role == Role.OWNER:
            return ws_a.owner
        user = make_user(f"{role}-{User.objects.count()}@example.com")
        Membership.objects.create(workspace=ws_a, user=user, role=role)
        return user

    return _make


@pytest.fixture
def api():
    """``api(user=…, workspace=…)`` or ``api(api_key=…)`` or ``api()`` for anonymous."""
    return Api


@pytest.fixture
def api_key_for():
    def _make(workspace, scopes=("send", "subscribers:write", "read"), name="server") -> str:
        _key, full = services.api_key_create(
            workspace=workspace, name=name, scopes=list(scopes), actor=workspace.owner
        )
        return full

    return _make


@pytest.fixture(scope="session")
def openai_server():
    """An OpenAI-compatible chat endpoint over HTTP (tests/fakes/openai_fake.py); reset it per test."""
    from tests.fakes.openai_fake import FakeOpenAI

    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def workspace_openai_server():
    """A second provider: the one a workspace brings itself."""
    from tests.fakes.openai_fake import FakeOpenAI

    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def celery_worker_thread(transactional_db):
    """A real Celery worker (in a thread of this process) consuming the test queues from Redis.

    Tasks run exactly as in production: published to the broker, received, schema switched by
    the task's headers. Data must be committed, hence ``transactional_db``."""
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings

    from pushpilot.celery import app

    app.control.purge()
    with start_worker(
        app,
        pool="solo",
        perform_ping_check=False,
        loglevel="WARNING",
        queues=[settings.PUSHPILOT_QUEUE_DEFAULT, settings.PUSHPILOT_QUEUE_SENDS],
        shutdown_timeout=10,
    ) as worker:
        yield worker
    # The worker keeps its database connection between tasks (pushpilot.celery), and its thread
    # is gone: end that session so flushing or dropping the test database never waits on it.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND usename = current_user AND pid <> pg_backend_pid()"
        )
