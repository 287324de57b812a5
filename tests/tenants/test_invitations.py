"""Invitation lifecycle: invite (email with a single-use token), accept as a new account, an existing
account or the signed-in user; expired, reused, revoked and replaced tokens."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tenants import services
from tenants.models import AuditLog, Invitation, Membership, Role, User
from tests.conftest import PASSWORD
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

ACCEPT = "/api/v1/invitations/accept"


def _members(ws):
    return f"/api/v1/workspaces/{ws.pk}/members"


def _token_from(message) -> str:
    match = re.search(r"Invitation token: (\S+)", message.body)
    assert match, message.body
    link = re.search(r"invitations/accept\?token=(\S+)", message.body)
    assert link and link[1] == match[1]
    return match[1]


@pytest.fixture
def invite(api, alice, ws_a, django_capture_on_commit_callbacks):
    """Invite through the API as alice; returns (response body, token from the email). The email
    goes out after commit, so the test's transaction runs its on-commit callbacks."""

    def _invite(email="dana@example.com", role="member"):
        outbox_before = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            response = api(user=alice, workspace=ws_a).post(_members(ws_a), {"email": email, "role": role})
        assert response.status_code == 201, response.content
        assert len(mail.outbox) == outbox_before + 1
        return response.json(), _token_from(mail.outbox[-1])

    return _invite


# -- invite --------------------------------------------------------------------------------------
def test_invite_sends_an_email_with_a_single_use_token_and_stores_only_its_hash(api, alice, ws_a, invite):
    body, token = invite(email="Dana@Example.com", role="admin")
    assert body["email"] == "dana@example.com"
    assert body["role"] == "admin"
    assert body["status"] == "pending"
    assert body["invited_by"]["email"] == alice.email
    assert token not in str(body)
    message = mail.outbox[-1]
    assert message.to == ["dana@example.com"]
    assert ws_a.name in message.subject
    invitation = Invitation.objects.get(pk=body["id"])
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(Invitation.objects.filter(pk=body["id"]).values().first())
    # Seven days to accept.
    lifetime = invitation.expires_at - invitation.created_at
    assert timedelta(days=7) - timedelta(seconds=5) < lifetime <= timedelta(days=7)
    entry = AuditLog.objects.get(workspace=ws_a, action="invitation.created")
    assert entry.actor == alice and entry.metadata == {"email": "dana@example.com", "role": "admin"}


def test_inviting_someone_already_in_the_workspace_is_a_conflict(api, alice, bob, ws_a):
    response = api(user=alice, workspace=ws_a).post(_members(ws_a), {"email": "BOB@example.com"})
    assert_error(response, 409, "already_member")
    assert not mail.outbox


def test_an_invitation_cannot_make_an_owner(api, alice, ws_a):
    response = api(user=alice, workspace=ws_a).post(
        _members(ws_a), {"email": "x@example.com", "role": "owner"}
    )
    assert "role" in assert_error(response, 400, "validation_error")["details"]
    assert not Invitation.objects.exists()


def test_pending_invitations_are_listed_and_status_all_shows_the_rest(api, alice, ws_a, invite):
    first, token = invite(email="one@example.com")
    second, _ = invite(email="two@example.com")
    api().post(ACCEPT, {"token": token, "password": "Fresh-Pass-771"})
    client = api(user=alice, workspace=ws_a)
    pending = client.get(f"/api/v1/workspaces/{ws_a.pk}/invitations").json()
    assert [i["id"] for i in pending["results"]] == [second["id"]]
    everything = client.get(f"/api/v1/workspaces/{ws_a.pk}/invitations", {"status": "all"}).json()
    assert {i["id"]: i["status"] for i in everything["results"]} == {
        first["id"]: "accepted",
        second["id"]: "pending",
    }


