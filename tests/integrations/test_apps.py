"""Connected apps: FCM service accounts and Web Push VAPID pairs, the seed's /firebase aliases,
roles, sdk keys, audit, and the guarantee that no response ever carries a private key."""

from __future__ import annotations

import base64
import io
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django_tenants.utils import schema_context

from integrations import selectors
from integrations.models import App, Subscriber
from tenants.models import AuditLog, Role, SdkKeyRegistry
from tests.integrations.integration_support import (
    SUBJECT,
    make_app,
    make_subscriber,
    pem_body_fragments,
    raw_rows,
    service_account,
)
from tests.tenants.support import assert_error, base_schema_once, fast_tenancy  # noqa: F401

pytestmark = pytest.mark.django_db

LEGACY_SERVER_KEY = "AAAAq1b2c3d:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx" + "x" * 100


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def owner(api, ws_a, alice):
    return api(user=alice, workspace=ws_a)


def _no_private_material(response, *secrets: str) -> None:
    text = response.content.decode()
    assert "PRIVATE KEY" not in text, text[:500]
    assert 'private_key"' not in text.replace('"private_key_id"', ""), text[:500]
    for secret in secrets:
        assert secret not in text, f"secret leaked: {secret[:20]}…"


# -- Web Push ---------------------------------------------------------------------------------------
def test_web_push_app_gets_a_generated_vapid_pair_and_only_the_public_key_is_readable(owner, ws_a):
    r = owner.post("/api/v1/apps/", {"kind": "web_push", "name": "Alpha site", "subject": SUBJECT})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["kind"] == "web_push" and body["name"] == "Alpha site" and body["subject"] == SUBJECT
    assert body["sdk_key"].startswith("pp_sdk_") and body["is_default"] is True and body["status"] == "ok"
    assert body["project_id"] is None and body["client_email"] is None
    public = _unb64(body["vapid_public_key"])
    assert len(public) == 65 and public[0] == 4
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)

    with schema_context(ws_a.schema_name):
        app = App.objects.get(pk=body["id"])
        private = selectors.app_vapid_private_key(app=app, workspace_id=ws_a.pk)
    derived = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert derived == public, "the stored private key must be the pair of the published public key"
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    for response in (r, owner.get("/api/v1/apps/"), owner.get(f"/api/v1/apps/{body['id']}")):
        _no_private_material(response, *pem_body_fragments(pem))


@pytest.mark.parametrize(
    "subject",
    [None, "", "push@alpha.example", "http://alpha.example", "mailto:not-an-email", "ftp://alpha.example"],
)
def test_web_push_app_needs_a_mailto_or_https_subject(owner, subject):
    body = {"kind": "web_push", "name": "Alpha site"}
    if subject is not None:
        body["subject"] = subject
    error = assert_error(owner.post("/api/v1/apps", body), 400, "validation_error")
    assert list(error["details"]) == ["subject"], error


def test_web_push_subject_can_be_an_https_url(owner):
    r = owner.post(
        "/api/v1/apps", {"kind": "web_push", "name": "Alpha", "subject": "https://alpha.example/contact"}
    )
    assert r.status_code == 201, r.content


# -- FCM ----------------------------------------------------------------------------------------------
def test_fcm_app_from_a_json_body_shows_masked_identity_only(owner, ws_a):
    info = service_account("alpha-push")
    r = owner.post("/api/v1/apps/", {"kind": "fcm", "name": "Alpha Android", "service_account": info})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["project_id"] == "alpha-push"
    assert body["client_email"] == info["client_email"]
    assert body["private_key_id"] == "…" + info["private_key_id"][-4:]
    assert body["vapid_public_key"] is None and body["subject"] is None
    _no_private_material(r, info["private_key_id"], *pem_body_fragments(info["private_key"]))
    with schema_context(ws_a.schema_name):
        stored = selectors.app_service_account(app=App.objects.get(pk=body["id"]), workspace_id=ws_a.pk)
    assert stored == info


def test_fcm_app_from_an_uploaded_service_account_file(owner):
    info = service_account("alpha-upload")
    upload = io.BytesIO(json.dumps(info, indent=2).encode())
    upload.name = "alpha-upload-firebase-adminsdk.json"
    r = owner.post(
        "/api/v1/apps/", {"kind": "fcm", "name": "Uploaded", "service_account": upload}, format="multipart"
    )
    assert r.status_code == 201, r.content
    assert r.json()["project_id"] == "alpha-upload"
    _no_private_material(r, *pem_body_fragments(info["private_key"]))


