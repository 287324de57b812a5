"""Beat → jobs → runs: the scheduler side of the send pipeline.

* Only a campaign's next occurrence exists, as a pending ``ScheduledJob``; ``Workspace.next_run_at``
  (public) is an index that is never later than the earliest work of the workspace — a pending job,
  a claimed job's watchdog, a run's retry or watchdog — so a tick reads only due workspaces:
  O(due work), not O(workspaces). The index may be early (a tick then finds nothing and moves it
  on); it is lowered by conditional UPDATEs wherever work is created and recomputed by the tick.
* ``dispatch_due_jobs`` (every tick) visits each due workspace in its own transaction, holding the
  workspace row with ``FOR UPDATE SKIP LOCKED`` (a second dispatcher skips it), and claims the jobs
  due before the next tick with ``FOR UPDATE SKIP LOCKED``: each becomes ``running`` and one
  ``campaigns.run_job`` task is published with a countdown to its due time — never longer than a
  tick, far below the broker's visibility timeout — so a 09:00:00 run starts at 09:00:00, not at the
  tick after. Future work stays in the database.
* ``materialize_run`` (the run task) creates the Notification (one per job, a unique constraint),
  completes the job and creates the next occurrence's job in the same transaction; the last
  occurrence leaves none, and the campaign completes when that run has finished. A run found
  later than ``PUSHPILOT_RUN_GRACE_SECONDS`` after its due time is recorded ``skipped`` (and so are
  the occurrences missed during a longer downtime), so a restart never floods devices with stale
  runs.
* The tick is also the watchdog: a claimed job whose run task never ran, a run whose producer or
  batch tasks died with their worker, and retries due later than a tick are published again from
  what the database says. Every one of those tasks is idempotent.

Lock order, to stay deadlock-free: campaign row, then its jobs (schedule hooks, ``materialize_run``);
the tick takes only the workspace row and SKIP LOCKED rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Min, Q
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns.pipeline_models import (
    Delivery,
    DeliveryStatus,
    IdempotencyRecord,
    JobStatus,
    Notification,
    NotificationSource,
    NotificationStatus,
    ScheduledJob,
)
from tenants.models import Workspace

logger = logging.getLogger("pushpilot.pipeline")

# Occurrences recorded one by one as skipped after a downtime before the rest are jumped over.
MAX_SKIPPED_RECORDS = 200
# A run task is published again this many times before its job is failed.
MAX_RUN_ATTEMPTS = 5


def tick() -> timedelta:
    return timedelta(seconds=settings.PUSHPILOT_SCHEDULER_TICK_SECONDS)


def grace() -> timedelta:
    return timedelta(seconds=settings.PUSHPILOT_RUN_GRACE_SECONDS)


def lease() -> timedelta:
    return timedelta(seconds=settings.PUSHPILOT_SEND_LEASE_SECONDS)


# ---------------------------------------------------------------------------------------------
# The workspace index.


def workspace_index_lower(at: datetime, *, workspace_id=None) -> None:
    """Make ``Workspace.next_run_at`` no later than ``at`` (from inside the workspace's schema)."""
    from integrations.selectors import current_workspace_id

    workspace_id = workspace_id or current_workspace_id()
    Workspace.objects.filter(pk=workspace_id).filter(
        Q(next_run_at__isnull=True) | Q(next_run_at__gt=at)
    ).update(next_run_at=at)


_EARLIEST_SQL = """
SELECT LEAST(
    (SELECT MIN(run_at) FROM {jobs} WHERE status = 'pending'),
    (SELECT MIN(GREATEST(claimed_at, run_at)) FROM {jobs} WHERE status = 'running') + %(lease)s,
    (SELECT MIN(COALESCE(watchdog_at, %(fallback)s)) FROM {runs} WHERE status IN ('queued', 'sending')),
    (SELECT MIN(retry_at) FROM {runs} WHERE status IN ('queued', 'sending'))
)
"""


def _earliest_work(now: datetime) -> datetime | None:
    """The earliest moment the tick must look at this workspace again (current schema): a pending
    job's due time, a claimed job's watchdog, a run's watchdog or retry. One query."""
    with connection.cursor() as cursor:
        cursor.execute(
            _EARLIEST_SQL.format(jobs=ScheduledJob._meta.db_table, runs=Notification._meta.db_table),
            {"lease": lease(), "fallback": now + lease()},
        )
        return cursor.fetchone()[0]


# ---------------------------------------------------------------------------------------------
# Jobs: created and cancelled by the campaign services' hooks.


def campaign_job_schedule(*, campaign, run_at: datetime, now: datetime | None = None) -> ScheduledJob:
    """The campaign's next run is at ``run_at``: replace its open job (if any) with one at that time.
    Call with the campaign row locked (``campaigns.services`` does)."""
    now = now or timezone.now()
    with transaction.atomic():
        _cancel_open_jobs(campaign.pk, reason="rescheduled", now=now)
        job = ScheduledJob.objects.create(campaign_id=campaign.pk, run_at=run_at)
        _job_created(job, now=now)
    return job


def campaign_jobs_cancel(*, campaign, reason: str = "cancelled", now: datetime | None = None) -> int:
    """Cancel the campaign's open job (cancel, pause): its run task, if already published, finds it
    cancelled and sends nothing. A run already materialized goes on to the end."""
    return _cancel_open_jobs(campaign.pk, reason=reason, now=now or timezone.now())


def on_campaign_scheduled(campaign, next_run_at: datetime) -> ScheduledJob:
    """What ``campaigns.services._on_scheduled`` calls: the campaign's next run is ``next_run_at``."""
    return campaign_job_schedule(campaign=campaign, run_at=next_run_at)


def on_campaign_unscheduled(campaign) -> int:
    """What ``campaigns.services._on_unscheduled`` calls (cancel, pause). Cancel also stops the
    campaign's runs in progress; pause lets a run under way finish (it only stops future runs)."""
    from campaigns.models import CampaignStatus

    cancelled = campaign_jobs_cancel(campaign=campaign, reason=f"the campaign was {campaign.status}")
    if campaign.status == CampaignStatus.CANCELLED:
        campaign_runs_cancel(campaign=campaign)
    return cancelled


def campaign_runs_cancel(*, campaign, now: datetime | None = None) -> int:
    """Stop every run of the campaign's schedule that is still queued or sending (see
    ``fanout.run_cancel``); API sends that borrowed its content are not the campaign's runs."""
    from campaigns import fanout

    open_runs = Notification.objects.filter(
        campaign_id=campaign.pk,
        source=NotificationSource.CAMPAIGN,
        status__in=[NotificationStatus.QUEUED, NotificationStatus.SENDING],
    ).values_list("pk", flat=True)
    return sum(
        fanout.run_cancel(notification_id=pk, message="The campaign was cancelled.", now=now)
        for pk in list(open_runs)
    )


def notification_cancel(*, notification: Notification, now: datetime | None = None) -> Notification:
    """``POST /notifications/{id}/cancel``: stop one run (an API send or one occurrence of a
    campaign, whose later occurrences stay scheduled). 409 when the run already ended."""
    from campaigns import fanout
    from campaigns.error_codes import CampaignErrorCode
    from pushpilot.api.errors import Conflict

    cancelled = fanout.run_cancel(notification_id=notification.pk, message="The run was cancelled.", now=now)
    notification.refresh_from_db()
    if not cancelled:
        raise Conflict(
            f"This run is {notification.status}"
            + (f" (stopped: {notification.stop_reason})" if notification.stop_reason else "")
            + "; only a queued or sending run can be cancelled.",
            code=CampaignErrorCode.NOTIFICATION_NOT_CANCELLABLE,
            details={"current_status": notification.status, "stop_reason": notification.stop_reason},
        )
    return notification


def _cancel_open_jobs(campaign_id, *, reason: str, now: datetime) -> int:
    return ScheduledJob.objects.filter(
        campaign_id=campaign_id, status__in=[JobStatus.PENDING, JobStatus.RUNNING], notification__isnull=True
    ).update(status=JobStatus.CANCELLED, last_error=reason[:500], finished_at=now, updated_at=now)


def _job_created(job: ScheduledJob, *, now: datetime) -> None:
    """A job due before the next tick is claimed at once (a send-now campaign, a near occurrence);
    any other waits for the tick. The index is lowered either way."""
    if job.run_at <= now + tick():
        _claim(job, now=now)
    workspace_index_lower(job.run_at)


def _claim(job: ScheduledJob, *, now: datetime) -> None:
    from campaigns import tasks

    job.status = JobStatus.RUNNING
    job.claimed_at = now
    job.attempts += 1
    job.save(update_fields=["status", "claimed_at", "attempts", "updated_at"])
    countdown = max(0.0, (job.run_at - now).total_seconds())
    tasks.publish(tasks.run_job, str(job.pk), countdown=countdown)


# ---------------------------------------------------------------------------------------------
# The tick.


@dataclass
class DispatchReport:
    workspaces: int = 0
    claimed: int = 0
    republished_jobs: int = 0
    republished_batches: int = 0
    producers: int = 0
    finalized: int = 0
    schemas: list[str] = field(default_factory=list)

    def add(self, other: DispatchReport) -> None:
        for name in (
            "workspaces",
            "claimed",
            "republished_jobs",
            "republished_batches",
            "producers",
            "finalized",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.schemas += other.schemas


def dispatch_due_jobs(*, now: datetime | None = None) -> DispatchReport:
    """One scheduler tick over every due workspace (run in the public schema)."""
    now = now or timezone.now()
    horizon = now + tick()
    report = DispatchReport()
    due = list(
        Workspace.objects.filter(next_run_at__lte=horizon, is_template=False)
        .order_by("next_run_at")
        .values_list("pk", flat=True)[: settings.PUSHPILOT_DISPATCH_MAX_WORKSPACES]
    )
    for workspace_id in due:
        try:
            report.add(_visit(workspace_id, now=now))
        except Exception:  # one broken workspace must not stop the others
            logger.exception("dispatch of workspace %s failed", workspace_id)
    return report


def _visit(workspace_id, *, now: datetime) -> DispatchReport:
    horizon = now + tick()
    report = DispatchReport()
    with transaction.atomic():
        workspace = (
            Workspace.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=workspace_id, next_run_at__lte=horizon)
            .first()
        )
        if workspace is None:
            return report  # another dispatcher holds it, or it is no longer due
        report.workspaces, report.schemas = 1, [workspace.schema_name]
        with schema_context(workspace.schema_name):
            report.claimed += _claim_due(now=now, horizon=horizon)
            report.republished_jobs += _redrive_lost_run_tasks(now=now)
            _redrive_runs(now=now, report=report)
            next_run_at = _earliest_work(now)
        Workspace.objects.filter(pk=workspace.pk).update(next_run_at=next_run_at)
    return report


_CLAIM_SQL = """
UPDATE {jobs} AS j SET status = 'running', claimed_at = %(now)s, attempts = j.attempts + 1, updated_at = %(now)s
FROM (
    SELECT id FROM {jobs} WHERE status = 'pending' AND run_at <= %(horizon)s
    ORDER BY run_at LIMIT 1000 FOR UPDATE SKIP LOCKED
) AS due
WHERE j.id = due.id
RETURNING j.id, j.run_at
"""


def _claim_due(*, now: datetime, horizon: datetime) -> int:
    """Claim the jobs due before the next tick (one statement) and hand each to a worker with a
    countdown to its due time."""
    from campaigns import tasks

    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL.format(jobs=ScheduledJob._meta.db_table), {"now": now, "horizon": horizon})
        claimed = cursor.fetchall()
    for job_id, run_at in claimed:
        tasks.publish(tasks.run_job, str(job_id), countdown=max(0.0, (run_at - now).total_seconds()))
    return len(claimed)


