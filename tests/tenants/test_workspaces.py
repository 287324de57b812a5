"""Workspaces: create (slug generation and de-duplication, reserved slugs), list, retrieve, update,
delete with confirmation (its schema is dropped), time zones, and the audit log."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from tenants import services
from tenants.models import ApiKey, AuditLog, Invitation, Membership, Role, Workspace
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

WORKSPACES = "/api/v1/workspaces"


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name])
        return cursor.fetchone() is not None


def _tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def _create(api, user, **body):
    return api(user=user).post(WORKSPACES, body)


# -- create --------------------------------------------------------------------------------------
def test_creating_a_workspace_makes_the_caller_owner_and_clones_a_schema(api, charlie):
    response = _create(api, charlie, name="  Gamma Games ", timezone="Europe/Berlin")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Gamma Games"
    assert body["slug"] == "gamma-games"
    assert body["role"] == "owner"
    assert body["owner"] == str(charlie.pk)
    assert body["plan_type"] == "free"
    assert body["timezone"] == "Europe/Berlin"
    workspace = Workspace.objects.get(pk=body["id"])
    assert Membership.objects.get(workspace=workspace, user=charlie).role == Role.OWNER
    assert _schema_exists(workspace.schema_name)
    # The clone carries the tenant apps' tables and the recorded migrations.
    tables = _tables_in(workspace.schema_name)
    assert "django_migrations" in tables
    assert tables >= _tables_in("tenant_base") - {"django_migrations"}
    assert AuditLog.objects.filter(workspace=workspace, action="workspace.created", actor=charlie).exists()


def test_slugs_are_generated_from_the_name_and_deduplicated(api, alice, charlie):
    names = [(alice, "Delta Dairy"), (charlie, "Delta Dairy"), (alice, "  Délta  Dáiry! ")]
    assert [_create(api, user, name=name).json()["slug"] for user, name in names] == [
        "delta-dairy",
        "delta-dairy-2",
        "delta-dairy-3",
    ]
    assert _create(api, charlie, name="Alpha Foods").json()["slug"] == "alpha-foods-2"  # ws_a has the first


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Public", "public-ws"),
        ("!!!", "workspace"),
        ("pg_catalog", "workspace"),
        ("12345678123456781234567812345678", "12345678123456781234567812345678-ws"),
        ("12345678-1234-5678-1234-567812345678", "12345678-1234-5678-1234-567812345678-ws"),
    ],
)
def test_generated_slugs_never_take_a_reserved_or_id_like_form(api, charlie, name, slug):
    response = _create(api, charlie, name=name)
    assert response.status_code == 201, response.content
    assert response.json()["slug"] == slug
    # ...and the workspace can be addressed by that slug.
    assert api(user=charlie).get(f"{WORKSPACES}/{slug}").json()["id"] == response.json()["id"]


def test_an_explicit_slug_is_used_and_must_be_free(api, alice, charlie):
    # (pg- is fine: only pg_ with an underscore is PostgreSQL's)
    assert _create(api, alice, name="Anything", slug="pg-team").json()["slug"] == "pg-team"
    response = _create(api, charlie, name="Other", slug="pg-team")
    assert "slug" in assert_error(response, 400, "validation_error")["details"]


@pytest.mark.parametrize(
    "slug",
    [
        "public",
        "tenant_base",
        "pg_temp",
        "pg_x1",
        "api",
        "admin",
        "static",
        "information_schema",
        "Bad Slug",
        "-dash",
        "dash-",
        "a" * 64,
        "6f1c2a8e-0d5e-4e0a-9d4b-3f2e1c0b9a87",
    ],
)
def test_reserved_or_malformed_explicit_slugs_are_refused(api, charlie, slug):
    response = _create(api, charlie, name="X", slug=slug)
    assert "slug" in assert_error(response, 400, "validation_error")["details"]


@pytest.mark.parametrize(
    "ref", ["public", "tenant_base", "TENANT_BASE", "pg_catalog", "pg_toast", "information_schema", "base"]
)
def test_reserved_names_never_resolve_to_a_workspace(api, alice, ws_a, ref):
    client = api(user=alice)
    assert_error(client.get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": ref}), 404, "not_found")
    assert_error(client.get(f"{WORKSPACES}/{ref}"), 404, "not_found")


@pytest.mark.parametrize("slug", ["public", "pg_alpha", "information_schema", "api"])
def test_a_reserved_slug_does_not_resolve_even_if_a_row_carries_it(api, alice, ws_a, slug):
    """Written past the service (an old row, a manual fix): routing still refuses the name."""
    Workspace.objects.filter(pk=ws_a.pk).update(slug=slug)
    client = api(user=alice)
    assert_error(client.get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": slug}), 404, "not_found")
    assert_error(client.get(f"{WORKSPACES}/{slug}/members"), 404, "not_found")
    assert client.get(f"{WORKSPACES}/{ws_a.pk}/members").status_code == 200  # its id still works


def test_the_hidden_base_schema_never_resolves_even_by_id(api, alice, ws_a):
    # The row is committed once per session; a transactional test elsewhere may have flushed it
    # (the schema stays), so put it back the way ensure_base_schema made it.
    base = Workspace.objects.filter(is_template=True).first() or Workspace.objects.create(
        schema_name="tenant_base", slug="tenant_base", name="base schema", is_template=True
    )
    Membership.objects.create(workspace=base, user=alice, role=Role.MEMBER)  # even a stray membership
    client = api(user=alice)
    for ref in (str(base.pk), base.slug, base.schema_name):
        assert_error(client.get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": ref}), 404, "not_found")
        assert_error(client.get(f"{WORKSPACES}/{ref}"), 404, "not_found")
    assert [w["slug"] for w in client.get(WORKSPACES).json()["results"]] == ["alpha-foods"]


def test_a_slug_that_did_not_exist_a_moment_ago_resolves_once_created(api, charlie):
    """This process cached "gamma-games" as unknown; another one creates it (simulated by the
    service, which no request of this process sees): the next request finds it."""
    from tenants.services import workspace_create

    client = api(user=charlie)
    assert_error(client.get(f"{WORKSPACES}/gamma-games"), 404)
    assert_error(client.get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": "gamma-games"}), 404)
    workspace_create(owner=charlie, name="Gamma Games")
    assert client.get(f"{WORKSPACES}/gamma-games").status_code == 200
    assert client.get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": "gamma-games"}).status_code == 200


def test_the_schema_name_is_not_a_workspace_reference(api, alice, ws_a):
    assert_error(api(user=alice).get(f"{WORKSPACES}/{ws_a.schema_name}"), 404, "not_found")


# -- list / retrieve -----------------------------------------------------------------------------
def test_list_shows_only_my_workspaces_with_my_role(api, alice, bob, charlie, ws_a, ws_b):
    mine = api(user=bob).get(WORKSPACES).json()
    assert mine["count"] == 1
    assert [(w["slug"], w["role"]) for w in mine["results"]] == [("alpha-foods", "member")]
    Membership.objects.create(workspace=ws_b, user=alice, role=Role.VIEWER)
    roles = {w["slug"]: w["role"] for w in api(user=alice).get(WORKSPACES).json()["results"]}
    assert roles == {"alpha-foods": "owner", "beta-pharma": "viewer"}


def test_retrieve_by_id_or_slug_shows_my_role(api, bob, ws_a):
    for ref in (ws_a.pk, ws_a.slug):
        body = api(user=bob).get(f"{WORKSPACES}/{ref}").json()
        assert body["id"] == str(ws_a.pk) and body["role"] == "member"
        assert set(body) == {
            "id",
            "name",
            "slug",
            "plan_type",
            "timezone",
            "owner",
            "role",
            "next_run_at",
            "created_at",
            "updated_at",
        }


def test_header_and_path_must_name_the_same_workspace(api, alice, ws_a, ws_b):
    Membership.objects.create(workspace=ws_b, user=alice, role=Role.ADMIN)
    client = api(user=alice)
    assert (
        client.get(f"{WORKSPACES}/{ws_a.pk}", headers={"HTTP_X_WORKSPACE_ID": ws_a.slug}).status_code == 200
    )
    response = client.get(f"{WORKSPACES}/{ws_a.pk}", headers={"HTTP_X_WORKSPACE_ID": ws_b.slug})
    assert_error(response, 400, "workspace_mismatch")


# -- update --------------------------------------------------------------------------------------
def test_update_name_timezone_and_slug(api, alice, ws_a):
    client = api(user=alice)
    response = client.patch(
        f"{WORKSPACES}/{ws_a.pk}",
        {"name": "Alpha Meals", "timezone": "America/New_York", "slug": "alpha-meals"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["timezone"], body["slug"]) == (
        "Alpha Meals",
        "America/New_York",
        "alpha-meals",
    )
    entry = AuditLog.objects.get(workspace=ws_a, action="workspace.updated")
    assert entry.metadata == {"fields": ["name", "slug", "timezone"]}


def test_a_renamed_slug_stops_resolving_at_once(api, alice, ws_a):
    """The test's transaction never commits, so the routing map is never told (as in a process other
    than the one that renamed it): the old slug must stop working anyway."""
    client = api(user=alice)
    assert client.get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": "alpha-foods"}).status_code == 200
    assert client.patch(f"{WORKSPACES}/{ws_a.pk}", {"slug": "alpha-meals"}).status_code == 200
    assert_error(client.get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": "alpha-foods"}), 404)
    assert_error(client.get(f"{WORKSPACES}/alpha-foods"), 404)
    assert client.get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": "alpha-meals"}).status_code == 200


def test_a_slug_reused_by_another_workspace_goes_to_the_new_one(api, alice, charlie, ws_a, api_key_for):
    alice_client, charlie_client = api(user=alice), api(user=charlie)
    assert alice_client.get(f"{WORKSPACES}/alpha-foods").status_code == 200  # routing map: alpha-foods -> A
    assert alice_client.patch(f"{WORKSPACES}/{ws_a.pk}", {"slug": "alpha-meals"}).status_code == 200
    new = _create(api, charlie, name="Alpha Foods").json()
    assert new["slug"] == "alpha-foods"
    # Alice is not in the new one: 404, never workspace A under its old name.
    assert_error(alice_client.get(f"{WORKSPACES}/alpha-foods"), 404)
    assert_error(alice_client.get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": "alpha-foods"}), 404)
    assert charlie_client.get(f"{WORKSPACES}/alpha-foods").json()["id"] == new["id"]
    key = api_key_for(ws_a)
    assert_error(api(api_key=key).get(f"{WORKSPACES}/alpha-foods/members"), 404)


def test_a_slug_taken_by_another_workspace_is_refused(api, alice, ws_a, ws_b):
    response = api(user=alice).patch(f"{WORKSPACES}/{ws_a.pk}", {"slug": ws_b.slug})
    assert "slug" in assert_error(response, 400, "validation_error")["details"]


@pytest.mark.parametrize(
    "tz", ["Mars/Olympus_Mons", "", "utc+2", "Europe/berlin", "../../etc/passwd", "x" * 65]
)
def test_time_zones_must_be_iana_names(api, alice, ws_a, tz):
    response = api(user=alice).patch(f"{WORKSPACES}/{ws_a.pk}", {"timezone": tz})
    assert "timezone" in assert_error(response, 400, "validation_error")["details"]
    response = _create(api, alice, name="Zoned", timezone=tz)
    assert "timezone" in assert_error(response, 400, "validation_error")["details"]
    assert Workspace.objects.get(pk=ws_a.pk).timezone == "UTC"


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", "America/Argentina/Buenos_Aires", "Pacific/Chatham"])
def test_any_iana_time_zone_is_accepted(api, alice, ws_a, tz):
    assert api(user=alice).patch(f"{WORKSPACES}/{ws_a.pk}", {"timezone": tz}).json()["timezone"] == tz


def test_read_only_fields_cannot_be_patched(api, alice, ws_a, charlie):
    for field, value in {
        "owner": str(charlie.pk),
        "id": "x",
        "next_run_at": timezone.now().isoformat(),
        "schema_name": "public",
        "is_template": True,
    }.items():
        response = api(user=alice).patch(f"{WORKSPACES}/{ws_a.pk}", {field: value})
        assert field in assert_error(response, 400, "validation_error")["details"]
    ws_a.refresh_from_db()
    assert ws_a.owner_id != charlie.pk and not ws_a.is_template


# -- delete --------------------------------------------------------------------------------------
def test_delete_needs_the_slug_typed_as_confirmation(api, alice, ws_a):
    client = api(user=alice)
    for body in ({}, {"confirm": ""}, {"confirm": "Alpha Foods"}, {"confirm": str(ws_a.pk)}):
        response = client.delete(f"{WORKSPACES}/{ws_a.pk}", body)
        assert "confirm" in assert_error(response, 400, "validation_error")["details"], body
    assert Workspace.objects.filter(pk=ws_a.pk).exists()
    assert _schema_exists(ws_a.schema_name)


def test_delete_drops_the_schema_and_everything_of_the_workspace(api, alice, bob, ws_a, api_key_for):
    api_key_for(ws_a)
    services.invitation_create(workspace=ws_a, email="dana@example.com", role=Role.MEMBER, actor=alice)
    schema = ws_a.schema_name
    client = api(user=alice)
    assert client.get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": ws_a.slug}).status_code == 200
    response = client.delete(f"{WORKSPACES}/{ws_a.pk}", {"confirm": ws_a.slug})
    assert response.status_code == 204, response.content
    assert not Workspace.objects.filter(pk=ws_a.pk).exists()
    assert not _schema_exists(schema)
    for model in (Membership, Invitation, ApiKey, AuditLog):
        assert not model.objects.filter(workspace_id=ws_a.pk).exists(), model
    # Nothing routes to it any more, and its slug is free again.
    assert_error(client.get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": "alpha-foods"}), 404)
    assert_error(api(user=bob).get(f"{WORKSPACES}/{ws_a.pk}"), 404)
    assert api(user=bob).get(WORKSPACES).json()["count"] == 0
    assert _create(api, bob, name="Alpha Foods").json()["slug"] == "alpha-foods"


# -- audit log -----------------------------------------------------------------------------------
def test_the_audit_log_records_member_role_invitation_key_and_workspace_changes(
    api, alice, bob, charlie, ws_a, django_capture_on_commit_callbacks
):
    owner = api(user=alice, workspace=ws_a)
    ws_url = f"{WORKSPACES}/{ws_a.pk}"
    bob_membership = Membership.objects.get(workspace=ws_a, user=bob)
    owner.patch(ws_url, {"name": "Alpha Meals"})
    owner.patch(f"{ws_url}/members/{bob_membership.pk}", {"role": "admin"})
    invitation = owner.post(f"{ws_url}/members", {"email": "dana@example.com"}).json()
    owner.delete(f"{ws_url}/invitations/{invitation['id']}")
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(f"{ws_url}/members", {"email": "charlie@example.com", "role": "viewer"})
    from django.core import mail

    token = mail.outbox[-1].body.split("Invitation token: ")[1].split()[0]
    assert api(user=charlie).post("/api/v1/invitations/accept", {"token": token}).status_code == 200
    key = owner.post("/api/v1/api-keys", {"name": "ci", "scopes": ["read"]}).json()
    owner.delete(f"/api/v1/api-keys/{key['id']}")
    owner.delete(f"{ws_url}/members/{Membership.objects.get(workspace=ws_a, user=charlie).pk}")
    owner.post(f"{ws_url}/transfer-ownership", {"user_id": str(bob.pk)})

    response = api(user=alice).get(f"{ws_url}/audit-log")
    assert response.status_code == 200
    entries = response.json()["results"]
    assert [e["action"] for e in entries] == [
        "workspace.ownership_transferred",
        "member.removed",
        "api_key.revoked",
        "api_key.created",
        "invitation.accepted",
        "invitation.created",
        "invitation.revoked",
        "invitation.created",
        "member.role_changed",
        "workspace.updated",
        "workspace.created",
    ]
    by_action = {e["action"]: e for e in entries}
    assert by_action["member.role_changed"]["actor"]["email"] == "alice@example.com"
    assert by_action["member.role_changed"]["metadata"] == {"from": "member", "to": "admin"}
    assert by_action["invitation.accepted"]["actor"]["email"] == "charlie@example.com"
    assert by_action["api_key.created"]["target_id"] == key["id"]
    assert by_action["api_key.created"]["target_type"] == "apikey"
    assert by_action["api_key.created"]["ip_address"] == "127.0.0.1"
    assert "password" not in str(entries) and "token" not in str(entries)

    filtered = api(user=alice).get(f"{ws_url}/audit-log", {"action": "invitation."}).json()
    assert {e["action"] for e in filtered["results"]} == {
        "invitation.created",
        "invitation.revoked",
        "invitation.accepted",
    }


@pytest.mark.parametrize(
    ("role", "status"), [("owner", 200), ("admin", 200), ("member", 403), ("viewer", 403)]
)
def test_the_audit_log_is_for_owners_and_admins(api, ws_a, member_with_role, role, status):
    response = api(user=member_with_role(role)).get(f"{WORKSPACES}/{ws_a.pk}/audit-log")
    assert response.status_code == status


def test_the_audit_log_of_another_workspace_is_404(api, charlie, ws_a, ws_b):
    response = api(user=charlie).get(f"{WORKSPACES}/{ws_a.pk}/audit-log")
    assert_error(response, 404, "not_found")
    assert "alpha" not in response.content.decode().lower()
