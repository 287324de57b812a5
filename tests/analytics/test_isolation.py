"""One workspace's analytics never show in, or are pruned by, another's: the summary reads its own
schema, and the housekeeping task (run by a real worker, one task per workspace) prunes each
workspace's own old events only."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from analytics.models import AnalyticsEvent
from analytics.tasks import housekeeping
from tests.pipeline.support import send_now_run, wait_for, web_subscribers


def _event(workspace, *, days_old: int) -> int:
    with schema_context(workspace.schema_name):
        at = timezone.now() - timedelta(days=days_old)
        return AnalyticsEvent.objects.create(
            event_type="clicked",
            delivery_id=uuid.uuid4(),
            notification_id=uuid.uuid4(),
            occurred_at=at,
            received_at=at,
        ).pk


def _event_ids(workspace) -> set[int]:
    with schema_context(workspace.schema_name):
        return set(AnalyticsEvent.objects.values_list("pk", flat=True))


@pytest.mark.django_db
def test_the_summary_counts_only_its_own_workspace(
    ws_a, ws_b, web_app, fake_webpush, pipeline, api, alice, charlie
):
    web_subscribers(ws_a, web_app, fake_webpush, 3)
    send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    assert (
        api(user=alice, workspace=ws_a).get("/api/v1/analytics/summary").json()["total_notifications_sent"]
        == 3
    )
    theirs = api(user=charlie, workspace=ws_b).get("/api/v1/analytics/summary").json()
    assert theirs["total_notifications_sent"] == 0 and theirs["connected_applications_count"] == 0
    assert [d["sent"] for d in theirs["trend_30d"]] == [0] * 30


@pytest.mark.usefixtures("celery_worker_thread")
def test_housekeeping_prunes_each_workspace_in_its_own_schema(ws_a, ws_b, settings):
    old = settings.PUSHPILOT_ANALYTICS_RETENTION_DAYS + 1
    old_a, new_a = _event(ws_a, days_old=old), _event(ws_a, days_old=1)
    old_b, new_b = _event(ws_b, days_old=old), _event(ws_b, days_old=1)

    assert housekeeping.apply().get() >= 2  # one workspace task each, published to the worker

    wait_for(lambda: old_a not in _event_ids(ws_a) and old_b not in _event_ids(ws_b), message="both pruned")
    assert _event_ids(ws_a) == {new_a}
    assert _event_ids(ws_b) == {new_b}
