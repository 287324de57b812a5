"""Beat → jobs → runs on a simulated clock: scheduled and recurring campaigns fire at the right
instants (across a DST change), COUNT and UNTIL end the campaign, cancel stops the next run,
downtime catches up within the grace window and records older runs as skipped."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns.models import Campaign
from campaigns.pipeline_models import JobStatus, Notification, ScheduledJob
from tenants.models import Workspace
from tests.pipeline.support import Pipeline, web_counts, web_subscribers

pytestmark = pytest.mark.django_db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def next_dst_change(zone: zoneinfo.ZoneInfo, after: date) -> date:
    """The first day after ``after`` whose noon has another UTC offset than the day before."""
    previous = datetime.combine(after, time(12), zone).utcoffset()
    for n in range(1, 370):
        day = after + timedelta(days=n)
        offset = datetime.combine(day, time(12), zone).utcoffset()
        if offset != previous:
            return day
        previous = offset
    raise AssertionError("no DST change within a year")


def _campaign(client, app, **schedule) -> dict:
    body = {
        "name": "Morning digest",
        "channel_type": "web_push",
        "app_id": str(app.pk),
        "schedule_type": schedule.pop("schedule_type", "recurring"),
    }
    campaign = client.post("/api/v1/campaigns/", body).json()
    made = client.post(
        f"/api/v1/campaigns/{campaign['id']}/contents/",
        {"title": 'Good morning {{ first_name|default:"friend" }}', "body": "Today's picks."},
    )
    assert made.status_code == 201, made.content
    if schedule:
        scheduled = client.post(f"/api/v1/campaigns/{campaign['id']}/schedule", schedule)
        assert scheduled.status_code == 200, scheduled.content
        return scheduled.json()
    return campaign


def _jobs(workspace, campaign_id) -> list[ScheduledJob]:
    with schema_context(workspace.schema_name):
        return list(ScheduledJob.objects.filter(campaign_id=campaign_id).order_by("run_at", "created_at"))


def _pending(workspace, campaign_id) -> ScheduledJob | None:
    return next((j for j in _jobs(workspace, campaign_id) if j.status == JobStatus.PENDING), None)


def _runs(workspace, campaign_id) -> list[Notification]:
    with schema_context(workspace.schema_name):
        return list(Notification.objects.filter(campaign_id=campaign_id).order_by("scheduled_for"))


def _campaign_row(workspace, campaign_id) -> Campaign:
    with schema_context(workspace.schema_name):
        return Campaign.objects.get(pk=campaign_id)


def _fire(pipeline: Pipeline, due: datetime) -> None:
    """A tick shortly before ``due``, then everything it published, at the simulated times."""
    assert pipeline.tick(due - timedelta(seconds=10)).claimed == 1
    pipeline.run()


def test_recurring_campaign_keeps_wall_clock_across_dst_and_count_ends_it(
    api, bob, ws_a, web_app, fake_webpush, monkeypatch
):
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 3)
    change = next_dst_change(NEW_YORK, timezone.now().date() + timedelta(days=3))
    first_day = change - timedelta(days=2)
    campaign = _campaign(
        api(user=bob, workspace=ws_a),
        web_app,
        scheduled_at=f"{first_day}T09:00:00",
        timezone="America/New_York",
        recurrence_rule="FREQ=DAILY;COUNT=4",
    )
    assert campaign["status"] == "scheduled"
    expected = [datetime.combine(first_day + timedelta(days=n), time(9), NEW_YORK) for n in range(4)]
    assert len({e.utcoffset() for e in expected}) == 2  # the rule really crosses the change
    pipeline = Pipeline(monkeypatch, clock=expected[0] - timedelta(hours=1))
    assert Workspace.objects.get(pk=ws_a.pk).next_run_at == expected[0]

    # An hour early, the tick has nothing to do; the index keeps pointing at the run.
    assert pipeline.tick(expected[0] - timedelta(minutes=5)).claimed == 0
    for n, due in enumerate(expected):
        job = _pending(ws_a, campaign["id"])
        assert job.run_at == due, (n, job.run_at, due)
        _fire(pipeline, due)
        assert _campaign_row(ws_a, campaign["id"]).last_run_at == due

    runs = _runs(ws_a, campaign["id"])
    assert [r.scheduled_for for r in runs] == expected
    assert [r.first_sent_at for r in runs] == expected  # sent at the due second, not at a tick
    assert {r.scheduled_for.astimezone(NEW_YORK).time() for r in runs} == {time(9)}
    assert [r.scheduled_for.astimezone(UTC).hour for r in runs] == [14, 14, 13, 13] or [
        r.scheduled_for.astimezone(UTC).hour for r in runs
    ] == [13, 13, 14, 14]
    assert all(r.status == "sent" and r.sent == 3 for r in runs)
    assert [web_counts(fake_webpush)[b.endpoint] for b in browsers] == [4, 4, 4]
    # COUNT=4: the fourth run leaves no next job and completes the campaign.
    assert _pending(ws_a, campaign["id"]) is None
    assert [j.status for j in _jobs(ws_a, campaign["id"])] == ["completed"] * 4
    row = _campaign_row(ws_a, campaign["id"])
    assert row.status == "completed" and row.next_run_at is None
    pipeline.tick(expected[-1] + timedelta(days=1))
    assert Workspace.objects.get(pk=ws_a.pk).next_run_at is None


def test_until_ends_a_recurring_campaign(api, alice, ws_a, web_app, fake_webpush, monkeypatch):
    web_subscribers(ws_a, web_app, fake_webpush, 2)
    day = timezone.now().date() + timedelta(days=5)
    campaign = _campaign(
        api(user=alice, workspace=ws_a),
        web_app,
        scheduled_at=f"{day}T18:00:00",
        timezone="Europe/Berlin",
        recurrence_rule=f"FREQ=HOURLY;INTERVAL=2;UNTIL={day:%Y%m%d}T225959",
    )
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    expected = [datetime.combine(day, time(h), berlin) for h in (18, 20, 22)]
    pipeline = Pipeline(monkeypatch, clock=expected[0] - timedelta(hours=1))
    for due in expected:
        assert _pending(ws_a, campaign["id"]).run_at == due
        _fire(pipeline, due)
    assert [r.scheduled_for for r in _runs(ws_a, campaign["id"])] == expected
    assert _pending(ws_a, campaign["id"]) is None
    assert _campaign_row(ws_a, campaign["id"]).status == "completed"


def test_one_off_campaign_runs_once_and_completes(api, alice, ws_a, web_app, fake_webpush, monkeypatch):
    [browser] = web_subscribers(ws_a, web_app, fake_webpush, 1)
    at = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    campaign = _campaign(
        api(user=alice, workspace=ws_a),
        web_app,
        schedule_type="scheduled",
        scheduled_at=at.isoformat(),
        timezone="Asia/Kolkata",
    )
    pipeline = Pipeline(monkeypatch, clock=at - timedelta(hours=1))
    _fire(pipeline, at)
    [run] = _runs(ws_a, campaign["id"])
    assert run.scheduled_for == at and run.status == "sent"
    assert web_counts(fake_webpush)[browser.endpoint] == 1
    assert _campaign_row(ws_a, campaign["id"]).status == "completed"
    assert pipeline.tick(at + timedelta(days=1)).claimed == 0


def test_cancel_stops_the_next_run(api, alice, ws_a, web_app, fake_webpush, monkeypatch):
    [browser] = web_subscribers(ws_a, web_app, fake_webpush, 1)
    day = timezone.now().date() + timedelta(days=3)
    client = api(user=alice, workspace=ws_a)
    campaign = _campaign(
        client, web_app, scheduled_at=f"{day}T08:00:00", timezone="UTC", recurrence_rule="FREQ=DAILY"
    )
    first = datetime.combine(day, time(8), UTC)
    pipeline = Pipeline(monkeypatch, clock=first - timedelta(hours=1))
    _fire(pipeline, first)
    second = _pending(ws_a, campaign["id"])
    assert second.run_at == first + timedelta(days=1)

    # The second occurrence is claimed (its run task waits in the broker) when the campaign is
    # cancelled: the task finds the job cancelled and sends nothing.
    assert pipeline.tick(second.run_at - timedelta(seconds=5)).claimed == 1
    assert client.post(f"/api/v1/campaigns/{campaign['id']}/cancel").status_code == 200
    pipeline.run()
    assert pipeline.tick(second.run_at + timedelta(days=1)).claimed == 0
    assert [j.status for j in _jobs(ws_a, campaign["id"])] == ["completed", "cancelled"]
    assert len(_runs(ws_a, campaign["id"])) == 1
    assert web_counts(fake_webpush)[browser.endpoint] == 1
    assert _campaign_row(ws_a, campaign["id"]).status == "cancelled"


def test_pause_and_resume_move_the_job(api, alice, ws_a, web_app, fake_webpush, monkeypatch):
    web_subscribers(ws_a, web_app, fake_webpush, 1)
    day = timezone.now().date() + timedelta(days=3)
    client = api(user=alice, workspace=ws_a)
    campaign = _campaign(
        client, web_app, scheduled_at=f"{day}T08:00:00", timezone="UTC", recurrence_rule="FREQ=DAILY"
    )
    assert client.post(f"/api/v1/campaigns/{campaign['id']}/pause").status_code == 200
    assert _pending(ws_a, campaign["id"]) is None
    Pipeline(monkeypatch, clock=datetime.combine(day, time(8), UTC)).tick()
    assert _runs(ws_a, campaign["id"]) == []
    assert client.post(f"/api/v1/campaigns/{campaign['id']}/resume").status_code == 200
    assert _pending(ws_a, campaign["id"]).run_at == datetime.combine(day, time(8), UTC)


def test_downtime_sends_late_runs_within_grace_and_records_older_ones_as_skipped(
    api, alice, ws_a, web_app, fake_webpush, monkeypatch, settings
):
    settings.PUSHPILOT_RUN_GRACE_SECONDS = 3600
    [browser] = web_subscribers(ws_a, web_app, fake_webpush, 1)
    day = timezone.now().date() + timedelta(days=4)
    campaign = _campaign(
        api(user=alice, workspace=ws_a),
        web_app,
        scheduled_at=f"{day}T06:00:00",
        timezone="UTC",
        recurrence_rule="FREQ=HOURLY",
    )
    start = datetime.combine(day, time(6), UTC)
    # The scheduler was down from before 06:00 until 09:30.
    pipeline = Pipeline(monkeypatch, clock=start + timedelta(hours=3, minutes=30))
    pipeline.tick()
    pipeline.run()
    jobs = {j.run_at: j.status for j in _jobs(ws_a, campaign["id"])}
    assert jobs == {
        start: "skipped",
        start + timedelta(hours=1): "skipped",
        start + timedelta(hours=2): "skipped",
        start + timedelta(hours=3): "completed",  # 30 minutes late: within the grace window
        start + timedelta(hours=4): "pending",
    }
    [run] = _runs(ws_a, campaign["id"])
    assert run.scheduled_for == start + timedelta(hours=3)
    assert run.first_sent_at == start + timedelta(hours=3, minutes=30)
    assert web_counts(fake_webpush)[browser.endpoint] == 1
    assert _campaign_row(ws_a, campaign["id"]).status in ("scheduled", "running")


def test_send_now_campaign_is_claimed_at_once_without_waiting_for_a_tick(
    api, alice, ws_a, web_app, fake_webpush, pipeline
):
    [browser] = web_subscribers(ws_a, web_app, fake_webpush, 1)
    client = api(user=alice, workspace=ws_a)
    campaign = _campaign(client, web_app, schedule_type="send_now")
    response = client.post(f"/api/v1/campaigns/{campaign['id']}/schedule", {})
    assert response.status_code == 200, response.content
    assert pipeline.names() == {"campaigns.run_job": 1}
    pipeline.run()
    [run] = _runs(ws_a, campaign["id"])
    assert run.status == "sent" and web_counts(fake_webpush)[browser.endpoint] == 1
    assert _campaign_row(ws_a, campaign["id"]).status == "completed"


def test_the_tick_reads_only_due_workspaces(ws_a, ws_b, web_app, monkeypatch):
    from django.db import connection

    from campaigns import dispatch

    Workspace.objects.filter(pk=ws_b.pk).update(next_run_at=None)
    Workspace.objects.filter(pk=ws_a.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    visited = dispatch.dispatch_due_jobs()
    assert visited.schemas == [ws_a.schema_name]
    # Nothing pending: the index is cleared, so the next tick skips the workspace entirely.
    assert Workspace.objects.get(pk=ws_a.pk).next_run_at is None
    assert dispatch.dispatch_due_jobs().workspaces == 0
    assert connection.schema_name == "public"


def test_beat_runs_the_dispatcher_every_tick_and_the_housekeeping_hourly(settings):
    from pushpilot.celery import app

    by_task = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert by_task["campaigns.dispatch_due_jobs"]["schedule"] == settings.PUSHPILOT_SCHEDULER_TICK_SECONDS
    # A tick that could not run in time is dropped, not piled up behind the next one.
    assert (
        by_task["campaigns.dispatch_due_jobs"]["options"]["expires"]
        <= settings.PUSHPILOT_SCHEDULER_TICK_SECONDS
    )
    for name in ("campaigns.housekeeping", "tenants.expire_invitations"):
        assert by_task[name]["schedule"] <= 3600, name
    app.loader.import_default_modules()
    assert set(by_task) <= set(app.tasks), set(by_task) - set(app.tasks)
