"""Writes for integrations: apps (credentials, sdk keys), subscribers, segments, CSV import.

Keyword-only functions named ``<entity>_<action>``; each write is atomic. Called by the API views,
the SDK views, the management commands and (for subscriber state and app health) the send pipeline.
"""

from __future__ import annotations

import csv
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from rest_framework import exceptions

from integrations import selectors
from integrations.crypto import SecretUnreadable, encrypt_secret, secret_purpose
from integrations.models import App, AppKind, AppStatus, Platform, Segment, Subscriber, SubscriberStatus
from integrations.serializers import check_tag_budget
from pushpilot.api.errors import ApiError, Conflict
from tenants.models import SdkKeyRegistry, Workspace
from tenants.services import audit_record

APP_LABEL = selectors.APP_LABEL
SDK_KEY_PREFIX = "pp_sdk_"


def _audit(
    *,
    workspace: Workspace,
    action: str,
    actor=None,
    api_key=None,
    target=None,
    metadata=None,
    ip: str | None = None,
) -> None:
    audit_record(
        workspace=workspace,
        action=action,
        actor=actor,
        api_key=api_key,
        target=target,
        metadata=metadata or {},
        ip=ip,
    )


# -- keys ---------------------------------------------------------------------------------------
def new_sdk_key() -> str:
    return SDK_KEY_PREFIX + secrets.token_urlsafe(24)


@dataclass(frozen=True)
class VapidKeyPair:
    public_key: str  # base64url, uncompressed P-256 point: the browser's applicationServerKey
    private_key: str  # base64url of the raw 32-byte private scalar (pywebpush / py-vapid accept it)
    private_key_pem: str  # PKCS#8 PEM


def vapid_key_pair_generate() -> VapidKeyPair:
    from integrations.serializers import b64url_encode

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return VapidKeyPair(public_key=b64url_encode(public), private_key=b64url_encode(raw), private_key_pem=pem)


def _seal(*, workspace: Workspace, app: App, field_name: str, plaintext: bytes) -> str:
    return encrypt_secret(
        workspace_id=workspace.pk, purpose=secret_purpose(APP_LABEL, field_name, app.pk), plaintext=plaintext
    )


def _set_service_account(*, workspace: Workspace, app: App, service_account: dict) -> None:
    app.project_id = service_account["project_id"]
    app.client_email = service_account["client_email"]
    app.private_key_id = service_account["private_key_id"]
    app.token_uri = service_account["token_uri"]
    app.service_account_encrypted = _seal(
        workspace=workspace,
        app=app,
        field_name="service_account_encrypted",
        plaintext=json.dumps(service_account, separators=(",", ":")).encode(),
    )


def _set_vapid_pair(*, workspace: Workspace, app: App) -> None:
    pair = vapid_key_pair_generate()
    app.vapid_public_key = pair.public_key
    app.vapid_private_key_encrypted = _seal(
        workspace=workspace,
        app=app,
        field_name="vapid_private_key_encrypted",
        plaintext=pair.private_key_pem.encode(),
    )


def _make_default(app: App) -> None:
    App.objects.filter(kind=app.kind, is_default=True).exclude(pk=app.pk).update(is_default=False)
    app.is_default = True


# -- apps ---------------------------------------------------------------------------------------
@transaction.atomic
def app_create(
    *,
    workspace: Workspace,
    kind: str,
    name: str,
    service_account: dict | None = None,
    subject: str | None = None,
    is_default: bool | None = None,
    actor=None,
    api_key=None,
    ip: str | None = None,
) -> App:
    """Connect an app. FCM: ``service_account`` is the validated JSON; Web Push: we generate the
    VAPID pair and ``subject`` is required. The first app of a kind becomes its default."""
    # Serialises default-app changes of this workspace (the unique index would reject a race).
    list(App.objects.select_for_update().filter(kind=kind).values_list("pk", flat=True))
    app = App(id=uuid.uuid4(), kind=kind, name=name.strip(), sdk_key=new_sdk_key(), status=AppStatus.OK)
    if kind == AppKind.FCM:
        if not service_account:
            raise exceptions.ValidationError({"service_account": ["Required for an FCM app."]})
        _set_service_account(workspace=workspace, app=app, service_account=service_account)
    elif kind == AppKind.WEB_PUSH:
        if not subject:
            raise exceptions.ValidationError({"subject": ["Required for a Web Push app."]})
        app.subject = subject
        _set_vapid_pair(workspace=workspace, app=app)
    else:
        raise exceptions.ValidationError({"kind": [f"Unknown app kind {kind!r}."]})
    first_of_kind = not App.objects.filter(kind=kind).exists()
    if is_default or first_of_kind:
        _make_default(app)
    app.save()
    SdkKeyRegistry.objects.create(sdk_key=app.sdk_key, workspace=workspace, app_id=app.pk)
    _audit(
        workspace=workspace,
        action="app.created",
        actor=actor,
        api_key=api_key,
        target=app,
        ip=ip,
        metadata={"kind": kind, "name": app.name, "project_id": app.project_id or None},
    )
    return app