def _redrive_lost_run_tasks(*, now: datetime) -> int:
    """Claimed jobs whose run task should have run a lease ago: publish it again (or give up)."""
    from campaigns import tasks

    count = 0
    stale = ScheduledJob.objects.select_for_update(skip_locked=True).filter(
        status=JobStatus.RUNNING, claimed_at__lt=now - lease(), run_at__lt=now - lease()
    )
    for job in stale:
        if job.attempts >= MAX_RUN_ATTEMPTS:
            job.status, job.finished_at = JobStatus.FAILED, now
            job.last_error = f"the run task was lost {job.attempts} times"
            job.save(update_fields=["status", "finished_at", "last_error", "updated_at"])
            continue
        job.claimed_at, job.attempts = now, job.attempts + 1
        job.save(update_fields=["claimed_at", "attempts", "updated_at"])
        tasks.publish(tasks.run_job, str(job.pk))
        count += 1
    return count


def _redrive_runs(*, now: datetime, report: DispatchReport) -> None:
    """Runs with a retry due before the next tick, or a watchdog that fired (nothing finished for a
    lease): publish their due batches, restart a dead producer, close a finished run."""
    from campaigns import fanout, tasks

    horizon = now + tick()
    runs = (
        Notification.objects.select_for_update(skip_locked=True)
        .filter(status__in=[NotificationStatus.QUEUED, NotificationStatus.SENDING])
        .filter(Q(watchdog_at__lte=now) | Q(watchdog_at__isnull=True) | Q(retry_at__lte=horizon))
    )
    for run in runs:
        watchdog = run.watchdog_at is None or run.watchdog_at <= now
        queued = Delivery.objects.filter(notification_id=run.pk, status=DeliveryStatus.QUEUED)
        due_batches = (
            queued.filter(next_attempt_at__lte=horizon)
            .filter(Q(lease_owner="") | Q(leased_until__lt=now))
            .values("batch_no")
            .annotate(at=Min("next_attempt_at"))
            .order_by("batch_no")
        )
        for batch in due_batches:
            tasks.publish(
                tasks.send_batch,
                str(run.pk),
                batch["batch_no"],
                countdown=max(0.0, (batch["at"] - now).total_seconds()),
            )
            report.republished_batches += 1
        later = queued.filter(next_attempt_at__gt=horizon).aggregate(at=Min("next_attempt_at"))["at"]
        fields = {"retry_at": later}
        if watchdog:
            if not run.fanout_complete and (run.fanout_leased_until is None or run.fanout_leased_until < now):
                tasks.publish(tasks.fan_out, str(run.pk))
                report.producers += 1
            fields["watchdog_at"] = now + lease()
        Notification.objects.filter(pk=run.pk).update(**fields)
        if run.fanout_complete and not queued.exists():
            fanout.on_commit_in_schema(
                lambda pk=run.pk: fanout.notification_finalize_if_done(notification_id=pk)
            )
            report.finalized += 1


