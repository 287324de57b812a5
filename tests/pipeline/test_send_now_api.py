"""POST /api/v1/notifications/send-now and the notifications read API: the contract, who may call
it, Idempotency-Key semantics, plan limits, mismatches between app, segment and target, a table of
bad inputs, and isolation between workspaces."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.core import signing
from django.db import connections
from django_tenants.utils import schema_context

from campaigns import fanout
from campaigns.pipeline_models import Delivery, IdempotencyRecord, Notification
from integrations import services as integration_services
from integrations.models import Segment
from tenants.models import Role
from tests.pipeline.support import (
    fcm_counts,
    fcm_subscribers,
    make_web_app,
    run_of,
    wait_until_final,
    web_campaign,
    web_counts,
    web_subscribers,
)
from tests.tenants.support import assert_error

SEND_NOW = "/api/v1/notifications/send-now"


def _body(app, **extra) -> dict:
    body = {
        "app_id": str(app.pk),
        "title": "Flash sale",
        "body": "20% off everything today.",
        "target": {"all": True},
    }
    body.update(extra)
    return body


def _count_runs(workspace) -> int:
    with schema_context(workspace.schema_name):
        return Notification.objects.count()


# ---------------------------------------------------------------------------------------------
# End to end through the real worker.


@pytest.mark.usefixtures("celery_worker_thread")
def test_send_now_with_an_api_key_reaches_every_subscriber_once_with_a_signed_delivery_token(
    api, api_key_for, ws_a, web_app, fcm_app, fake_webpush, fake_fcm, settings
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 4
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 9, attributes={"first_name": "Ada"})
    client = api(api_key=api_key_for(ws_a, scopes=["send", "read"]))

    response = client.post(
        SEND_NOW,
        _body(
            web_app,
            title='Hi {{ first_name|default:"there" }}',
            url="https://shop.example/sale",
            data={"sku": "A-1"},
        ),
    )

    assert response.status_code == 202, response.content
    assert set(response.json()) == {"id", "status"}
    run = wait_until_final(ws_a, response.json()["id"])
    assert run.status == "sent"
    assert (run.targeted, run.sent, run.failed, run.invalid, run.suppressed) == (9, 9, 0, 0, 0)
    assert run.batches_total == 3
    counts = web_counts(fake_webpush)
    assert sorted(counts[b.endpoint] for b in browsers) == [1] * 9
    payload = fake_webpush.received[0].payload
    assert payload["title"] == "Hi Ada" and payload["url"] == "https://shop.example/sale"
    assert payload["data"] == {"sku": "A-1"}
    assert payload["pp"]["notification"] == str(run.pk)
    workspace_id, delivery_id = fanout.delivery_token_read(payload["pp"]["delivery"])
    assert workspace_id == ws_a.pk
    with schema_context(ws_a.schema_name):
        delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.notification_id == run.pk and delivery.status == "sent"
    assert fanout.delivery_token_read(payload["pp"]["delivery"][:-2] + "xx") is None
    # Delivery ids are UUIDv7: version 7, RFC 9562 variant, the creation millisecond up front.
    with schema_context(ws_a.schema_name):
        deliveries = list(Delivery.objects.filter(notification_id=run.pk))
    assert len({d.pk for d in deliveries}) == 9
    for row in deliveries:
        assert row.pk.version == 7 and row.pk.variant == uuid.RFC_4122
        assert abs((row.pk.int >> 80) - row.created_at.timestamp() * 1000) <= 1

    detail = client.get(f"/api/v1/notifications/{run.pk}").json()
    assert detail["status"] == "sent"
    assert detail["counts"] == {
        "targeted": 9,
        "sent": 9,
        "failed": 0,
        "invalid": 0,
        "suppressed": 0,
        "pending": 0,
    }
    assert detail["progress"]["percent"] == 100.0
    assert detail["timing"]["finished_at"] and detail["expected_finish_at"] == detail["timing"]["finished_at"]
    page = client.get(f"/api/v1/notifications/{run.pk}/deliveries", {"page_size": 5}).json()
    assert page["count"] == 9 and len(page["results"]) == 5 and page["next"]
    assert {d["status"] for d in page["results"]} == {"sent"}

    # FCM carries the token in data.pp_delivery.
    fcm_subscribers(ws_a, fcm_app, 2)
    response = client.post(SEND_NOW, _body(fcm_app))
    assert response.status_code == 202
    wait_until_final(ws_a, response.json()["id"])
    [first, *_] = fake_fcm.received
    assert fanout.delivery_token_read(first["message"]["data"]["pp_delivery"])[0] == ws_a.pk
    assert first["message"]["data"]["pp_notification"] == response.json()["id"]
    assert sum(fcm_counts(fake_fcm).values()) == 2


# ---------------------------------------------------------------------------------------------
# Idempotency-Key.


@pytest.mark.django_db
def test_same_idempotency_key_returns_the_first_response_and_creates_one_run(api, api_key_for, ws_a, web_app):
    client = api(api_key=api_key_for(ws_a))
    first = client.post(SEND_NOW, _body(web_app), HTTP_IDEMPOTENCY_KEY="order-42")
    again = client.post(SEND_NOW, _body(web_app), HTTP_IDEMPOTENCY_KEY="order-42")
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert _count_runs(ws_a) == 1

    reused = client.post(SEND_NOW, _body(web_app, title="Another text"), HTTP_IDEMPOTENCY_KEY="order-42")
    assert_error(reused, 422, "idempotency_key_reused")
    assert _count_runs(ws_a) == 1

    # Scoped to the credential: another key (or a user) with the same Idempotency-Key is another send.
    other = api(api_key=api_key_for(ws_a, name="other")).post(
        SEND_NOW, _body(web_app), HTTP_IDEMPOTENCY_KEY="order-42"
    )
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]
    assert _count_runs(ws_a) == 2


@pytest.mark.django_db
def test_an_idempotency_key_expires_after_24_hours(api, alice, ws_a, web_app):
    from datetime import timedelta

    from django.utils import timezone

    client = api(user=alice, workspace=ws_a)
    first = client.post(SEND_NOW, _body(web_app), HTTP_IDEMPOTENCY_KEY="daily")
    with schema_context(ws_a.schema_name):
        IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    later = client.post(SEND_NOW, _body(web_app, title="Changed"), HTTP_IDEMPOTENCY_KEY="daily")
    assert later.status_code == 202 and later.json()["id"] != first.json()["id"]


@pytest.mark.django_db
def test_a_failed_request_does_not_burn_its_idempotency_key(api, alice, ws_a, web_app):
    client = api(user=alice, workspace=ws_a)
    bad = client.post(SEND_NOW, _body(web_app, title=""), HTTP_IDEMPOTENCY_KEY="retry-me")
    assert_error(bad, 400, "validation_error")
    good = client.post(SEND_NOW, _body(web_app), HTTP_IDEMPOTENCY_KEY="retry-me")
    assert good.status_code == 202


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_idempotency_key_send_once(api, api_key_for, ws_a, web_app):
    key = api_key_for(ws_a)
    barrier = threading.Barrier(4)
    answers = []

    def call():
        try:
            barrier.wait(5)
            answers.append(api(api_key=key).post(SEND_NOW, _body(web_app), HTTP_IDEMPOTENCY_KEY="burst"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert [a.status_code for a in answers] == [202] * 4
    assert len({a.json()["id"] for a in answers}) == 1
    assert _count_runs(ws_a) == 1


# ---------------------------------------------------------------------------------------------
# Who may send and read.


@pytest.mark.django_db
def test_roles_and_scopes(api, api_key_for, ws_a, web_app, member_with_role):
    assert (
        api(user=member_with_role(Role.MEMBER), workspace=ws_a).post(SEND_NOW, _body(web_app)).status_code
        == 202
    )
    assert_error(
        api(user=member_with_role(Role.VIEWER), workspace=ws_a).post(SEND_NOW, _body(web_app)),
        403,
        "permission_denied",
    )
    read_only = api(api_key=api_key_for(ws_a, scopes=["read"], name="reader"))
    assert_error(read_only.post(SEND_NOW, _body(web_app)), 403, "insufficient_scope")
    assert read_only.get("/api/v1/notifications").status_code == 200
    send_only = api(api_key=api_key_for(ws_a, scopes=["send"], name="sender"))
    assert send_only.post(SEND_NOW, _body(web_app)).status_code == 202
    assert_error(send_only.get("/api/v1/notifications"), 403, "insufficient_scope")
    assert (
        api(user=member_with_role(Role.VIEWER), workspace=ws_a).get("/api/v1/notifications").status_code
        == 200
    )
    assert_error(api().post(SEND_NOW, _body(web_app)), 401)


# ---------------------------------------------------------------------------------------------
# Plan limits, mismatches and bad inputs.


@pytest.mark.django_db
def test_recipients_per_call_are_limited_by_plan(api, alice, ws_a, web_app, fake_webpush, settings):
    settings.PUSHPILOT_PLAN_MAX_RECIPIENTS = {"free": 3, "pro": 5, "enterprise": None}
    web_subscribers(ws_a, web_app, fake_webpush, 4)
    client = api(user=alice, workspace=ws_a)
    error = assert_error(client.post(SEND_NOW, _body(web_app)), 400, "recipient_limit_exceeded")
    assert error["details"]["limit"] == 3 and error["details"]["requested"] == 4
    ids = [str(uuid.uuid4()) for _ in range(4)]
    assert_error(
        client.post(SEND_NOW, _body(web_app, target={"subscriber_ids": ids})), 400, "recipient_limit_exceeded"
    )
    ws_a.plan_type = "pro"
    ws_a.save(update_fields=["plan_type"])
    assert client.post(SEND_NOW, _body(web_app)).status_code == 202
    ws_a.plan_type = "enterprise"
    ws_a.save(update_fields=["plan_type"])
    web_subscribers(ws_a, web_app, fake_webpush, 2)
    assert client.post(SEND_NOW, _body(web_app)).status_code == 202


@pytest.mark.django_db
def test_app_segment_campaign_and_topic_mismatches(api, alice, ws_a, web_app, fcm_app, fake_webpush):
    client = api(user=alice, workspace=ws_a)
    other_web = make_web_app(ws_a, name="Second site")
    [foreign] = web_subscribers(ws_a, other_web, fake_webpush, 1)
    with schema_context(ws_a.schema_name):
        segment = integration_services.segment_create(
            name="Other app VIPs", filter_={"app_id": str(other_web.pk), "tags": {"any": ["vip"]}}
        )
    error = assert_error(
        client.post(SEND_NOW, _body(web_app, target={"subscriber_ids": [str(foreign.pk)]})),
        400,
        "target_app_mismatch",
    )
    assert str(foreign.pk) in str(error["details"])
    assert_error(
        client.post(SEND_NOW, _body(web_app, target={"segment_id": str(segment.pk)})),
        400,
        "target_app_mismatch",
    )
    assert_error(
        client.post(SEND_NOW, _body(web_app, target={"filter": {"app_id": str(other_web.pk)}})),
        400,
        "target_app_mismatch",
    )
    assert_error(client.post(SEND_NOW, _body(web_app, target={"topic": "news"})), 400, "topic_requires_fcm")
    assert client.post(SEND_NOW, _body(fcm_app, target={"topic": "news"})).status_code == 202
    assert_error(client.post(SEND_NOW, _body(fcm_app, data={"google.sent": "x"})), 400, "reserved_data_key")

    campaign = web_campaign(client, web_app, name="Web")
    body = {"app_id": str(fcm_app.pk), "campaign_id": campaign["id"], "target": {"all": True}}
    assert_error(client.post(SEND_NOW, body), 400, "campaign_app_mismatch")
    body["app_id"] = str(web_app.pk)
    assert_error(client.post(SEND_NOW, body), 400, "campaign_has_no_content")
    client.post(
        f"/api/v1/campaigns/{campaign['id']}/contents/", {"title": "From the campaign", "body": "Copy."}
    )
    assert client.post(SEND_NOW, body).status_code == 202


def _bad_inputs(app_id: str, segment_id: str):
    ok = {"app_id": app_id, "title": "T", "body": "B", "target": {"all": True}}

    def with_(**changes):
        body = dict(ok)
        for key, value in changes.items():
            if value is ...:
                body.pop(key, None)
            else:
                body[key] = value
        return body

    return [
        ("missing app_id", with_(app_id=...), 400, "validation_error"),
        ("malformed app_id", with_(app_id="not-a-uuid"), 400, "validation_error"),
        ("unknown app", with_(app_id=str(uuid.uuid4())), 400, "app_not_found"),
        ("missing target", with_(target=...), 400, "validation_error"),
        ("target not an object", with_(target=["all"]), 400, "validation_error"),
        ("empty target", with_(target={}), 400, "validation_error"),
        ("two targets", with_(target={"all": True, "topic": "news"}), 400, "validation_error"),
        ("all false", with_(target={"all": False}), 400, "validation_error"),
        ("unknown target key", with_(target={"everyone": True}), 400, "validation_error"),
        ("empty subscriber list", with_(target={"subscriber_ids": []}), 400, "validation_error"),
        ("subscriber id not a uuid", with_(target={"subscriber_ids": ["x"]}), 400, "validation_error"),
        ("unknown segment", with_(target={"segment_id": str(uuid.uuid4())}), 400, "segment_not_found"),
        ("bad filter", with_(target={"filter": {"tags": {"some": ["x"]}}}), 400, "invalid_target"),
        ("bad topic", with_(target={"topic": "a b"}), 400, "validation_error"),
        ("missing title", with_(title=...), 400, "validation_error"),
        ("empty body", with_(body=""), 400, "validation_error"),
        ("title too long", with_(title="x" * 66), 400, "content_too_long"),
        ("unknown variable", with_(title="Hi {{ password }}"), 400, "invalid_personalization"),
        ("template tag", with_(body="{% load x %}"), 400, "invalid_personalization"),
        ("unknown field", with_(sound="ding"), 400, "validation_error"),
        ("copy and campaign", with_(campaign_id=str(uuid.uuid4())), 400, "validation_error"),
        (
            "unknown campaign",
            {"app_id": app_id, "campaign_id": str(uuid.uuid4()), "target": {"all": True}},
            400,
            "campaign_not_found",
        ),
        (
            "unknown template",
            {"app_id": app_id, "template_id": str(uuid.uuid4()), "target": {"all": True}},
            400,
            "template_not_found",
        ),
        ("ftp url", with_(url="ftp://example.com/x"), 400, "validation_error"),
        ("data not an object", with_(data=["a"]), 400, "validation_error"),
        ("throttle zero", with_(throttle_per_minute=0), 400, "validation_error"),
        ("throttle text", with_(throttle_per_minute="fast"), 400, "validation_error"),
        ("priority unknown", with_(priority="urgent"), 400, "validation_error"),
        ("ttl negative", with_(ttl=-1), 400, "validation_error"),
        ("payload too large", with_(data={"blob": "x" * 4000}), 413, "payload_too_large"),
        ("our data key", with_(data={"pp_delivery": "forged"}), 400, "reserved_data_key"),
        ("segment id wrong type", with_(target={"segment_id": ["x"]}), 400, "validation_error"),
        ("body is a list", ["not", "an", "object"], 400, "validation_error"),
    ]


@pytest.mark.django_db
def test_bad_inputs_are_4xx_with_a_code_and_send_nothing(api, alice, ws_a, web_app):
    client = api(user=alice, workspace=ws_a)
    with schema_context(ws_a.schema_name):
        segment = Segment.objects.create(name="All", filter={})
    for name, body, status, code in _bad_inputs(str(web_app.pk), str(segment.pk)):
        response = client.post(SEND_NOW, body)
        assert response.status_code == status, (name, response.status_code, response.content[:300])
        assert response.json()["error"]["code"] == code, (name, response.json())
    assert_error(
        client.post(SEND_NOW, _body(web_app), HTTP_IDEMPOTENCY_KEY=" "), 400, "invalid_idempotency_key"
    )
    assert_error(
        client.post(SEND_NOW, _body(web_app), HTTP_IDEMPOTENCY_KEY="x" * 300), 400, "invalid_idempotency_key"
    )
    malformed = client.client.post(
        SEND_NOW, "{not json", content_type="application/json", HTTP_X_WORKSPACE_ID=str(ws_a.pk)
    )
    assert_error(malformed, 400)
    assert _count_runs(ws_a) == 0


# ---------------------------------------------------------------------------------------------
# Reading runs: filters, and isolation between workspaces.


@pytest.mark.django_db
def test_notification_list_filters(api, alice, ws_a, web_app, fcm_app):
    client = api(user=alice, workspace=ws_a)
    first = client.post(SEND_NOW, _body(web_app)).json()["id"]
    second = client.post(SEND_NOW, _body(fcm_app)).json()["id"]
    with schema_context(ws_a.schema_name):
        Notification.objects.filter(pk=first).update(status="sent")
    everything = client.get("/api/v1/notifications").json()
    assert everything["count"] == 2 and everything["results"][0]["id"] == second
    assert [
        r["id"] for r in client.get("/api/v1/notifications", {"status": "sent,failed"}).json()["results"]
    ] == [first]
    assert [
        r["id"] for r in client.get("/api/v1/notifications", {"app": str(fcm_app.pk)}).json()["results"]
    ] == [second]
    assert (
        client.get(
            "/api/v1/notifications",
            {"created_after": "2000-01-01T00:00:00Z", "created_before": "2000-01-02T00:00:00Z"},
        ).json()["count"]
        == 0
    )
    assert client.get("/api/v1/notifications", {"created_after": "2000-01-01"}).json()["count"] == 2
    assert_error(client.get("/api/v1/notifications", {"status": "exploded"}), 400)
    assert_error(client.get("/api/v1/notifications", {"created_after": "yesterday"}), 400)
    assert_error(client.get("/api/v1/notifications", {"campaign": "nope"}), 400)
    assert client.get("/api/v1/notifications", {"campaign": str(uuid.uuid4())}).json()["count"] == 0
    assert_error(client.get(f"/api/v1/notifications/{first}/deliveries", {"status": "lost"}), 400)
    assert_error(client.get("/api/v1/notifications/not-a-uuid"), 404, "not_found")


@pytest.mark.django_db
def test_notifications_and_deliveries_of_one_workspace_are_invisible_to_the_other(
    api, api_key_for, ws_a, ws_b, charlie, web_app, fake_webpush
):
    web_subscribers(ws_a, web_app, fake_webpush, 2)
    run_id = api(api_key=api_key_for(ws_a)).post(SEND_NOW, _body(web_app)).json()["id"]
    with schema_context(ws_a.schema_name):
        from campaigns.fanout import fan_out

        fan_out(notification_id=run_id, owner="test", send_inline=False)
        delivery_id = str(Delivery.objects.filter(notification_id=run_id).first().pk)
    paths = [f"/api/v1/notifications/{run_id}", f"/api/v1/notifications/{run_id}/deliveries"]
    b_key = api_key_for(ws_b, name="b-server")
    attackers = [
        ("member of B naming A", api(user=charlie), {"HTTP_X_WORKSPACE_ID": str(ws_a.pk)}),
        ("member of B naming A by slug", api(user=charlie), {"HTTP_X_WORKSPACE_ID": ws_a.slug}),
        ("member of B in B", api(user=charlie), {"HTTP_X_WORKSPACE_ID": str(ws_b.pk)}),
        ("B's key", api(api_key=b_key), {}),
        ("B's key forging A", api(api_key=b_key), {"HTTP_X_WORKSPACE_ID": str(ws_a.pk)}),
    ]
    for label, client, headers in attackers:
        for path in paths:
            response = client.get(path, **headers)
            assert response.status_code == 404, (label, path, response.status_code)
            assert run_id not in response.content.decode() and delivery_id not in response.content.decode()
        listing = client.get("/api/v1/notifications", **headers)
        assert listing.status_code in (200, 404), (label, listing.status_code)
        assert run_id not in listing.content.decode(), label
    # B's key cannot send with A's app either.
    foreign = api(api_key=b_key).post(SEND_NOW, _body(web_app))
    assert_error(foreign, 400, "app_not_found")
    assert (
        api(user=charlie).post(SEND_NOW, _body(web_app), HTTP_X_WORKSPACE_ID=str(ws_a.pk)).status_code == 404
    )
    assert run_of(ws_a, run_id).targeted == 2


@pytest.mark.django_db
def test_sending_policy_is_read_by_viewers_and_set_by_admins(api, ws_a, member_with_role):
    admin = api(user=member_with_role(Role.ADMIN), workspace=ws_a)
    viewer = api(user=member_with_role(Role.VIEWER), workspace=ws_a)
    member = api(user=member_with_role(Role.MEMBER), workspace=ws_a)
    assert viewer.get("/api/v1/sending-policy").json()["quiet_hours_start"] is None
    assert_error(
        member.patch("/api/v1/sending-policy", {"frequency_cap_per_day": 3}), 403, "permission_denied"
    )
    changed = admin.patch(
        "/api/v1/sending-policy",
        {"quiet_hours_start": "22:00", "quiet_hours_end": "07:00", "frequency_cap_per_day": 3},
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["quiet_hours_start"] == "22:00" and changed.json()["frequency_cap_per_day"] == 3
    assert_error(admin.patch("/api/v1/sending-policy", {"quiet_hours_start": None}), 400, "validation_error")
    assert_error(admin.patch("/api/v1/sending-policy", {"frequency_cap_per_day": 0}), 400, "validation_error")
    assert_error(admin.patch("/api/v1/sending-policy", {"quiet_hours_end": "22:00"}), 400, "validation_error")
    cleared = admin.patch("/api/v1/sending-policy", {"quiet_hours_start": None, "quiet_hours_end": None})
    assert cleared.json()["quiet_hours_start"] is None and cleared.json()["frequency_cap_per_day"] == 3


# ---------------------------------------------------------------------------------------------
# Every kind of target, end to end.


@pytest.mark.django_db
def test_every_kind_of_target_reaches_exactly_its_subscribers(
    api, alice, ws_a, web_app, fake_webpush, pipeline
):
    client = api(user=alice, workspace=ws_a)
    [ada] = web_subscribers(ws_a, web_app, fake_webpush, 1, external_user_id="user-ada", tags=["vip"])
    [bo] = web_subscribers(ws_a, web_app, fake_webpush, 1, external_user_id="user-bo")
    [cy] = web_subscribers(ws_a, web_app, fake_webpush, 1, tags=["vip"], attributes={"plan": "pro"})
    [gone] = web_subscribers(ws_a, web_app, fake_webpush, 1, tags=["vip"])
    with schema_context(ws_a.schema_name):
        integration_services.subscriber_unsubscribe(subscriber=gone)
        segment = Segment.objects.create(name="VIPs", filter={"tags": {"any": ["vip"]}})
    expected = {
        "subscriber_ids": ({"subscriber_ids": [str(bo.pk), str(cy.pk)]}, {bo, cy}),
        "external_user_ids": ({"external_user_ids": ["user-ada", "user-bo", "nobody"]}, {ada, bo}),
        "segment_id": ({"segment_id": str(segment.pk)}, {ada, cy}),
        "filter": ({"filter": {"attributes": {"plan": {"equals": "pro"}}}}, {cy}),
        "all": ({"all": True}, {ada, bo, cy}),
    }
    for kind, (target, who) in expected.items():
        fake_webpush.reset()
        response = client.post(SEND_NOW, _body(web_app, target=target))
        assert response.status_code == 202, (kind, response.content)
        pipeline.run()
        run = run_of(ws_a, response.json()["id"])
        assert (run.status, run.targeted, run.sent) == ("sent", len(who), len(who)), kind
        assert web_counts(fake_webpush) == {s.endpoint: 1 for s in who}, kind
    # Deliveries can be listed by status.
    response = client.post(SEND_NOW, _body(web_app, target={"subscriber_ids": [str(ada.pk), str(gone.pk)]}))
    pipeline.run()
    deliveries = f"/api/v1/notifications/{response.json()['id']}/deliveries"
    [suppressed] = client.get(deliveries, {"status": "suppressed"}).json()["results"]
    assert suppressed["subscriber_id"] == str(gone.pk) and suppressed["error_code"] == "unsubscribed"
    assert [d["subscriber_id"] for d in client.get(deliveries, {"status": "sent"}).json()["results"]] == [
        str(ada.pk)
    ]
    assert client.get(deliveries, {"status": "sent,suppressed"}).json()["count"] == 2


def test_batches_go_to_the_sends_queue_and_everything_else_to_the_default_one(settings):
    from pushpilot.celery import app

    def queue_of(name):
        return app.amqp.router.route({}, name, (), {})["queue"].name

    assert queue_of("campaigns.send_batch") == settings.PUSHPILOT_QUEUE_SENDS
    for name in ("campaigns.run_job", "campaigns.fan_out", "campaigns.dispatch_due_jobs"):
        assert queue_of(name) == settings.PUSHPILOT_QUEUE_DEFAULT, name


def test_delivery_tokens_follow_a_secret_key_rotation(settings):
    """Tokens are signed with the current SECRET_KEY (the derived key is cached per key, not
    forever) and old ones keep reading while the old key is in SECRET_KEY_FALLBACKS."""
    ids = (uuid.uuid4(), uuid.uuid4())
    old = fanout.delivery_token_make(workspace_id=ids[0], delivery_id=ids[1])
    assert old == signing.Signer(salt=fanout.DELIVERY_TOKEN_SALT).sign(f"{ids[0].hex}.{ids[1].hex}")

    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "rotated-" + settings.SECRET_KEY
    new = fanout.delivery_token_make(workspace_id=ids[0], delivery_id=ids[1])
    assert new != old
    assert fanout.delivery_token_read(new) == ids
    assert fanout.delivery_token_read(old) == ids

    settings.SECRET_KEY_FALLBACKS = []
    assert fanout.delivery_token_read(old) is None
    assert fanout.delivery_token_read(new) == ids