@transaction.atomic
def app_update(
    *,
    workspace: Workspace,
    app: App,
    actor=None,
    api_key=None,
    ip: str | None = None,
    name: str | None = None,
    is_default: bool | None = None,
    subject: str | None = None,
    service_account: dict | None = None,
) -> App:
    app = App.objects.select_for_update().get(pk=app.pk)
    changed: list[str] = []
    if name is not None and name.strip() != app.name:
        app.name = name.strip()
        changed.append("name")
    if subject is not None and app.kind == AppKind.WEB_PUSH and subject != app.subject:
        app.subject = subject
        changed.append("subject")
    if service_account is not None and app.kind == AppKind.FCM:
        _set_service_account(workspace=workspace, app=app, service_account=service_account)
        app.credentials_version += 1
        # New credentials get a fresh chance; the next send reports on them.
        app.status, app.status_reason, app.status_changed_at = AppStatus.OK, "", timezone.now()
        changed.append("service_account")
    if is_default is True and not app.is_default:
        _make_default(app)
        changed.append("is_default")
    elif is_default is False and app.is_default:
        app.is_default = False
        changed.append("is_default")
    if changed:
        app.save()
        _audit(
            workspace=workspace,
            action="app.updated",
            actor=actor,
            api_key=api_key,
            target=app,
            ip=ip,
            metadata={"fields": sorted(changed), "project_id": app.project_id or None},
        )
    return app


def app_delete(*, workspace: Workspace, app: App, actor=None, api_key=None, ip: str | None = None) -> None:
    """Delete the app, its subscribers and its SDK key. Refused while campaigns still use it."""
    try:
        with transaction.atomic():
            SdkKeyRegistry.objects.filter(app_id=app.pk).delete()
            _audit(
                workspace=workspace,
                action="app.deleted",
                actor=actor,
                api_key=api_key,
                target=app,
                ip=ip,
                metadata={"kind": app.kind, "name": app.name, "project_id": app.project_id or None},
            )
            app.delete()
    except ProtectedError:
        raise Conflict(
            "Campaigns still use this app; delete or move them first.", code="app_in_use"
        ) from None


@transaction.atomic
def app_rotate_sdk_key(
    *, workspace: Workspace, app: App, actor=None, api_key=None, ip: str | None = None
) -> App:
    """A new public key; the old one stops working at once (sites must ship the new one)."""
    app = App.objects.select_for_update().get(pk=app.pk)
    app.sdk_key = new_sdk_key()
    app.save(update_fields=["sdk_key", "updated_at"])
    updated = SdkKeyRegistry.objects.filter(app_id=app.pk).update(
        sdk_key=app.sdk_key, updated_at=timezone.now()
    )
    if not updated:
        SdkKeyRegistry.objects.create(sdk_key=app.sdk_key, workspace=workspace, app_id=app.pk)
    _audit(
        workspace=workspace,
        action="app.sdk_key_rotated",
        actor=actor,
        api_key=api_key,
        target=app,
        ip=ip,
        metadata={"name": app.name},
    )
    return app


def app_set_status(*, app: App, status: str, reason: str = "") -> None:
    """Record what a provider said about the app's credentials (the pipeline calls this when an
    outcome is app-level: ``credentials_invalid`` or ``vapid_rejected``; ``ok`` after a success)."""
    status = AppStatus(status)
    reason = (reason or "")[:500]
    if app.status == status and app.status_reason == reason:
        return
    App.objects.filter(pk=app.pk).update(
        status=status, status_reason=reason, status_changed_at=timezone.now()
    )
    app.status, app.status_reason = status, reason


