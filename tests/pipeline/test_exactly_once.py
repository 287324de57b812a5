"""Exactly once, counted at the providers: two dispatchers racing, batch tasks published twice or run
concurrently, a redelivered task after a crash, a lost task re-driven by the watchdog, and a real
worker process killed in the middle of a batch and replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns import dispatch, fanout, tasks
from campaigns.models import Campaign
from campaigns.pipeline_models import Delivery, JobStatus, Notification, ScheduledJob
from tenants.models import Workspace
from tests.pipeline.support import (
    Pipeline,
    run_of,
    send_now_run,
    wait_for,
    wait_until_final,
    web_counts,
    web_subscribers,
)

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _exactly_once(fake_webpush, browsers, times: int = 1) -> None:
    counts = web_counts(fake_webpush)
    got = sorted(counts[b.endpoint] for b in browsers)
    assert got == [times] * len(browsers), got


def _due_campaigns(client, app, workspace, n: int) -> list[str]:
    """``n`` one-off campaigns whose jobs are pending and due now."""
    at = (timezone.now() + timedelta(days=1)).replace(microsecond=0).isoformat()
    ids = []
    for i in range(n):
        campaign = client.post(
            "/api/v1/campaigns/",
            {
                "name": f"Flash {i}",
                "channel_type": "web_push",
                "schedule_type": "scheduled",
                "app_id": str(app.pk),
            },
        ).json()
        client.post(f"/api/v1/campaigns/{campaign['id']}/contents/", {"title": f"Flash {i}", "body": "Now."})
        assert (
            client.post(f"/api/v1/campaigns/{campaign['id']}/schedule", {"scheduled_at": at}).status_code
            == 200
        )
        ids.append(campaign["id"])
    now = timezone.now()
    with schema_context(workspace.schema_name):
        ScheduledJob.objects.filter(campaign_id__in=ids).update(run_at=now)
        Campaign.objects.filter(pk__in=ids).update(scheduled_at=now)
    Workspace.objects.filter(pk=workspace.pk).update(next_run_at=now)
    return ids


@pytest.mark.usefixtures("celery_worker_thread")
def test_two_dispatchers_racing_send_every_occurrence_exactly_once(api, alice, ws_a, web_app, fake_webpush):
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 6)
    campaign_ids = _due_campaigns(api(user=alice, workspace=ws_a), web_app, ws_a, 4)
    barrier = threading.Barrier(2)
    reports = []

    def dispatcher():
        try:
            connection.set_schema_to_public()
            barrier.wait(5)
            # No Redis lock here: the database alone must keep the two apart.
            reports.append(dispatch.dispatch_due_jobs())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(r.claimed for r in reports) == 4

    def all_sent():
        with schema_context(ws_a.schema_name):
            runs = list(Notification.objects.filter(campaign_id__in=campaign_ids))
        return len(runs) == 4 and all(r.is_final for r in runs)

    wait_for(all_sent, message="four runs")
    _exactly_once(fake_webpush, browsers, times=4)
    with schema_context(ws_a.schema_name):
        assert sorted(
            ScheduledJob.objects.filter(campaign_id__in=campaign_ids).values_list("attempts", flat=True)
        ) == [1, 1, 1, 1]
        assert set(
            ScheduledJob.objects.filter(campaign_id__in=campaign_ids).values_list("status", flat=True)
        ) == {JobStatus.COMPLETED}


def test_the_beat_task_runs_one_dispatcher_at_a_time(ws_a):
    from django_redis import get_redis_connection

    lock = get_redis_connection("default").lock(
        f"{django_settings.PUSHPILOT_QUEUE_PREFIX}:{tasks.DISPATCH_LOCK}", timeout=30
    )
    assert lock.acquire(blocking=False)
    try:
        assert tasks.dispatch_due_jobs.apply().get() == {"skipped": "another dispatcher holds the lock"}
    finally:
        lock.release()
    assert tasks.dispatch_due_jobs.apply().get()["workspaces"] >= 0


@pytest.mark.usefixtures("celery_worker_thread")
def test_batch_tasks_published_twice_send_each_message_once(
    ws_a, web_app, fake_webpush, settings, monkeypatch
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 4
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 10)
    run = send_now_run(ws_a, web_app, target={"all": True})
    # Produce in this process without the inline batch, and publish every batch three times.
    real_publish = tasks.publish

    def triple(task, *args, **kwargs):
        for _ in range(3 if task is tasks.send_batch else 1):
            real_publish(task, *args, **kwargs)

    monkeypatch.setattr(tasks, "publish", triple)
    with schema_context(ws_a.schema_name):
        fanout.fan_out(notification_id=run.pk, owner="producer", send_inline=False)
    run = wait_until_final(ws_a, run.pk)
    assert (run.targeted, run.sent, run.batches_total) == (10, 10, 3)
    _exactly_once(fake_webpush, browsers)
    # A batch run once more, much later, finds nothing to claim.
    with schema_context(ws_a.schema_name):
        again = [fanout.send_batch(notification_id=run.pk, batch_no=b, owner="late") for b in range(3)]
    assert [r.claimed for r in again] == [0, 0, 0]
    _exactly_once(fake_webpush, browsers)


def test_two_workers_running_one_batch_at_once_send_it_once(
    ws_a, web_app, fake_webpush, settings, pipeline, monkeypatch
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 8
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 8)
    run = send_now_run(ws_a, web_app, target={"all": True})
    with schema_context(ws_a.schema_name):
        fanout.fan_out(notification_id=run.pk, owner="producer", send_inline=False)
    slow_send = fanout._transport_send

    def slow(transport, messages):
        time.sleep(0.3)  # both are inside the batch at the same time
        return slow_send(transport, messages)

    monkeypatch.setattr(fanout, "_transport_send", slow)
    barrier = threading.Barrier(2)
    claimed = []

    def worker(owner):
        try:
            barrier.wait(5)
            with schema_context(ws_a.schema_name):
                claimed.append(fanout.send_batch(notification_id=run.pk, batch_no=0, owner=owner).claimed)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(f"worker-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(claimed) == [0, 8]
    _exactly_once(fake_webpush, browsers)
    assert run_of(ws_a, run.pk).status == "sent"


class WorkerCrash(BaseException):
    """The process died: nothing after this point of the task happens."""


@pytest.mark.django_db
def test_a_redelivered_task_takes_its_own_lease_back_and_a_lost_one_is_redriven_after_the_lease(
    ws_a, web_app, fake_webpush, settings, monkeypatch
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 5
    settings.PUSHPILOT_SEND_LEASE_SECONDS = 60
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 10)
    start = timezone.now()
    pipeline = Pipeline(monkeypatch, clock=start)
    run = send_now_run(ws_a, web_app, target={"all": True})
    with schema_context(ws_a.schema_name):
        fanout.fan_out(notification_id=run.pk, owner="producer", now=start, send_inline=False)
    assert pipeline.names() == {"campaigns.fan_out": 1, "campaigns.send_batch": 2}
    real_send = fanout._transport_send
    crashes = {"left": 2}

    def crash_once_per_batch(transport, messages):
        if crashes["left"]:
            crashes["left"] -= 1
            raise WorkerCrash()
        return real_send(transport, messages)

    monkeypatch.setattr(fanout, "_transport_send", crash_once_per_batch)
    with schema_context(ws_a.schema_name):
        for batch in (0, 1):
            with pytest.raises(WorkerCrash):
                fanout.send_batch(notification_id=run.pk, batch_no=batch, owner=f"task-{batch}", now=start)
        leased = Delivery.objects.filter(notification_id=run.pk).exclude(lease_owner="").count()
    assert leased == 10 and web_counts(fake_webpush) == {}

    with schema_context(ws_a.schema_name):
        # Another task may not touch a live lease ...
        assert (
            fanout.send_batch(
                notification_id=run.pk, batch_no=0, owner="intruder", now=start + timedelta(seconds=5)
            ).claimed
            == 0
        )
        # ... but the redelivery of the same message (same task id) takes batch 0 back at once.
        assert (
            fanout.send_batch(
                notification_id=run.pk, batch_no=0, owner="task-0", now=start + timedelta(seconds=5)
            ).counts["sent"]
            == 5
        )

    # Batch 1's message died with its node: nothing is redelivered. After the lease, the
    # dispatcher's watchdog publishes the batch again and a fresh task sends it.
    pipeline.queue.clear()
    assert pipeline.tick(start + timedelta(seconds=30)).republished_batches == 0
    report = pipeline.tick(start + timedelta(seconds=61 + 60))
    assert report.republished_batches == 1
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert run.status == "sent" and run.sent == 10
    _exactly_once(fake_webpush, browsers)
    with schema_context(ws_a.schema_name):
        assert set(Delivery.objects.filter(notification_id=run.pk).values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db
def test_a_producer_that_died_is_resumed_by_the_watchdog(ws_a, web_app, fake_webpush, settings, monkeypatch):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 3
    settings.PUSHPILOT_SEND_LEASE_SECONDS = 60
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 10)
    start = timezone.now()
    pipeline = Pipeline(monkeypatch, clock=start)
    run = send_now_run(ws_a, web_app, target={"all": True})
    real_write = fanout._write_chunk
    written = {"n": 0}

    def die_after_two_chunks(*args, **kwargs):
        if written["n"] == 2:
            raise WorkerCrash()
        written["n"] += 1
        return real_write(*args, **kwargs)

    monkeypatch.setattr(fanout, "_write_chunk", die_after_two_chunks)
    with schema_context(ws_a.schema_name), pytest.raises(WorkerCrash):
        fanout.fan_out(notification_id=run.pk, owner="producer-1", now=start)
    monkeypatch.setattr(fanout, "_write_chunk", real_write)
    pipeline.queue.clear()  # the fan_out message was lost with the worker; the two batches were published
    with schema_context(ws_a.schema_name):
        for batch in (0, 1):
            fanout.send_batch(notification_id=run.pk, batch_no=batch, owner=f"b{batch}", now=start)
    assert sum(web_counts(fake_webpush).values()) == 6
    report = pipeline.tick(start + timedelta(seconds=121))
    assert report.producers == 1
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert (run.status, run.targeted, run.sent, run.batches_total) == ("sent", 10, 10, 4)
    _exactly_once(fake_webpush, browsers)


def test_a_job_claimed_by_the_tick_starts_at_its_due_second(
    api, alice, ws_a, web_app, fake_webpush, celery_worker_thread
):
    web_subscribers(ws_a, web_app, fake_webpush, 2)
    [campaign_id] = _due_campaigns(api(user=alice, workspace=ws_a), web_app, ws_a, 1)
    due = timezone.now() + timedelta(seconds=3)
    with schema_context(ws_a.schema_name):
        ScheduledJob.objects.filter(campaign_id=campaign_id).update(run_at=due)
        Campaign.objects.filter(pk=campaign_id).update(scheduled_at=due)
    Workspace.objects.filter(pk=ws_a.pk).update(next_run_at=due)
    # The tick runs 3 s before the due time and hands the job over with a countdown.
    assert dispatch.dispatch_due_jobs().claimed == 1

    def finished():
        with schema_context(ws_a.schema_name):
            run = Notification.objects.filter(campaign_id=campaign_id).first()
        return run if run and run.is_final else None

    run = wait_for(finished, timeout=15, message="the run")
    assert run.scheduled_for == due
    assert due <= run.first_sent_at <= due + timedelta(seconds=2), run.first_sent_at - due
    assert run.sent == 2


# ---------------------------------------------------------------------------------------------
# A real worker process, SIGKILLed in the middle of a batch.


def _worker_env(settings, block: Path, blocked: Path) -> dict:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "pushpilot.test_settings",
            "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
            f"{db['NAME']}",
            "PUSHPILOT_QUEUE_PREFIX": settings.PUSHPILOT_QUEUE_PREFIX,
            "REDIS_URL": settings.REDIS_URL,
            "PUSHPILOT_FCM_API_URL": settings.PUSHPILOT_FCM_API_URL,
            "PUSHPILOT_PUSH_CA_BUNDLE": settings.PUSHPILOT_PUSH_CA_BUNDLE or "",
            "PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS": ",".join(settings.PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS),
            "PUSHPILOT_SEND_BATCH_SIZE": str(settings.PUSHPILOT_SEND_BATCH_SIZE),
            "PP_TEST_BLOCK_FILE": str(block),
            "PP_TEST_BLOCKED_FILE": str(blocked),
        }
    )
    return env


def test_a_worker_killed_mid_batch_and_replaced_sends_every_message_exactly_once(
    ws_a, web_app, fake_webpush, settings
):
    from pushpilot.celery import app

    settings.PUSHPILOT_SEND_BATCH_SIZE = 5
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 15)
    app.control.purge()
    with tempfile.TemporaryDirectory() as tmp:
        block, blocked = Path(tmp) / "block", Path(tmp) / "blocked"
        block.write_text("armed")
        run = send_now_run(ws_a, web_app, target={"all": True})  # fan_out is in the broker now
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.pipeline.crash_worker"],
            cwd=ROOT,
            env=_worker_env(settings, block, blocked),
            start_new_session=True,
        )
        try:
            wait_for(blocked.exists, timeout=40, message="the worker to block mid-batch")
            child = int(wait_for(lambda: blocked.read_text().strip(), message="the child's pid"))
            with schema_context(ws_a.schema_name):
                leased = Delivery.objects.filter(notification_id=run.pk).exclude(lease_owner="").count()
            sent_before = sum(web_counts(fake_webpush).values())
            assert leased == 5 and sent_before == 5, (leased, sent_before)  # one batch done, one in hand
            os.kill(child, signal.SIGKILL)
            run = wait_until_final(ws_a, run.pk, timeout=40)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(5)
    assert (run.status, run.targeted, run.sent) == ("sent", 15, 15)
    _exactly_once(fake_webpush, browsers)
    with transaction.atomic(), schema_context(ws_a.schema_name):
        assert set(Delivery.objects.filter(notification_id=run.pk).values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db
def test_a_run_task_redelivered_after_dying_in_its_inline_batch_resumes_it_at_once(
    ws_a, web_app, fake_webpush, settings, pipeline, monkeypatch
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 5
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 7)
    run = send_now_run(ws_a, web_app, target={"all": True})
    real_send = fanout._transport_send
    calls = {"n": 0}

    def die_in_the_first_send(transport, messages):
        calls["n"] += 1
        if calls["n"] == 1:
            raise WorkerCrash()
        return real_send(transport, messages)

    monkeypatch.setattr(fanout, "_transport_send", die_in_the_first_send)
    with schema_context(ws_a.schema_name):
        with pytest.raises(WorkerCrash):  # the producer published batch 0 and died sending batch 1
            fanout.fan_out(notification_id=run.pk, owner="run-task-1")
        # The broker hands the same message (same task id) to the next worker.
        fanout.fan_out(notification_id=run.pk, owner="run-task-1")
    assert sum(web_counts(fake_webpush).values()) == 2  # batch 1, at once
    pipeline.run()  # batch 0's own task
    run = run_of(ws_a, run.pk)
    assert (run.status, run.sent) == ("sent", 7)
    _exactly_once(fake_webpush, browsers)
