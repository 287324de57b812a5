"""Validation and shaping for apps, subscribers and segments. Nothing here writes.

Shapes that reach the transports are validated here once: FCM tokens, Web Push subscriptions
(endpoint on an allowed push service, p256dh a P-256 point, auth 16 bytes), the service-account
JSON (field-level errors under ``service_account``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import math
import re
import zoneinfo

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import EmailValidator, URLValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from integrations.endpoints import EndpointNotAllowed, validate_push_endpoint, validate_token_uri
from integrations.models import App, AppKind, Platform, Segment, Subscriber
from pushpilot.api.errors import ApiError
from pushpilot.api.serializers import StrictModelSerializer, StrictSerializer

# -- legacy FCM server keys -------------------------------------------------------------------
LEGACY_KEY_MESSAGE = (
    "This looks like a legacy FCM server key. Google shut the legacy FCM API down in 2024, so server "
    "keys can no longer send. Upload your Firebase project's service-account JSON instead: Firebase "
    "console → Project settings → Service accounts → Generate new private key."
)
# "AAAA…:APA91b…" (server key) and "AIza…" (the older Google API key used as a server key).
_LEGACY_KEY_RE = re.compile(r"^(?:[A-Za-z0-9_-]{7,}:APA91b[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{35})$")
LEGACY_KEY_FIELDS = ("server_key", "serverKey", "legacy_server_key", "fcm_server_key", "api_key")


def looks_like_legacy_key(value: object) -> bool:
    return isinstance(value, str) and bool(_LEGACY_KEY_RE.match(value.strip()))


def legacy_key_error(field: str) -> ApiError:
    return ApiError(LEGACY_KEY_MESSAGE, code="fcm_legacy_key", details={field: [LEGACY_KEY_MESSAGE]})


def reject_legacy_key_fields(data) -> None:
    """A seed-era body ({project_id, server_key}) gets the explanation, not "unknown field"."""
    if hasattr(data, "keys"):
        for name in LEGACY_KEY_FIELDS:
            if name in data:
                raise legacy_key_error(name)


# -- small validators -------------------------------------------------------------------------
FCM_TOKEN_RE = re.compile(r"^[A-Za-z0-9_:.\-]+$")
FCM_TOKEN_MIN, FCM_TOKEN_MAX = 20, 1024
_B64_RE = re.compile(r"^[A-Za-z0-9_\-+/]+={0,2}$")
TAG_RE = re.compile(r"^\w[\w:./@+ -]{0,63}$")
ATTRIBUTE_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
MAX_TAGS = 50
# Tags live in the audience index (integrations.models); a btree index tuple must stay under ~2.7 KB.
MAX_TAGS_CHARS = 1000
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_STRING = 1000
MAX_ATTRIBUTES_BYTES = 16 * 1024
MAX_SERVICE_ACCOUNT_BYTES = 64 * 1024


@functools.lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def b64url_decode(value: str) -> bytes:
    """Browsers send base64url without padding; some libraries send standard base64. Accept both."""
    if not isinstance(value, str) or not _B64_RE.match(value):
        raise ValueError("not base64")
    text = value.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def validate_fcm_token(value: str) -> str:
    value = value.strip()
    if not FCM_TOKEN_MIN <= len(value) <= FCM_TOKEN_MAX:
        raise serializers.ValidationError(
            f"An FCM registration token is {FCM_TOKEN_MIN} to {FCM_TOKEN_MAX} characters long."
        )
    if not FCM_TOKEN_RE.match(value):
        raise serializers.ValidationError(
            "An FCM registration token holds only letters, digits and the characters _ - : ."
        )
    return value


def validate_p256dh(value: str) -> str:
    try:
        raw = b64url_decode(value)
    except ValueError:
        raise serializers.ValidationError("p256dh must be base64url.") from None
    if len(raw) != 65 or raw[0] != 0x04:
        raise serializers.ValidationError("p256dh must be an uncompressed P-256 public key (65 bytes).")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise serializers.ValidationError("p256dh is not a point on the P-256 curve.") from None
    return b64url_encode(raw)


def validate_auth_secret(value: str) -> str:
    try:
        raw = b64url_decode(value)
    except ValueError:
        raise serializers.ValidationError("auth must be base64url.") from None
    if len(raw) != 16:
        raise serializers.ValidationError("auth must be a 16-byte secret.")
    return b64url_encode(raw)


def validate_endpoint(value: str) -> str:
    try:
        return validate_push_endpoint(value)
    except EndpointNotAllowed as exc:
        raise serializers.ValidationError(str(exc).capitalize() + ".") from None


def normalize_tag(value: str) -> str:
    value = value.strip() if isinstance(value, str) else value
    if not isinstance(value, str) or not TAG_RE.match(value):
        raise serializers.ValidationError(
            f"{value!r} is not a tag: 1-64 letters, digits, spaces and _ : . / @ + -, starting with a "
            "letter or digit."
        )
    return value


def normalize_locale(value: str) -> str:
    """BCP 47-ish: ``en``, ``en-US``, ``zh-Hant-TW``; ``en_us`` becomes ``en-US``."""
    value = value.strip()
    if len(value) > 35 or not LOCALE_RE.match(value):
        raise serializers.ValidationError(f"{value!r} is not a locale (for example en or en-US).")
    parts = value.replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 2 and part.isalpha():
            out.append(part.upper())
        elif len(part) == 4 and part.isalpha():
            out.append(part.title())
        else:
            out.append(part.lower())
    return "-".join(out)


def validate_timezone_name(value: str) -> str:
    value = value.strip()
    if value not in _iana_zones():
        raise serializers.ValidationError(f"{value!r} is not an IANA time zone (for example Europe/Berlin).")
    return value


def _validate_attribute_value(key: str, value, *, in_list: bool = False):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise serializers.ValidationError(f"Attribute '{key}' must be a finite number.")
        return value
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError(f"Attribute '{key}' contains a NUL character.")
        if len(value) > MAX_ATTRIBUTE_STRING:
            raise serializers.ValidationError(
                f"Attribute '{key}' is longer than {MAX_ATTRIBUTE_STRING} characters."
            )
        return value
    if isinstance(value, list) and not in_list:
        if len(value) > 100:
            raise serializers.ValidationError(f"Attribute '{key}' holds more than 100 values.")
        return [_validate_attribute_value(key, v, in_list=True) for v in value]
    raise serializers.ValidationError(
        f"Attribute '{key}' must be a string, number, boolean, null or a list of those."
    )


def validate_attributes(value, *, allow_null_values: bool = True) -> dict:
    if not isinstance(value, dict):
        raise serializers.ValidationError("attributes must be a JSON object.")
    if len(value) > MAX_ATTRIBUTES:
        raise serializers.ValidationError(f"At most {MAX_ATTRIBUTES} attributes.")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not ATTRIBUTE_KEY_RE.match(key):
            raise serializers.ValidationError(
                f"{key!r} is not an attribute name: 1-64 letters, digits and _ . -, not starting with . or -."
            )
        if item is None and not allow_null_values:
            raise serializers.ValidationError(f"Attribute '{key}' must not be null.")
        out[key] = _validate_attribute_value(key, item)
    if len(json.dumps(out, separators=(",", ":"))) > MAX_ATTRIBUTES_BYTES:
        raise serializers.ValidationError(f"attributes are larger than {MAX_ATTRIBUTES_BYTES // 1024} KiB.")
    return out


class TagField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return normalize_tag(super().to_internal_value(data))


def check_tag_budget(tags: list[str]) -> None:
    if len(tags) > MAX_TAGS:
        raise serializers.ValidationError(f"At most {MAX_TAGS} tags per subscriber.")
    if sum(len(t) for t in tags) > MAX_TAGS_CHARS:
        raise serializers.ValidationError(f"A subscriber's tags total at most {MAX_TAGS_CHARS} characters.")


class TagListField(serializers.ListField):
    def __init__(self, **kwargs):
        super().__init__(child=TagField(), **kwargs)

    def to_internal_value(self, data):
        tags = list(dict.fromkeys(super().to_internal_value(data)))
        check_tag_budget(tags)
        return tags


def tag_list(**kwargs) -> serializers.ListField:
    return TagListField(**kwargs)


@extend_schema_field(OpenApiTypes.OBJECT)
class AttributesField(serializers.Field):
    default_error_messages = {"invalid": "attributes must be a JSON object."}

    def to_internal_value(self, data):
        return validate_attributes(data)

    def to_representation(self, value):
        return value


class LocaleField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 35)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        return normalize_locale(value) if value else value


class TimezoneField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        return validate_timezone_name(value) if value else value


# -- service account --------------------------------------------------------------------------
class ServiceAccountSerializer(serializers.Serializer):
    """The JSON the Firebase console generates. Unknown keys are kept (Google adds some over time)."""

    type = serializers.CharField()
    project_id = serializers.RegexField(
        r"^[a-z][a-z0-9-]{2,61}[a-z0-9]$",
        error_messages={"invalid": "Not a Google Cloud project id (lowercase letters, digits and hyphens)."},
    )
    private_key_id = serializers.RegexField(
        r"^[A-Za-z0-9_-]{1,128}$", error_messages={"invalid": "Not a private key id."}
    )
    private_key = serializers.CharField(trim_whitespace=False, max_length=16 * 1024)
    client_email = serializers.EmailField(max_length=254)
    token_uri = serializers.CharField(max_length=500)
    client_id = serializers.CharField(required=False, allow_blank=True, max_length=100)

    def validate_type(self, value):
        if value != "service_account":
            raise serializers.ValidationError(
                f'Must be "service_account" (got {value[:40]!r}); download the key from Firebase console → '
                "Project settings → Service accounts."
            )
        return value

    def validate_private_key(self, value):
        try:
            key = serialization.load_pem_private_key(value.encode(), password=None)
        except (ValueError, TypeError):
            raise serializers.ValidationError(
                'Not a PEM private key ("-----BEGIN PRIVATE KEY-----"); copy the JSON file unchanged.'
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise serializers.ValidationError(
                "Must be an RSA private key, as Google issues for service accounts."
            )
        return value

    def validate_token_uri(self, value):
        try:
            return validate_token_uri(value)
        except EndpointNotAllowed as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_internal_value(self, data):
        validated = super().to_internal_value(data)
        extra = {k: v for k, v in data.items() if k not in validated and isinstance(k, str)}
        return {**extra, **validated}


@extend_schema_field(
    {
        "type": "object",
        "description": "The service-account JSON from Firebase console → Project settings → Service accounts "
        "(also accepted as a JSON string, or as a file in a multipart upload).",
        "additionalProperties": True,
    }
)
class ServiceAccountField(serializers.Field):
    """A JSON object, a JSON string, or an uploaded ``.json`` file (multipart)."""

    def to_internal_value(self, data):
        if isinstance(data, UploadedFile):
            if data.size is not None and data.size > MAX_SERVICE_ACCOUNT_BYTES:
                raise serializers.ValidationError(
                    "The file is larger than 64 KiB; upload the service-account JSON."
                )
            raw = data.read(MAX_SERVICE_ACCOUNT_BYTES + 1)
            try:
                data = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise serializers.ValidationError("The file is not UTF-8 JSON.") from None
        if isinstance(data, str):
            if looks_like_legacy_key(data):
                raise legacy_key_error(self.field_name)
            if len(data) > MAX_SERVICE_ACCOUNT_BYTES:
                raise serializers.ValidationError("The JSON is larger than 64 KiB.")
            try:
                data = json.loads(data)
            except ValueError:
                raise serializers.ValidationError(
                    "Must be the service-account JSON (an object with type, project_id, private_key, …)."
                ) from None
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                "Must be the service-account JSON (an object with type, project_id, private_key, …)."
            )
        if any(name in data for name in LEGACY_KEY_FIELDS) and "private_key" not in data:
            raise legacy_key_error(self.field_name)
        inner = ServiceAccountSerializer(data=data)
        if not inner.is_valid():
            raise serializers.ValidationError(inner.errors)
        return inner.validated_data

    def to_representation(self, value):  # never: the JSON is write-only
        return None


def validate_subject(value: str) -> str:
    value = value.strip()
    if value.startswith("mailto:"):
        try:
            EmailValidator()(value[len("mailto:") :])
        except DjangoValidationError:
            raise serializers.ValidationError("mailto: must be followed by an email address.") from None
        return value
    if value.startswith("https://"):
        try:
            URLValidator(schemes=["https"])(value)
        except DjangoValidationError:
            raise serializers.ValidationError("Not a valid https: URL.") from None
        return value
    raise serializers.ValidationError(
        "The VAPID subject must be a mailto: address or an https: URL where push services can reach you."
    )


# -- apps -------------------------------------------------------------------------------------
class AppCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=AppKind.choices)
    name = serializers.CharField(max_length=100)
    is_default = serializers.BooleanField(required=False)
    service_account = ServiceAccountField(required=False)
    subject = serializers.CharField(required=False, max_length=255)

    def to_internal_value(self, data):
        reject_legacy_key_fields(data)
        return super().to_internal_value(data)

    def validate_subject(self, value):
        return validate_subject(value)

    def validate(self, attrs):
        errors = {}
        if attrs["kind"] == AppKind.FCM:
            if "service_account" not in attrs:
                errors["service_account"] = ["Upload the service-account JSON of your Firebase project."]
            if "subject" in attrs:
                errors["subject"] = ["Only Web Push apps have a VAPID subject."]
        else:
            if "subject" not in attrs:
                errors["subject"] = [
                    "Required: a mailto: address or https: URL (push services contact you there)."
                ]
            if "service_account" in attrs:
                errors["service_account"] = ["Only FCM apps take a service account."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class AppUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False)
    is_default = serializers.BooleanField(required=False)
    service_account = ServiceAccountField(required=False)
    subject = serializers.CharField(required=False, max_length=255)
    kind = serializers.CharField(required=False)

    def to_internal_value(self, data):
        reject_legacy_key_fields(data)
        return super().to_internal_value(data)

    def validate_subject(self, value):
        return validate_subject(value)

    def validate(self, attrs):
        app: App = self.context["app"]
        errors = {}
        if "kind" in attrs and attrs["kind"] != app.kind:
            errors["kind"] = ["An app's kind cannot change; connect a new app instead."]
        attrs.pop("kind", None)
        if app.kind == AppKind.FCM and "subject" in attrs:
            errors["subject"] = ["Only Web Push apps have a VAPID subject."]
        if app.kind == AppKind.WEB_PUSH and "service_account" in attrs:
            errors["service_account"] = ["Only FCM apps take a service account."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class FirebaseConnectSerializer(StrictSerializer):
    """The seed's ``/workspaces/{id}/firebase`` body: the service account (and a name)."""

    name = serializers.CharField(max_length=100, required=False)
    service_account = ServiceAccountField()
    project_id = serializers.CharField(required=False, max_length=100)

    def to_internal_value(self, data):
        reject_legacy_key_fields(data)
        return super().to_internal_value(data)

    def validate(self, attrs):
        project_id = attrs.pop("project_id", None)
        if project_id and project_id != attrs["service_account"]["project_id"]:
            raise serializers.ValidationError(
                {"project_id": ["Does not match the project_id inside the service account."]}
            )
        return attrs


