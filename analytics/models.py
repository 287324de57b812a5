"""Analytics tables (tenant schema): raw events and the rollups every read is served from.

Ids of deliveries, runs, campaigns and subscribers are plain indexed UUID columns, not foreign
keys: delivery rows are pruned after their retention, subscribers come and go, and history (the
events and the rollups) must outlive them both. A foreign key would also cost every one of the
thousands of inserts per second a lookup.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q


class EventType(models.TextChoices):
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    FAILED = "failed"  # written by the pipeline, never accepted from the SDK
    UNSUBSCRIBED = "unsubscribed"


SDK_EVENT_TYPES = (EventType.DELIVERED, EventType.OPENED, EventType.CLICKED, EventType.UNSUBSCRIBED)


class Metric(models.TextChoices):
    """What a rollup row counts: a delivery outcome (recorded by the pipeline) or an event type."""

    SENT = "sent"
    FAILED = "failed"
    INVALID = "invalid"
    SUPPRESSED = "suppressed"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"


class AnalyticsEvent(models.Model):
    """One event of one delivery; at most one per (delivery, type), so a replay counts once.

    ``counted`` says whether the event is in the rollups yet: an event that arrives before the
    pipeline has recorded its delivery as sent (a browser shows a push before the worker's batch
    has finished) waits, and is counted with the right variant when the outcome is written."""

    id = models.BigAutoField(primary_key=True)
    event_type = models.CharField(max_length=16, choices=EventType.choices)
    delivery_id = models.UUIDField()
    notification_id = models.UUIDField()
    campaign_id = models.UUIDField(null=True, blank=True)
    subscriber_id = models.UUIDField(null=True, blank=True)
    variant = models.CharField(max_length=32, blank=True)
    language = models.CharField(max_length=35, blank=True)
    platform = models.CharField(max_length=10, blank=True)
    external_user_id = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    metadata_json = models.JSONField(default=dict, blank=True)
    counted = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["delivery_id", "event_type"], name="analytics_event_once"),
        ]
        indexes = [
            # Retention prunes by arrival time; rows arrive in that order, so a BRIN index is
            # enough and costs the ingestion path next to nothing.
            BrinIndex(fields=["received_at"], name="analytics_event_received_brin"),
            # The pipeline looks up the (few) events still waiting for their delivery's outcome.
            models.Index(
                fields=["delivery_id"], name="analytics_event_waiting_idx", condition=Q(counted=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} of delivery {self.delivery_id}"


class HourlyRollup(models.Model):
    """Counts per hour (UTC) x run x variant x language x platform x metric.

    Maintained incrementally (``INSERT … ON CONFLICT DO UPDATE SET count = count + EXCLUDED.count``)
    in the transaction that writes what it counts, so it is exact under concurrency. Kept forever."""

    id = models.BigAutoField(primary_key=True)
    hour = models.DateTimeField()
    notification_id = models.UUIDField()
    campaign_id = models.UUIDField(null=True, blank=True)
    variant = models.CharField(max_length=32, blank=True)
    language = models.CharField(max_length=35, blank=True)
    platform = models.CharField(max_length=10, blank=True)
    metric = models.CharField(max_length=16, choices=Metric.choices)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["notification_id", "hour", "variant", "language", "platform", "metric"],
                name="analytics_hourly_key",
            ),
        ]
        indexes = [models.Index(fields=["campaign_id", "hour"], name="analytics_hourly_campaign_idx")]

    def __str__(self) -> str:
        return f"{self.metric} {self.count} at {self.hour:%Y-%m-%d %H}:00"


class SentTally(models.Model):
    """Messages sent (deliveries recorded as ``sent``) per 15 minutes, workspace-wide.

    Quarter hours, because every UTC offset in use is a multiple of 15 minutes: "today" and the
    daily trend are exact in any workspace timezone (India is UTC+05:30, Nepal +05:45). Survives
    delivery pruning."""

    bucket = models.DateTimeField(primary_key=True)
    count = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.count} sent from {self.bucket:%Y-%m-%d %H:%M}"