def test_fcm_app_accepts_the_service_account_as_a_json_string(owner):
    r = owner.post(
        "/api/v1/apps/", {"kind": "fcm", "name": "String", "service_account": json.dumps(service_account())}
    )
    assert r.status_code == 201, r.content


def test_service_account_errors_are_reported_per_field(owner):
    bad = service_account(
        type="authorized_user",
        project_id="Not A Project!",
        private_key="-----BEGIN PRIVATE KEY-----\nnot really a key\n-----END PRIVATE KEY-----\n",
        client_email="not-an-email",
        token_uri="https://169.254.169.254/token",
    )
    del bad["private_key_id"]
    error = assert_error(
        owner.post("/api/v1/apps/", {"kind": "fcm", "name": "Bad", "service_account": bad}),
        400,
        "validation_error",
    )
    fields = error["details"]["service_account"]
    assert set(fields) == {
        "type",
        "project_id",
        "private_key",
        "private_key_id",
        "client_email",
        "token_uri",
    }, fields
    assert "service_account" in fields["type"][0]
    assert "PEM" in fields["private_key"][0]
    assert "oauth2.googleapis.com" in fields["token_uri"][0]
    assert "not really a key" not in json.dumps(error)


def test_service_account_private_key_must_be_rsa(owner):
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    error = assert_error(
        owner.post(
            "/api/v1/apps/",
            {"kind": "fcm", "name": "EC", "service_account": service_account(private_key=ec_pem)},
        ),
        400,
    )
    assert "RSA" in error["details"]["service_account"]["private_key"][0]


@pytest.mark.parametrize(
    "token_uri",
    [
        "http://oauth2.googleapis.com/token",
        "https://oauth2.googleapis.com:8443/t",
        "https://evil.example/token",
        "https://127.0.0.1/token",
        "https://user@oauth2.googleapis.com/token",
    ],
)
def test_service_account_token_uri_must_be_googles(owner, token_uri):
    error = assert_error(
        owner.post(
            "/api/v1/apps/",
            {"kind": "fcm", "name": "SSRF", "service_account": service_account(token_uri=token_uri)},
        ),
        400,
    )
    assert "token_uri" in error["details"]["service_account"]


def test_service_account_token_uri_may_be_the_configured_fcm_origin(owner, settings):
    settings.PUSHPILOT_FCM_API_URL = "https://127.0.0.1:8441"
    r = owner.post(
        "/api/v1/apps/",
        {
            "kind": "fcm",
            "name": "Fake",
            "service_account": service_account(token_uri="https://127.0.0.1:8441/token"),
        },
    )
    assert r.status_code == 201, r.content


def test_fcm_app_without_service_account_is_a_field_error(owner):
    error = assert_error(owner.post("/api/v1/apps/", {"kind": "fcm", "name": "Nothing"}), 400)
    assert "service_account" in error["details"]


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "fcm", "name": "Legacy", "server_key": LEGACY_SERVER_KEY},
        {"kind": "fcm", "name": "Legacy", "service_account": LEGACY_SERVER_KEY},
        {"kind": "fcm", "name": "Legacy", "service_account": "AIzaSyD-abcdefghijklmnopqrstuvwxyz01234"},
        {
            "kind": "fcm",
            "name": "Legacy",
            "service_account": {"project_id": "alpha", "server_key": LEGACY_SERVER_KEY},
        },
    ],
)
def test_legacy_server_key_is_refused_with_an_explanation(owner, ws_a, body):
    error = assert_error(owner.post("/api/v1/apps/", body), 400, "fcm_legacy_key")
    assert "2024" in error["message"] and "Service accounts" in error["message"]
    assert "service-account JSON" in error["message"]
    with schema_context(ws_a.schema_name):
        assert not App.objects.exists()


def test_seed_firebase_route_refuses_a_server_key_too(api, alice, ws_a):
    r = api(user=alice).post(
        f"/api/v1/workspaces/{ws_a.pk}/firebase", {"project_id": "demo-app", "server_key": LEGACY_SERVER_KEY}
    )
    error = assert_error(r, 400, "fcm_legacy_key")
    assert "server_key" in error["details"]


