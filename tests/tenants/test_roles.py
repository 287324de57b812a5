"""The role matrix of DESIGN.md, each role x each action: allowed, or 403 ``permission_denied`` with
nothing changed.

| action                                   | owner | admin | member | viewer |
| read workspace, list/see members         |   ✓   |   ✓   |   ✓    |   ✓    |
| update workspace (name, slug, timezone)  |   ✓   |   ✓   |        |        |
| invite / change roles / remove members   |   ✓   |   ✓   |        |        |
| list / revoke invitations                |   ✓   |   ✓   |        |        |
| API keys: list / create / revoke         |   ✓   |   ✓   |        |        |
| audit log                                |   ✓   |   ✓   |        |        |
| delete workspace, transfer ownership,    |   ✓   |       |        |        |
| billing plan                             |       |       |        |        |
"""

from __future__ import annotations

import pytest

from tenants import services
from tenants.models import ApiKey, AuditLog, Invitation, Membership, Role, User, Workspace
from tests.conftest import PASSWORD
from tests.tenants.support import (  # noqa: F401 - autouse fixtures
    assert_error,
    base_schema_once,
    fast_tenancy,
)

pytestmark = pytest.mark.django_db

ALL = {"owner", "admin", "member", "viewer"}
MANAGERS = {"owner", "admin"}
OWNER = {"owner"}


def _ws(ctx):
    return f"/api/v1/workspaces/{ctx['ws'].pk}"


def _bob_membership(ctx):
    return Membership.objects.get(workspace=ctx["ws"], user=ctx["bob"]).pk


# action -> (who may, request(client, ctx), status when allowed)
ACTIONS = {
    "read workspace": (ALL, lambda c, x: c.get(_ws(x)), 200),
    "update workspace": (
        MANAGERS,
        lambda c, x: c.patch(_ws(x), {"name": "Renamed", "timezone": "Europe/Paris"}),
        200,
    ),
    "change billing plan": (OWNER, lambda c, x: c.patch(_ws(x), {"plan_type": "pro"}), 200),
    "delete workspace": (OWNER, lambda c, x: c.delete(_ws(x), {"confirm": x["ws"].slug}), 204),
    "transfer ownership": (
        OWNER,
        lambda c, x: c.post(f"{_ws(x)}/transfer-ownership", {"user_id": str(x["bob"].pk)}),
        200,
    ),
    "list members": (ALL, lambda c, x: c.get(f"{_ws(x)}/members"), 200),
    "see a member": (ALL, lambda c, x: c.get(f"{_ws(x)}/members/{_bob_membership(x)}"), 200),
    "invite": (
        MANAGERS,
        lambda c, x: c.post(f"{_ws(x)}/members", {"email": "new@example.com", "role": "member"}),
        201,
    ),
    "change role": (
        MANAGERS,
        lambda c, x: c.patch(f"{_ws(x)}/members/{_bob_membership(x)}", {"role": "viewer"}),
        200,
    ),
    "remove member": (MANAGERS, lambda c, x: c.delete(f"{_ws(x)}/members/{_bob_membership(x)}"), 204),
    "list invitations": (MANAGERS, lambda c, x: c.get(f"{_ws(x)}/invitations"), 200),
    "revoke invitation": (MANAGERS, lambda c, x: c.delete(f"{_ws(x)}/invitations/{x['invitation'].pk}"), 204),
    "list api keys": (MANAGERS, lambda c, x: c.get("/api/v1/api-keys"), 200),
    "see an api key": (MANAGERS, lambda c, x: c.get(f"/api/v1/api-keys/{x['key'].pk}"), 200),
    "create api key": (
        MANAGERS,
        lambda c, x: c.post("/api/v1/api-keys", {"name": "ci", "scopes": ["read"]}),
        201,
    ),
    "revoke api key": (MANAGERS, lambda c, x: c.delete(f"/api/v1/api-keys/{x['key'].pk}"), 204),
    "read audit log": (MANAGERS, lambda c, x: c.get(f"{_ws(x)}/audit-log"), 200),
}

CASES = [
    pytest.param(role, action, role in allowed, id=f"{role}-{action.replace(' ', '_')}")
    for action, (allowed, _request, _status) in ACTIONS.items()
    for role in ("owner", "admin", "member", "viewer")
]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """One workspace and a user per role, committed once for the module; each test runs in its own
    transaction on top and is rolled back (DROP SCHEMA included), so 72 cases cost one setup."""
    with django_db_blocker.unblock():
        owner = User.objects.create_user("owner@roles.test", PASSWORD)
        ws = services.workspace_create(owner=owner, name="Role Matrix")
        actors = {"owner": owner}
        for role in ("admin", "member", "viewer"):
            actors[role] = User.objects.create_user(f"{role}@roles.test", PASSWORD)
            Membership.objects.create(workspace=ws, user=actors[role], role=role)
        bob = User.objects.create_user("bob@roles.test", PASSWORD)
        Membership.objects.create(workspace=ws, user=bob, role=Role.MEMBER)
        invitation = services.invitation_create(
            workspace=ws, email="pending@roles.test", role=Role.MEMBER, actor=owner
        )
        key, _full = services.api_key_create(workspace=ws, name="server", scopes=["read"], actor=owner)
        yield {"ws": ws, "actors": actors, "bob": bob, "invitation": invitation, "key": key}
        services.workspace_delete(workspace=Workspace.objects.get(pk=ws.pk), actor=owner, confirm=ws.slug)
        User.objects.filter(email__endswith="@roles.test").delete()


