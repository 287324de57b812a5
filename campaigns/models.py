"""Campaigns (tenant schema): Campaign, CampaignContent and workspace Templates.

Users live in the public schema, so ``created_by``/``updated_by`` are user UUIDs, not foreign keys
across schemas. Workflows (scheduling, the status machine) live in ``campaigns.services``.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class CampaignStatus(models.TextChoices):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ChannelType(models.TextChoices):
    APP_PUSH = "app_push"
    WEB_PUSH = "web_push"
    SMS = "sms"
    EMAIL = "email"
    WHATSAPP = "whatsapp"


# Channels this product delivers, and the App kind each one needs.
SUPPORTED_CHANNELS = {ChannelType.APP_PUSH: "fcm", ChannelType.WEB_PUSH: "web_push"}


class ScheduleType(models.TextChoices):
    SEND_NOW = "send_now"
    SCHEDULED = "scheduled"
    RECURRING = "recurring"


class GeneratedBy(models.TextChoices):
    MANUAL = "manual"
    AI = "ai"


class TemplateCategory(models.TextChoices):
    FESTIVE = "festive"
    WEEKEND = "weekend"
    RETENTION = "retention"
    RE_ENGAGEMENT = "re-engagement"
    TRANSACTIONAL = "transactional"
    PHARMA = "pharma"
    PROMOTIONAL = "promotional"
    OTHER = "other"


class Campaign(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    channel_type = models.CharField(max_length=12, choices=ChannelType.choices)
    tone = models.CharField(max_length=40, blank=True)
    schedule_type = models.CharField(
        max_length=12, choices=ScheduleType.choices, default=ScheduleType.SCHEDULED
    )
    # The first run (one-off: the run) as an instant; for recurring campaigns the rule's DTSTART.
    scheduled_at = models.DateTimeField(null=True, blank=True)
    # DTSTART as wall-clock time in ``timezone`` (ISO, no offset). The rule's anchor: a local time in
    # a DST gap (02:30 on a spring-forward day) cannot be recovered from the instant.
    scheduled_local = models.CharField(max_length=19, blank=True)
    recurrence_rule = models.TextField(blank=True)
    timezone = models.CharField(max_length=64)
    app = models.ForeignKey("integrations.App", on_delete=models.PROTECT, related_name="campaigns")
    # {"all": true} | {"segment_id": "<uuid>"} | {"filter": {…}}
    audience = models.JSONField(default=dict)
    # {ttl, priority, collapse_key, click_url, data}
    options = models.JSONField(default=dict, blank=True)
    default_language = models.CharField(max_length=35, default="en")
    # The next run's instant while scheduled; kept by campaigns.services._on_scheduled.
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.UUIDField(null=True, blank=True)
    updated_by = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="campaign_status_idx"),
            models.Index(
                fields=["next_run_at"], name="campaign_next_run_idx", condition=Q(next_run_at__isnull=False)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel_type__in=[ChannelType.APP_PUSH, ChannelType.WEB_PUSH]),
                name="campaign_channel_supported",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[CampaignStatus.SCHEDULED, CampaignStatus.PAUSED])
                | Q(schedule_type=ScheduleType.SEND_NOW)
                | Q(scheduled_at__isnull=False),
                name="campaign_scheduled_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(
                    schedule_type=ScheduleType.RECURRING,
                    status__in=[CampaignStatus.SCHEDULED, CampaignStatus.PAUSED],
                )
                | ~Q(recurrence_rule=""),
                name="campaign_recurring_has_rule",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_recurring(self) -> bool:
        return self.schedule_type == ScheduleType.RECURRING


class CampaignContent(models.Model):
    """One piece of copy: a language and an A/B variant of a campaign's notification."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="contents")
    title = models.CharField(max_length=200)
    body = models.TextField()  # the seed's "subtitle"
    language = models.CharField(max_length=35, default="en")
    image_url = models.URLField(max_length=1024, blank=True)
    tone = models.CharField(max_length=40, blank=True)
    segment_filter_json = models.JSONField(null=True, blank=True)
    variant = models.CharField(max_length=32, default="A")
    weight = models.PositiveIntegerField(default=1)
    click_url = models.URLField(max_length=1024, blank=True)
    # [{action, title, url}] — at most two (what Android and Chrome show).
    actions = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    generated_by = models.CharField(max_length=8, choices=GeneratedBy.choices, default=GeneratedBy.MANUAL)
    source_template_id = models.UUIDField(null=True, blank=True)
    created_by = models.UUIDField(null=True, blank=True)
    updated_by = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Inactive drafts (AI variants) may share a label; the copy that is sent may not.
            models.UniqueConstraint(
                fields=["campaign", "language", "variant"],
                condition=Q(is_active=True),
                name="content_active_variant_unique",
            ),
            models.CheckConstraint(condition=Q(weight__lte=10_000), name="content_weight_range"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.language}/{self.variant})"


class Template(models.Model):
    """A workspace's own reusable copy. The global library is ``campaign_library.GlobalTemplate``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    category = models.CharField(
        max_length=20, choices=TemplateCategory.choices, default=TemplateCategory.OTHER
    )
    title = models.CharField(max_length=200)
    body = models.TextField()  # the seed's "subtitle"
    tone = models.CharField(max_length=40, blank=True)
    language = models.CharField(max_length=35, default="en")
    image_url = models.URLField(max_length=1024, blank=True)
    click_url = models.URLField(max_length=1024, blank=True)
    created_by = models.UUIDField(null=True, blank=True)
    updated_by = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["category", "name"], name="template_category_idx")]

    def __str__(self) -> str:
        return self.name

    is_global = False


from campaigns.ai_models import *  # noqa: E402,F403
from campaigns.pipeline_models import *  # noqa: E402,F403