def test_unknown_fields_and_kind_mismatches_are_rejected(owner, ws_a):
    assert (
        "colour"
        in assert_error(
            owner.post(
                "/api/v1/apps/", {"kind": "web_push", "name": "x", "subject": SUBJECT, "colour": "red"}
            ),
            400,
        )["details"]
    )
    error = assert_error(
        owner.post(
            "/api/v1/apps/",
            {"kind": "web_push", "name": "x", "subject": SUBJECT, "service_account": service_account()},
        ),
        400,
    )
    assert "service_account" in error["details"]
    app = make_app(ws_a, "web_push")
    assert "kind" in assert_error(owner.patch(f"/api/v1/apps/{app.pk}", {"kind": "fcm"}), 400)["details"]
    assert (
        "service_account"
        in assert_error(owner.patch(f"/api/v1/apps/{app.pk}", {"service_account": service_account()}), 400)[
            "details"
        ]
    )


# -- the raw table --------------------------------------------------------------------------------------
def test_secrets_are_unreadable_in_the_raw_table(ws_a):
    info = service_account("raw-check")
    fcm = make_app(ws_a, "fcm", service_account=info)
    web = make_app(ws_a, "web_push")
    with schema_context(ws_a.schema_name):
        vapid_pem = selectors.app_vapid_private_key_pem(app=web, workspace_id=ws_a.pk)
    dump = "\n".join(
        str(row) for row in raw_rows(ws_a, "SELECT row_to_json(a)::text FROM integrations_app a")
    )
    assert str(fcm.pk) in dump and str(web.pk) in dump  # the dump does see both rows
    for secret in (*pem_body_fragments(info["private_key"]), *pem_body_fragments(vapid_pem)):
        assert secret not in dump
    assert "PRIVATE KEY" not in dump and "private_key" not in dump.replace("private_key_id", "").replace(
        "private_key_encrypted", ""
    )
    columns = raw_rows(ws_a, "SELECT service_account_encrypted FROM integrations_app WHERE id = %s", [fcm.pk])
    assert columns[0][0].startswith("gAAAAA")  # a Fernet token, nothing else


# -- reading, roles, API keys ---------------------------------------------------------------------------
def test_every_member_reads_apps_but_only_admins_and_owners_write(api, ws_a, member_with_role):
    app = make_app(ws_a, "web_push")
    for role in (Role.VIEWER, Role.MEMBER):
        client = api(user=member_with_role(role), workspace=ws_a)
        listed = client.get("/api/v1/apps")
        assert listed.status_code == 200 and [a["id"] for a in listed.json()["results"]] == [str(app.pk)]
        assert client.get(f"/api/v1/apps/{app.pk}").status_code == 200
        assert_error(
            client.post("/api/v1/apps", {"kind": "web_push", "name": "x", "subject": SUBJECT}),
            403,
            "permission_denied",
        )
        assert_error(client.patch(f"/api/v1/apps/{app.pk}", {"name": "renamed"}), 403)
        assert_error(client.delete(f"/api/v1/apps/{app.pk}"), 403)
        assert_error(client.post(f"/api/v1/apps/{app.pk}/rotate-sdk-key"), 403)
    admin = api(user=member_with_role(Role.ADMIN), workspace=ws_a)
    assert admin.patch(f"/api/v1/apps/{app.pk}", {"name": "renamed"}).json()["name"] == "renamed"
    assert (
        admin.post("/api/v1/apps", {"kind": "web_push", "name": "y", "subject": SUBJECT}).status_code == 201
    )


def test_api_keys_read_apps_with_the_read_scope_and_never_manage_them(api, ws_a, api_key_for):
    app = make_app(ws_a, "fcm")
    reader = api(api_key=api_key_for(ws_a, scopes=["read"]))
    r = reader.get(f"/api/v1/apps/{app.pk}")
    assert r.status_code == 200 and r.json()["project_id"] == "alpha-push"
    assert reader.get("/api/v1/apps").json()["count"] == 1
    assert_error(
        api(api_key=api_key_for(ws_a, scopes=["send"])).get("/api/v1/apps"), 403, "insufficient_scope"
    )
    full = api(api_key=api_key_for(ws_a, scopes=["send", "subscribers:write", "read"], name="full"))
    assert_error(
        full.post("/api/v1/apps", {"kind": "web_push", "name": "k", "subject": SUBJECT}),
        403,
        "api_key_not_allowed",
    )
    assert_error(full.delete(f"/api/v1/apps/{app.pk}"), 403, "api_key_not_allowed")
    assert_error(full.post(f"/api/v1/apps/{app.pk}/rotate-sdk-key"), 403, "api_key_not_allowed")


