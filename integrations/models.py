"""Integrations (tenant schema): connected Apps (Firebase / Web Push), Subscribers and Segments.

Secrets (the service-account JSON, the VAPID private key) are stored only as ciphertext made by
``integrations.crypto``; the columns ending in ``_encrypted`` are never serialized. Workflows live
in ``integrations.services``; reads that decrypt live in ``integrations.selectors``.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.timezone import now


class AppKind(models.TextChoices):
    FCM = "fcm"
    WEB_PUSH = "web_push"


class AppStatus(models.TextChoices):
    OK = "ok"
    CREDENTIALS_INVALID = "credentials_invalid"
    VAPID_REJECTED = "vapid_rejected"


class App(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=AppKind.choices)
    name = models.CharField(max_length=100)
    # Public: shipped inside websites and mobile apps. Mirrored in tenants.SdkKeyRegistry (public schema).
    sdk_key = models.CharField(max_length=64, unique=True)
    is_default = models.BooleanField(default=False)
    status = models.CharField(max_length=24, choices=AppStatus.choices, default=AppStatus.OK)
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Bumped whenever a secret changes, so transports can drop cached clients (firebase App, VAPID).
    credentials_version = models.PositiveIntegerField(default=1)

    # FCM (HTTP v1): what the service account says, readable; the whole JSON only as ciphertext.
    project_id = models.CharField(max_length=100, blank=True)
    client_email = models.CharField(max_length=254, blank=True)
    private_key_id = models.CharField(max_length=128, blank=True)
    token_uri = models.CharField(max_length=500, blank=True)
    service_account_encrypted = models.TextField(blank=True)

    # Web Push: a P-256 pair we generate. Public key = base64url uncompressed point (87 chars).
    vapid_public_key = models.CharField(max_length=100, blank=True)
    vapid_private_key_encrypted = models.TextField(blank=True)
    subject = models.CharField(max_length=255, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"], condition=Q(is_default=True), name="app_one_default_per_kind"
            ),
            models.CheckConstraint(
                condition=Q(kind=AppKind.WEB_PUSH) | (~Q(project_id="") & ~Q(service_account_encrypted="")),
                name="app_fcm_has_credentials",
            ),
            models.CheckConstraint(
                condition=Q(kind=AppKind.FCM)
                | (~Q(vapid_public_key="") & ~Q(vapid_private_key_encrypted="") & ~Q(subject="")),
                name="app_web_push_has_vapid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class SubscriberStatus(models.TextChoices):
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    INVALID = "invalid"


class Platform(models.TextChoices):
    ANDROID = "android"
    IOS = "ios"
    WEB = "web"
    OTHER = "other"


class Subscriber(models.Model):
    """One device (FCM token) or one browser (Web Push subscription) of an App."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="subscribers")
    kind = models.CharField(max_length=10, choices=AppKind.choices)
    fcm_token = models.CharField(max_length=1024, null=True, blank=True)
    # Never serialized back to clients. Unique through its SHA-256 (a 1,000-char btree key would
    # bloat the index); the transports read the column itself.
    endpoint = models.TextField(null=True, blank=True)
    endpoint_hash = models.CharField(max_length=64, null=True, blank=True)
    p256dh = models.CharField(max_length=100, blank=True)
    auth = models.CharField(max_length=32, blank=True)
    platform = models.CharField(max_length=10, choices=Platform.choices, default=Platform.OTHER)
    external_user_id = models.CharField(max_length=255, null=True, blank=True)
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    locale = models.CharField(max_length=35, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=14, choices=SubscriberStatus.choices, default=SubscriberStatus.ACTIVE
    )
    status_reason = models.CharField(max_length=200, blank=True)
    last_seen_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            # Not partial: NULLs are distinct in PostgreSQL, and a plain unique index is what
            # INSERT … ON CONFLICT (app_id, fcm_token) can name.
            models.UniqueConstraint(fields=["app", "fcm_token"], name="subscriber_app_token_unique"),
            models.UniqueConstraint(fields=["app", "endpoint_hash"], name="subscriber_app_endpoint_unique"),
            models.CheckConstraint(
                condition=(Q(kind=AppKind.FCM) & Q(fcm_token__isnull=False) & Q(endpoint__isnull=True))
                | (
                    Q(kind=AppKind.WEB_PUSH)
                    & Q(fcm_token__isnull=True)
                    & Q(endpoint__isnull=False)
                    & Q(endpoint_hash__isnull=False)
                    & ~Q(p256dh="")
                    & ~Q(auth="")
                ),
                name="subscriber_address_matches_kind",
            ),
        ]
        indexes = [
            # Audiences (segment counts, campaign fan-out) are "active subscribers of an app that
            # match a filter". This partial covering index answers the common predicates (app,
            # last seen, platform, locale, tags) with an index-only scan, without reading the wide
            # heap rows (the push address is half of each row): a count over a million
            # subscribers reads ~100 MB of index instead of ~600 MB of table. It needs the
            # visibility map, so bulk imports end with VACUUM ANALYZE. Tags are capped in size so
            # an index tuple always fits (integrations.serializers.MAX_TAGS_CHARS).
            models.Index(
                fields=["app", "last_seen_at"],
                name="subscriber_audience_idx",
                include=["platform", "locale", "tags"],
                condition=Q(status="active"),
            ),
            # Selective predicates: a rare tag (&&, @>), an attribute value (@>, jsonb_path_ops is
            # the smaller, faster GIN opclass for containment), recently seen.
            GinIndex(fields=["tags"], name="subscriber_tags_gin"),
            GinIndex(fields=["attributes"], name="subscriber_attributes_gin", opclasses=["jsonb_path_ops"]),
            models.Index(fields=["status", "last_seen_at"], name="subscriber_status_seen_idx"),
            # Sends addressed to the customer's own user ids; the list's default order.
            models.Index(
                fields=["external_user_id"],
                name="subscriber_external_id_idx",
                condition=Q(external_user_id__isnull=False),
            ),
            models.Index(fields=["-created_at", "id"], name="subscriber_created_idx"),
        ]

    def __str__(self) -> str:
        return f"subscriber {self.pk} of app {self.app_id}"


class Segment(models.Model):
    """A saved filter over subscribers; ``filter`` follows ``integrations.segments.FILTER_SCHEMA``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    filter = models.JSONField(default=dict)
    created_by = models.UUIDField(null=True, blank=True)  # users live in public; no FK across schemas
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(Lower("name"), name="segment_name_ci_unique")]

    def __str__(self) -> str:
        return self.name
