"""GET /api/v1/analytics/summary ("today" in the workspace's timezone, counts that outlive delivery
rows) and the retention of raw events (rollups kept)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django_tenants.utils import schema_context

from analytics import selectors, services
from analytics.models import AnalyticsEvent, HourlyRollup, SentTally
from analytics.tasks import housekeeping
from campaigns.pipeline_models import Delivery
from tests.analytics.support import Tokens, post_events, rollup_totals
from tests.pipeline.support import Pipeline, send_now_run, web_subscribers

pytestmark = pytest.mark.django_db


def _send_at(monkeypatch, workspace, app, when: datetime, count: int) -> None:
    """A run whose messages the provider accepts at ``when`` (the pipeline's simulated clock)."""
    pipeline = Pipeline(monkeypatch, clock=when)
    run = send_now_run(workspace, app, target={"all": True})
    pipeline.run()
    with schema_context(workspace.schema_name):
        assert Delivery.objects.filter(notification_id=run.pk, status="sent").count() == count


def test_today_counts_messages_sent_since_local_midnight_in_the_workspace_timezone(
    ws_a, web_app, fake_webpush, monkeypatch, api, alice
):
    web_subscribers(ws_a, web_app, fake_webpush, 2)
    # 23:30 and 00:30 in Kolkata (UTC+05:30) are 18:00 and 19:00 UTC on the same UTC day.
    _send_at(monkeypatch, ws_a, web_app, datetime.fromisoformat("2026-03-10T18:00:00+00:00"), 2)
    _send_at(monkeypatch, ws_a, web_app, datetime.fromisoformat("2026-03-10T19:00:00+00:00"), 2)
    now = datetime.fromisoformat("2026-03-10T20:00:00+00:00")

    ws_a.timezone = "Asia/Kolkata"
    with schema_context(ws_a.schema_name):
        summary = selectors.workspace_summary(workspace=ws_a, now=now)
    assert summary["total_notifications_sent"] == 4
    assert summary["today_notifications"] == 2
    assert summary["trend_7d"][-2:] == [{"date": "2026-03-10", "sent": 2}, {"date": "2026-03-11", "sent": 2}]
    assert len(summary["trend_30d"]) == 30 and sum(d["sent"] for d in summary["trend_30d"]) == 4

    ws_a.timezone = "UTC"
    with schema_context(ws_a.schema_name):
        summary = selectors.workspace_summary(workspace=ws_a, now=now)
    assert summary["today_notifications"] == 4
    assert summary["trend_7d"][-1] == {"date": "2026-03-10", "sent": 4}

    ws_a.timezone = "America/Los_Angeles"  # 11:00 and 12:00 on March 10 there
    with schema_context(ws_a.schema_name):
        summary = selectors.workspace_summary(workspace=ws_a, now=now)
    assert summary["today_notifications"] == 4

    # Through the API (real clock: those sends were months ago).
    response = api(user=alice, workspace=ws_a).get("/api/v1/analytics/summary")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["total_notifications_sent"] == 4 and body["today_notifications"] == 0
    assert body["connected_applications_count"] == 1 and body["active_campaign_count"] == 0
    assert body["next_notification_time"] is None
    assert [d["sent"] for d in body["trend_7d"]] == [0] * 7


def test_summary_counts_survive_delivery_pruning(ws_a, web_app, fake_webpush, pipeline, api, alice):
    web_subscribers(ws_a, web_app, fake_webpush, 3)
    send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    with schema_context(ws_a.schema_name):
        Delivery.objects.all().delete()  # what delivery retention does, months later
    body = api(user=alice, workspace=ws_a).get("/api/v1/analytics/summary").json()
    assert body["total_notifications_sent"] == 3 and body["today_notifications"] == 3
    assert body["trend_30d"][-1]["sent"] == 3


def test_summary_next_run_and_active_campaigns(ws_a, web_app, api, alice):
    client = api(user=alice, workspace=ws_a)
    campaign = client.post(
        "/api/v1/campaigns/",
        {
            "name": "Later",
            "channel_type": "web_push",
            "schedule_type": "scheduled",
            "app_id": str(web_app.pk),
        },
    ).json()
    client.post(f"/api/v1/campaigns/{campaign['id']}/contents/", {"title": "Soon", "body": "Soon."})
    at = (datetime.now().astimezone() + timedelta(days=2)).replace(microsecond=0)
    scheduled = client.post(
        f"/api/v1/campaigns/{campaign['id']}/schedule", {"scheduled_at": at.isoformat(), "timezone": "UTC"}
    )
    assert scheduled.status_code == 200, scheduled.content
    body = client.get("/api/v1/analytics/summary").json()
    assert body["active_campaign_count"] == 1
    assert datetime.fromisoformat(body["next_notification_time"]) == at


def test_retention_prunes_raw_events_and_keeps_rollups(ws_a, web_app, fake_webpush, pipeline, settings):
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 2)
    send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    tokens = Tokens.from_webpush(fake_webpush)
    post_events(web_app, [{"delivery": tokens.of(b), "type": "clicked"} for b in browsers])
    before = rollup_totals(ws_a)
    assert before["clicked"] == 2 and before["sent"] == 2
    with schema_context(ws_a.schema_name):
        # One event is older than the retention (90 days by default).
        old = AnalyticsEvent.objects.filter(event_type="clicked").first()
        AnalyticsEvent.objects.filter(pk=old.pk).update(
            received_at=old.received_at - timedelta(days=settings.PUSHPILOT_ANALYTICS_RETENTION_DAYS + 1)
        )
        report = services.events_prune(chunk=1)
        assert report.events_deleted == 1
        assert AnalyticsEvent.objects.count() == 5  # 2 x (clicked, opened, delivered) - 1
        assert SentTally.objects.exists() and HourlyRollup.objects.exists()
    assert rollup_totals(ws_a) == before
    # The beat task fans out one housekeeping task per workspace.
    assert housekeeping.apply().get() >= 1