def test_unknown_or_malformed_app_ids_are_404(owner):
    assert_error(owner.get("/api/v1/apps/not-a-uuid"), 404, "not_found")
    assert_error(owner.get("/api/v1/apps/0b3a4f1e-2a9c-4a8e-9a55-1f5f0a3c9d77"), 404, "not_found")


# -- defaults, the seed's /firebase aliases --------------------------------------------------------------
def test_first_app_of_a_kind_is_default_and_marking_another_moves_it(owner, ws_a):
    first = owner.post(
        "/api/v1/apps", {"kind": "fcm", "name": "One", "service_account": service_account()}
    ).json()
    second = owner.post(
        "/api/v1/apps",
        {"kind": "fcm", "name": "Two", "service_account": service_account("two-proj"), "is_default": True},
    ).json()
    assert first["is_default"] is True and second["is_default"] is True
    assert owner.get(f"/api/v1/apps/{first['id']}").json()["is_default"] is False
    web = owner.post("/api/v1/apps", {"kind": "web_push", "name": "Site", "subject": SUBJECT}).json()
    assert web["is_default"] is True  # defaults are per kind
    r = owner.get(f"/api/v1/workspaces/{ws_a.pk}/firebase")
    assert r.status_code == 200 and r.json()["id"] == second["id"]


def test_seed_firebase_routes_connect_show_update_the_default_fcm_app(api, alice, ws_a):
    client = api(user=alice)
    base = f"/api/v1/workspaces/{ws_a.pk}/firebase"
    assert_error(client.get(base), 404, "firebase_not_connected")
    info = service_account("seed-project")
    r = client.post(base, {"project_id": "seed-project", "service_account": info})
    assert r.status_code == 201, r.content
    created = r.json()
    assert created["kind"] == "fcm" and created["project_id"] == "seed-project"
    _no_private_material(r, *pem_body_fragments(info["private_key"]))
    shown = client.get(base + "/")
    assert shown.status_code == 200 and shown.json()["id"] == created["id"]
    _no_private_material(shown, info["private_key_id"], *pem_body_fragments(info["private_key"]))
    # POST again replaces the credentials of the same app; PATCH renames.
    again = client.post(base, {"service_account": service_account("seed-project-2", key=1)})
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    assert again.json()["project_id"] == "seed-project-2"
    assert again.json()["credentials_version"] == created["credentials_version"] + 1
    assert client.patch(base, {"name": "Renamed"}).json()["name"] == "Renamed"
    assert (
        "project_id"
        in assert_error(client.post(base, {"project_id": "other", "service_account": info}), 400)["details"]
    )
    # The slug names the workspace as well as the id; a member can read but not connect.
    assert client.get(f"/api/v1/workspaces/{ws_a.slug}/firebase").status_code == 200


def test_seed_firebase_route_roles(api, ws_a, member_with_role):
    base = f"/api/v1/workspaces/{ws_a.pk}/firebase"
    member = api(user=member_with_role(Role.MEMBER))
    assert_error(member.post(base, {"service_account": service_account()}), 403, "permission_denied")
    make_app(ws_a, "fcm")
    assert member.get(base).status_code == 200


# -- sdk keys, deletion, audit ------------------------------------------------------------------------
def test_rotating_the_sdk_key_retires_the_old_one_at_once(owner, api, ws_a):
    app = make_app(ws_a, "web_push")
    old = app.sdk_key
    assert api().get("/sdk/v1/config", headers={"HTTP_X_SDK_KEY": old}).status_code == 200
    r = owner.post(f"/api/v1/apps/{app.pk}/rotate-sdk-key")
    assert r.status_code == 200, r.content
    new = r.json()["sdk_key"]
    assert new != old and new.startswith("pp_sdk_")
    assert_error(api().get("/sdk/v1/config", headers={"HTTP_X_SDK_KEY": old}), 401, "invalid_sdk_key")
    assert api().get("/sdk/v1/config", headers={"HTTP_X_SDK_KEY": new}).json()["app_id"] == str(app.pk)
    assert SdkKeyRegistry.objects.get(app_id=app.pk).sdk_key == new