# ---------------------------------------------------------------------------------------------
# Runs.


def materialize_run(*, job_id, now: datetime | None = None) -> Notification | None:
    """Turn a claimed job into a run: its Notification, the job completed and the next occurrence's
    job created — one transaction. Returns the run to fan out (also when it already existed: a
    redelivered task resumes the fan-out), or None when there is nothing to send."""
    from campaigns.models import Campaign, CampaignStatus

    now = now or timezone.now()
    with transaction.atomic():
        campaign_id = ScheduledJob.objects.filter(pk=job_id).values_list("campaign_id", flat=True).first()
        if campaign_id is None:
            return None
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        job = ScheduledJob.objects.select_for_update().get(pk=job_id)
        if job.status == JobStatus.COMPLETED:
            return Notification.objects.filter(job_id=job.pk).first()
        if job.status not in (JobStatus.PENDING, JobStatus.RUNNING):
            return None
        if campaign is None or campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING):
            _finish_job(
                job, JobStatus.CANCELLED, now, f"the campaign is {getattr(campaign, 'status', 'gone')}"
            )
            return None
        late = now - job.run_at
        if late > grace():
            _finish_job(
                job,
                JobStatus.SKIPPED,
                now,
                f"missed by {int(late.total_seconds())} s, beyond the "
                f"{int(grace().total_seconds())} s grace window",
            )
            _schedule_next(campaign, job, now=now)
            _campaign_settle(campaign)
            return None
        notification = Notification.objects.create(
            source=NotificationSource.CAMPAIGN,
            campaign=campaign,
            job=job,
            app_id=campaign.app_id,
            created_by=campaign.updated_by or campaign.created_by,
            contents=content_snapshot(campaign),
            default_language=campaign.default_language,
            options=campaign_options(campaign),
            target=campaign.audience or {"all": True},
            timezone=campaign.timezone,
            throttle_per_minute=_throttle_of(campaign),
            scheduled_for=job.run_at,
            watchdog_at=now + lease(),
        )
        _finish_job(job, JobStatus.COMPLETED, now, "")
        campaign.last_run_at = job.run_at
        _schedule_next(campaign, job, now=now)
        if campaign.status != CampaignStatus.RUNNING:
            from campaigns.services import campaign_transition

            campaign_transition(campaign=campaign, to=CampaignStatus.RUNNING, save=False)
        campaign.save(
            update_fields=["status", "status_changed_at", "last_run_at", "next_run_at", "updated_at"]
        )
        workspace_index_lower(now + lease())
    return notification


