"""Members and ownership: listing, role changes, removal, ownership transfer, and the protections
around the one owner (never removed, never demoted, never made by PATCH, untouchable by admins)."""

from __future__ import annotations

import pytest

from tenants.models import AuditLog, Membership, Role, Workspace
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


def _member_url(ws, membership) -> str:
    return f"/api/v1/workspaces/{ws.pk}/members/{membership.pk}"


def _membership(ws, user) -> Membership:
    return Membership.objects.get(workspace=ws, user=user)


def _owners(ws) -> list:
    return list(
        Membership.objects.filter(workspace=ws, role=Role.OWNER).values_list("user__email", flat=True)
    )


# -- listing -------------------------------------------------------------------------------------
def test_members_are_listed_with_their_roles_and_users(api, bob, ws_a):
    response = api(user=bob).get(f"/api/v1/workspaces/{ws_a.pk}/members")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert {(m["user"]["email"], m["role"], m["status"]) for m in body["results"]} == {
        ("alice@example.com", "owner", "active"),
        ("bob@example.com", "member", "active"),
    }
    assert all("password" not in m["user"] for m in body["results"])


def test_the_workspace_in_the_path_may_be_its_slug(api, bob, ws_a):
    assert api(user=bob).get(f"/api/v1/workspaces/{ws_a.slug}/members/").json()["count"] == 2


# -- role changes --------------------------------------------------------------------------------
def test_an_admin_changes_a_members_role_and_it_is_audited(api, alice, bob, ws_a, member_with_role):
    admin = member_with_role(Role.ADMIN)
    response = api(user=admin).patch(_member_url(ws_a, _membership(ws_a, bob)), {"role": "viewer"})
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "viewer"
    assert _membership(ws_a, bob).role == Role.VIEWER
    entry = AuditLog.objects.get(workspace=ws_a, action="member.role_changed")
    assert entry.actor == admin and entry.target_id == str(bob.pk)
    assert entry.metadata == {"from": "member", "to": "viewer"}


@pytest.mark.parametrize("actor_role", ["owner", "admin"])
def test_nobody_makes_an_owner_by_patch(api, bob, ws_a, member_with_role, actor_role):
    actor = member_with_role(actor_role)
    response = api(user=actor).patch(_member_url(ws_a, _membership(ws_a, bob)), {"role": "owner"})
    assert "role" in assert_error(response, 400, "validation_error")["details"]
    assert _owners(ws_a) == ["alice@example.com"]


@pytest.mark.parametrize("actor_role", ["owner", "admin"])
@pytest.mark.parametrize("new_role", ["admin", "member", "viewer"])
def test_the_owner_is_never_demoted(api, alice, ws_a, member_with_role, actor_role, new_role):
    actor = member_with_role(actor_role)
    response = api(user=actor).patch(_member_url(ws_a, _membership(ws_a, alice)), {"role": new_role})
    assert_error(response, 409, "owner_protected")
    assert _owners(ws_a) == ["alice@example.com"]


@pytest.mark.parametrize("actor_role", ["owner", "admin"])
def test_the_owner_is_never_removed(api, alice, ws_a, member_with_role, actor_role):
    actor = member_with_role(actor_role)
    assert_error(api(user=actor).delete(_member_url(ws_a, _membership(ws_a, alice))), 409, "owner_protected")
    assert _owners(ws_a) == ["alice@example.com"]
    assert Workspace.objects.get(pk=ws_a.pk).owner == alice


def test_an_admin_cannot_change_or_remove_another_admin_but_the_owner_can(api, alice, ws_a, member_with_role):
    first, second = member_with_role(Role.ADMIN), member_with_role(Role.ADMIN)
    url = _member_url(ws_a, _membership(ws_a, second))
    assert_error(api(user=first).patch(url, {"role": "viewer"}), 403, "permission_denied")
    assert_error(api(user=first).delete(url), 403, "permission_denied")
    assert _membership(ws_a, second).role == Role.ADMIN
    assert api(user=alice).patch(url, {"role": "member"}).status_code == 200
    assert _membership(ws_a, second).role == Role.MEMBER
    assert api(user=first).delete(url).status_code == 204