class FirebaseUpdateSerializer(FirebaseConnectSerializer):
    service_account = ServiceAccountField(required=False)

    def validate(self, attrs):
        project_id = attrs.pop("project_id", None)
        if project_id and "service_account" in attrs and project_id != attrs["service_account"]["project_id"]:
            raise serializers.ValidationError(
                {"project_id": ["Does not match the project_id inside the service account."]}
            )
        if project_id and "service_account" not in attrs:
            raise serializers.ValidationError(
                {"project_id": ["The project changes with a new service account; upload it."]}
            )
        return attrs


def mask_tail(value: str, keep: int = 4) -> str | None:
    if not value:
        return None
    return "…" + value[-keep:] if len(value) > keep else "…"


class AppSerializer(serializers.ModelSerializer):
    """What anyone may read about an app: never a private key, never the service-account JSON."""

    private_key_id = serializers.SerializerMethodField()

    class Meta:
        model = App
        fields = [
            "id",
            "kind",
            "name",
            "sdk_key",
            "is_default",
            "status",
            "status_reason",
            "status_changed_at",
            "project_id",
            "client_email",
            "private_key_id",
            "vapid_public_key",
            "subject",
            "credentials_version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_private_key_id(self, app: App) -> str | None:
        return mask_tail(app.private_key_id)

    def to_representation(self, app: App):
        data = super().to_representation(app)
        unused = (
            ("vapid_public_key", "subject")
            if app.kind == AppKind.FCM
            else ("project_id", "client_email", "private_key_id")
        )
        for name in unused:
            data[name] = None
        return data


class WebPushKeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200)
    auth = serializers.CharField(max_length=100)

    def validate_p256dh(self, value):
        return validate_p256dh(value)

    def validate_auth(self, value):
        return validate_auth_secret(value)


