"""The send pipeline's tables (tenant schema): ScheduledJob, Notification, Delivery, IdempotencyRecord
and the workspace's SendingPolicy. ``campaigns.models`` re-exports them.

Exactly-once rests on three constraints, not on luck: at most one pending-or-running job per
campaign (and one job per occurrence), one Notification per job, one Delivery per (notification,
subscriber). Workflows live in ``campaigns.dispatch`` (jobs) and ``campaigns.fanout`` (deliveries).

Subscribers and apps are referenced without database foreign keys (``db_constraint=False``,
``DO_NOTHING``): deleting a subscriber must not cascade through millions of delivery rows (history
outlives devices), and a bulk insert of deliveries should not pay a key lookup per row.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

__all__ = [
    "Delivery",
    "DeliveryStatus",
    "IdempotencyRecord",
    "JobStatus",
    "Notification",
    "NotificationSource",
    "NotificationStatus",
    "ScheduledJob",
    "SendingPolicy",
]


class JobStatus(models.TextChoices):
    PENDING = "pending"  # waiting for its run_at
    RUNNING = "running"  # claimed by a dispatcher tick and handed to a worker
    COMPLETED = "completed"  # its Notification exists (the run was materialized)
    FAILED = "failed"  # the run task was lost too many times
    CANCELLED = "cancelled"  # the campaign was cancelled, paused or rescheduled first
    SKIPPED = "skipped"  # later than the grace window (downtime)


class ScheduledJob(models.Model):
    """One occurrence of a campaign's schedule. Only the next occurrence exists as a pending job."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="jobs")
    run_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run_at", "id"]
        constraints = [
            # "Only the next occurrence exists": the next job is created in the transaction that
            # completes the current one, so pending and running never coexist for one campaign.
            models.UniqueConstraint(
                fields=["campaign"],
                condition=Q(status__in=["pending", "running"]),
                name="job_one_open_per_campaign",
            ),
            # One occurrence is one job, whatever two dispatchers or a reschedule race do.
            models.UniqueConstraint(
                fields=["campaign", "run_at"], condition=~Q(status="cancelled"), name="job_one_per_occurrence"
            ),
        ]
        indexes = [
            # The tick reads only open jobs, by due time.
            models.Index(
                fields=["run_at"], name="job_open_due_idx", condition=Q(status__in=["pending", "running"])
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} of {self.campaign_id} at {self.run_at:%Y-%m-%d %H:%M:%S%z} ({self.status})"


class NotificationSource(models.TextChoices):
    CAMPAIGN = "campaign"
    API = "api"


class NotificationStatus(models.TextChoices):
    QUEUED = "queued"  # created; fan-out not started
    SENDING = "sending"
    SENT = "sent"  # every delivery has a final status
    FAILED = "failed"  # stopped (credentials rejected) or nothing could be sent
    CANCELLED = "cancelled"  # stopped by a user (the run or its campaign was cancelled)


class Notification(models.Model):
    """One run of a campaign (or one API send-now): the unit the counters and the API report on."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=10, choices=NotificationSource.choices)
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    # One Notification per job: a job that is run twice finds its Notification and stops there.
    job = models.OneToOneField(
        ScheduledJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="notification"
    )
    app = models.ForeignKey(
        "integrations.App", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED
    )
    # Who asked (users live in public: ids, not foreign keys).
    created_by = models.UUIDField(null=True, blank=True)
    api_key_id = models.UUIDField(null=True, blank=True)

    # What is sent, frozen when the run starts so every batch and retry sends the same copy:
    # [{id, language, variant, weight, title, body, image_url, click_url, actions}]
    contents = models.JSONField(default=list)
    default_language = models.CharField(max_length=35, default="en")
    # {url, icon, data, ttl, priority, collapse_key}
    options = models.JSONField(default=dict, blank=True)
    # {"all": true} | {"segment_id"} | {"filter"} | {"subscriber_ids"} | {"external_user_ids"} | {"topic"}
    target = models.JSONField(default=dict)
    timezone = models.CharField(max_length=64, default="UTC")  # for subscribers without one
    throttle_per_minute = models.PositiveIntegerField(null=True, blank=True)

    # Progress, updated with F() increments as batches finish. pending = targeted - the rest.
    targeted = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    suppressed = models.PositiveIntegerField(default=0)

    # Fan-out (the producer streams the audience in subscriber-id order and can resume).
    batches_total = models.PositiveIntegerField(default=0)
    fanout_complete = models.BooleanField(default=False)
    fanout_cursor = models.UUIDField(null=True, blank=True)
    fanout_owner = models.CharField(max_length=64, blank=True)
    fanout_leased_until = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=64, blank=True)
    stop_message = models.CharField(max_length=500, blank=True)

    # The dispatcher's view: when to look at this run again (a lost task, a retry due later).
    watchdog_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)

    scheduled_for = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    first_sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["-created_at", "id"], name="notification_created_idx"),
            models.Index(fields=["campaign", "-created_at"], name="notification_campaign_idx"),
            # The tick's re-drive reads only runs in progress.
            models.Index(
                fields=["watchdog_at"],
                name="notification_open_idx",
                condition=Q(status__in=["queued", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"notification {self.pk} ({self.status})"

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.invalid + self.suppressed

    @property
    def pending(self) -> int:
        return max(0, self.targeted - self.done)

    @property
    def is_final(self) -> bool:
        return self.status in (
            NotificationStatus.SENT,
            NotificationStatus.FAILED,
            NotificationStatus.CANCELLED,
        )


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued"  # waiting (maybe leased by a worker that is sending it right now)
    SENT = "sent"
    FAILED = "failed"
    INVALID = "invalid"
    SUPPRESSED = "suppressed"


FINAL_DELIVERY_STATUSES = (
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
    DeliveryStatus.INVALID,
    DeliveryStatus.SUPPRESSED,
)


class Delivery(models.Model):
    """One message to one subscriber. Unique per (notification, subscriber): re-runs never resend.

    A worker claims queued rows by writing its lease (``lease_owner`` = its Celery task id,
    ``leased_until``); a redelivery of the same task takes its own lease back at once, anyone else
    only once it has expired."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column indexes on the two keys: (notification, …) is the prefix of both indexes below
    # and of the unique constraint, and nothing looks deliveries up by subscriber alone (the frequency
    # cap reads delivery_sent_idx). Each index would cost every insert and outcome update.
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    subscriber = models.ForeignKey(
        "integrations.Subscriber",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    batch_no = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    content_id = models.UUIDField(null=True, blank=True)
    variant = models.CharField(max_length=32, blank=True)
    language = models.CharField(max_length=35, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_owner = models.CharField(max_length=64, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["batch_no", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "subscriber"], name="delivery_one_per_subscriber"
            ),
        ]
        indexes = [
            # One index for a batch task's claim (notification, queued, its batch), status filters,
            # failure reasons and the dispatcher's reads of what is still queued. Every index costs
            # each of the millions of inserts and outcome updates, so there is no second one.
            models.Index(fields=["notification", "status", "batch_no"], name="delivery_status_idx"),
            # The frequency cap counts a subscriber's recent sends.
            models.Index(
                fields=["subscriber", "sent_at"], name="delivery_sent_idx", condition=Q(status="sent")
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"


class SendingPolicy(models.Model):
    """The workspace's delivery preferences (one row). Quiet hours are local to each subscriber's
    timezone (the run's timezone when a subscriber has none); a window may wrap midnight."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    # Messages per subscriber in any 24 hours; None means no cap.
    frequency_cap_per_day = models.PositiveIntegerField(null=True, blank=True)
    updated_by = models.UUIDField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="sending_policy_singleton"),
            models.CheckConstraint(
                condition=(Q(quiet_hours_start__isnull=True) & Q(quiet_hours_end__isnull=True))
                | (Q(quiet_hours_start__isnull=False) & Q(quiet_hours_end__isnull=False)),
                name="sending_policy_quiet_hours_pair",
            ),
        ]

    def __str__(self) -> str:
        return "sending policy"


class IdempotencyRecord(models.Model):
    """The first answer to a POST carrying an ``Idempotency-Key``, per credential, for 24 hours."""

    id = models.BigAutoField(primary_key=True)
    credential = models.CharField(max_length=80)  # "user:<uuid>" or "key:<uuid>"
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField(default=dict)
    notification_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["credential", "key"], name="idempotency_key_unique")]

    def __str__(self) -> str:
        return f"idempotency key {self.key[:20]} of {self.credential}"