# -- test sends ---------------------------------------------------------------------------------
class TransportUnavailable(ApiError):
    status_code = 503
    default_code = "transport_unavailable"
    default_detail = "Sending is not available on this server right now."


def app_transport(*, app: App, workspace_id=None):
    """The transport (``integrations.transports``) for one app, built from its decrypted
    credentials: ``app_transport(app=…).send_batch([Message(...)])``. Imported lazily, so the web
    process pays for firebase-admin / pywebpush only when it sends. Raises ``SecretUnreadable``
    when the credentials do not decrypt with the configured keys."""
    ca_bundle = settings.PUSHPILOT_PUSH_CA_BUNDLE or None
    try:
        if app.kind == AppKind.FCM:
            from integrations.transports.fcm import FcmTransport

            service_account = selectors.app_service_account(app=app, workspace_id=workspace_id)
            return FcmTransport(service_account, app_id=str(app.pk), ca_bundle=ca_bundle)
        from integrations.transports.webpush import WebPushTransport
    except ImportError as exc:
        raise TransportUnavailable(f"The {app.kind} transport is not installed ({exc}).") from None
    private_key = selectors.app_vapid_private_key_pem(app=app, workspace_id=workspace_id)
    return WebPushTransport(private_key, subject=app.subject, ca_bundle=ca_bundle)


@dataclass
class AppTestSendResult:
    outcome: str
    provider_response: dict[str, Any]


def app_send_test(
    *,
    workspace: Workspace,
    app: App,
    subscriber: Subscriber | None = None,
    fcm_token: str | None = None,
    subscription: dict | None = None,
    title: str = "PushPilot test",
    body: str = "If you can read this, your app is connected.",
    url: str | None = None,
) -> AppTestSendResult:
    """Send one real message through the app's transport and report the provider's answer.

    The target is a stored subscriber of this app, a raw FCM token, or a raw Web Push subscription
    (validated by the caller). An app-level failure flags the app; a gone subscriber is marked
    invalid, as the pipeline would."""
    try:
        from integrations.transports.base import Message, OutcomeKind, WebPushSubscription
    except ImportError as exc:
        raise TransportUnavailable(f"The transports are not installed ({exc}).") from None

    if subscriber is not None:
        if subscriber.app_id != app.pk:
            raise exceptions.NotFound()
        fcm_token = subscriber.fcm_token
        if subscriber.kind == AppKind.WEB_PUSH:
            subscription = {
                "endpoint": subscriber.endpoint,
                "keys": {"p256dh": subscriber.p256dh, "auth": subscriber.auth},
            }
    if app.kind == AppKind.FCM and not fcm_token:
        raise exceptions.ValidationError({"fcm_token": ["An FCM app sends to an FCM registration token."]})
    if app.kind == AppKind.WEB_PUSH and not subscription:
        raise exceptions.ValidationError(
            {"subscription": ["A Web Push app sends to a browser subscription."]}
        )

    payload: dict[str, Any] = {"title": title, "body": body, "data": {"pp_test": "1"}}
    if url:
        payload["url"] = url
    if app.kind == AppKind.FCM:
        message = Message(payload=payload, token=fcm_token)
    else:
        message = Message(payload=payload, subscription=WebPushSubscription.from_json(subscription))
    try:
        transport = app_transport(app=app, workspace_id=workspace.pk)
    except SecretUnreadable:
        raise ApiError(
            "This app's stored credentials do not decrypt with the server's encryption keys; "
            "upload them again (or restore the missing key in PUSHPILOT_ENCRYPTION_KEYS).",
            code="credentials_unreadable",
            status_code=503,
        ) from None
    outcome = transport.send_batch([message])[0]

    if outcome.kind == OutcomeKind.SENT and app.status != AppStatus.OK:
        app_set_status(app=app, status=AppStatus.OK)
    elif outcome.app_level:
        app_set_status(app=app, status=str(outcome.error_code), reason=outcome.error_message or "")
    if subscriber is not None and outcome.kind == OutcomeKind.INVALID:
        subscribers_mark_invalid(subscriber_ids=[subscriber.pk], reason=outcome.error_code or "invalid")
    response = {
        "status": outcome.status,
        "message_id": outcome.provider_message_id,
        "error_code": outcome.error_code,
        "error_message": outcome.error_message,
        "retry_after": outcome.retry_after,
    }
    return AppTestSendResult(outcome=str(outcome.kind), provider_response=response)


