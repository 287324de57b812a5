"""Cancelling a run that has started: ``POST /campaigns/{id}/cancel`` while its Notification is being
fanned out, and ``POST /notifications/{id}/cancel`` for any run (an API send included). Nothing is
sent after the cancel except a batch already at the provider; every other message ends
``suppressed`` with reason ``cancelled``, the counters add up and the run ends ``cancelled``."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns import dispatch, fanout
from campaigns.pipeline_models import Delivery
from tenants.models import Role
from tests.pipeline.support import (
    Pipeline,
    assert_adds_up,
    run_of,
    send_now_campaign,
    send_now_run,
    wait_for,
    wait_until_final,
    web_counts,
    web_subscribers,
)
from tests.tenants.support import assert_error

pytestmark = pytest.mark.django_db


def _statuses(workspace, run_id) -> dict:
    with schema_context(workspace.schema_name):
        return {
            (d.subscriber_id, d.batch_no): (d.status, d.error_code)
            for d in Delivery.objects.filter(notification_id=run_id)
        }


def _fanned_out(client, campaign, pipeline, workspace):
    """Schedule a send-now campaign and run its run task's producer without the inline batch: every
    batch is written and published, none sent."""
    assert client.post(f"/api/v1/campaigns/{campaign['id']}/schedule").status_code == 200
    assert pipeline.names() == {"campaigns.run_job": 1}
    [job_task] = pipeline.queue
    pipeline.queue.clear()
    with schema_context(workspace.schema_name):
        run = dispatch.materialize_run(job_id=job_task.args[0])
        fanout.fan_out(notification_id=run.pk, owner="producer", send_inline=False)
    return run


def test_cancelling_a_campaign_mid_fan_out_sends_none_of_the_batches_not_yet_sent(
    api, alice, ws_a, web_app, fake_webpush, settings, monkeypatch
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 2
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 7)
    client = api(user=alice, workspace=ws_a)
    campaign = send_now_campaign(client, web_app)
    pipeline = Pipeline(monkeypatch)
    # The run task materializes the run and its producer writes and publishes every batch; the
    # workers have taken one of them when the marketer presses cancel.
    run = _fanned_out(client, campaign, pipeline, ws_a)
    with schema_context(ws_a.schema_name):
        fanout.send_batch(notification_id=run.pk, batch_no=0, owner="worker-1")
    assert pipeline.names()["campaigns.send_batch"] == 4
    assert sum(web_counts(fake_webpush).values()) == 2

    response = client.post(f"/api/v1/campaigns/{campaign['id']}/cancel")

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    run = run_of(ws_a, run.pk)
    assert (run.status, run.stop_reason) == ("cancelled", "cancelled")
    assert (run.targeted, run.sent, run.suppressed, run.failed) == (7, 2, 5, 0)
    assert_adds_up(run)
    pipeline.run()  # the batches published before the cancel reach the workers: they send nothing
    assert sum(web_counts(fake_webpush).values()) == 2
    assert max(web_counts(fake_webpush).values()) == 1
    statuses = _statuses(ws_a, run.pk)
    assert sorted(v for (_s, batch), v in statuses.items() if batch == 0) == [("sent", "")] * 2
    assert sorted(v for (_s, batch), v in statuses.items() if batch > 0) == [("suppressed", "cancelled")] * 5
    assert {b.pk for b in browsers} == {s for s, _b in statuses}
    detail = client.get(f"/api/v1/notifications/{run.pk}").json()
    assert detail["status"] == "cancelled" and detail["counts"]["pending"] == 0
    assert {"status": "suppressed", "code": "cancelled", "count": 5} in detail["failure_reasons"]


def test_cancelling_a_big_run_answers_at_once_and_a_task_settles_the_rest(
    api, alice, ws_a, web_app, fake_webpush, settings, monkeypatch
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 2
    settings.PUSHPILOT_CANCEL_INLINE_ROWS = 3  # a request settles 3 messages itself
    web_subscribers(ws_a, web_app, fake_webpush, 7)
    client = api(user=alice, workspace=ws_a)
    campaign = send_now_campaign(client, web_app)
    pipeline = Pipeline(monkeypatch)
    run = _fanned_out(client, campaign, pipeline, ws_a)
    assert pipeline.names() == {"campaigns.send_batch": 4}
    pipeline.queue.clear()  # the batches' tasks are lost: only the hand-off can finish the run

    response = client.post(f"/api/v1/notifications/{run.pk}/cancel")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["stop_reason"]) == ("sending", "cancelled")
    assert body["counts"]["suppressed"] == 3 and body["counts"]["pending"] == 4
    assert pipeline.names() == {"campaigns.settle_stopped_run": 1}
    assert [t.schema for t in pipeline.queue] == [ws_a.schema_name]
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert (run.status, run.stop_reason, run.suppressed, run.sent) == ("cancelled", "cancelled", 7, 0)
    assert_adds_up(run)
    assert not fake_webpush.received
    with schema_context(ws_a.schema_name):
        # The task again (a redelivery) finds nothing left to do.
        assert fanout.stopped_run_settle(notification_id=run.pk) == 0


def test_cancelling_a_throttled_campaign_stops_the_batches_waiting_in_the_database(
    api, alice, ws_a, web_app, fake_webpush, settings, monkeypatch
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 2
    web_subscribers(ws_a, web_app, fake_webpush, 6)
    client = api(user=alice, workspace=ws_a)
    campaign = send_now_campaign(client, web_app, throttle_per_minute=2)
    start = timezone.now()
    pipeline = Pipeline(monkeypatch, clock=start)
    assert client.post(f"/api/v1/campaigns/{campaign['id']}/schedule").status_code == 200
    pipeline.run()  # batch 0 goes at once; batches 1 and 2 are due in one and two minutes
    [run_id] = [
        r["id"] for r in client.get("/api/v1/notifications", {"campaign": campaign["id"]}).json()["results"]
    ]
    run = run_of(ws_a, run_id)
    assert (run.status, run.sent, run.retry_at) == ("sending", 2, start + timedelta(seconds=60))

    assert client.post(f"/api/v1/campaigns/{campaign['id']}/cancel").status_code == 200

    for minute in (1, 2, 3):
        pipeline.tick(start + timedelta(minutes=minute))
        pipeline.run()
    run = run_of(ws_a, run_id)
    assert (run.status, run.sent, run.suppressed, run.targeted) == ("cancelled", 2, 4, 6)
    assert sum(web_counts(fake_webpush).values()) == 2


def test_a_run_cancelled_before_its_fan_out_targets_no_one(ws_a, web_app, fake_webpush, pipeline):
    web_subscribers(ws_a, web_app, fake_webpush, 3)
    run = send_now_run(ws_a, web_app, target={"all": True})
    with schema_context(ws_a.schema_name):
        assert fanout.run_cancel(notification_id=run.pk) is True
        assert fanout.run_cancel(notification_id=run.pk) is False  # once
    pipeline.run()  # the fan-out task that was waiting in the broker
    run = run_of(ws_a, run.pk)
    assert (run.status, run.targeted, run.sent, run.fanout_complete) == ("cancelled", 0, 0, True)
    assert not fake_webpush.received


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker_thread")
def test_cancel_through_the_api_stops_an_api_send_while_a_batch_is_at_the_provider(
    api, api_key_for, ws_a, web_app, fake_webpush, settings, monkeypatch
):
    """The push service answers slowly: the cancel arrives while the first batch waits for it."""
    settings.PUSHPILOT_SEND_BATCH_SIZE = 3
    monkeypatch.setattr(fake_webpush, "slow_seconds", 1.5)
    web_subscribers(ws_a, web_app, fake_webpush, 9, fault="slow")
    client = api(api_key=api_key_for(ws_a, scopes=["send", "read"]))
    response = client.post(
        "/api/v1/notifications/send-now",
        {"app_id": str(web_app.pk), "title": "Flash", "body": "Now.", "target": {"all": True}},
    )
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]

    # Leased is not enough (the last check before the provider call would still stop the batch):
    # wait until the push service holds the batch's requests.
    wait_for(
        lambda: fake_webpush.counters["fault_slow"] == 3,
        timeout=20,
        interval=0.01,
        message="a batch at the provider",
    )
    cancelled = client.post(f"/api/v1/notifications/{run_id}/cancel")

    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["stop_reason"] == "cancelled"
    run = wait_until_final(ws_a, run_id)
    assert run.status == "cancelled"
    assert (run.targeted, run.sent, run.suppressed) == (9, 3, 6)
    assert_adds_up(run)
    time.sleep(0.5)  # the batches published before the cancel have reached the worker by now
    assert fake_webpush.counters["fault_slow"] == 3  # the batch in flight, nothing after it
    statuses = _statuses(ws_a, run_id)
    sent_batches = {batch for (_s, batch), (status, _c) in statuses.items() if status == "sent"}
    assert len(sent_batches) == 1
    assert (
        sorted(v for (_s, b), v in statuses.items() if b not in sent_batches)
        == [("suppressed", "cancelled")] * 6
    )
    assert_error(client.post(f"/api/v1/notifications/{run_id}/cancel"), 409, "notification_not_cancellable")


def test_who_may_cancel_a_run(api, api_key_for, member_with_role, ws_a, ws_b, charlie, web_app, pipeline):
    run = send_now_run(ws_a, web_app, target={"all": True})
    url = f"/api/v1/notifications/{run.pk}/cancel"
    assert_error(api(user=member_with_role(Role.VIEWER), workspace=ws_a).post(url), 403)
    assert_error(api(api_key=api_key_for(ws_a, scopes=["read"])).post(url), 403)
    assert_error(api(user=charlie, workspace=ws_b).post(url), 404, "not_found")
    assert_error(api(api_key=api_key_for(ws_b, scopes=["send"])).post(url), 404, "not_found")
    assert_error(
        api(user=member_with_role(Role.MEMBER), workspace=ws_a).post(
            f"/api/v1/notifications/{ws_a.pk}/cancel"
        ),
        404,
    )
    assert run_of(ws_a, run.pk).status == "queued"
    response = api(user=member_with_role(Role.MEMBER), workspace=ws_a).post(url)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
