"""Secret encryption: per-workspace keys derived from PUSHPILOT_ENCRYPTION_KEYS, ciphertext bound to its
workspace and row, key rotation with ``rotate_encryption_keys``, and ``generate_vapid_keys``."""

from __future__ import annotations

import base64
import io
import uuid

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from integrations import selectors
from integrations.crypto import SecretUnreadable, decrypt_secret, encrypt_secret
from integrations.models import App
from tests.integrations.integration_support import fcm_token, make_app, raw_rows, service_account
from tests.tenants.support import assert_error, base_schema_once, fast_tenancy  # noqa: F401

pytestmark = pytest.mark.django_db

K1, K2, K3 = (Fernet.generate_key().decode() for _ in range(3))


@pytest.fixture
def keys(settings):
    settings.PUSHPILOT_ENCRYPTION_KEYS = [K1]

    def use(*keys: str) -> None:
        settings.PUSHPILOT_ENCRYPTION_KEYS = list(keys)

    return use


def _read_all(workspace, app_fcm: App, app_web: App) -> tuple[dict, str]:
    with schema_context(workspace.schema_name):
        fcm = App.objects.get(pk=app_fcm.pk)
        web = App.objects.get(pk=app_web.pk)
        return (
            selectors.app_service_account(app=fcm, workspace_id=workspace.pk),
            selectors.app_vapid_private_key_pem(app=web, workspace_id=workspace.pk),
        )


def test_same_secret_and_purpose_do_not_decrypt_under_another_workspace(keys):
    a, b = uuid.uuid4(), uuid.uuid4()
    token = encrypt_secret(workspace_id=a, purpose="integrations.App.x:1", plaintext=b"top secret")
    assert decrypt_secret(workspace_id=a, purpose="integrations.App.x:1", token=token) == b"top secret"
    with pytest.raises(SecretUnreadable):
        decrypt_secret(workspace_id=b, purpose="integrations.App.x:1", token=token)
    with pytest.raises(SecretUnreadable):
        decrypt_secret(workspace_id=a, purpose="integrations.App.x:2", token=token)
    # The master key alone (no per-workspace derivation) does not open it either.
    with pytest.raises(Exception):
        Fernet(K1.encode()).decrypt(token.encode())


def test_ciphertext_copied_into_another_workspaces_row_does_not_decrypt(keys, owner_b_client, ws_a, ws_b):
    a_app = make_app(ws_a, "fcm", service_account=service_account("alpha-secret"))
    b_app = make_app(ws_b, "fcm", service_account=service_account("beta-secret", key=1))
    stolen = raw_rows(
        ws_a, "SELECT service_account_encrypted FROM integrations_app WHERE id = %s", [a_app.pk]
    )[0][0]
    raw_rows(
        ws_b,
        "UPDATE integrations_app SET service_account_encrypted = %s WHERE id = %s RETURNING id",
        [stolen, b_app.pk],
    )
    with schema_context(ws_b.schema_name):
        row = App.objects.get(pk=b_app.pk)
        assert row.service_account_encrypted == stolen
        with pytest.raises(SecretUnreadable):
            selectors.app_service_account(app=row, workspace_id=ws_b.pk)
    # Through the API the copied secret is an explained 503, never a 500 and never A's key.
    r = owner_b_client.post(f"/api/v1/apps/{b_app.pk}/test", {"fcm_token": fcm_token()})
    assert_error(r, 503, "credentials_unreadable")
    assert "alpha-secret" not in r.content.decode()


def test_ciphertext_moved_to_another_row_of_the_same_workspace_does_not_decrypt(keys, ws_a):
    first = make_app(ws_a, "web_push", name="first")
    second = make_app(ws_a, "web_push", name="second")
    token = raw_rows(
        ws_a, "SELECT vapid_private_key_encrypted FROM integrations_app WHERE id = %s", [first.pk]
    )[0][0]
    with schema_context(ws_a.schema_name):
        App.objects.filter(pk=second.pk).update(vapid_private_key_encrypted=token)
        with pytest.raises(SecretUnreadable):
            selectors.app_vapid_private_key_pem(app=App.objects.get(pk=second.pk), workspace_id=ws_a.pk)