# -- subscribers --------------------------------------------------------------------------------
def endpoint_hash(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


_PROFILE_FIELDS = (
    "external_user_id",
    "tags",
    "add_tags",
    "remove_tags",
    "attributes",
    "locale",
    "timezone",
    "platform",
)


def _apply_profile(subscriber: Subscriber, profile: dict) -> list[str]:
    """Apply validated profile changes; returns the changed field names. ``tags`` replaces,
    ``add_tags``/``remove_tags`` edit, ``attributes`` merge (a null value removes the key)."""
    changed = []
    if "external_user_id" in profile and profile["external_user_id"] != subscriber.external_user_id:
        subscriber.external_user_id = profile["external_user_id"]
        changed.append("external_user_id")
    tags = list(subscriber.tags or [])
    if "tags" in profile:
        tags = list(dict.fromkeys(profile["tags"]))
    for tag in profile.get("add_tags") or []:
        if tag not in tags:
            tags.append(tag)
    remove = set(profile.get("remove_tags") or [])
    tags = [t for t in tags if t not in remove]
    try:
        check_tag_budget(tags)
    except exceptions.ValidationError as exc:
        raise exceptions.ValidationError({"tags": exc.detail}) from None
    if tags != list(subscriber.tags or []):
        subscriber.tags = tags
        changed.append("tags")
    if "attributes" in profile:
        merged = dict(subscriber.attributes or {})
        for key, value in profile["attributes"].items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        if merged != subscriber.attributes:
            subscriber.attributes = merged
            changed.append("attributes")
    for name in ("locale", "timezone", "platform"):
        if name in profile and profile[name] is not None and profile[name] != getattr(subscriber, name):
            setattr(subscriber, name, profile[name])
            changed.append(name)
    return changed


def _profile_of(values: dict) -> dict:
    return {k: v for k, v in values.items() if k in _PROFILE_FIELDS}


def subscriber_upsert(
    *, app: App, fcm_token: str | None = None, subscription: dict | None = None, profile: dict | None = None
) -> tuple[Subscriber, bool]:
    """Create or refresh the subscriber for one device/browser of ``app``; returns (subscriber,
    created). Idempotent: the same token or endpoint is the same subscriber, re-activated if it
    had unsubscribed or gone invalid. ``subscription`` is a validated PushSubscription
    ({endpoint, keys: {p256dh, auth}, expires_at})."""
    profile = _profile_of(profile or {})
    now = timezone.now()
    if app.kind == AppKind.FCM:
        if not fcm_token or subscription:
            raise exceptions.ValidationError({"fcm_token": ["An FCM app registers devices by fcm_token."]})
        lookup: dict[str, Any] = {"fcm_token": fcm_token}
        address: dict[str, Any] = {"fcm_token": fcm_token}
        default_platform = Platform.OTHER
    else:
        if not subscription or fcm_token:
            raise exceptions.ValidationError(
                {"subscription": ["A Web Push app registers browser subscriptions."]}
            )
        lookup = {"endpoint_hash": endpoint_hash(subscription["endpoint"])}
        address = {
            "endpoint": subscription["endpoint"],
            "endpoint_hash": lookup["endpoint_hash"],
            "p256dh": subscription["keys"]["p256dh"],
            "auth": subscription["keys"]["auth"],
            "expires_at": subscription.get("expires_at"),
        }
        default_platform = Platform.WEB

    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().filter(app=app, **lookup).first()
        if subscriber is None:
            fresh = Subscriber(app=app, kind=app.kind, platform=default_platform, last_seen_at=now, **address)
            _apply_profile(
                fresh,
                {
                    **profile,
                    "attributes": {
                        k: v for k, v in (profile.get("attributes") or {}).items() if v is not None
                    },
                },
            )
            try:
                with transaction.atomic():
                    fresh.save(force_insert=True)
                return fresh, True
            except IntegrityError:
                # Another request registered the same device a moment ago: update that row.
                subscriber = Subscriber.objects.select_for_update().get(app=app, **lookup)
        for name, value in address.items():
            setattr(subscriber, name, value)
        _apply_profile(subscriber, profile)
        subscriber.status, subscriber.status_reason = SubscriberStatus.ACTIVE, ""
        subscriber.last_seen_at = now
        subscriber.save()
        return subscriber, False


@transaction.atomic
def subscriber_update(*, subscriber: Subscriber, changes: dict, touch: bool = False) -> Subscriber:
    """Profile changes (server PATCH, SDK identify). ``touch`` records the device as seen now."""
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    changed = _apply_profile(subscriber, _profile_of(changes))
    if touch:
        subscriber.last_seen_at = timezone.now()
    if changed or touch:
        subscriber.save()
    return subscriber


@transaction.atomic
def subscriber_unsubscribe(*, subscriber: Subscriber, reason: str = "unsubscribed") -> Subscriber:
    Subscriber.objects.filter(pk=subscriber.pk).update(
        status=SubscriberStatus.UNSUBSCRIBED, status_reason=reason[:200], updated_at=timezone.now()
    )
    subscriber.status, subscriber.status_reason = SubscriberStatus.UNSUBSCRIBED, reason[:200]
    return subscriber


def subscriber_delete(*, subscriber: Subscriber) -> None:
    subscriber.delete()


def subscribers_mark_invalid(*, subscriber_ids: Iterable, reason: str) -> int:
    """The provider said these tokens/subscriptions are gone (FCM UNREGISTERED, Web Push 404/410)."""
    ids = list(subscriber_ids)
    if not ids:
        return 0
    return (
        Subscriber.objects.filter(pk__in=ids)
        .exclude(status=SubscriberStatus.INVALID)
        .update(
            status=SubscriberStatus.INVALID,
            status_reason=(reason or "invalid")[:200],
            updated_at=timezone.now(),
        )
    )


# -- CSV import ---------------------------------------------------------------------------------
IMPORT_COLUMNS = frozenset(
    {
        "app_id",
        "fcm_token",
        "endpoint",
        "p256dh",
        "auth",
        "expiration_time",
        "external_user_id",
        "tags",
        "attributes",
        "locale",
        "timezone",
        "platform",
    }
)
ATTRIBUTE_COLUMN_PREFIX = "attr."
TAG_SEPARATOR = "|"


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)
    errors_truncated: bool = False

    def add_error(self, row: int, errors: dict) -> None:
        if len(self.errors) < settings.PUSHPILOT_IMPORT_MAX_ERRORS:
            self.errors.append({"row": row, "errors": errors})
        else:
            self.errors_truncated = True

    def as_dict(self) -> dict:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "errors": self.errors,
            "errors_truncated": self.errors_truncated,
        }


