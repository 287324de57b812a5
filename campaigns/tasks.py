"""Celery tasks of the send pipeline: thin wrappers over ``campaigns.dispatch`` and ``campaigns.fanout``.

They take ids, run in the workspace schema named by the message (``WorkspaceTask``) or in public
(``PublicTask``), and are published only through ``publish`` (after commit, explicit schema,
countdowns capped at one scheduler tick). Each is idempotent: the database decides what is left to
do, so a redelivered or duplicated message does no harm (see the two modules' docstrings).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django_redis import get_redis_connection

from pushpilot.celery import (
    PublicTask,
    WorkspaceTask,
    app,
    enqueue_for_every_workspace,
    enqueue_for_workspace,
)

logger = logging.getLogger("pushpilot.pipeline")

DISPATCH_LOCK = "pipeline:dispatch-lock"


def publish(task, *args, countdown: float | None = None, schema_name: str | None = None) -> None:
    """Publish ``task(*args)`` for the current workspace schema once the transaction commits.

    A countdown is never longer than one scheduler tick: work due later lives in the database,
    where the dispatcher finds it, not in the broker (whose visibility timeout would redeliver it)."""
    capped = (
        min(float(countdown), float(settings.PUSHPILOT_SCHEDULER_TICK_SECONDS))
        if countdown and countdown > 0
        else None
    )
    enqueue_for_workspace(task, schema_name or connection.schema_name, *args, countdown=capped)


@app.task(base=PublicTask, name="campaigns.dispatch_due_jobs", ignore_result=True)
def dispatch_due_jobs() -> dict:
    """The beat tick. A Redis lock makes one dispatcher run at a time across beats and workers; a
    second beat started by mistake only finds the lock taken (and without the lock nothing would be
    sent twice either: claims use SKIP LOCKED and the rows are unique)."""
    from campaigns import dispatch

    tick = settings.PUSHPILOT_SCHEDULER_TICK_SECONDS
    lock = get_redis_connection("default").lock(
        f"{settings.PUSHPILOT_QUEUE_PREFIX}:{DISPATCH_LOCK}", timeout=max(30, tick * 4), blocking=False
    )
    if not lock.acquire(blocking=False):
        return {"skipped": "another dispatcher holds the lock"}
    try:
        report = dispatch.dispatch_due_jobs()
    finally:
        try:
            lock.release()
        except Exception:  # expired while we ran: harmless  # noqa: BLE001
            logger.warning("dispatch lock expired before release")
    return {"workspaces": report.workspaces, "claimed": report.claimed}


@app.task(base=WorkspaceTask, name="campaigns.run_job", bind=True, ignore_result=True)
def run_job(self, job_id: str) -> None:
    """A due occurrence: materialize its run, then fan it out (the last batch is sent inline)."""
    from campaigns import dispatch, fanout

    notification = dispatch.materialize_run(job_id=job_id)
    if notification is not None:
        fanout.fan_out(notification_id=notification.pk, owner=self.request.id or f"run-{job_id}")


@app.task(base=WorkspaceTask, name="campaigns.fan_out", bind=True, ignore_result=True)
def fan_out(self, notification_id: str) -> None:
    """Produce (or resume producing) a run's deliveries: API sends and the watchdog use this."""
    from campaigns import fanout

    fanout.fan_out(notification_id=notification_id, owner=self.request.id or f"fan-out-{notification_id}")


@app.task(base=WorkspaceTask, name="campaigns.send_batch", bind=True, ignore_result=True)
def send_batch(self, notification_id: str, batch_no: int) -> None:
    """One batch (≤ 500 messages) of a run; routed to the sends queue. The lease owner is the task
    id, which a redelivery of this message keeps: it takes its own half-done batch back at once."""
    from campaigns import fanout

    fanout.send_batch(
        notification_id=notification_id,
        batch_no=int(batch_no),
        owner=self.request.id or f"batch-{notification_id}-{batch_no}",
    )


@app.task(base=WorkspaceTask, name="campaigns.settle_stopped_run", ignore_result=True)
def settle_stopped_run(notification_id: str) -> None:
    """What a cancel request left of a big run: its unsent messages get the stop's outcome."""
    from campaigns import fanout

    fanout.stopped_run_settle(notification_id=notification_id)


@app.task(base=PublicTask, name="campaigns.housekeeping", ignore_result=True)
def housekeeping() -> int:
    """Hourly: one housekeeping task per workspace (delivery retention, expired subscriptions,
    idempotency keys, old jobs)."""
    return enqueue_for_every_workspace(workspace_housekeeping)


@app.task(base=WorkspaceTask, name="campaigns.workspace_housekeeping", ignore_result=True)
def workspace_housekeeping() -> dict:
    from campaigns import dispatch

    return vars(dispatch.workspace_housekeeping())