def test_rotation_reencrypts_everything_and_the_old_key_can_then_be_removed(keys, ws_a, ws_b):
    apps = {
        ws: (make_app(ws, "fcm", service_account=service_account(f"{ws.slug}-p")), make_app(ws, "web_push"))
        for ws in (ws_a, ws_b)
    }
    before = {ws.pk: _read_all(ws, *pair) for ws, pair in apps.items()}
    raw_before = {
        ws.pk: raw_rows(
            ws,
            "SELECT service_account_encrypted, vapid_private_key_encrypted FROM integrations_app ORDER BY id",
        )
        for ws in apps
    }

    # A new key goes first; old ciphertext keeps decrypting until the command runs.
    keys(K2, K1)
    assert {ws.pk: _read_all(ws, *pair) for ws, pair in apps.items()} == before
    # Without the old key nothing would decrypt yet: the rotation below is what makes removal safe.
    keys(K2)
    with pytest.raises(SecretUnreadable):
        _read_all(ws_a, *apps[ws_a])
    keys(K2, K1)

    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    text = out.getvalue()
    assert f"[1/2] {ws_a.slug}: 2 re-encrypted" in text or f"[2/2] {ws_a.slug}: 2 re-encrypted" in text, text
    assert f"{ws_b.slug}: 2 re-encrypted" in text
    assert "Done: 4 secrets re-encrypted" in text

    for ws in apps:
        after = raw_rows(
            ws,
            "SELECT service_account_encrypted, vapid_private_key_encrypted FROM integrations_app ORDER BY id",
        )
        for old_row, new_row in zip(raw_before[ws.pk], after, strict=True):
            for old, new in zip(old_row, new_row, strict=True):
                assert (old == new == "") or (old and new and old != new)

    keys(K2)  # the old key is gone from the configuration
    assert {ws.pk: _read_all(ws, *pair) for ws, pair in apps.items()} == before
    # Running again has nothing to do.
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "Done: 0 secrets re-encrypted, 4 already current" in out.getvalue()


def test_rotation_reports_secrets_no_key_can_read_and_leaves_them_alone(keys, ws_a):
    app = make_app(ws_a, "web_push")
    token = raw_rows(
        ws_a, "SELECT vapid_private_key_encrypted FROM integrations_app WHERE id = %s", [app.pk]
    )[0][0]
    keys(K3)  # K1 is lost
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="did not decrypt"):
        call_command("rotate_encryption_keys", stdout=out, stderr=err)
    assert "1 UNREADABLE" in out.getvalue() and str(app.pk) in err.getvalue()
    assert (
        raw_rows(ws_a, "SELECT vapid_private_key_encrypted FROM integrations_app WHERE id = %s", [app.pk])[0][
            0
        ]
        == token
    )


def test_dry_run_writes_nothing(keys, ws_a):
    make_app(ws_a, "web_push")
    before = raw_rows(ws_a, "SELECT vapid_private_key_encrypted FROM integrations_app")
    keys(K2, K1)
    out = io.StringIO()
    call_command("rotate_encryption_keys", "--dry-run", stdout=out)
    assert "1 secrets would be re-encrypted" in out.getvalue()
    assert raw_rows(ws_a, "SELECT vapid_private_key_encrypted FROM integrations_app") == before


def test_generate_vapid_keys_prints_a_matching_p256_pair():
    out, err = io.StringIO(), io.StringIO()
    call_command("generate_vapid_keys", "--pem", stdout=out, stderr=err)
    lines = dict(
        line.split("=", 1) for line in out.getvalue().splitlines() if "=" in line and " " not in line
    )
    public = base64.urlsafe_b64decode(lines["public_key"] + "==")
    private = base64.urlsafe_b64decode(lines["private_key"] + "==")
    assert len(public) == 65 and public[0] == 4 and len(private) == 32
    key = ec.derive_private_key(int.from_bytes(private, "big"), ec.SECP256R1())
    assert (
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        == public
    )
    pem = serialization.load_pem_private_key(
        out.getvalue()[out.getvalue().index("-----BEGIN") :].encode(), None
    )
    assert pem.private_numbers().private_value == key.private_numbers().private_value
    assert "applicationServerKey" in err.getvalue()


@pytest.fixture
def owner_b_client(api, ws_b, charlie):
    return api(user=charlie, workspace=ws_b)