class ImportHeaderError(ApiError):
    default_code = "import_invalid_header"


def decoded_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Bytes lines → str lines. Undecodable bytes survive as lone surrogates so that the row they
    are in can be reported (and skipped) instead of aborting the import."""
    first = True
    for raw in chunks:
        line = raw.decode("utf-8", "surrogateescape")
        if first:
            line = line.removeprefix("\ufeff")
            first = False
        yield line


def _row_to_payload(row: dict[str, str]) -> tuple[dict, str | None]:
    """One CSV row → the body ``SubscribeSerializer`` validates, and the row's app_id column."""
    payload: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for column, value in row.items():
        if value is None or value == "":
            continue
        if column in ("app_id",):
            continue
        if column == "tags":
            payload["tags"] = [t.strip() for t in value.split(TAG_SEPARATOR) if t.strip()]
        elif column == "attributes":
            try:
                parsed = json.loads(value)
            except ValueError:
                errors["attributes"] = ["Must be a JSON object."]
                continue
            if isinstance(parsed, dict):
                attributes.update(parsed)
            else:
                errors["attributes"] = ["Must be a JSON object."]
        elif column.startswith(ATTRIBUTE_COLUMN_PREFIX):
            attributes[column[len(ATTRIBUTE_COLUMN_PREFIX) :]] = value
        elif column in ("endpoint", "p256dh", "auth", "expiration_time"):
            sub = payload.setdefault("subscription", {"keys": {}})
            if column == "endpoint":
                sub["endpoint"] = value
            elif column == "expiration_time":
                sub["expirationTime"] = value
            else:
                sub["keys"][column] = value
        else:
            payload[column] = value
    if attributes:
        payload["attributes"] = attributes
    if errors:
        raise exceptions.ValidationError(errors)
    return payload, (row.get("app_id") or "").strip() or None


