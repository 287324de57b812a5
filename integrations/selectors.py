"""Reads for integrations, including the only code that decrypts stored secrets.

Call these inside the workspace's schema (a request after ``WorkspaceAccessMixin.initial``, a
``WorkspaceTask``). The decrypting helpers need the workspace id (it is part of the key): pass it,
or let them read it from the connection's tenant.
"""

from __future__ import annotations

import json
import threading
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection
from django.db.models import QuerySet

from integrations.crypto import decrypt_secret, secret_purpose
from integrations.models import App, AppKind, Subscriber
from tenants.models import SdkKeyRegistry, Workspace

APP_LABEL = "integrations.App"

_schema_ids: dict[str, uuid.UUID] = {}
_schema_lock = threading.Lock()


def current_workspace_id() -> uuid.UUID:
    """The id of the workspace whose schema the connection is in (schema → id never changes)."""
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Workspace) and not tenant.is_template:
        return tenant.pk
    schema = connection.schema_name
    with _schema_lock:
        known = _schema_ids.get(schema)
    if known is None:
        known = (
            Workspace.objects.filter(schema_name=schema, is_template=False)
            .values_list("id", flat=True)
            .first()
        )
        if known is None:
            raise LookupError(f"the connection is not in a workspace schema ({schema!r})")
        with _schema_lock:
            _schema_ids[schema] = known
    return known


# -- apps ---------------------------------------------------------------------------------------
def app_list() -> QuerySet[App]:
    return App.objects.order_by("created_at", "id")


def app_get(*, app_id) -> App | None:
    try:
        return App.objects.filter(pk=uuid.UUID(str(app_id))).first()
    except ValueError:
        return None


def app_default(*, kind: str = AppKind.FCM) -> App | None:
    """The workspace's app of ``kind``: the one marked default, else the first connected."""
    return App.objects.filter(kind=kind).order_by("-is_default", "created_at", "id").first()


def app_service_account(*, app: App, workspace_id=None) -> dict:
    """The decrypted service-account JSON of an FCM app. Never put it in a response or a log."""
    if app.kind != AppKind.FCM:
        raise ValueError("only FCM apps have a service account")
    plaintext = decrypt_secret(
        workspace_id=workspace_id or current_workspace_id(),
        purpose=secret_purpose(APP_LABEL, "service_account_encrypted", app.pk),
        token=app.service_account_encrypted,
    )
    return json.loads(plaintext)


def app_vapid_private_key_pem(*, app: App, workspace_id=None) -> str:
    """The decrypted VAPID private key (PKCS#8 PEM) of a Web Push app."""
    if app.kind != AppKind.WEB_PUSH:
        raise ValueError("only Web Push apps have a VAPID key")
    return decrypt_secret(
        workspace_id=workspace_id or current_workspace_id(),
        purpose=secret_purpose(APP_LABEL, "vapid_private_key_encrypted", app.pk),
        token=app.vapid_private_key_encrypted,
    ).decode()


def app_vapid_private_key(*, app: App, workspace_id=None) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(
        app_vapid_private_key_pem(app=app, workspace_id=workspace_id).encode(), password=None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def sdk_key_route(*, sdk_key: str) -> SdkKeyRegistry | None:
    """Public schema: which workspace and app an SDK key belongs to (None for unknown keys)."""
    if not sdk_key or len(sdk_key) > 64:
        return None
    return (
        SdkKeyRegistry.objects.select_related("workspace")
        .filter(sdk_key=sdk_key, workspace__is_template=False)
        .first()
    )


# -- subscribers --------------------------------------------------------------------------------
def subscriber_list() -> QuerySet[Subscriber]:
    return Subscriber.objects.order_by("-created_at", "id")


def subscriber_of_app(
    *, app: App, subscriber_id=None, fcm_token: str | None = None, endpoint: str | None = None
) -> Subscriber | None:
    """One subscriber of ``app`` by id, token or endpoint; None if it is not this app's."""
    from integrations.services import endpoint_hash

    qs = Subscriber.objects.filter(app=app)
    if subscriber_id is not None:
        return qs.filter(pk=subscriber_id).first()
    if fcm_token is not None:
        return qs.filter(fcm_token=fcm_token).first()
    if endpoint is not None:
        return qs.filter(endpoint_hash=endpoint_hash(endpoint)).first()
    return None
