"""What a run sends to whom: suppression (unsubscribed, quiet hours in the subscriber's timezone,
the daily frequency cap), A/B variants by weight and stable per subscriber, language by locale,
throttling spread over time, FCM topics, and housekeeping of old rows."""

from __future__ import annotations

import collections
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db.models import Min
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns import dispatch, fanout
from campaigns.notifications_api import expected_finish_at
from campaigns.pipeline_models import Delivery, IdempotencyRecord, Notification, SendingPolicy
from integrations import services as integration_services
from integrations.models import Subscriber
from tests.pipeline.support import (
    Pipeline,
    fcm_counts,
    fcm_subscribers,
    run_of,
    send_campaign_to_all,
    send_now_campaign,
    send_now_run,
    web_campaign,
    web_counts,
    web_subscribers,
)

pytestmark = pytest.mark.django_db


def _by_subscriber(workspace, run_id) -> dict:
    with schema_context(workspace.schema_name):
        return {d.subscriber_id: d for d in Delivery.objects.filter(notification_id=run_id)}


def test_unsubscribed_and_invalid_recipients_are_suppressed_with_the_reason(
    ws_a, web_app, fake_webpush, pipeline
):
    active, gone_later, unsubscribed = web_subscribers(ws_a, web_app, fake_webpush, 3)
    with schema_context(ws_a.schema_name):
        integration_services.subscriber_unsubscribe(subscriber=unsubscribed)
    run = send_now_run(
        ws_a, web_app, target={"subscriber_ids": [str(s.pk) for s in (active, gone_later, unsubscribed)]}
    )
    with schema_context(ws_a.schema_name):
        fanout.fan_out(notification_id=run.pk, owner="producer", send_inline=False)
        # Unsubscribed between the fan-out and the send: checked again when the batch runs.
        Subscriber.objects.filter(pk=gone_later.pk).update(status="unsubscribed")
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert (run.targeted, run.sent, run.suppressed) == (3, 1, 2)
    deliveries = _by_subscriber(ws_a, run.pk)
    assert deliveries[unsubscribed.pk].error_code == "unsubscribed"
    assert deliveries[gone_later.pk].error_code == "unsubscribed"
    assert web_counts(fake_webpush) == {active.endpoint: 1}


def test_quiet_hours_are_local_to_each_subscriber(ws_a, web_app, fake_webpush, monkeypatch):
    with schema_context(ws_a.schema_name):
        SendingPolicy.objects.create(quiet_hours_start=time(22), quiet_hours_end=time(7))
    [tokyo] = web_subscribers(ws_a, web_app, fake_webpush, 1, timezone="Asia/Tokyo")
    [new_york] = web_subscribers(ws_a, web_app, fake_webpush, 1, timezone="America/New_York")
    [unknown] = web_subscribers(ws_a, web_app, fake_webpush, 1)  # the run's timezone (UTC) applies
    # 14:30 UTC: 23:30 in Tokyo (quiet), 09:30 or 10:30 in New York, 14:30 UTC.
    at = datetime.combine(timezone.now().date() + timedelta(days=1), time(14, 30), UTC)
    pipeline = Pipeline(monkeypatch, clock=at)
    run = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    deliveries = _by_subscriber(ws_a, run.pk)
    assert deliveries[tokyo.pk].status == "suppressed" and deliveries[tokyo.pk].error_code == "quiet_hours"
    assert deliveries[new_york.pk].status == "sent" and deliveries[unknown.pk].status == "sent"
    assert run_of(ws_a, run.pk).suppressed == 1


def test_the_frequency_cap_counts_sends_in_the_last_24_hours(ws_a, web_app, fake_webpush, monkeypatch):
    with schema_context(ws_a.schema_name):
        SendingPolicy.objects.create(frequency_cap_per_day=2)
    [browser] = web_subscribers(ws_a, web_app, fake_webpush, 1)
    start = timezone.now()
    pipeline = Pipeline(monkeypatch, clock=start)
    statuses = []
    for hours in (0, 1, 2, 25):
        pipeline.clock = start + timedelta(hours=hours)
        run = send_now_run(ws_a, web_app, target={"all": True})
        pipeline.run()
        statuses.append(_by_subscriber(ws_a, run.pk)[browser.pk].status)
    assert statuses == ["sent", "sent", "suppressed", "sent"]
    assert web_counts(fake_webpush)[browser.endpoint] == 3