def subscribers_import_csv(
    *, lines: Iterable[str], default_app: App | None, on_row: Callable[[int], None] | None = None
) -> ImportReport:
    """Stream a CSV (header row first) into subscribers, one upsert per row; bad rows are reported
    with their row number (the header is row 1) and skipped.

    Columns: ``fcm_token`` or ``endpoint``+``p256dh``+``auth`` (+``expiration_time`` in ms), and
    optionally ``app_id`` (else ``default_app``), ``external_user_id``, ``tags`` (separated by
    ``|``), ``attributes`` (a JSON object), ``attr.<name>`` (one string attribute each), ``locale``,
    ``timezone``, ``platform``."""
    from integrations.serializers import SubscribeSerializer

    reader = csv.DictReader(lines)
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in IMPORT_COLUMNS and not c.startswith(ATTRIBUTE_COLUMN_PREFIX)]
    if not header:
        raise ImportHeaderError("The file is empty; the first row must name the columns.")
    if unknown:
        raise ImportHeaderError(
            f"Unknown columns: {', '.join(unknown[:10])}.",
            details={"columns": [f"Allowed: {', '.join(sorted(IMPORT_COLUMNS))}, and attr.<name>."]},
        )
    if "fcm_token" not in header and "endpoint" not in header:
        raise ImportHeaderError("The file needs an fcm_token column or endpoint, p256dh and auth columns.")
    if default_app is None and "app_id" not in header:
        raise ImportHeaderError("Say which app the subscribers belong to: an app_id column or parameter.")

    apps: dict[str, App | None] = {}
    report = ImportReport()
    for index, row in enumerate(reader, start=2):
        if on_row is not None:
            on_row(index)
        if None in row:
            report.add_error(index, {"non_field_errors": ["The row has more cells than the header."]})
            continue
        if any("\udc80" <= ch <= "\udcff" for value in row.values() if value for ch in value):
            report.add_error(index, {"non_field_errors": ["The row is not valid UTF-8."]})
            continue
        try:
            payload, app_ref = _row_to_payload(row)
        except exceptions.ValidationError as exc:
            report.add_error(index, exc.detail)
            continue
        app = default_app
        if app_ref is not None:
            if app_ref not in apps:
                apps[app_ref] = selectors.app_get(app_id=app_ref)
            app = apps[app_ref]
            if app is None:
                report.add_error(index, {"app_id": ["No app with this id in this workspace."]})
                continue
        if app is None:
            report.add_error(index, {"app_id": ["Required (no default app was given)."]})
            continue
        serializer = SubscribeSerializer(data=payload, context={"app": app})
        if not serializer.is_valid():
            report.add_error(index, serializer.errors)
            continue
        data = dict(serializer.validated_data)
        try:
            _subscriber, created = subscriber_upsert(
                app=app,
                fcm_token=data.pop("fcm_token", None),
                subscription=data.pop("subscription", None),
                profile=data,
            )
        except exceptions.ValidationError as exc:
            report.add_error(index, exc.detail)
            continue
        if created:
            report.imported += 1
        else:
            report.updated += 1
    return report


# -- segments -----------------------------------------------------------------------------------
def _segment_name_taken(name: str, *, exclude=None) -> bool:
    qs = Segment.objects.filter(name__iexact=name.strip())
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.exists()


@transaction.atomic
def segment_create(*, name: str, filter_: dict, description: str = "", actor=None) -> Segment:
    if _segment_name_taken(name):
        raise exceptions.ValidationError({"name": ["A segment with this name already exists."]})
    try:
        with transaction.atomic():
            return Segment.objects.create(
                name=name.strip(),
                description=description,
                filter=filter_,
                created_by=getattr(actor, "pk", None),
            )
    except IntegrityError:
        raise exceptions.ValidationError({"name": ["A segment with this name already exists."]}) from None


@transaction.atomic
def segment_update(*, segment: Segment, changes: dict) -> Segment:
    if "name" in changes and _segment_name_taken(changes["name"], exclude=segment):
        raise exceptions.ValidationError({"name": ["A segment with this name already exists."]})
    for name in ("name", "description", "filter"):
        if name in changes:
            setattr(segment, name, changes[name].strip() if name == "name" else changes[name])
    segment.save()
    return segment


def segment_delete(*, segment: Segment) -> None:
    segment.delete()