# -- accept --------------------------------------------------------------------------------------
def test_accept_as_a_new_account_creates_the_user_and_returns_tokens(api, ws_a, invite):
    _body, token = invite(email="dana@example.com", role="viewer")
    response = api().post(ACCEPT, {"token": token, "password": "Fresh-Pass-771", "full_name": "Dana"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert {"workspace", "member", "access", "refresh"} <= set(body)
    assert body["workspace"]["id"] == str(ws_a.pk)
    assert body["workspace"]["role"] == "viewer"
    assert body["member"]["role"] == "viewer"
    user = User.objects.get(email="dana@example.com")
    assert user.full_name == "Dana" and user.check_password("Fresh-Pass-771")
    assert Membership.objects.get(workspace=ws_a, user=user).role == Role.VIEWER
    client = api()
    client.client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert client.get("/api/v1/auth/me").json()["email"] == "dana@example.com"
    assert client.get(f"/api/v1/workspaces/{ws_a.pk}").status_code == 200
    assert AuditLog.objects.filter(workspace=ws_a, action="invitation.accepted", actor=user).exists()


def test_accept_as_a_new_account_needs_a_valid_password(api, ws_a, invite):
    _body, token = invite()
    assert (
        "password" in assert_error(api().post(ACCEPT, {"token": token}), 400, "validation_error")["details"]
    )
    weak = api().post(ACCEPT, {"token": token, "password": "123"})
    assert "password" in assert_error(weak, 400, "validation_error")["details"]
    assert not User.objects.filter(email="dana@example.com").exists()
    # Nothing was used up: the invitation still works.
    assert api().post(ACCEPT, {"token": token, "password": "Fresh-Pass-771"}).status_code == 200


def test_accept_by_an_existing_account_with_its_password(api, charlie, ws_a, invite):
    _body, token = invite(email="charlie@example.com", role="admin")
    assert_error(api().post(ACCEPT, {"token": token}), 401, "invalid_credentials")
    assert_error(
        api().post(ACCEPT, {"token": token, "password": "not-charlies-1"}), 401, "invalid_credentials"
    )
    response = api().post(ACCEPT, {"token": token, "password": PASSWORD})
    assert response.status_code == 200, response.content
    assert {"access", "refresh"} <= set(response.json())
    assert Membership.objects.get(workspace=ws_a, user=charlie).role == Role.ADMIN
    assert User.objects.filter(email="charlie@example.com").count() == 1


def test_accept_by_the_signed_in_user_whose_email_matches(api, charlie, ws_a, invite):
    _body, token = invite(email="charlie@example.com")
    response = api(user=charlie).post(ACCEPT, {"token": token})
    assert response.status_code == 200, response.content
    assert "access" not in response.json()  # already signed in: no new tokens
    assert Membership.objects.get(workspace=ws_a, user=charlie).role == Role.MEMBER


def test_a_signed_in_user_cannot_take_someone_elses_invitation(api, charlie, ws_a, invite):
    body, token = invite(email="dana@example.com")
    response = api(user=charlie).post(ACCEPT, {"token": token})
    assert_error(response, 403, "invitation_email_mismatch")
    assert not Membership.objects.filter(workspace=ws_a, user=charlie).exists()
    assert Invitation.objects.get(pk=body["id"]).status == "pending"


def test_an_accepted_invitation_cannot_be_reused(api, ws_a, invite):
    _body, token = invite()
    assert api().post(ACCEPT, {"token": token, "password": "Fresh-Pass-771"}).status_code == 200
    assert_error(
        api().post(ACCEPT, {"token": token, "password": "Fresh-Pass-771"}), 410, "invitation_accepted"
    )
    assert Membership.objects.filter(workspace=ws_a, user__email="dana@example.com").count() == 1


def test_an_expired_invitation_is_gone(api, ws_a, invite):
    body, token = invite()
    Invitation.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(
        api().post(ACCEPT, {"token": token, "password": "Fresh-Pass-771"}), 410, "invitation_expired"
    )
    assert not User.objects.filter(email="dana@example.com").exists()
    # Expired invitations leave the pending list and the housekeeping task retires them.
    assert (
        api(user=ws_a.owner, workspace=ws_a).get(f"/api/v1/workspaces/{ws_a.pk}/invitations").json()["count"]
        == 0
    )
    assert services.invitations_expire() == 1


def test_a_revoked_invitation_is_gone(api, alice, ws_a, invite):
    body, token = invite()
    client = api(user=alice, workspace=ws_a)
    assert client.delete(f"/api/v1/workspaces/{ws_a.pk}/invitations/{body['id']}").status_code == 204
    assert_error(
        api().post(ACCEPT, {"token": token, "password": "Fresh-Pass-771"}), 410, "invitation_revoked"
    )
    assert AuditLog.objects.filter(workspace=ws_a, action="invitation.revoked").count() == 1
    # Revoking it again, or revoking an accepted one, is a conflict.
    assert_error(
        client.delete(f"/api/v1/workspaces/{ws_a.pk}/invitations/{body['id']}"), 409, "invitation_not_pending"
    )


def test_revoking_an_accepted_invitation_is_a_conflict(api, alice, ws_a, invite):
    body, token = invite()
    api().post(ACCEPT, {"token": token, "password": "Fresh-Pass-771"})
    response = api(user=alice, workspace=ws_a).delete(
        f"/api/v1/workspaces/{ws_a.pk}/invitations/{body['id']}"
    )
    assert_error(response, 409, "invitation_not_pending")


def test_a_new_invitation_replaces_the_pending_token(api, alice, ws_a, invite):
    first, old_token = invite(email="dana@example.com", role="viewer")
    second, new_token = invite(email="DANA@example.com", role="admin")
    assert old_token != new_token
    assert_error(
        api().post(ACCEPT, {"token": old_token, "password": "Fresh-Pass-771"}), 410, "invitation_revoked"
    )
    response = api().post(ACCEPT, {"token": new_token, "password": "Fresh-Pass-771"})
    assert response.status_code == 200
    assert response.json()["member"]["role"] == "admin"
    assert Invitation.objects.get(pk=first["id"]).status == "revoked"
    assert Invitation.objects.get(pk=second["id"]).status == "accepted"


@pytest.mark.parametrize("token", ["nope", "x" * 43, "x" * 128])
def test_an_unknown_token_is_404(api, token):
    assert_error(
        api().post(ACCEPT, {"token": token, "password": "Fresh-Pass-771"}), 404, "invitation_invalid"
    )


def test_an_invitation_to_a_deleted_workspace_is_404(api, alice, ws_a, invite):
    _body, token = invite()
    services.workspace_delete(workspace=ws_a, actor=alice, confirm=ws_a.slug)
    assert_error(
        api().post(ACCEPT, {"token": token, "password": "Fresh-Pass-771"}), 404, "invitation_invalid"
    )


def test_accepting_when_already_a_member_is_a_conflict(api, alice, charlie, ws_a, invite):
    _body, token = invite(email="charlie@example.com")
    Membership.objects.create(workspace=ws_a, user=charlie, role=Role.VIEWER)
    assert_error(api(user=charlie).post(ACCEPT, {"token": token}), 409, "already_member")
    assert Membership.objects.get(workspace=ws_a, user=charlie).role == Role.VIEWER


def test_accept_with_a_broken_bearer_token_is_401_not_anonymous(api, invite):
    _body, token = invite()
    client = api()
    client.client.credentials(HTTP_AUTHORIZATION="Bearer broken.jwt.token")
    response = client.post(ACCEPT, {"token": token, "password": "Fresh-Pass-771"})
    assert_error(response, 401)
    assert not User.objects.filter(email="dana@example.com").exists()
