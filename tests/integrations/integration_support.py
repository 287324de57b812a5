"""Helpers for the apps / subscribers / segments / SDK tests (not collected: no ``test_`` prefix).

Real inputs, made the way their producers make them: a service-account JSON with a real RSA key
(as the Firebase console gives), browser subscriptions with a real P-256 key and 16-byte auth
secret (as ``PushManager.subscribe()`` gives), FCM-shaped registration tokens.
"""

from __future__ import annotations

import base64
import functools
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.db import connection
from django_tenants.utils import schema_context

from integrations import services
from integrations.models import App, Subscriber

SUBJECT = "mailto:push@alpha.example"
PUSH_ORIGIN = "https://fcm.googleapis.com"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@functools.lru_cache(maxsize=4)
def rsa_pem(n: int = 0) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def service_account(project_id: str = "alpha-push", *, key: int = 0, **overrides) -> dict:
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": "3f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a392",
        "private_key": rsa_pem(key),
        "client_email": f"firebase-adminsdk-abc12@{project_id}.iam.gserviceaccount.com",
        "client_id": "109876543210987654321",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }
    info.update(overrides)
    return info


def pem_body_fragments(pem: str) -> list[str]:
    """Pieces of a PEM's base64 body: none of them may ever appear in a response or the database."""
    lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return [lines[1], lines[len(lines) // 2], lines[-2]]


def browser_subscription(endpoint: str | None = None) -> dict:
    key = ec.generate_private_key(ec.SECP256R1())
    p256dh = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {
        "endpoint": endpoint
        if endpoint is not None
        else f"{PUSH_ORIGIN}/fcm/send/{secrets.token_urlsafe(16)}:APA91b{secrets.token_urlsafe(90)}",
        "expirationTime": None,
        "keys": {"p256dh": b64url(p256dh), "auth": b64url(secrets.token_bytes(16))},
    }


def fcm_token(prefix: str = "") -> str:
    return f"{prefix}{secrets.token_urlsafe(16)}:APA91b{secrets.token_urlsafe(100)}"


def make_app(workspace, kind: str = "web_push", name: str | None = None, **kwargs) -> App:
    with schema_context(workspace.schema_name):
        if kind == "fcm":
            kwargs.setdefault("service_account", service_account())
        else:
            kwargs.setdefault("subject", SUBJECT)
        return services.app_create(workspace=workspace, kind=kind, name=name or f"{kind} app", **kwargs)


def make_subscriber(workspace, app: App, **profile) -> Subscriber:
    status = profile.pop("status", None)
    last_seen_at = profile.pop("last_seen_at", None)
    with schema_context(workspace.schema_name):
        if app.kind == "fcm":
            subscriber, _ = services.subscriber_upsert(app=app, fcm_token=fcm_token(), profile=profile)
        else:
            sub = browser_subscription()
            subscription = {"endpoint": sub["endpoint"], "keys": sub["keys"], "expires_at": None}
            subscriber, _ = services.subscriber_upsert(app=app, subscription=subscription, profile=profile)
        updates = {}
        if status:
            updates["status"] = status
        if last_seen_at:
            updates["last_seen_at"] = last_seen_at
        if updates:
            Subscriber.objects.filter(pk=subscriber.pk).update(**updates)
            subscriber.refresh_from_db()
        return subscriber


def raw_rows(workspace, sql: str, params=()) -> list[tuple]:
    """SQL straight against the workspace's schema, as a database dump would read it."""
    with connection.cursor() as cursor:
        cursor.execute(f'SET search_path TO "{workspace.schema_name}"')
        try:
            cursor.execute(sql, params)
            return cursor.fetchall()
        finally:
            cursor.execute("SET search_path TO public")
            connection.set_schema_to_public()
