"""API keys: shown once, stored as prefix + hash, Bearer or X-Api-Key, scopes, revocation, last use,
and a key only ever acts inside its own workspace.

The foundation's own endpoints refuse API keys (they manage people and keys), so the scope and
workspace checks are exercised through a small endpoint routed only for this module: a real view
on the one workspace view base, listing and creating rows of the test-only tenant model ``Note``.
"""

from __future__ import annotations

import hashlib
import re

import pytest
from django.db import connection
from django.urls import include, path, re_path
from django_tenants.utils import schema_context
from rest_framework import generics, serializers

from tenants.access import WorkspaceAccessMixin
from tenants.models import ApiKey, AuditLog
from tests.tenantapp.models import Note
from tests.tenants.support import (  # noqa: F401 - autouse fixtures and the shared world
    _shared_alice,
    _shared_bob,
    _shared_charlie,
    _shared_ws_a,
    _shared_ws_b,
    assert_error,
    base_schema_once,
    fast_tenancy,
    shared_world,
)

pytestmark = pytest.mark.django_db

KEY_RE = re.compile(r"^pp_live_(?P<prefix>[a-z0-9]{12})_(?P<secret>[A-Za-z0-9_-]{32,64})$")


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = ["id", "text"]


class NotesView(WorkspaceAccessMixin, generics.ListCreateAPIView):
    queryset = Note.objects.order_by("id")
    serializer_class = NoteSerializer
    api_key_scopes = {"get": "read", "post": "send"}


urlpatterns = [
    re_path(r"^api/v1/test-notes/?$", NotesView.as_view(), name="test-notes"),
    path("", include("pushpilot.urls")),
]
notes_urls = pytest.mark.urls(__name__)


@pytest.fixture
def notes(ws_a, ws_b):
    with schema_context(ws_a.schema_name):
        Note.objects.create(text="alpha secret plan")
    with schema_context(ws_b.schema_name):
        Note.objects.create(text="beta secret plan")


def _create_key(api, user, workspace, scopes=("read",), name="backend"):
    response = api(user=user, workspace=workspace).post(
        "/api/v1/api-keys", {"name": name, "scopes": list(scopes)}
    )
    assert response.status_code == 201, response.content
    return response.json()


# -- creation and storage ------------------------------------------------------------------------
def test_the_whole_key_is_returned_once_and_only_prefix_and_hash_are_stored(api, alice, ws_a):
    created = _create_key(api, alice, ws_a, scopes=["send", "read", "send"])
    match = KEY_RE.match(created["key"])
    assert match, created["key"]
    assert created["prefix"] == match["prefix"]
    assert created["scopes"] == ["read", "send"]
    assert created["last_used_at"] is None and created["revoked_at"] is None

    client = api(user=alice, workspace=ws_a)
    listed = client.get("/api/v1/api-keys").json()["results"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0]
    detail = client.get(f"/api/v1/api-keys/{created['id']}").json()
    assert "key" not in detail and detail["prefix"] == match["prefix"]
    for body in (listed[0], detail):
        assert match["secret"] not in str(body)

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM public.tenants_apikey WHERE id = %s", [created["id"]])
        columns = [c.name for c in cursor.description]
        row = dict(zip(columns, cursor.fetchone(), strict=True))
    assert row["prefix"] == match["prefix"]
    assert row["secret_hash"] == hashlib.sha256(match["secret"].encode()).hexdigest()
    assert not any(match["secret"] in str(value) for value in row.values())
    assert not any(created["key"] in str(value) for value in row.values())
    entry = AuditLog.objects.get(workspace=ws_a, action="api_key.created")
    assert match["secret"] not in str(entry.metadata)


def test_two_keys_never_share_a_prefix_or_secret(api, alice, ws_a):
    first = _create_key(api, alice, ws_a)["key"]
    second = _create_key(api, alice, ws_a)["key"]
    assert KEY_RE.match(first)["prefix"] != KEY_RE.match(second)["prefix"]
    assert KEY_RE.match(first)["secret"] != KEY_RE.match(second)["secret"]


