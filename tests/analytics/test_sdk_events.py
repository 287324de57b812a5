"""POST /sdk/v1/events: only genuine tokens of this app's deliveries count, each (delivery, type)
once; a bad event is rejected alone; a malformed body is a 400."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from analytics import services
from analytics.models import AnalyticsEvent
from campaigns import fanout
from campaigns.pipeline_models import Delivery
from tests.analytics.support import (
    Tokens,
    counted_events,
    make_campaign,
    post_events,
    rollup_totals,
    send_campaign,
    token_for,
)
from tests.pipeline.support import make_web_app, send_now_run, web_subscribers
from tests.tenants.support import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(api, alice, ws_a, web_app, fake_webpush, pipeline):
    client = api(user=alice, workspace=ws_a)
    campaign = make_campaign(client, web_app)
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 3)
    run_id = send_campaign(client, web_app, campaign, pipeline)
    return {
        "client": client,
        "campaign": campaign,
        "run_id": run_id,
        "browsers": browsers,
        "tokens": Tokens.from_webpush(fake_webpush),
    }


def _results(response) -> list[dict]:
    assert response.status_code == 202, response.content
    return response.json()["results"]


def test_a_replayed_event_is_a_duplicate_and_counts_once(delivered, ws_a, web_app):
    token = delivered["tokens"].of(delivered["browsers"][0])
    first = post_events(
        web_app, [{"delivery": token, "type": "clicked"}, {"delivery": token, "type": "clicked"}]
    )
    assert first.json()["accepted"] == 1 and first.json()["duplicates"] == 1
    again = post_events(
        web_app, [{"token": token, "type": "clicked"}, {"delivery": token, "type": "delivered"}]
    )
    # `delivered` was implied by the click already.
    assert [r["status"] for r in _results(again)] == ["duplicate", "duplicate"]
    assert rollup_totals(ws_a)["clicked"] == 1
    assert rollup_totals(ws_a)["delivered"] == 1 and rollup_totals(ws_a)["opened"] == 1
    with schema_context(ws_a.schema_name):
        assert AnalyticsEvent.objects.filter(event_type="clicked").count() == 1


def test_forged_tampered_and_foreign_tokens_are_rejected_alone(
    delivered, ws_a, ws_b, web_app, fake_webpush, pipeline
):
    browsers, tokens = delivered["browsers"], delivered["tokens"]
    genuine = tokens.of(browsers[0])
    workspace_hex, _delivery_hex = genuine.split(":")[0].split(".")
    genuine_delivery = fanout.delivery_token_read(genuine)[1]
    with schema_context(ws_a.schema_name):
        delivery_id = (
            Delivery.objects.filter(notification_id=delivered["run_id"])
            .exclude(pk=genuine_delivery)
            .values_list("id", flat=True)
            .first()
        )
    # Signed with another key, or a signature moved onto another delivery id: not ours.
    forged = signing.Signer(key="not-the-server-key", salt=fanout.DELIVERY_TOKEN_SALT).sign(
        f"{ws_a.pk.hex}.{delivery_id.hex}"
    )
    moved = f"{workspace_hex}.{delivery_id.hex}:{genuine.split(':')[1]}"
    tampered = genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB")
    unknown = token_for(ws_a, uuid.uuid4())  # genuine signature, no such delivery here
    other_app = make_web_app(ws_a, name="Blog")
    # A delivery of workspace B, with B's genuine token, posted with A's key.
    b_app = make_web_app(ws_b, name="Beta site")
    [b_browser] = web_subscribers(ws_b, b_app, fake_webpush, 1)
    b_run = send_now_run(ws_b, b_app, target={"all": True})
    pipeline.run()
    b_token = Tokens.from_webpush(fake_webpush, b_run.pk).of(b_browser)

    results = _results(
        post_events(
            web_app,
            [
                {"delivery": forged, "type": "clicked"},
                {"delivery": moved, "type": "clicked"},
                {"delivery": tampered, "type": "clicked"},
                {"delivery": unknown, "type": "clicked"},
                {"delivery": b_token, "type": "clicked"},
                {"delivery": "", "type": "clicked"},
                {"delivery": 42, "type": "clicked"},
                {"type": "clicked"},
                {"delivery": genuine, "type": "failed"},  # only the pipeline writes `failed`
                {"delivery": genuine, "type": "exploded"},
                {"delivery": genuine, "type": "opened", "occurred_at": "last tuesday"},
                {"delivery": genuine, "type": "opened", "metadata": ["not", "an", "object"]},
                {"delivery": genuine, "type": "delivered"},
            ],
        )
    )
    assert [(r["status"], r.get("reason")) for r in results] == [
        ("rejected", "invalid_token"),
        ("rejected", "invalid_token"),
        ("rejected", "invalid_token"),
        ("rejected", "unknown_delivery"),
        ("rejected", "invalid_token"),
        ("rejected", "invalid_token"),
        ("rejected", "invalid_token"),
        ("rejected", "invalid_token"),
        ("rejected", "unknown_type"),
        ("rejected", "unknown_type"),
        ("rejected", "invalid_occurred_at"),
        ("rejected", "invalid_metadata"),
        ("accepted", None),
    ]
    # B's key with A's genuine token: rejected, and nothing lands in either workspace.
    assert [
        r["reason"] for r in _results(post_events(b_app, [{"delivery": genuine, "type": "clicked"}]))
    ] == ["invalid_token"]
    # Another app of the same workspace cannot report on this app's deliveries.
    assert [
        r["reason"] for r in _results(post_events(other_app, [{"delivery": genuine, "type": "clicked"}]))
    ] == ["wrong_app"]
    assert counted_events(ws_a) == {"delivered": 1}
    assert counted_events(ws_b) == {}
    assert rollup_totals(ws_b) == {"sent": 1}


def test_an_event_before_the_outcome_is_recorded_waits_and_counts_with_its_variant(
    ws_a, web_app, fake_webpush, pipeline, api, alice
):
    """A browser can show a push (and report it) before the worker has written the batch as sent."""
    client = api(user=alice, workspace=ws_a)
    campaign = make_campaign(client, web_app, variants=(("A", 1, "Only A"),))
    web_subscribers(ws_a, web_app, fake_webpush, 2)
    run = client.post(
        "/api/v1/notifications/send-now",
        {"app_id": str(web_app.pk), "campaign_id": campaign["id"], "target": {"all": True}},
    )
    assert run.status_code == 202, run.content
    run_id = run.json()["id"]
    pipeline.settle()
    # Produce the deliveries without sending them yet.
    with schema_context(ws_a.schema_name):
        fanout.fan_out(notification_id=run_id, owner="producer", send_inline=False)
        queued = list(Delivery.objects.filter(notification_id=run_id).values_list("id", "status"))
    assert {status for _id, status in queued} == {"queued"}
    early = post_events(web_app, [{"delivery": token_for(ws_a, queued[0][0]), "type": "delivered"}])
    assert early.json()["accepted"] == 1
    assert rollup_totals(ws_a).get("delivered") is None  # stored, not counted yet
    pipeline.run()
    stats = client.get(f"/api/v1/analytics/campaign/{campaign['id']}").json()
    assert stats["sent"] == 2 and stats["delivered"] == 1
    assert {r["variant"]: r["delivered"] for r in stats["breakdown"]["variant"]} == {"A": 1}
    # And once the delivery is sent, a late duplicate changes nothing.
    assert (
        post_events(web_app, [{"delivery": token_for(ws_a, queued[0][0]), "type": "delivered"}]).json()[
            "duplicates"
        ]
        == 1
    )
    assert rollup_totals(ws_a)["delivered"] == 1


def test_events_of_a_delivery_that_was_not_sent_are_rejected(ws_a, web_app, fake_webpush, pipeline):
    web_subscribers(ws_a, web_app, fake_webpush, 1, fault="410")
    run = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    with schema_context(ws_a.schema_name):
        delivery = Delivery.objects.get(notification_id=run.pk)
    assert delivery.status == "invalid"
    results = _results(
        post_events(web_app, [{"delivery": token_for(ws_a, delivery.pk), "type": "delivered"}])
    )
    assert results[0]["reason"] == "not_sent"


def test_metadata_postgresql_cannot_store_is_rejected_alone(delivered, ws_a, web_app):
    token = delivered["tokens"].of(delivered["browsers"][0])
    # Valid JSON (escaped by json.dumps) that jsonb refuses: a NUL character, an unpaired surrogate.
    events = [
        {"delivery": token, "type": "opened", "metadata": {"a": "x\x00"}},
        {"delivery": token, "type": "clicked", "metadata": {"b": "\ud800"}},
        {"delivery": token, "type": "delivered", "metadata": {"os": "\u00e9\U0001f600"}},
    ]
    body = json.dumps({"events": events})
    response = APIClient().post(
        "/sdk/v1/events", body, content_type="application/json", HTTP_X_SDK_KEY=web_app.sdk_key
    )
    assert [(r["status"], r.get("reason")) for r in _results(response)] == [
        ("rejected", "invalid_metadata"),
        ("rejected", "invalid_metadata"),
        ("accepted", None),
    ]
    with schema_context(ws_a.schema_name):
        assert AnalyticsEvent.objects.get(event_type="delivered").metadata_json == {"os": "é😀"}


def test_a_token_replayed_after_its_events_were_pruned_counts_nothing(delivered, ws_a, web_app, settings):
    """Events are unique per (delivery, type) only while they are kept: once retention pruned them,
    the delivery itself is too old to report on."""
    token = delivered["tokens"].of(delivered["browsers"][0])
    assert post_events(web_app, [{"delivery": token, "type": "clicked"}]).json()["accepted"] == 1
    before = rollup_totals(ws_a)
    later = timezone.now() + timedelta(days=settings.PUSHPILOT_ANALYTICS_RETENTION_DAYS + 1)
    with schema_context(ws_a.schema_name):
        assert services.events_prune(now=later).events_deleted == 3  # clicked, opened, delivered
        results = services.events_ingest(
            app=web_app, workspace_id=ws_a.pk, events=[{"delivery": token, "type": "clicked"}], now=later
        )
    assert [(r.status, r.reason) for r in results] == [("rejected", "too_old")]
    assert rollup_totals(ws_a) == before


def test_an_event_dated_before_its_message_existed_is_counted_when_the_message_was_made(
    delivered, ws_a, web_app
):
    token = delivered["tokens"].of(delivered["browsers"][0])
    a_week_ago = (timezone.now() - timedelta(days=7)).isoformat()
    assert (
        post_events(web_app, [{"delivery": token, "type": "opened", "occurred_at": a_week_ago}]).json()[
            "accepted"
        ]
        == 1
    )
    with schema_context(ws_a.schema_name):
        opened = AnalyticsEvent.objects.get(event_type="opened")
        created = Delivery.objects.get(pk=opened.delivery_id).created_at
    assert opened.occurred_at == created


def test_malformed_bodies_are_400_and_a_missing_key_401(delivered, web_app):
    token = delivered["tokens"].of(delivered["browsers"][0])
    too_many = [{"delivery": token, "type": "delivered"}] * 101
    assert_error(post_events(web_app, too_many), 400, "validation_error")
    assert_error(post_events(web_app, [], body=[1, 2]), 400, "validation_error")
    assert_error(post_events(web_app, [], body={"events": "all of them"}), 400, "validation_error")
    assert_error(post_events(web_app, [], body={"events": []}), 400, "validation_error")
    assert_error(post_events(web_app, ["not an object"]), 400, "validation_error")
    assert_error(
        post_events("pk_unknown", [{"delivery": token, "type": "delivered"}]), 401, "invalid_sdk_key"
    )


def test_cors_preflight_allows_the_service_worker(web_app):
    from rest_framework.test import APIClient

    response = APIClient().options(
        "/sdk/v1/events",
        HTTP_ORIGIN="https://shop.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-sdk-key",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] in ("*", "https://shop.example")
    assert "x-sdk-key" in response["Access-Control-Allow-Headers"].lower()
