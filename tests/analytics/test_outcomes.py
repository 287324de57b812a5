"""What the pipeline writes outside a batch's outcome reaches analytics too: messages suppressed when
the run is produced, messages a stopped run never sends (failed, with a `failed` event each) and
those of a cancelled run (suppressed). The rollups then agree with the run's counters."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from analytics.models import AnalyticsEvent
from campaigns import fanout
from campaigns.pipeline_models import Delivery
from integrations import services as integration_services
from tests.analytics.support import post_events, rollup_totals, token_for
from tests.pipeline.support import fcm_subscribers, run_of, send_now_run, web_subscribers

pytestmark = pytest.mark.django_db

OUTCOMES = ("sent", "failed", "invalid", "suppressed")


def _outcome_rollups(workspace, run_id) -> dict:
    return {k: v for k, v in rollup_totals(workspace, notification_id=run_id).items() if k in OUTCOMES}


def test_a_stopped_run_writes_a_failed_event_for_every_message_it_never_sent(
    ws_a, fcm_app, fake_fcm, pipeline, settings
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 3
    good = fcm_subscribers(ws_a, fcm_app, 9)
    [gone] = fcm_subscribers(ws_a, fcm_app, 1, prefix="gone")
    with schema_context(ws_a.schema_name):
        integration_services.subscriber_unsubscribe(subscriber=gone)
    run = send_now_run(ws_a, fcm_app, target={"subscriber_ids": [str(s.pk) for s in [*good, gone]]})
    fake_fcm.fault_all = "mismatch"  # the first batch is refused: the run stops, the rest never leaves
    pipeline.run()

    run = run_of(ws_a, run.pk)
    assert run.stop_reason == "credentials_invalid"
    assert (run.targeted, run.sent, run.failed, run.invalid, run.suppressed) == (10, 0, 9, 0, 1)
    with schema_context(ws_a.schema_name):
        failed = list(AnalyticsEvent.objects.filter(event_type="failed", notification_id=run.pk))
        failed_deliveries = set(
            Delivery.objects.filter(notification_id=run.pk, status="failed").values_list("id", flat=True)
        )
    assert {e.delivery_id for e in failed} == failed_deliveries and len(failed) == 9
    assert {e.metadata_json["error_code"] for e in failed} == {"credentials_invalid"}
    assert _outcome_rollups(ws_a, run.pk) == {"failed": 9, "suppressed": 1}


def test_a_cancelled_run_rolls_up_its_suppressed_messages_and_never_counts_their_events(
    ws_a, web_app, fake_webpush, pipeline
):
    web_subscribers(ws_a, web_app, fake_webpush, 4)
    run = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.settle()
    with schema_context(ws_a.schema_name):
        fanout.fan_out(notification_id=run.pk, owner="producer", send_inline=False)
        [first, *_rest] = Delivery.objects.filter(notification_id=run.pk).values_list("id", flat=True)
    # The browser reports before the worker recorded anything; then the run is cancelled.
    assert (
        post_events(web_app, [{"delivery": token_for(ws_a, first), "type": "delivered"}]).json()["accepted"]
        == 1
    )
    with schema_context(ws_a.schema_name):
        assert fanout.run_cancel(notification_id=run.pk)
    pipeline.run()

    run = run_of(ws_a, run.pk)
    assert (run.status, run.targeted, run.suppressed) == ("cancelled", 4, 4)
    assert _outcome_rollups(ws_a, run.pk) == {"suppressed": 4}
    assert "delivered" not in rollup_totals(ws_a, notification_id=run.pk)
    with schema_context(ws_a.schema_name):
        assert not AnalyticsEvent.objects.filter(event_type="failed").exists()


def test_messages_failed_when_the_run_is_produced_get_their_failed_events(
    ws_a, web_app, fake_webpush, pipeline
):
    """A run already stopped (its app refused by the provider) when its audience is written: the
    producer writes every active recipient as failed at once."""
    web_subscribers(ws_a, web_app, fake_webpush, 3)
    run = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.settle()
    with schema_context(ws_a.schema_name):
        fanout._stop_run(run, "vapid_rejected", "The push service refused our VAPID key.")
        fanout.fan_out(notification_id=run.pk, owner="producer")
    run = run_of(ws_a, run.pk)
    assert (run.status, run.targeted, run.failed) == ("failed", 3, 3)
    assert fake_webpush.counters["messages"] == 0
    with schema_context(ws_a.schema_name):
        failed = AnalyticsEvent.objects.filter(event_type="failed", notification_id=run.pk)
        assert {e.metadata_json["error_code"] for e in failed} == {"vapid_rejected"}
        assert failed.count() == 3
    assert _outcome_rollups(ws_a, run.pk) == {"failed": 3}