def _finish_job(job: ScheduledJob, status: str, now: datetime, error: str) -> None:
    job.status, job.finished_at, job.last_error = status, now, error[:500]
    job.save(update_fields=["status", "finished_at", "last_error", "updated_at"])


def _schedule_next(campaign, job: ScheduledJob, *, now: datetime) -> ScheduledJob | None:
    """The next occurrence's job (in the caller's transaction); occurrences already beyond the grace
    window are recorded as skipped."""
    from campaigns import scheduling

    upcoming = scheduling.next_occurrence(campaign, job.run_at)
    skipped = 0
    while upcoming is not None and now - upcoming > grace() and skipped < MAX_SKIPPED_RECORDS:
        ScheduledJob.objects.create(
            campaign_id=campaign.pk,
            run_at=upcoming,
            status=JobStatus.SKIPPED,
            finished_at=now,
            last_error="missed during downtime, beyond the grace window",
        )
        skipped += 1
        upcoming = scheduling.next_occurrence(campaign, upcoming)
    if upcoming is not None and now - upcoming > grace():
        upcoming = scheduling.next_occurrence(campaign, now - grace())
    campaign.next_run_at = upcoming
    if upcoming is None:
        return None
    next_job = ScheduledJob.objects.create(campaign_id=campaign.pk, run_at=upcoming)
    _job_created(next_job, now=now)
    return next_job