def test_an_admin_may_step_down_or_leave(api, ws_a, member_with_role):
    admin = member_with_role(Role.ADMIN)
    url = _member_url(ws_a, _membership(ws_a, admin))
    assert api(user=admin).patch(url, {"role": "member"}).status_code == 200
    assert _membership(ws_a, admin).role == Role.MEMBER
    other_admin = member_with_role(Role.ADMIN)
    assert api(user=other_admin).delete(_member_url(ws_a, _membership(ws_a, other_admin))).status_code == 204
    assert not Membership.objects.filter(workspace=ws_a, user=other_admin).exists()


def test_removing_a_member_is_audited(api, alice, bob, ws_a):
    assert api(user=alice).delete(_member_url(ws_a, _membership(ws_a, bob)) + "/").status_code == 204
    entry = AuditLog.objects.get(workspace=ws_a, action="member.removed")
    assert entry.actor == alice and entry.metadata == {"email": "bob@example.com", "role": "member"}


@pytest.mark.parametrize("member_ref", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "1"])
def test_an_unknown_member_is_404(api, alice, ws_a, member_ref):
    url = f"/api/v1/workspaces/{ws_a.pk}/members/{member_ref}"
    client = api(user=alice)
    assert_error(client.get(url), 404, "not_found")
    assert_error(client.patch(url, {"role": "viewer"}), 404, "not_found")
    assert_error(client.delete(url), 404, "not_found")


# -- ownership transfer --------------------------------------------------------------------------
def test_the_owner_transfers_ownership_and_becomes_admin(api, alice, bob, ws_a):
    response = api(user=alice).post(
        f"/api/v1/workspaces/{ws_a.pk}/transfer-ownership", {"user_id": str(bob.pk)}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["owner"] == str(bob.pk)
    assert body["role"] == "admin"
    assert _owners(ws_a) == ["bob@example.com"]
    assert _membership(ws_a, alice).role == Role.ADMIN
    assert Workspace.objects.get(pk=ws_a.pk).owner == bob
    entry = AuditLog.objects.get(workspace=ws_a, action="workspace.ownership_transferred")
    assert entry.metadata == {"from": str(alice.pk), "to": str(bob.pk)}

    # The new owner has the owner's powers; the old one no longer does.
    assert_error(
        api(user=alice).delete(f"/api/v1/workspaces/{ws_a.pk}", {"confirm": ws_a.slug}),
        403,
        "permission_denied",
    )
    assert_error(
        api(user=alice).patch(_member_url(ws_a, _membership(ws_a, bob)), {"role": "admin"}),
        409,
        "owner_protected",
    )
    assert (
        api(user=bob)
        .post(f"/api/v1/workspaces/{ws_a.pk}/transfer-ownership", {"user_id": str(alice.pk)})
        .status_code
        == 200
    )
    assert _owners(ws_a) == ["alice@example.com"]


def test_ownership_goes_only_to_a_member_of_this_workspace(api, alice, charlie, ws_a, ws_b):
    url = f"/api/v1/workspaces/{ws_a.pk}/transfer-ownership"
    assert (
        "user_id"
        in assert_error(api(user=alice).post(url, {"user_id": str(charlie.pk)}), 400, "validation_error")[
            "details"
        ]
    )
    assert (
        "user_id"
        in assert_error(api(user=alice).post(url, {"user_id": str(alice.pk)}), 400, "validation_error")[
            "details"
        ]
    )
    assert _owners(ws_a) == ["alice@example.com"]


@pytest.mark.parametrize("role", ["admin", "member", "viewer"])
def test_only_the_owner_transfers(api, bob, ws_a, member_with_role, role):
    actor = member_with_role(role)
    response = api(user=actor).post(
        f"/api/v1/workspaces/{ws_a.pk}/transfer-ownership", {"user_id": str(actor.pk)}
    )
    assert_error(response, 403, "permission_denied")
    assert _owners(ws_a) == ["alice@example.com"]


def test_there_is_always_exactly_one_owner(api, alice, bob, ws_a, member_with_role):
    admin = member_with_role(Role.ADMIN)
    api(user=alice).post(f"/api/v1/workspaces/{ws_a.pk}/transfer-ownership", {"user_id": str(admin.pk)})
    api(user=admin).patch(_member_url(ws_a, _membership(ws_a, alice)), {"role": "viewer"})
    api(user=admin).delete(_member_url(ws_a, _membership(ws_a, admin)))
    assert _owners(ws_a) == [admin.email]
    assert Membership.objects.filter(workspace=ws_a, role=Role.OWNER).count() == 1