def test_deleting_an_app_removes_its_subscribers_and_sdk_key(owner, api, ws_a):
    app = make_app(ws_a, "web_push")
    make_subscriber(ws_a, app)
    assert owner.delete(f"/api/v1/apps/{app.pk}").status_code == 204
    assert_error(owner.get(f"/api/v1/apps/{app.pk}"), 404)
    assert not SdkKeyRegistry.objects.filter(app_id=app.pk).exists()
    assert_error(api().get("/sdk/v1/config", headers={"HTTP_X_SDK_KEY": app.sdk_key}), 401, "invalid_sdk_key")
    with schema_context(ws_a.schema_name):
        assert not Subscriber.objects.exists()


def test_app_changes_are_audited_without_secrets(owner, ws_a, alice):
    info = service_account("audited")
    app_id = owner.post("/api/v1/apps", {"kind": "fcm", "name": "Audited", "service_account": info}).json()[
        "id"
    ]
    owner.patch(
        f"/api/v1/apps/{app_id}", {"name": "Audited 2", "service_account": service_account("audited", key=1)}
    )
    owner.post(f"/api/v1/apps/{app_id}/rotate-sdk-key")
    owner.delete(f"/api/v1/apps/{app_id}")
    entries = list(AuditLog.objects.filter(workspace=ws_a, target_id=app_id).order_by("id"))
    assert [e.action for e in entries] == ["app.created", "app.updated", "app.sdk_key_rotated", "app.deleted"]
    assert all(e.actor_id == alice.pk and e.target_type == "app" for e in entries)
    assert entries[1].metadata["fields"] == ["name", "service_account"]
    blob = json.dumps([e.metadata for e in entries])
    assert "PRIVATE" not in blob and pem_body_fragments(info["private_key"])[0] not in blob


def test_patch_with_new_credentials_bumps_the_version_and_resets_status(owner, ws_a):
    app = make_app(ws_a, "fcm")
    with schema_context(ws_a.schema_name):
        App.objects.filter(pk=app.pk).update(status="credentials_invalid", status_reason="401 from OAuth")
    r = owner.patch(f"/api/v1/apps/{app.pk}", {"service_account": service_account("alpha-push", key=1)})
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "ok" and r.json()["credentials_version"] == app.credentials_version + 1
    assert r.json()["status_reason"] == ""


def test_test_send_validates_its_target(owner, ws_a):
    app = make_app(ws_a, "fcm")
    error = assert_error(owner.post(f"/api/v1/apps/{app.pk}/test", {}), 400, "validation_error")
    assert "exactly one target" in error["message"]
    error = assert_error(owner.post(f"/api/v1/apps/{app.pk}/test", {"fcm_token": "short"}), 400)
    assert "fcm_token" in error["details"]
    error = assert_error(
        owner.post(f"/api/v1/apps/{app.pk}/test", {"subscriber_id": "0b3a4f1e-2a9c-4a8e-9a55-1f5f0a3c9d77"}),
        400,
    )
    assert "subscriber_id" in error["details"]


# -- test sends, end to end through the real transports to the local fakes --------------------------------
@pytest.fixture
def fake_fcm(settings):
    from tests.fakes.fcm import FakeFcm

    with FakeFcm() as fake:
        settings.PUSHPILOT_FCM_API_URL = fake.base_url
        settings.PUSHPILOT_PUSH_CA_BUNDLE = fake.ca_file
        yield fake


@pytest.fixture
def fake_webpush(settings):
    from tests.fakes.webpush import FakeWebPush

    fake = FakeWebPush().start()
    settings.PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS = [fake.origin]
    try:
        yield fake
    finally:
        fake.stop()