def test_ab_variants_follow_their_weights_and_stay_with_each_subscriber(
    api, alice, ws_a, web_app, fake_webpush, pipeline, settings
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 25
    client = api(user=alice, workspace=ws_a)
    campaign = web_campaign(client, web_app, name="A/B")
    for variant, weight, title in (("A", 3, "Variant A"), ("B", 1, "Variant B")):
        made = client.post(
            f"/api/v1/campaigns/{campaign['id']}/contents/",
            {"title": title, "body": "Same offer.", "variant": variant, "weight": weight},
        )
        assert made.status_code == 201, made.content
    german = client.post(
        f"/api/v1/campaigns/{campaign['id']}/contents/",
        {"title": "Auf Deutsch", "body": "Gleiches Angebot.", "language": "de"},
    )
    assert german.status_code == 201, german.content
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 48)
    [berliner] = web_subscribers(ws_a, web_app, fake_webpush, 1, locale="de-AT")
    runs = []
    for _ in range(2):
        runs.append(send_campaign_to_all(client, web_app, campaign))
        pipeline.run()
    first, second = (_by_subscriber(ws_a, r) for r in runs)
    assert all(first[b.pk].variant == second[b.pk].variant for b in browsers)
    split = collections.Counter(first[b.pk].variant for b in browsers)
    assert split["A"] > split["B"] > 0, split
    assert first[berliner.pk].language == "de"
    titles = {r.endpoint: r.payload["title"] for r in fake_webpush.received}
    assert titles[berliner.endpoint] == "Auf Deutsch"
    assert {titles[b.endpoint] for b in browsers} == {"Variant A", "Variant B"}


def test_throttle_spreads_batches_evenly_and_predicts_the_finish(ws_a, web_app, fake_webpush, monkeypatch):
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 10)
    start = timezone.now().replace(microsecond=0)
    pipeline = Pipeline(monkeypatch, clock=start)
    run = send_now_run(ws_a, web_app, target={"all": True}, throttle_per_minute=4)
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert (run.batches_total, run.sent) == (3, 4)  # 4 a minute: batches of 4, one a minute
    with schema_context(ws_a.schema_name):
        assert expected_finish_at(run) == start + timedelta(seconds=150)
    assert run.retry_at == start + timedelta(seconds=60)
    for minute in (1, 2):
        pipeline.tick(start + timedelta(seconds=60 * minute - 10))
        pipeline.run()
    run = run_of(ws_a, run.pk)
    assert run.status == "sent" and run.sent == 10
    sent_at = sorted({d.sent_at for d in _by_subscriber(ws_a, run.pk).values()})
    assert sent_at == [start, start + timedelta(seconds=60), start + timedelta(seconds=120)]
    assert sorted(web_counts(fake_webpush)[b.endpoint] for b in browsers) == [1] * 10


def test_an_fcm_topic_gets_one_message(api, alice, ws_a, fcm_app, fake_fcm, pipeline):
    fcm_subscribers(ws_a, fcm_app, 2)  # not addressed: the topic is
    response = api(user=alice, workspace=ws_a).post(
        "/api/v1/notifications/send-now",
        {
            "app_id": str(fcm_app.pk),
            "title": "Breaking",
            "body": "News.",
            "target": {"topic": "breaking-news"},
        },
    )
    assert response.status_code == 202, response.content
    pipeline.run()
    run = run_of(ws_a, response.json()["id"])
    assert (run.status, run.targeted, run.sent) == ("sent", 1, 1)
    assert fcm_counts(fake_fcm) == {"breaking-news": 1}