# -- using a key ---------------------------------------------------------------------------------
@notes_urls
@pytest.mark.parametrize("how", ["bearer", "x-api-key"])
def test_a_key_works_as_bearer_and_as_x_api_key(api, alice, ws_a, notes, how):
    key = _create_key(api, alice, ws_a, scopes=["read"])["key"]
    client = api(api_key=key) if how == "bearer" else api()
    headers = {"HTTP_X_API_KEY": key} if how == "x-api-key" else {}
    response = client.get("/api/v1/test-notes", headers=headers)
    assert response.status_code == 200, response.content
    assert [n["text"] for n in response.json()["results"]] == ["alpha secret plan"]


@notes_urls
def test_scopes_are_enforced(api, alice, ws_a, notes):
    read_only = _create_key(api, alice, ws_a, scopes=["read"])["key"]
    send_only = _create_key(api, alice, ws_a, scopes=["send"])["key"]
    subscribers = _create_key(api, alice, ws_a, scopes=["subscribers:write"])["key"]

    assert api(api_key=read_only).get("/api/v1/test-notes").status_code == 200
    assert_error(api(api_key=read_only).post("/api/v1/test-notes", {"text": "x"}), 403, "insufficient_scope")
    assert api(api_key=send_only).post("/api/v1/test-notes", {"text": "sent by key"}).status_code == 201
    assert_error(api(api_key=send_only).get("/api/v1/test-notes"), 403, "insufficient_scope")
    assert_error(api(api_key=subscribers).get("/api/v1/test-notes"), 403, "insufficient_scope")
    with schema_context(ws_a.schema_name):
        assert sorted(Note.objects.values_list("text", flat=True)) == ["alpha secret plan", "sent by key"]


@notes_urls
def test_a_key_only_acts_inside_its_own_workspace(api, alice, ws_a, ws_b, notes):
    key = _create_key(api, alice, ws_a, scopes=["read", "send"])["key"]
    client = api(api_key=key)
    # It reads and writes its own schema only.
    assert [n["text"] for n in client.get("/api/v1/test-notes").json()["results"]] == ["alpha secret plan"]
    assert client.post("/api/v1/test-notes", {"text": "from a's key"}).status_code == 201
    with schema_context(ws_b.schema_name):
        assert list(Note.objects.values_list("text", flat=True)) == ["beta secret plan"]
    # Naming its own workspace is fine; naming another (by id or slug) is a 404 that shows nothing.
    assert client.get("/api/v1/test-notes", headers={"HTTP_X_WORKSPACE_ID": ws_a.slug}).status_code == 200
    for ref in (str(ws_b.pk), ws_b.slug):
        response = client.get("/api/v1/test-notes", headers={"HTTP_X_WORKSPACE_ID": ref})
        assert_error(response, 404, "not_found")
        assert b"beta" not in response.content
        response = client.post(
            "/api/v1/test-notes", {"text": "planted"}, headers={"HTTP_X_WORKSPACE_ID": ref}
        )
        assert_error(response, 404, "not_found")
    with schema_context(ws_b.schema_name):
        assert not Note.objects.filter(text="planted").exists()
    # And it cannot reach the other workspace's path-scoped endpoints either.
    assert_error(client.get(f"/api/v1/workspaces/{ws_b.pk}/members"), 404, "not_found")


def test_keys_cannot_manage_keys_or_members(api, alice, ws_a):
    key = _create_key(api, alice, ws_a, scopes=["read", "send", "subscribers:write"])["key"]
    client = api(api_key=key)
    assert_error(client.get("/api/v1/api-keys"), 403, "api_key_not_allowed")
    assert_error(
        client.post("/api/v1/api-keys", {"name": "x", "scopes": ["read"]}), 403, "api_key_not_allowed"
    )
    assert_error(client.get(f"/api/v1/workspaces/{ws_a.pk}/members"), 403, "api_key_not_allowed")
    assert_error(client.get(f"/api/v1/workspaces/{ws_a.pk}"), 403, "api_key_not_allowed")
    assert ApiKey.objects.filter(workspace=ws_a).count() == 1


