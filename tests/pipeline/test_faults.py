"""The provider error table (issue 4, item 8) against the fakes, on a simulated clock: transient
errors are retried with backoff (honouring Retry-After) and then sent, gone subscribers are marked
invalid, permanent errors fail with their reason, retries are bounded, quota backs off the whole
app, rejected credentials flag the app and stop the run — and the counters always add up."""

from __future__ import annotations

import collections
from datetime import timedelta

import pytest
from aiohttp import web
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns import fanout
from campaigns.notifications_api import notification_detail
from campaigns.pipeline_models import Delivery
from integrations.models import App, Subscriber
from tests.pipeline.support import (
    Pipeline,
    assert_adds_up,
    fcm_counts,
    fcm_subscribers,
    run_of,
    send_now_run,
    web_counts,
    web_subscribers,
)

pytestmark = pytest.mark.django_db


def _deliveries(workspace, run_id) -> list[Delivery]:
    with schema_context(workspace.schema_name):
        return list(Delivery.objects.filter(notification_id=run_id).order_by("batch_no", "id"))


def _flaky(monkeypatch, fake_webpush, failures: dict[str, list[tuple[int, dict]]]):
    """Answer the first requests to some endpoints with the given (status, headers), then normally."""
    original = fake_webpush._push
    plan = {path: collections.deque(answers) for path, answers in failures.items()}

    async def push(request, path):
        answers = plan.get(path)
        if answers:
            status, headers = answers.popleft()
            await request.read()
            fake_webpush.counters[f"flaky_{status}"] += 1
            return web.Response(status=status, headers=headers)
        return await original(request, path)

    monkeypatch.setattr(fake_webpush, "_push", push)


def _path(subscriber) -> str:
    return "/" + subscriber.endpoint.split("/", 3)[3]


def test_web_push_429_and_503_are_retried_then_sent_after_retry_after(
    ws_a, web_app, fake_webpush, monkeypatch
):
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 6)
    _flaky(
        monkeypatch,
        fake_webpush,
        {
            **{_path(b): [(429, {"Retry-After": "3"})] for b in browsers[:2]},
            **{_path(b): [(503, {})] for b in browsers[2:4]},
        },
    )
    start = timezone.now()
    pipeline = Pipeline(monkeypatch, clock=start)
    run = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert run.status == "sent" and run.sent == 6
    assert_adds_up(run)
    assert sorted(web_counts(fake_webpush)[b.endpoint] for b in browsers) == [1] * 6
    assert fake_webpush.counters["flaky_429"] >= 1
    retried = [d for d in _deliveries(ws_a, run.pk) if d.attempts > 1]
    assert retried, "some deliveries needed a second attempt"
    # The push service said "Retry-After: 3" for its origin: nothing went there again sooner.
    assert all(d.sent_at >= start + timedelta(seconds=3) for d in retried)


