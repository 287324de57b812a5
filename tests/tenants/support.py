"""Helpers shared by the tenants API tests (not collected: the name does not start with ``test_``).

Speed, without changing the code paths under test:

- ``fast_tenancy`` / ``base_schema_once`` (autouse wherever imported): a cheap password hasher
  (PBKDF2 costs ~0.2 s a user) and the hidden base schema created once per session, committed,
  instead of inside every test's rolled-back transaction.
- ``shared_world`` and the ``alice``/``bob``/``charlie``/``ws_a``/``ws_b`` overrides (import them
  by their ``_shared_*`` names): the base trio and the two workspaces of ``tests/conftest.py``,
  committed once per module instead of cloned twice per test. Every test still runs in its own
  transaction on top, rolled back afterwards (a dropped schema included), and gets fresh
  instances, so tests cannot see each other's changes. While a module runs, its world exists even
  for tests that do not ask for it: don't assume "alpha-foods" or alice@example.com are free.
"""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from tenants.access import WorkspaceAccessMixin
from tests.conftest import FAST_HASHERS, base_schema_once, fast_tenancy  # noqa: F401 - re-exported fixtures

WORLD_EMAILS = ("alice@example.com", "bob@example.com", "charlie@example.com")


@pytest.fixture(scope="module")
def shared_world(django_db_setup, django_db_blocker, base_schema_once):  # noqa: F811 - the fixture, by name
    from tenants import services
    from tenants.models import Membership, Role, User
    from tests.conftest import PASSWORD

    try:
        with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHERS):
            alice = User.objects.create_user(WORLD_EMAILS[0], PASSWORD, full_name="Alice Owner")
            bob = User.objects.create_user(WORLD_EMAILS[1], PASSWORD, full_name="Bob Member")
            charlie = User.objects.create_user(WORLD_EMAILS[2], PASSWORD, full_name="Charlie Outsider")
            ws_a = services.workspace_create(owner=alice, name="Alpha Foods")
            Membership.objects.create(workspace=ws_a, user=bob, role=Role.MEMBER)
            ws_b = services.workspace_create(owner=charlie, name="Beta Pharma")
        yield {"alice": alice.pk, "bob": bob.pk, "charlie": charlie.pk, "ws_a": ws_a.pk, "ws_b": ws_b.pk}
    finally:
        # Also after a half-built world, so the next module starts from nothing.
        with django_db_blocker.unblock():
            _remove_world()


def _remove_world() -> None:
    from tenants import services
    from tenants.models import User, Workspace

    for workspace in Workspace.objects.filter(owner__email__in=WORLD_EMAILS):
        services.workspace_delete(workspace=workspace, actor=workspace.owner, confirm=workspace.slug)
    User.objects.filter(email__in=WORLD_EMAILS).delete()


def _user(world, name):
    from tenants.models import User

    return User.objects.get(pk=world[name])


def _workspace(world, name):
    from tenants.models import Workspace

    return Workspace.objects.get(pk=world[name])


@pytest.fixture(name="alice")
def _shared_alice(shared_world, db):
    return _user(shared_world, "alice")


@pytest.fixture(name="bob")
def _shared_bob(shared_world, db):
    return _user(shared_world, "bob")


@pytest.fixture(name="charlie")
def _shared_charlie(shared_world, db):
    return _user(shared_world, "charlie")


@pytest.fixture(name="ws_a")
def _shared_ws_a(shared_world, db):
    return _workspace(shared_world, "ws_a")


@pytest.fixture(name="ws_b")
def _shared_ws_b(shared_world, db):
    return _workspace(shared_world, "ws_b")


def error_of(response) -> dict:
    """The ``error`` object of the one error shape, asserting the shape on the way."""
    assert response["Content-Type"].startswith("application/json"), (
        response.status_code,
        response.content[:300],
    )
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    error = error_of(response)
    if code is not None:
        assert error["code"] == code, error
    return error


# -- the URL conf ------------------------------------------------------------------------------
def walk_urlconf(resolver=None, prefix: str = "", namespace: str = ""):
    """Yield (route text, qualified name, pattern) for every leaf pattern of the URL conf."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk_urlconf(pattern, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else None
            yield prefix + str(pattern.pattern), name, pattern


def view_class_of(pattern: URLPattern):
    callback = pattern.callback
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


def http_methods_of(pattern: URLPattern) -> list[str]:
    """The methods a route answers (not 405), HEAD and OPTIONS included."""
    callback = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions is not None:  # a ViewSet route: its method -> action map
        methods = set(actions)
        if "get" in methods:
            methods.add("head")
        methods.add("options")
    else:
        cls = view_class_of(pattern)
        methods = {m for m in cls.http_method_names if hasattr(cls, m)}
        if "get" in methods:
            methods.add("head")
    return sorted(methods)


def is_api_v1(route: str) -> bool:
    return route.replace("^", "").startswith("api/v1/")


def workspace_routes():
    """Every /api/v1/ route served by a view built on the one workspace view base."""
    routes = []
    for route, name, pattern in walk_urlconf():
        cls = view_class_of(pattern)
        if is_api_v1(route) and cls is not None and issubclass(cls, WorkspaceAccessMixin):
            routes.append((route, name, pattern))
    return routes