def test_an_empty_audience_finishes_at_once(ws_a, web_app, pipeline):
    run = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert (run.status, run.targeted) == ("sent", 0)


def test_housekeeping_prunes_old_rows_and_expires_subscriptions(
    ws_a, web_app, fake_webpush, pipeline, settings
):
    settings.PUSHPILOT_DELIVERY_RETENTION_DAYS = 90
    old, expired = web_subscribers(ws_a, web_app, fake_webpush, 2)
    run = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    now = timezone.now()
    with schema_context(ws_a.schema_name):
        Notification.objects.filter(pk=run.pk).update(finished_at=now - timedelta(days=91))
        Subscriber.objects.filter(pk=expired.pk).update(expires_at=now - timedelta(minutes=1))
        IdempotencyRecord.objects.create(credential="user:x", key="k", request_hash="h", status_code=202)
        IdempotencyRecord.objects.filter(key="k").update(created_at=now - timedelta(days=2))
        report = dispatch.workspace_housekeeping(now=now)
        assert (
            report.deliveries_pruned == 2
            and report.subscribers_expired == 1
            and report.idempotency_pruned == 1
        )
        assert Delivery.objects.count() == 0
        kept = Notification.objects.get(pk=run.pk)
        assert (kept.targeted, kept.sent) == (2, 2)  # the counts outlive the rows
        assert Subscriber.objects.get(pk=expired.pk).status == "invalid"
        assert Subscriber.objects.get(pk=old.pk).status == "active"