class WebPushSubscriptionSerializer(serializers.Serializer):
    """``PushSubscription.toJSON()``. Not strict: browsers may add members over time."""

    endpoint = serializers.CharField(max_length=4096, trim_whitespace=False)
    expirationTime = serializers.FloatField(required=False, allow_null=True, min_value=0)
    keys = WebPushKeysSerializer()

    def validate_endpoint(self, value):
        return validate_endpoint(value)

    def validate(self, attrs):
        expiration = attrs.pop("expirationTime", None)
        attrs["expires_at"] = None
        if expiration is not None:
            try:
                attrs["expires_at"] = dt.datetime.fromtimestamp(expiration / 1000, tz=dt.UTC)
            except (OverflowError, OSError, ValueError):
                raise serializers.ValidationError({"expirationTime": ["Not a valid time."]}) from None
        return attrs


class AppTestSerializer(StrictSerializer):
    subscriber_id = serializers.UUIDField(required=False)
    fcm_token = serializers.CharField(required=False, max_length=FCM_TOKEN_MAX + 10)
    subscription = WebPushSubscriptionSerializer(required=False)
    title = serializers.CharField(required=False, max_length=65, default="PushPilot test")
    body = serializers.CharField(
        required=False, max_length=240, default="If you can read this, your app is connected."
    )
    url = serializers.URLField(required=False, max_length=1000)

    def validate_fcm_token(self, value):
        return validate_fcm_token(value)

    def validate(self, attrs):
        targets = [name for name in ("subscriber_id", "fcm_token", "subscription") if name in attrs]
        if len(targets) != 1:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give exactly one target: subscriber_id, fcm_token or subscription."]}
            )
        return attrs


class AppTestResultSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["sent", "invalid", "retry", "failed"])
    provider_response = serializers.DictField()


# -- subscribers ------------------------------------------------------------------------------
class SubscriberProfileSerializer(StrictSerializer):
    """Who the device belongs to; shared by the SDK, the server API and the CSV import."""

    external_user_id = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True
    )
    tags = tag_list(required=False)
    attributes = AttributesField(required=False)
    locale = LocaleField(required=False, allow_blank=True)
    timezone = TimezoneField(required=False, allow_blank=True)
    platform = serializers.ChoiceField(choices=Platform.choices, required=False)

    def validate_external_user_id(self, value):
        value = (value or "").strip()
        return value or None


def _without_unreadable_device_fields(data) -> dict:
    data = dict(data.items())
    for name, check in (("timezone", validate_timezone_name), ("locale", normalize_locale)):
        value = data.get(name)
        if isinstance(value, str):
            try:
                check(value)
            except serializers.ValidationError:
                data.pop(name)
    return data


class SubscribeSerializer(SubscriberProfileSerializer):
    """``POST /sdk/v1/subscribe``: an FCM token or a Web Push subscription, and an optional profile."""

    fcm_token = serializers.CharField(required=False, max_length=FCM_TOKEN_MAX + 10)
    subscription = WebPushSubscriptionSerializer(required=False)

    def validate_fcm_token(self, value):
        return validate_fcm_token(value)

    def to_internal_value(self, data):
        if self.context.get("lenient_device_fields") and hasattr(data, "get"):
            # The web SDK fills locale and timezone from the browser (Intl), which on a misconfigured
            # machine says "Etc/Unknown": drop such a value rather than lose the subscription.
            data = _without_unreadable_device_fields(data)
        return super().to_internal_value(data)

    def validate(self, attrs):
        has_token, has_subscription = "fcm_token" in attrs, "subscription" in attrs
        if has_token == has_subscription:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give either fcm_token (FCM) or subscription (Web Push), not both."]}
            )
        app: App | None = self.context.get("app")
        if app is not None:
            if app.kind == AppKind.FCM and has_subscription:
                raise serializers.ValidationError(
                    {"subscription": ["This is an FCM app: send the device's fcm_token."]}
                )
            if app.kind == AppKind.WEB_PUSH and has_token:
                raise serializers.ValidationError(
                    {"fcm_token": ["This is a Web Push app: send the browser's PushSubscription."]}
                )
        return attrs