@pytest.mark.parametrize("fault", ["unavailable", "internal"])  # FCM UNAVAILABLE (503), INTERNAL (500)
def test_fcm_unavailable_is_retried_with_backoff_then_sent(
    ws_a, fcm_app, fake_fcm, monkeypatch, settings, fault
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 4
    tokens = fcm_subscribers(ws_a, fcm_app, 6)
    start = timezone.now()
    pipeline = Pipeline(monkeypatch, clock=start)
    run = send_now_run(ws_a, fcm_app, target={"all": True})
    fake_fcm.fault_all = fault
    pipeline.run(until=start)  # first attempt of both batches
    assert fake_fcm.counters[f"fault_{fault}"] == 6
    queued = _deliveries(ws_a, run.pk)
    assert {d.status for d in queued} == {"queued"} and {d.attempts for d in queued} == {1}
    assert {d.error_code for d in queued} == {"unavailable"}
    assert all(d.next_attempt_at > start for d in queued)
    fake_fcm.fault_all = None
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert run.status == "sent" and run.sent == 6
    assert_adds_up(run)
    assert sorted(fcm_counts(fake_fcm)[t.fcm_token] for t in tokens) == [1] * 6
    assert {d.attempts for d in _deliveries(ws_a, run.pk)} == {2}


def test_fcm_quota_backs_off_the_whole_app_for_at_least_a_minute(
    ws_a, fcm_app, fake_fcm, monkeypatch, settings
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 3
    fake_fcm.retry_after = 5  # FCM still gets at least 60 s
    fcm_subscribers(ws_a, fcm_app, 6)
    start = timezone.now()
    pipeline = Pipeline(monkeypatch, clock=start)
    run = send_now_run(ws_a, fcm_app, target={"all": True})
    fake_fcm.fault_all = "quota"
    pipeline.run()
    # The first batch met the quota; the other was deferred without a single request.
    assert fake_fcm.counters["fault_quota"] == 3
    with schema_context(ws_a.schema_name):  # cache keys carry the workspace schema
        assert fanout.app_backoff_until(fcm_app.pk) >= (start + timedelta(seconds=60)).timestamp()
    queued = _deliveries(ws_a, run.pk)
    assert {d.status for d in queued} == {"queued"}
    assert all(d.next_attempt_at >= start + timedelta(seconds=60) for d in queued)
    assert run_of(ws_a, run.pk).retry_at >= start + timedelta(seconds=60)  # later than a tick: in the DB
    fake_fcm.fault_all = None
    assert pipeline.tick(start + timedelta(seconds=30)).republished_batches == 0
    assert pipeline.tick(start + timedelta(seconds=55)).republished_batches == 2
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert run.status == "sent" and run.sent == 6
    assert all(d.sent_at >= start + timedelta(seconds=60) for d in _deliveries(ws_a, run.pk))


def test_gone_tokens_and_subscriptions_mark_the_subscriber_invalid(
    ws_a, web_app, fcm_app, fake_webpush, fake_fcm, pipeline
):
    gone = web_subscribers(ws_a, web_app, fake_webpush, 1, fault="410") + web_subscribers(
        ws_a, web_app, fake_webpush, 1, fault="404"
    )
    alive = web_subscribers(ws_a, web_app, fake_webpush, 2)
    web_run = send_now_run(ws_a, web_app, target={"all": True})
    unregistered = fcm_subscribers(ws_a, fcm_app, 2, prefix="unregistered-")
    fcm_subscribers(ws_a, fcm_app, 1)
    fcm_run = send_now_run(ws_a, fcm_app, target={"all": True})
    pipeline.run()
    web_run, fcm_run = run_of(ws_a, web_run.pk), run_of(ws_a, fcm_run.pk)
    assert (web_run.sent, web_run.invalid) == (2, 2) and (fcm_run.sent, fcm_run.invalid) == (1, 2)
    assert_adds_up(web_run)
    assert_adds_up(fcm_run)
    with schema_context(ws_a.schema_name):
        statuses = dict(Subscriber.objects.values_list("pk", "status"))
    assert {statuses[s.pk] for s in gone + unregistered} == {"invalid"}
    assert {statuses[s.pk] for s in alive} == {"active"}
    codes = {d.error_code for d in _deliveries(ws_a, web_run.pk) if d.status == "invalid"}
    assert codes == {"subscription_gone"}
    assert {d.error_code for d in _deliveries(ws_a, fcm_run.pk) if d.status == "invalid"} == {"unregistered"}
    # The next run does not even try them.
    again = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    assert run_of(ws_a, again.pk).targeted == 2


def test_permanent_errors_fail_with_their_reason_and_are_never_retried(ws_a, web_app, fake_webpush, pipeline):
    too_big = web_subscribers(ws_a, web_app, fake_webpush, 1, fault="413")
    moved = web_subscribers(ws_a, web_app, fake_webpush, 1, fault="redirect")
    web_subscribers(ws_a, web_app, fake_webpush, 1)
    run = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert (run.status, run.sent, run.failed) == ("sent", 1, 2)
    assert_adds_up(run)
    failed = {d.subscriber_id: d for d in _deliveries(ws_a, run.pk) if d.status == "failed"}
    assert failed[too_big[0].pk].error_code == "payload_too_large" and failed[too_big[0].pk].attempts == 1
    assert failed[moved[0].pk].error_code == "redirect_refused"
    assert fake_webpush.counters["fault_413"] == 1 and fake_webpush.counters["redirect_followed"] == 0
    with schema_context(ws_a.schema_name):
        detail = notification_detail(run)
    assert {(r["code"], r["count"]) for r in detail["failure_reasons"]} == {
        ("payload_too_large", 1),
        ("redirect_refused", 1),
    }


def test_retries_are_bounded_then_failed_with_the_reason(ws_a, web_app, fake_webpush, monkeypatch, settings):
    settings.PUSHPILOT_SEND_MAX_ATTEMPTS = 3
    [down] = web_subscribers(ws_a, web_app, fake_webpush, 1, fault="503")
    web_subscribers(ws_a, web_app, fake_webpush, 1)
    pipeline = Pipeline(monkeypatch, clock=timezone.now())
    run = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert (run.status, run.sent, run.failed) == ("sent", 1, 1)
    assert_adds_up(run)
    assert fake_webpush.counters["fault_503"] == 3
    [failed] = [d for d in _deliveries(ws_a, run.pk) if d.status == "failed"]
    assert failed.subscriber_id == down.pk and failed.attempts == 3
    assert failed.error_code == "unavailable" and failed.error_message.startswith("Gave up after 3 attempts")


# SENDER_ID_MISMATCH (403 PERMISSION_DENIED) and THIRD_PARTY_AUTH_ERROR (401 UNAUTHENTICATED).
@pytest.mark.parametrize("fault, reason", [("mismatch", "mismatch"), ("thirdparty", "auth error")])
def test_rejected_fcm_credentials_flag_the_app_and_stop_the_run_without_burning_the_audience(
    ws_a, fcm_app, fake_fcm, pipeline, settings, fault, reason
):
    settings.PUSHPILOT_SEND_BATCH_SIZE = 3
    fcm_subscribers(ws_a, fcm_app, 9)
    run = send_now_run(ws_a, fcm_app, target={"all": True})
    fake_fcm.fault_all = fault
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert run.status == "failed" and run.stop_reason == "credentials_invalid"
    assert (run.targeted, run.failed, run.sent) == (9, 9, 0)
    assert_adds_up(run)
    assert fake_fcm.counters[f"fault_{fault}"] == 3  # one batch tried; six messages never left
    with schema_context(ws_a.schema_name):
        app = App.objects.get(pk=fcm_app.pk)
    assert app.status == "credentials_invalid" and reason in app.status_reason.lower()
    assert {d.error_code for d in _deliveries(ws_a, run.pk)} == {"credentials_invalid"}

    # Fixed on Google's side: the next send goes out and clears the flag.
    fake_fcm.fault_all = None
    again = send_now_run(ws_a, fcm_app, target={"all": True})
    pipeline.run()
    assert run_of(ws_a, again.pk).sent == 9
    with schema_context(ws_a.schema_name):
        assert App.objects.get(pk=fcm_app.pk).status == "ok"


def test_a_revoked_service_account_stops_the_run(ws_a, fcm_app, fake_fcm, pipeline):
    fcm_subscribers(ws_a, fcm_app, 2)
    with schema_context(ws_a.schema_name):
        from integrations.selectors import app_service_account

        fake_fcm.revoke_service_account(app_service_account(app=fcm_app)["client_email"])
    run = send_now_run(ws_a, fcm_app, target={"all": True})
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert run.status == "failed" and run.stop_reason == "credentials_invalid" and run.failed == 2


def test_rejected_vapid_flags_the_web_push_app(ws_a, web_app, fake_webpush, pipeline):
    web_subscribers(ws_a, web_app, fake_webpush, 2, fault="401")
    run = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert run.status == "failed" and run.stop_reason == "vapid_rejected"
    assert_adds_up(run)
    with schema_context(ws_a.schema_name):
        assert App.objects.get(pk=web_app.pk).status == "vapid_rejected"


def test_one_bad_subscription_key_does_not_stop_a_run_that_gets_through(
    ws_a, web_app, fake_webpush, pipeline
):
    web_subscribers(ws_a, web_app, fake_webpush, 1, fault="403")
    web_subscribers(ws_a, web_app, fake_webpush, 3)
    run = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    run = run_of(ws_a, run.pk)
    assert (run.status, run.sent, run.failed, run.stop_reason) == ("sent", 3, 1, "")
    with schema_context(ws_a.schema_name):
        assert App.objects.get(pk=web_app.pk).status == "ok"


def test_web_push_429_backs_off_only_that_push_service_origin(
    ws_a, web_app, fake_webpush, monkeypatch, settings
):
    from integrations import services as integration_services

    other_origin = f"http://localhost:{fake_webpush.port}"
    settings.PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS = [fake_webpush.origin, other_origin]
    busy = web_subscribers(ws_a, web_app, fake_webpush, 2)  # 127.0.0.1: one of them answers 429 once
    calm = []
    with schema_context(ws_a.schema_name):
        for _ in range(2):
            info = fake_webpush.subscribe(host="localhost").json()
            subscriber, _ = integration_services.subscriber_upsert(
                app=web_app,
                subscription={"endpoint": info["endpoint"], "keys": info["keys"], "expires_at": None},
            )
            calm.append(subscriber)
    _flaky(monkeypatch, fake_webpush, {_path(busy[0]): [(429, {"Retry-After": "30"})]})
    start = timezone.now()
    pipeline = Pipeline(monkeypatch, clock=start)
    first = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run(until=start + timedelta(seconds=1))
    assert fake_webpush.counters["flaky_429"] == 1
    after_first = web_counts(fake_webpush)
    assert {s.endpoint: after_first[s.endpoint] for s in calm} == {s.endpoint: 1 for s in calm}
    assert after_first[busy[0].endpoint] == 0

    # A second run inside the 30 s: the busy origin is not asked at all, the other one is.
    pipeline.clock = start + timedelta(seconds=5)
    second = send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run(until=start + timedelta(seconds=6))
    assert fake_webpush.counters["flaky_429"] == 1
    after_second = web_counts(fake_webpush)
    assert {s.endpoint: after_second[s.endpoint] for s in calm} == {s.endpoint: 2 for s in calm}
    assert [after_second[b.endpoint] for b in busy] == [after_first[b.endpoint] for b in busy]
    waiting = [d for d in _deliveries(ws_a, second.pk) if d.subscriber_id in {b.pk for b in busy}]
    assert len(waiting) == 2 and {d.status for d in waiting} == {"queued"}
    assert all(d.next_attempt_at >= start + timedelta(seconds=30) for d in waiting)
    assert all(d.error_code == "rate_limited" for d in waiting)

    pipeline.tick(start + timedelta(seconds=30))
    pipeline.run()
    for run_id in (first.pk, second.pk):
        run = run_of(ws_a, run_id)
        assert (run.status, run.sent) == ("sent", 4)
        assert_adds_up(run)
    assert sorted(web_counts(fake_webpush)[s.endpoint] for s in busy + calm) == [2] * 4
    late = [
        d
        for run_id in (first.pk, second.pk)
        for d in _deliveries(ws_a, run_id)
        if d.subscriber_id == busy[0].pk or (run_id == second.pk and d.subscriber_id == busy[1].pk)
    ]
    assert len(late) == 3 and all(d.sent_at >= start + timedelta(seconds=30) for d in late)