@pytest.fixture
def ctx(world, db):
    world["ws"].refresh_from_db()
    return world


def _state(ws):
    return {
        "workspace": Workspace.objects.filter(pk=ws.pk)
        .values("name", "slug", "plan_type", "timezone", "owner_id")
        .first(),
        "members": sorted(Membership.objects.filter(workspace=ws).values_list("user_id", "role")),
        "invitations": sorted(Invitation.objects.filter(workspace=ws).values_list("id", "revoked_at")),
        "keys": sorted(ApiKey.objects.filter(workspace=ws).values_list("id", "revoked_at")),
        "audit": AuditLog.objects.filter(workspace=ws).count(),
    }


@pytest.mark.parametrize(("role", "action", "allowed"), CASES)
def test_role_matrix(role, action, allowed, ctx, api):
    _allowed_roles, request, ok_status = ACTIONS[action]
    actor = ctx["actors"][role]
    client = api(user=actor, workspace=ctx["ws"])
    before = _state(ctx["ws"])
    response = request(client, ctx)
    if allowed:
        assert response.status_code == ok_status, (role, action, response.content)
    else:
        error = assert_error(response, 403, "permission_denied")
        assert role in error["message"] or "owner" in error["message"]
        assert _state(ctx["ws"]) == before, f"a denied {action} by {role} changed something"


def test_the_matrix_covers_every_role_for_every_action():
    assert len(CASES) == 4 * len(ACTIONS)
    # The table's boundaries, stated once more so an edit to ACTIONS cannot quietly loosen them.
    assert {a for a, (who, _r, _s) in ACTIONS.items() if who == OWNER} == {
        "delete workspace",
        "transfer ownership",
        "change billing plan",
    }
    assert {a for a, (who, _r, _s) in ACTIONS.items() if who == ALL} == {
        "read workspace",
        "list members",
        "see a member",
    }


def test_the_role_is_checked_for_the_workspace_being_called(api, alice, charlie, ws_a, ws_b):
    """Owner of B, viewer of A: in A they are a viewer, whatever they are elsewhere."""
    Membership.objects.create(workspace=ws_a, user=charlie, role=Role.VIEWER)
    client = api(user=charlie, workspace=ws_a)
    assert_error(client.get("/api/v1/api-keys"), 403, "permission_denied")
    assert_error(client.patch(f"/api/v1/workspaces/{ws_a.pk}", {"name": "x"}), 403, "permission_denied")
    assert api(user=charlie, workspace=ws_b).get("/api/v1/api-keys").status_code == 200
    assert (
        client.patch(
            f"/api/v1/workspaces/{ws_b.pk}",
            {"name": "Beta Two"},
            headers={"HTTP_X_WORKSPACE_ID": str(ws_b.pk)},
        ).status_code
        == 200
    )


def test_a_demoted_admin_loses_rights_on_the_next_request(api, alice, member_with_role, ws_a):
    admin = member_with_role(Role.ADMIN)
    client = api(user=admin, workspace=ws_a)
    assert client.get("/api/v1/api-keys").status_code == 200
    membership = Membership.objects.get(workspace=ws_a, user=admin)
    assert (
        api(user=alice, workspace=ws_a)
        .patch(f"/api/v1/workspaces/{ws_a.pk}/members/{membership.pk}", {"role": "viewer"})
        .status_code
        == 200
    )
    assert_error(client.get("/api/v1/api-keys"), 403, "permission_denied")


def test_a_removed_member_is_a_stranger_on_the_next_request(api, alice, bob, ws_a):
    client = api(user=bob, workspace=ws_a)
    assert client.get(f"/api/v1/workspaces/{ws_a.pk}").status_code == 200
    membership = Membership.objects.get(workspace=ws_a, user=bob)
    assert (
        api(user=alice, workspace=ws_a)
        .delete(f"/api/v1/workspaces/{ws_a.pk}/members/{membership.pk}")
        .status_code
        == 204
    )
    assert_error(client.get(f"/api/v1/workspaces/{ws_a.pk}"), 404, "not_found")