class SubscriberCreateSerializer(SubscribeSerializer):
    """``POST /api/v1/subscribers/``: a server registers a device for one of its apps."""

    app_id = serializers.UUIDField()


class UnsubscribeSerializer(StrictSerializer):
    subscriber_id = serializers.UUIDField(required=False)
    fcm_token = serializers.CharField(required=False, max_length=FCM_TOKEN_MAX + 10)
    subscription = serializers.DictField(required=False)
    endpoint = serializers.CharField(required=False, max_length=4096)

    def validate(self, attrs):
        if "subscription" in attrs:
            endpoint = attrs.pop("subscription").get("endpoint")
            if not isinstance(endpoint, str) or not endpoint:
                raise serializers.ValidationError({"subscription": ["Needs its endpoint."]})
            attrs.setdefault("endpoint", endpoint)
        if len([k for k in ("subscriber_id", "fcm_token", "endpoint") if k in attrs]) != 1:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give exactly one of subscriber_id, fcm_token or subscription."]}
            )
        return attrs


class IdentifySerializer(SubscriberProfileSerializer):
    subscriber_id = serializers.UUIDField()
    add_tags = tag_list(required=False)
    remove_tags = tag_list(required=False)


class SubscriberUpdateSerializer(SubscriberProfileSerializer):
    """PATCH: ``tags`` replaces, ``add_tags``/``remove_tags`` edit; ``attributes`` merge (null deletes)."""

    add_tags = tag_list(required=False)
    remove_tags = tag_list(required=False)