def _campaign_settle(campaign) -> None:
    """After a skipped run (campaign row locked): completed when nothing is left."""
    from campaigns.models import CampaignStatus
    from campaigns.services import campaign_transition

    if (
        campaign.next_run_at is None
        and campaign.status == CampaignStatus.SCHEDULED
        and not _open_runs(campaign.pk)
    ):
        campaign_transition(campaign=campaign, to=CampaignStatus.COMPLETED, save=False)
    campaign.save(update_fields=["status", "status_changed_at", "next_run_at", "updated_at"])


def _open_runs(campaign_id, exclude=None) -> bool:
    runs = Notification.objects.filter(
        campaign_id=campaign_id, status__in=[NotificationStatus.QUEUED, NotificationStatus.SENDING]
    )
    if exclude is not None:
        runs = runs.exclude(pk=exclude)
    return runs.exists()


def campaign_after_run(*, campaign_id) -> None:
    """A run finished: a running campaign goes back to ``scheduled`` when another occurrence is
    pending, or ``completed`` when that was its last (and no other run is still sending)."""
    from campaigns.models import Campaign, CampaignStatus
    from campaigns.services import campaign_transition

    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status != CampaignStatus.RUNNING or _open_runs(campaign_id):
            return
        has_next = ScheduledJob.objects.filter(
            campaign_id=campaign_id, status__in=[JobStatus.PENDING, JobStatus.RUNNING]
        ).exists()
        campaign_transition(
            campaign=campaign, to=CampaignStatus.SCHEDULED if has_next else CampaignStatus.COMPLETED
        )


def content_snapshot(campaign) -> list[dict]:
    contents = []
    for content in campaign.contents.filter(is_active=True).order_by("created_at", "id"):
        contents.append(
            {
                "id": str(content.pk),
                "language": content.language,
                "variant": content.variant,
                "weight": content.weight,
                "title": content.title,
                "body": content.body,
                "image_url": content.image_url,
                "click_url": content.click_url,
                "actions": content.actions or [],
                # Only the subscribers matching it may get this content (campaigns.fanout).
                "segment_filter": content.segment_filter_json or None,
            }
        )
    return contents


def campaign_options(campaign) -> dict:
    options = dict(campaign.options or {})
    out: dict[str, Any] = {}
    for name in ("ttl", "priority", "collapse_key", "data", "icon"):
        if options.get(name) not in (None, "", {}):
            out[name] = options[name]
    if options.get("click_url"):
        out["url"] = options["click_url"]
    return out


def _throttle_of(campaign) -> int | None:
    value = (campaign.options or {}).get("throttle_per_minute")
    try:
        return int(value) if value else None
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Send-now from the API.