def test_fcm_test_send_reaches_the_provider_and_reports_its_answer(owner, ws_a, fake_fcm):
    from tests.integrations.integration_support import fcm_token

    info = fake_fcm.create_service_account(project_id="alpha-push")
    app_id = owner.post("/api/v1/apps", {"kind": "fcm", "name": "Alpha", "service_account": info}).json()[
        "id"
    ]
    token = fcm_token()
    r = owner.post(
        f"/api/v1/apps/{app_id}/test", {"fcm_token": token, "title": "Hello", "body": "From the test"}
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["outcome"] == "sent", body
    assert body["provider_response"]["message_id"].startswith("projects/alpha-push/messages/")
    [received] = fake_fcm.received
    assert received["message"]["token"] == token
    assert received["message"]["notification"] == {"title": "Hello", "body": "From the test"}
    _no_private_material(r, *pem_body_fragments(info["private_key"]))

    gone = owner.post(f"/api/v1/apps/{app_id}/test", {"fcm_token": fcm_token("unregistered-")}).json()
    assert gone["outcome"] == "invalid" and gone["provider_response"]["error_code"] == "unregistered"
    assert owner.get(f"/api/v1/apps/{app_id}").json()["status"] == "ok"


def test_fcm_test_send_flags_an_app_whose_credentials_the_provider_rejects(owner, ws_a, fake_fcm):
    from tests.integrations.integration_support import fcm_token

    info = fake_fcm.create_service_account(project_id="alpha-push")
    app_id = owner.post("/api/v1/apps", {"kind": "fcm", "name": "Alpha", "service_account": info}).json()[
        "id"
    ]
    r = owner.post(f"/api/v1/apps/{app_id}/test", {"fcm_token": fcm_token("mismatch-")})
    assert (
        r.json()["outcome"] == "failed"
        and r.json()["provider_response"]["error_code"] == "credentials_invalid"
    )
    shown = owner.get(f"/api/v1/apps/{app_id}").json()
    assert shown["status"] == "credentials_invalid" and shown["status_reason"]
    # The next success clears the flag.
    assert owner.post(f"/api/v1/apps/{app_id}/test", {"fcm_token": fcm_token()}).json()["outcome"] == "sent"
    assert owner.get(f"/api/v1/apps/{app_id}").json()["status"] == "ok"


def test_seed_firebase_test_route_sends_through_the_default_app(api, alice, ws_a, fake_fcm):
    from tests.integrations.integration_support import fcm_token

    client = api(user=alice)
    base = f"/api/v1/workspaces/{ws_a.pk}/firebase"
    assert_error(client.post(base + "/test", {"fcm_token": fcm_token()}), 404, "firebase_not_connected")
    client.post(base, {"service_account": fake_fcm.create_service_account(project_id="alpha-push")})
    r = client.post(base + "/test", {"fcm_token": fcm_token(), "title": "Seed"})
    assert r.status_code == 200 and r.json()["outcome"] == "sent", r.content
    assert fake_fcm.received[-1]["message"]["notification"]["title"] == "Seed"


def test_web_push_test_send_to_a_subscriber_arrives_encrypted_with_our_vapid_key(
    owner, api, ws_a, fake_webpush, api_key_for
):
    app = owner.post("/api/v1/apps", {"kind": "web_push", "name": "Site", "subject": SUBJECT}).json()
    browser = fake_webpush.subscribe(application_server_key=app["vapid_public_key"])
    sdk = api().post(
        "/sdk/v1/subscribe", {"subscription": browser.json()}, headers={"HTTP_X_SDK_KEY": app["sdk_key"]}
    )
    assert sdk.status_code == 201, sdk.content
    subscriber_id = sdk.json()["subscriber_id"]
    # An API key with the send scope may send a test message.
    sender = api(api_key=api_key_for(ws_a, scopes=["send"]))
    r = sender.post(
        f"/api/v1/apps/{app['id']}/test",
        {"subscriber_id": subscriber_id, "title": "Hi", "body": "There", "url": "https://alpha.example/deal"},
    )
    assert r.status_code == 200, r.content
    assert r.json()["outcome"] == "sent", r.json()
    [received] = fake_webpush.received
    assert received.payload["title"] == "Hi" and received.payload["body"] == "There"
    assert received.payload["url"] == "https://alpha.example/deal"
    assert received.vapid_key == app["vapid_public_key"]
    assert browser.endpoint not in r.content.decode()

    gone = fake_webpush.subscribe(fault="410", application_server_key=app["vapid_public_key"])
    sdk = api().post(
        "/sdk/v1/subscribe", {"subscription": gone.json()}, headers={"HTTP_X_SDK_KEY": app["sdk_key"]}
    )
    r = owner.post(f"/api/v1/apps/{app['id']}/test", {"subscriber_id": sdk.json()["subscriber_id"]})
    assert r.json()["outcome"] == "invalid"
    assert owner.get(f"/api/v1/subscribers/{sdk.json()['subscriber_id']}").json()["status"] == "invalid"