class SubscriberSerializer(serializers.ModelSerializer):
    """A subscriber as clients see it. The Web Push endpoint and keys and the FCM token are never
    returned: only which push service holds the subscription."""

    app_id = serializers.UUIDField(read_only=True)
    push_service = serializers.SerializerMethodField()

    class Meta:
        model = Subscriber
        fields = [
            "id",
            "app_id",
            "kind",
            "platform",
            "push_service",
            "external_user_id",
            "tags",
            "attributes",
            "locale",
            "timezone",
            "status",
            "status_reason",
            "last_seen_at",
            "expires_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_push_service(self, subscriber: Subscriber) -> str:
        if subscriber.kind == AppKind.FCM:
            return "fcm"
        from urllib.parse import urlsplit

        return urlsplit(subscriber.endpoint or "").hostname or ""


class SubscriberUpsertResultSerializer(serializers.Serializer):
    subscriber_id = serializers.UUIDField()


class ImportRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    errors = serializers.DictField()


class ImportReportSerializer(serializers.Serializer):
    imported = serializers.IntegerField()
    updated = serializers.IntegerField()
    errors = ImportRowErrorSerializer(many=True)
    errors_truncated = serializers.BooleanField()


class SubscriberImportSerializer(StrictSerializer):
    file = serializers.FileField()
    app_id = serializers.UUIDField(required=False)


# -- segments ---------------------------------------------------------------------------------
class SegmentFilterField(serializers.JSONField):
    def to_internal_value(self, data):
        from integrations.segments import validate_filter

        return validate_filter(super().to_internal_value(data))


class SegmentSerializer(StrictModelSerializer):
    filter = SegmentFilterField()

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "filter", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"description": {"required": False}}
        # Uniqueness is checked by the service (one query, case-insensitive) with a clear message.
        validators: list = []


class SegmentPreviewSerializer(StrictSerializer):
    filter = SegmentFilterField()
    sample_size = serializers.IntegerField(required=False, min_value=0, max_value=50, default=10)


class SegmentCountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class SegmentPreviewResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    sample = SubscriberSerializer(many=True)