def notification_send_now(
    *,
    app,
    contents: list[dict],
    target: dict,
    options: dict,
    default_language: str = "en",
    throttle_per_minute: int | None = None,
    campaign=None,
    actor=None,
    api_key=None,
    workspace_timezone: str = "UTC",
) -> Notification:
    """A run without a schedule: the Notification, and its fan-out published after commit."""
    from campaigns import tasks

    now = timezone.now()
    notification = Notification.objects.create(
        source=NotificationSource.API,
        campaign=campaign,
        app_id=app.pk,
        created_by=getattr(actor, "pk", None),
        api_key_id=getattr(api_key, "pk", None),
        contents=contents,
        default_language=default_language,
        options=options,
        target=target,
        timezone=workspace_timezone,
        throttle_per_minute=throttle_per_minute,
        scheduled_for=now,
        watchdog_at=now + lease(),
    )
    workspace_index_lower(now + lease())
    tasks.publish(tasks.fan_out, str(notification.pk))
    return notification


# ---------------------------------------------------------------------------------------------
# Idempotency keys.


class IdempotencyKeyReused(Exception):
    """The same key came with a different request."""


def request_fingerprint(*, path: str, body: Any) -> str:
    canonical = json.dumps({"path": path, "body": body}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent(
    *, credential: str, key: str, fingerprint: str, run: Callable[[], tuple[int, dict, Any]]
) -> tuple[int, dict, bool]:
    """Run ``run`` at most once per (credential, key) within the TTL: (status, body, replayed).

    The record is inserted in the same transaction as the work, so a concurrent request with the
    same key waits on the unique index and then replays the first answer; a request that fails
    (4xx) leaves no record. ``run`` returns (status, body, notification id)."""
    now = timezone.now()
    ttl = timedelta(hours=settings.PUSHPILOT_IDEMPOTENCY_TTL_HOURS)
    with transaction.atomic():
        IdempotencyRecord.objects.filter(credential=credential, key=key, created_at__lt=now - ttl).delete()
        existing = IdempotencyRecord.objects.filter(credential=credential, key=key).first()
        if existing is None:
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        credential=credential, key=key, request_hash=fingerprint, status_code=0
                    )
            except IntegrityError:
                existing = IdempotencyRecord.objects.filter(credential=credential, key=key).first()
                if existing is None:  # pragma: no cover - the other request rolled back in between
                    raise
        if existing is not None:
            if existing.request_hash != fingerprint:
                raise IdempotencyKeyReused()
            return existing.status_code, existing.response, True
        status, body, notification_id = run()
        record.status_code, record.response, record.notification_id = status, body, notification_id
        record.save(update_fields=["status_code", "response", "notification_id"])
    return status, body, False


# ---------------------------------------------------------------------------------------------
# Housekeeping (one workspace, in its schema).


@dataclass
class HousekeepingReport:
    deliveries_pruned: int = 0
    jobs_pruned: int = 0
    idempotency_pruned: int = 0
    subscribers_expired: int = 0


def workspace_housekeeping(*, now: datetime | None = None, chunk: int = 10_000) -> HousekeepingReport:
    """Prune delivery rows of runs finished before the retention (their counts stay on the
    Notification), old finished jobs and expired idempotency keys; mark Web Push subscriptions past
    their expirationTime invalid."""
    from integrations.models import Subscriber, SubscriberStatus

    now = now or timezone.now()
    report = HousekeepingReport()
    cutoff = now - timedelta(days=settings.PUSHPILOT_DELIVERY_RETENTION_DAYS)
    old_runs = Notification.objects.filter(
        status__in=[NotificationStatus.SENT, NotificationStatus.FAILED, NotificationStatus.CANCELLED],
        finished_at__lt=cutoff,
    ).values("pk")
    while True:
        ids = list(Delivery.objects.filter(notification_id__in=old_runs).values_list("pk", flat=True)[:chunk])
        if not ids:
            break
        report.deliveries_pruned += Delivery.objects.filter(pk__in=ids).delete()[0]
    report.jobs_pruned = ScheduledJob.objects.filter(
        status__in=[JobStatus.COMPLETED, JobStatus.SKIPPED, JobStatus.CANCELLED, JobStatus.FAILED],
        finished_at__lt=cutoff,
        notification__isnull=True,
    ).delete()[0]
    report.idempotency_pruned = IdempotencyRecord.objects.filter(
        created_at__lt=now - timedelta(hours=settings.PUSHPILOT_IDEMPOTENCY_TTL_HOURS)
    ).delete()[0]
    report.subscribers_expired = Subscriber.objects.filter(
        status=SubscriberStatus.ACTIVE, expires_at__isnull=False, expires_at__lt=now
    ).update(
        status=SubscriberStatus.INVALID, status_reason="subscription expired (expirationTime)", updated_at=now
    )
    return report