@notes_urls
def test_last_used_at_is_stamped_at_most_once_a_minute(api, alice, ws_a, notes):
    created = _create_key(api, alice, ws_a, scopes=["read"])
    assert ApiKey.objects.get(pk=created["id"]).last_used_at is None
    assert api(api_key=created["key"]).get("/api/v1/test-notes").status_code == 200
    first = ApiKey.objects.get(pk=created["id"]).last_used_at
    assert first is not None
    assert api(api_key=created["key"]).get("/api/v1/test-notes").status_code == 200
    assert ApiKey.objects.get(pk=created["id"]).last_used_at == first
    shown = api(user=alice, workspace=ws_a).get(f"/api/v1/api-keys/{created['id']}").json()
    assert shown["last_used_at"] is not None


# -- revocation ----------------------------------------------------------------------------------
@notes_urls
def test_a_revoked_key_is_401_at_once(api, alice, ws_a, notes):
    created = _create_key(api, alice, ws_a, scopes=["read"])
    key_client = api(api_key=created["key"])
    assert key_client.get("/api/v1/test-notes").status_code == 200  # the routing map now knows its prefix

    owner = api(user=alice, workspace=ws_a)
    assert owner.delete(f"/api/v1/api-keys/{created['id']}").status_code == 204
    for response in (
        key_client.get("/api/v1/test-notes"),
        api().get("/api/v1/test-notes", headers={"HTTP_X_API_KEY": created["key"]}),
        key_client.get("/api/v1/test-notes", headers={"HTTP_X_WORKSPACE_ID": ws_a.slug}),
    ):
        assert_error(response, 401, "authentication_failed")
        assert response["WWW-Authenticate"].startswith("Bearer")

    assert owner.get("/api/v1/api-keys").json()["count"] == 0
    listed = owner.get("/api/v1/api-keys", {"include_revoked": "true"}).json()["results"]
    assert listed[0]["revoked_at"] is not None
    # Revoking again changes nothing and is not an error.
    assert owner.delete(f"/api/v1/api-keys/{created['id']}/").status_code == 204
    assert AuditLog.objects.filter(workspace=ws_a, action="api_key.revoked").count() == 1


@notes_urls
@pytest.mark.parametrize(
    "forge",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # right prefix, wrong secret
        lambda key: "pp_live_zzzzzzzzzzzz_" + key.split("_", 3)[3],  # unknown prefix
        lambda key: "pp_live_short",  # malformed
        lambda key: key.replace("pp_live_", "pp_test_"),  # not ours: falls to JWT, invalid
    ],
)
def test_forged_keys_are_401(api, alice, ws_a, notes, forge):
    key = _create_key(api, alice, ws_a, scopes=["read"])["key"]
    response = api(api_key=forge(key)).get("/api/v1/test-notes")
    assert_error(response, 401)
    assert response.has_header("WWW-Authenticate")
    assert_error(api().get("/api/v1/test-notes", headers={"HTTP_X_API_KEY": forge(key)}), 401)


def test_keys_of_a_deleted_workspace_stop_working(api, charlie, ws_b, api_key_for):
    key = api_key_for(ws_b, scopes=["read"])
    response = api(user=charlie, workspace=ws_b).delete(
        f"/api/v1/workspaces/{ws_b.pk}", {"confirm": ws_b.slug}
    )
    assert response.status_code == 204, response.content
    assert_error(api(api_key=key).get("/api/v1/api-keys"), 401)


def test_revoking_a_key_of_another_workspace_is_404(api, alice, ws_a, charlie, ws_b, api_key_for):
    api_key_for(ws_b)
    other = ApiKey.objects.get(workspace=ws_b)
    assert_error(api(user=alice, workspace=ws_a).delete(f"/api/v1/api-keys/{other.pk}"), 404, "not_found")
    other.refresh_from_db()
    assert other.revoked_at is None
