"""What a team admin does in the dashboard, end to end in Chromium against the real API."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tenants import services
from tenants.models import ApiKey, Invitation, Membership, Role, User, Workspace
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TOKEN_RE = re.compile(r"/invitations/accept\?token=([\w-]+)")


def invitation_token(mail) -> str:
    match = TOKEN_RE.search(mail.body)
    assert match, mail.body
    return match.group(1)


def test_owner_registers_creates_workspace_invites_and_manages_an_api_key(
    new_page, live_server, mailoutbox, screenshot
):
    page = new_page()

    # A visitor lands on the sign-in page and goes on to create an account.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "signin")
    page.get_by_role("link", name="Create an account").click()

    # The form checks the API's limits before sending anything.
    page.get_by_label("Full name").fill("Olivia Owner")
    page.get_by_label("Email").fill("olivia@example.com")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Use at least 8 characters.")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_focused()
    assert not User.objects.filter(email="olivia@example.com").exists()

    page.get_by_label("Password").fill("Correct-Horse-42")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Workspaces", exact=True)).to_be_visible()
    expect(page.get_by_text("You are not in any workspace yet")).to_be_visible()

    # A name over 100 characters is refused in the form, then a good one creates the workspace.
    page.get_by_label("Workspace name").fill("x" * 101)
    page.get_by_role("button", name="Create workspace").click()
    expect(page.get_by_text("Use at most 100 characters (now 101).")).to_be_visible()
    page.get_by_label("Workspace name").fill("Acme Foods")
    page.get_by_label("Timezone").fill("Europe/Paris")
    page.get_by_role("button", name="Create workspace").click()
    expect(page).to_have_url(re.compile(r"/members$"))
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    workspace = Workspace.objects.get(slug="acme-foods")
    assert workspace.timezone == "Europe/Paris"
    assert workspace.owner.email == "olivia@example.com"
    expect(page.get_by_label("Workspace", exact=True)).to_have_value(str(workspace.pk))

    # Invite a teammate as admin; the email carries a single-use link to the dashboard.
    page.get_by_label("Email address").fill("dana@example.com")
    page.get_by_label("Role", exact=True).select_option("admin")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status").filter(has_text="Invitation sent to dana@example.com")).to_be_visible()
    pending = page.get_by_role("region", name="Pending invitations")
    expect(pending.get_by_role("row", name=re.compile("dana@example.com"))).to_be_visible()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["dana@example.com"]
    assert invitation_token(mailoutbox[0])
    screenshot(page, "members")

    # Inviting the same person's address badly is caught by the API and shown.
    page.get_by_label("Email address").fill("olivia@example.com")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("alert")).to_contain_text("already a member")

    # Create an API key: the whole key is shown once, with a copy button.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    page.get_by_label("Key name").fill("Production backend")
    page.get_by_role("checkbox", name=re.compile("^read")).check()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="Copy your new key now")).to_be_visible()
    key_box = page.get_by_label("New API key")
    expect(key_box).to_have_value(re.compile(r"^pp_live_\w+_\S+$"))
    full_key = key_box.input_value()
    screenshot(page, "api-key-created")
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == full_key

    stored = ApiKey.objects.get(workspace=workspace, name="Production backend")
    assert sorted(stored.scopes) == ["read", "send", "subscribers:write"]
    assert full_key.startswith(f"pp_live_{stored.prefix}_")
    # The key authenticates (this endpoint is for members only, hence 403 rather than 401).
    r = requests.get(
        f"{live_server.url}/api/v1/api-keys/", headers={"Authorization": f"Bearer {full_key}"}, timeout=10
    )
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "api_key_not_allowed"

    page.get_by_role("button", name="I have stored it").click()
    keys = page.get_by_role("region", name="Active keys")
    row = keys.get_by_role("row", name=re.compile("Production backend"))
    expect(row).to_contain_text(f"pp_live_{stored.prefix}_")
    expect(row).to_contain_text("never")
    assert full_key not in page.content()

    # Client routes survive a reload (Django serves index.html), and the key is never shown again.
    page.reload()
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    expect(keys.get_by_role("row", name=re.compile("Production backend"))).to_be_visible()
    assert full_key not in page.content()

    # Revoke it: confirmed in a dialog, and the key stops working at once.
    page.get_by_role("button", name="Revoke key Production backend").click()
    dialog = page.get_by_role("dialog", name="Revoke API key?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Revoke key").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_text("No API keys yet.")).to_be_visible()
    r = requests.get(
        f"{live_server.url}/api/v1/api-keys/", headers={"Authorization": f"Bearer {full_key}"}, timeout=10
    )
    assert r.status_code == 401, r.text

    # Everything above is in the audit log.
    page.get_by_role("link", name="Audit log").click()
    log = page.get_by_role("table")
    for action in ("workspace.created", "invitation.created", "api_key.created", "api_key.revoked"):
        expect(log.get_by_text(action, exact=True)).to_be_visible()
    screenshot(page, "audit-log")


def test_invited_person_joins_with_a_new_account(new_page, ws_a, alice, mailoutbox, screenshot):
    services.invitation_create(workspace=ws_a, email="erin@example.com", role=Role.MEMBER, actor=alice)
    token = invitation_token(mailoutbox[-1])
    page = new_page()

    page.goto(f"/invitations/accept?token={token}")
    expect(page.get_by_role("heading", name="Join the workspace")).to_be_visible()
    page.get_by_label("Full name").fill("Erin Newcomer")
    page.get_by_label("Password").fill("1234")
    page.get_by_role("button", name="Accept invitation").click()
    expect(page.get_by_text("Use at least 8 characters.")).to_be_visible()
    screenshot(page, "accept-invitation")
    page.get_by_label("Password").fill("Erin-Strong-Pass-9")
    page.get_by_role("button", name="Accept invitation").click()

    # Signed in, in the workspace, with a member's view: no API keys or audit log in the menu.
    expect(page).to_have_url(re.compile(r"/members$"))
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    expect(page.get_by_text("Erin Newcomer").first).to_be_visible()
    expect(page.get_by_label("Workspace", exact=True)).to_have_value(str(ws_a.pk))
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Members")).to_be_visible()
    expect(nav.get_by_role("link", name="API keys")).to_have_count(0)
    expect(page.get_by_role("button", name="Send invitation")).to_have_count(0)
    team = page.get_by_role("region", name="Team")
    expect(team.get_by_role("row", name=re.compile("erin@example.com"))).to_contain_text("member")
    expect(team.get_by_role("row", name=re.compile("alice@example.com"))).to_contain_text("owner")

    erin = User.objects.get(email="erin@example.com")
    assert erin.full_name == "Erin Newcomer"
    assert Membership.objects.get(workspace=ws_a, user=erin).role == Role.MEMBER

    # The link works once: opened again in another browser, it says so.
    other = new_page()
    other.goto(f"/invitations/accept?token={token}")
    other.get_by_label("Password").fill("Erin-Strong-Pass-9")
    other.get_by_role("button", name="Accept invitation").click()
    expect(other.get_by_role("alert")).to_contain_text("This invitation is accepted.")


def test_admin_manages_team_settings_and_survives_an_expired_access_token(
    new_page, ws_a, alice, bob, screenshot
):
    services.invitation_create(workspace=ws_a, email="frank@example.com", role=Role.VIEWER, actor=alice)
    page = new_page()
    sign_in(page, "alice@example.com")
    # Signing in lands on the workspace's overview; the team is one click away.
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()

    # An expired or broken access token is refreshed once, transparently.
    tokens = page.evaluate("JSON.parse(localStorage.getItem('pushpilot.tokens'))")
    page.evaluate(
        "t => localStorage.setItem('pushpilot.tokens', JSON.stringify(t))",
        {"access": "expired.access.token", "refresh": tokens["refresh"]},
    )
    page.reload()
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    refreshed = page.evaluate("JSON.parse(localStorage.getItem('pushpilot.tokens'))")
    assert refreshed["access"] != "expired.access.token"
    assert refreshed["refresh"] != tokens["refresh"]  # rotated

    # Change Bob's role, keyboard only.
    role = page.get_by_label("Role of bob@example.com")
    role.focus()
    role.select_option("viewer")
    expect(role).to_have_value("viewer")
    assert Membership.objects.get(workspace=ws_a, user=bob).role == Role.VIEWER

    # Revoke the pending invitation.
    page.get_by_role("button", name="Revoke invitation for frank@example.com").click()
    page.get_by_role("dialog", name="Revoke invitation?").get_by_role(
        "button", name="Revoke invitation"
    ).click()
    expect(page.get_by_text("No pending invitations.")).to_be_visible()
    assert Invitation.objects.get(email="frank@example.com").revoked_at is not None

    # Remove Bob.
    page.get_by_role("button", name="Remove bob@example.com").click()
    dialog = page.get_by_role("dialog", name="Remove member?")
    expect(dialog).to_contain_text("bob@example.com")
    dialog.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("region", name="Team").get_by_text("bob@example.com")).to_have_count(0)

    # Rename the workspace; an unknown timezone is refused by the API and shown next to the field.
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Timezone").fill("Mars/Olympus")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".field-error")).to_be_visible()
    page.get_by_label("Workspace name").fill("Alpha Foods Europe")
    page.get_by_label("Timezone").fill("Europe/Berlin")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").filter(has_text="Settings saved.")).to_be_visible()
    expect(page.get_by_label("Workspace", exact=True).locator("option:checked")).to_have_text(
        "Alpha Foods Europe"
    )
    ws_a.refresh_from_db()
    assert (ws_a.name, ws_a.timezone) == ("Alpha Foods Europe", "Europe/Berlin")
    screenshot(page, "settings")

    # Deleting needs the slug typed out.
    delete = page.get_by_role("button", name="Delete this workspace")
    expect(delete).to_be_disabled()
    page.get_by_label(re.compile("Type the workspace slug")).fill("alpha")
    expect(delete).to_be_disabled()
    page.get_by_label(re.compile("Type the workspace slug")).fill(ws_a.slug)
    delete.click()
    expect(page).to_have_url(re.compile(r"/workspaces$"))
    expect(page.get_by_text("You are not in any workspace yet")).to_be_visible()
    assert not Workspace.objects.filter(pk=ws_a.pk).exists()

    # Signing out ends the session; protected pages send you to sign in.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/settings")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fsettings$"))