@pytest.mark.parametrize(
    "values",
    [
        [
            "plain",
            'with "quotes"',
            "back\\slash",
            "comma, {braces}",
            "NULL",
            "",
            None,
            "ünï ✓",
            "tab\tnew\nline",
        ],
        [uuid.uuid4(), None, uuid.uuid4()],
        [uuid.UUID(int=7), uuid.UUID(int=7), None, uuid.UUID(int=8)],  # repeated values in a column
        [datetime(2026, 3, 29, 1, 30, tzinfo=UTC), None, datetime(2026, 3, 29, 1, 30, tzinfo=UTC)],
        [1, 0, 1, None, 2],
    ],
)
def test_array_literals_round_trip_through_postgresql(values):
    from django.db import connection

    cast = {uuid.UUID: "uuid[]", datetime: "timestamptz[]", int: "integer[]"}.get(
        type(values[0]), "varchar[]"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{cast}", [fanout.pg_array(values)])
        assert cursor.fetchone()[0] == values


# ---------------------------------------------------------------------------------------------
# Throttling from the campaign's options: spread evenly, future batches kept out of the broker.


def test_a_campaign_throttle_spreads_the_run_and_keeps_future_batches_out_of_the_broker(
    api, alice, ws_a, web_app, fake_webpush, monkeypatch, settings
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 2
    tick = settings.PUSHPILOT_SCHEDULER_TICK_SECONDS
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 7)
    client = api(user=alice, workspace=ws_a)
    campaign = send_now_campaign(client, web_app, throttle_per_minute=2)
    assert campaign["options"]["throttle_per_minute"] == 2
    start = timezone.now()
    pipeline = Pipeline(monkeypatch, clock=start)
    assert client.post(f"/api/v1/campaigns/{campaign['id']}/schedule").status_code == 200
    pipeline.run()

    [run] = [
        run_of(ws_a, r["id"])
        for r in client.get("/api/v1/notifications", {"campaign": campaign["id"]}).json()["results"]
    ]
    begun = run.started_at
    # 2 a minute: batches of 2, one a minute, each due at its own minute.
    assert (run.throttle_per_minute, run.batches_total, run.sent) == (2, 4, 2)
    with schema_context(ws_a.schema_name):
        due = dict(
            Delivery.objects.filter(notification_id=run.pk)
            .values_list("batch_no")
            .annotate(at=Min("next_attempt_at"))
        )
    assert due == {n: begun + timedelta(seconds=60 * n) for n in range(4)}
    # Later batches wait in the database for the dispatcher, not in the broker with an ETA.
    assert pipeline.names().get("campaigns.send_batch", 0) == 0
    assert run.retry_at == begun + timedelta(seconds=60)
    detail = client.get(f"/api/v1/notifications/{run.pk}").json()
    assert detail["status"] == "sending" and detail["counts"]["pending"] == 5
    assert datetime.fromisoformat(detail["expected_finish_at"]) == begun + timedelta(seconds=210)

    for minute in (1, 2, 3):
        pipeline.tick(begun + timedelta(seconds=60 * minute - tick / 2))
        pipeline.run()
    run = run_of(ws_a, run.pk)
    assert run.status == "sent" and (run.targeted, run.sent) == (7, 7)
    sent_at = sorted({d.sent_at for d in _by_subscriber(ws_a, run.pk).values()})
    assert sent_at == [begun + timedelta(seconds=60 * n) for n in range(4)]
    assert sorted(web_counts(fake_webpush)[b.endpoint] for b in browsers) == [1] * 7
    # Every countdown the pipeline put on the broker was at most one tick.
    assert pipeline.ran and max(item.countdown for item in pipeline.ran) <= tick


def test_send_now_takes_its_own_throttle_or_the_campaigns(api, alice, ws_a, web_app, pipeline):
    client = api(user=alice, workspace=ws_a)
    campaign = send_now_campaign(client, web_app, throttle_per_minute=120)
    sent = {}
    for label, extra in (
        ("campaign's", {"campaign_id": campaign["id"]}),
        ("own", {"campaign_id": campaign["id"], "throttle_per_minute": 6000}),
        ("none", {"campaign_id": campaign["id"], "throttle_per_minute": None}),
        ("inline", {"title": "Hi", "body": "There.", "throttle_per_minute": 30}),
    ):
        response = client.post(
            "/api/v1/notifications/send-now", {"app_id": str(web_app.pk), "target": {"all": True}, **extra}
        )
        assert response.status_code == 202, (label, response.content)
        sent[label] = run_of(ws_a, response.json()["id"]).throttle_per_minute
    assert sent == {"campaign's": 120, "own": 6000, "none": None, "inline": 30}


# ---------------------------------------------------------------------------------------------
# Contents with a segment filter.


def _content(client, campaign_id, **body):
    made = client.post(f"/api/v1/campaigns/{campaign_id}/contents/", body)
    assert made.status_code == 201, made.content
    return made.json()


def test_a_content_with_a_segment_filter_goes_only_to_the_subscribers_it_matches(
    api, alice, ws_a, web_app, fake_webpush, pipeline, settings
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 50
    client = api(user=alice, workspace=ws_a)
    campaign = web_campaign(client, web_app, name="VIP")
    vip = {"tags": {"any": ["vip"]}}
    _content(client, campaign["id"], title="Hello", body="Our offers.")
    _content(client, campaign["id"], title="Hello VIP", body="Early access.", segment_filter_json=vip)
    _content(
        client,
        campaign["id"],
        title="Hallo VIP",
        body="Früher Zugang.",
        language="de",
        segment_filter_json={"tags": {"any": ["vip"]}, "attributes": {"tier": {"in": ["gold", "platinum"]}}},
    )
    vips = web_subscribers(ws_a, web_app, fake_webpush, 3, tags=["vip"])
    regulars = web_subscribers(ws_a, web_app, fake_webpush, 3, tags=["new"])
    [gold_de] = web_subscribers(
        ws_a, web_app, fake_webpush, 1, tags=["vip"], locale="de-AT", attributes={"tier": "gold"}
    )
    [plain_de] = web_subscribers(ws_a, web_app, fake_webpush, 1, locale="de")
    run_id = send_campaign_to_all(client, web_app, campaign)
    pipeline.run()
    run = run_of(ws_a, run_id)
    assert (run.status, run.targeted, run.sent) == ("sent", 8, 8)
    titles = {r.endpoint: r.payload["title"] for r in fake_webpush.received}
    assert {titles[s.endpoint] for s in vips} == {"Hello VIP"}
    assert {titles[s.endpoint] for s in regulars} == {"Hello"}
    assert titles[gold_de.endpoint] == "Hallo VIP"
    assert titles[plain_de.endpoint] == "Hello"  # no German copy it may get: falls back to English
    assert sorted(web_counts(fake_webpush).values()) == [1] * 8


def test_a_subscriber_no_content_is_meant_for_is_suppressed(ws_a, web_app, fake_webpush, pipeline):
    [vip] = web_subscribers(ws_a, web_app, fake_webpush, 1, tags=["vip"])
    [other] = web_subscribers(ws_a, web_app, fake_webpush, 1)
    with schema_context(ws_a.schema_name):
        run = dispatch.notification_send_now(
            app=web_app,
            contents=[
                {
                    "id": None,
                    "language": "en",
                    "variant": "A",
                    "weight": 1,
                    "title": "VIP only",
                    "body": "For you.",
                    "segment_filter": {"tags": {"any": ["vip"]}},
                }
            ],
            target={"all": True},
            options={},
        )
    pipeline.run()
    run = run_of(ws_a, run.pk)
    deliveries = _by_subscriber(ws_a, run.pk)
    assert (deliveries[vip.pk].status, deliveries[other.pk].status) == ("sent", "suppressed")
    assert deliveries[other.pk].error_code == "no_matching_content"
    assert (run.status, run.sent, run.suppressed) == ("sent", 1, 1)
    assert web_counts(fake_webpush) == {vip.endpoint: 1}


def test_content_filters_are_evaluated_with_one_query_per_batch(
    ws_a, web_app, fake_webpush, pipeline, settings
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.PUSHPILOT_SEND_BATCH_SIZE = 40
    web_subscribers(ws_a, web_app, fake_webpush, 30, tags=["vip"])
    web_subscribers(ws_a, web_app, fake_webpush, 10)
    filtered = {"language": "en", "variant": "A", "weight": 1, "title": "VIP", "body": "Yes."}
    with schema_context(ws_a.schema_name):
        run = dispatch.notification_send_now(
            app=web_app,
            contents=[
                {**filtered, "id": None, "segment_filter": {"tags": {"any": ["vip"]}}},
                {**filtered, "id": None, "variant": "B", "segment_filter": {"platform": "web"}},
                {**filtered, "id": None, "variant": "C", "title": "Everyone"},
            ],
            target={"all": True},
            options={},
        )
        fanout.fan_out(notification_id=run.pk, owner="producer", send_inline=False)
        with CaptureQueriesContext(connection) as queries:
            report = fanout.send_batch(notification_id=run.pk, batch_no=0, owner="worker")
    assert report.claimed == 40 and report.counts["sent"] == 40
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "integrations_subscriber"' in q["sql"]]
    assert len(reads) == 1 and "pp_match_0" in reads[0] and "pp_match_1" in reads[0], reads


def test_a_runs_options_reach_both_providers_in_every_message_of_every_batch(
    api, alice, ws_a, web_app, fcm_app, fake_webpush, fake_fcm, pipeline, settings
):
    """TTL, priority, collapse key, click URL, image and data are worked out once per batch
    (``fanout._MessageBuilder``): each message of each batch still carries all of them, next to its
    own subscriber's copy and its own delivery token."""
    settings.PUSHPILOT_SEND_BATCH_SIZE = 2
    client = api(user=alice, workspace=ws_a)
    names = ["Ada", "Grace", "Alan"]
    browsers = [
        web_subscribers(ws_a, web_app, fake_webpush, 1, attributes={"first_name": n})[0] for n in names
    ]
    phones = [
        fcm_subscribers(ws_a, fcm_app, 1, prefix=f"p{n}-", attributes={"first_name": n})[0] for n in names
    ]
    options = {
        "title": 'Hi {{ first_name|default:"there" }}',
        "body": "Flash sale.",
        "url": "https://shop.example/sale",
        "image_url": "https://cdn.example/sale.png",
        "data": {"sku": "A-1"},
        "ttl": 600,
        "priority": "high",
        "collapse_key": "flash",
        "target": {"all": True},
    }
    runs = {}
    for app in (web_app, fcm_app):
        response = client.post("/api/v1/notifications/send-now", {"app_id": str(app.pk), **options})
        assert response.status_code == 202, response.content
        runs[app.kind] = response.json()["id"]
    pipeline.run()

    tokens = set()
    assert len(fake_webpush.received) == 3
    by_endpoint = {b.endpoint: name for b, name in zip(browsers, names, strict=True)}
    for received in fake_webpush.received:
        payload = received.payload
        assert payload["title"] == f"Hi {by_endpoint[received.endpoint]}"
        assert (payload["url"], payload["image"], payload["data"]) == (
            "https://shop.example/sale",
            "https://cdn.example/sale.png",
            {"sku": "A-1"},
        )
        assert payload["pp"]["notification"] == runs["web_push"]
        assert received.headers == {"TTL": "600", "Urgency": "high", "Topic": "flash"}
        tokens.add(payload["pp"]["delivery"])
    assert len(fake_fcm.received) == 3
    by_token = {p.fcm_token: name for p, name in zip(phones, names, strict=True)}
    for received in fake_fcm.received:
        message = received["message"]
        assert message["notification"] == {
            "title": f"Hi {by_token[message['token']]}",
            "body": "Flash sale.",
            "image": "https://cdn.example/sale.png",
        }
        assert message["data"]["sku"] == "A-1" and message["data"]["pp_url"] == "https://shop.example/sale"
        assert message["data"]["pp_notification"] == runs["fcm"]
        assert (message["android"]["ttl"], message["android"]["priority"]) == ("600s", "high")
        assert message["android"]["collapse_key"] == "flash"
        assert message["webpush"]["headers"] == {"TTL": "600", "Urgency": "high"}
        tokens.add(message["data"]["pp_delivery"])
    assert len(tokens) == 6  # one token per delivery, each naming its own delivery
    assert {fanout.delivery_token_read(t)[0] for t in tokens} == {ws_a.pk}


def test_each_content_keeps_its_own_click_url_image_and_buttons_within_a_batch(
    api, alice, ws_a, web_app, fake_webpush, pipeline
):
    client = api(user=alice, workspace=ws_a)
    campaign = web_campaign(client, web_app, name="Two languages", click_url="https://shop.example/")
    contents = (
        {"title": "Sale", "body": "Now.", "language": "en"},
        {
            "title": "Angebot",
            "body": "Jetzt.",
            "language": "de",
            "click_url": "https://shop.example/de",
            "image_url": "https://cdn.example/de.png",
            "actions": [{"action": "buy", "title": "Kaufen", "url": "https://shop.example/de/buy"}],
        },
    )
    for content in contents:
        made = client.post(f"/api/v1/campaigns/{campaign['id']}/contents/", content, format="json")
        assert made.status_code == 201, made.content
    [english] = web_subscribers(ws_a, web_app, fake_webpush, 1, locale="en-GB")
    [german] = web_subscribers(ws_a, web_app, fake_webpush, 1, locale="de-DE")
    send_campaign_to_all(client, web_app, campaign)
    pipeline.run()

    payloads = {r.endpoint: r.payload for r in fake_webpush.received}
    assert set(payloads) == {english.endpoint, german.endpoint}
    sent_english, sent_german = payloads[english.endpoint], payloads[german.endpoint]
    assert (sent_english["title"], sent_english["url"]) == ("Sale", "https://shop.example/")
    assert "image" not in sent_english and "actions" not in sent_english
    assert (sent_german["title"], sent_german["url"], sent_german["image"]) == (
        "Angebot",
        "https://shop.example/de",
        "https://cdn.example/de.png",
    )
    assert sent_german["actions"] == [
        {"action": "buy", "title": "Kaufen", "url": "https://shop.example/de/buy"}
    ]
