"""pushpilot-sdk.js in headless Chromium against a loopback recorder playing PushPilot's SDK API.

Offline, Chromium has no push service to register with, so `pushManager.subscribe()` fails: the flow is
checked up to there (permission, worker registration, config fetch, a clear error), and the request the
SDK sends once the browser hands it a subscription is checked through `_postSubscription()` with a
synthetic PushSubscription JSON."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.sdk.support import SDK_KEY, SUBSCRIPTION, click_subscribe, settle

pytestmark = pytest.mark.e2e

SUBSCRIBER_ID = "6f1c2a4e-8d0b-4f7a-9a51-3c2d1e0f9b77"


def test_subscribe_gets_as_far_as_the_browser_allows_offline(sdk_page, sdk_site, recorder):
    page = sdk_page()

    outcome = click_subscribe(page)

    assert outcome["ok"] is False
    assert outcome["name"] == "PushPilotError"
    assert outcome["code"] == "push_subscribe_failed"
    assert outcome["message"].startswith("PushPilot: the browser could not create a push subscription (")
    assert page.evaluate("Notification.permission") == "granted"
    [config] = recorder.matching("GET", "/sdk/v1/config")
    assert config.sdk_key == SDK_KEY
    assert config.headers["origin"] == sdk_site.url
    registration = page.evaluate("""navigator.serviceWorker.getRegistration('/').then(r => ({
        scope: r.scope, scriptURL: r.active && r.active.scriptURL }))""")
    assert registration["scope"] == f"{sdk_site.url}/"
    script = urlsplit(registration["scriptURL"])
    assert script.path == "/sdk/pushpilot-sw.js"
    assert parse_qs(script.query) == {"key": [SDK_KEY], "api": [recorder.url]}
    assert recorder.matching("POST", "/sdk/v1/subscribe") == []
    assert page.evaluate("PushPilot.getSubscriberId()") is None
    assert page.evaluate("PushPilot.isSubscribed()") is False


def test_subscribe_without_notification_permission_stops_before_anything_else(sdk_page, recorder):
    page = sdk_page(notifications=False)

    outcome = click_subscribe(page)

    assert outcome["ok"] is False
    assert outcome["code"] in ("permission_denied", "permission_dismissed")
    assert "notification" in outcome["message"]
    assert recorder.requests == []
    assert page.evaluate("navigator.serviceWorker.getRegistration('/').then(r => r === undefined)") is True


def test_a_config_error_from_the_api_is_surfaced(sdk_page, recorder):
    recorder.respond(
        "GET",
        "/sdk/v1/config",
        401,
        {"error": {"code": "authentication_failed", "message": "Unknown SDK key.", "details": {}}},
    )
    page = sdk_page()

    outcome = click_subscribe(page)

    assert outcome["code"] == "authentication_failed"
    assert outcome["message"] == "PushPilot: GET /sdk/v1/config failed with HTTP 401: Unknown SDK key."


def test_a_vapid_key_given_to_init_skips_the_config_call(sdk_page, recorder):
    page = sdk_page(init=False)
    page.evaluate(
        "([key, api, vapid]) => ppTest.init({sdkKey: key, apiOrigin: api, vapidPublicKey: vapid})",
        [SDK_KEY, recorder.url, SUBSCRIPTION["keys"]["p256dh"]],
    )

    outcome = click_subscribe(page)

    assert outcome["code"] == "push_subscribe_failed"
    assert recorder.requests == []


def test_post_subscription_sends_the_contract_body_and_remembers_the_subscriber(sdk_page, recorder):
    recorder.respond("POST", "/sdk/v1/subscribe", 201, {"subscriber_id": SUBSCRIBER_ID})
    page = sdk_page()

    outcome = settle(
        page,
        "PushPilot._postSubscription(arg, {externalUserId: 'user-42', tags: ['vip', 'beta'], "
        "attributes: {plan: 'pro', visits: 3}})",
        SUBSCRIPTION,
    )

    assert outcome == {"ok": True, "value": {"subscriberId": SUBSCRIBER_ID, "created": True}}
    [request] = recorder.matching("POST", "/sdk/v1/subscribe")
    assert request.sdk_key == SDK_KEY
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "subscription": SUBSCRIPTION,
        "external_user_id": "user-42",
        "tags": ["vip", "beta"],
        "attributes": {"plan": "pro", "visits": 3},
        "locale": "fr-FR",  # navigator.language of the browser context
        "timezone": "Europe/Paris",  # Intl's zone of the browser context
    }
    assert page.evaluate("PushPilot.getSubscriberId()") == SUBSCRIBER_ID
    assert page.evaluate(f"localStorage.getItem('pushpilot:{SDK_KEY}:subscriber_id')") == SUBSCRIBER_ID


def test_identify_and_unsubscribe_name_the_remembered_subscriber(sdk_page, recorder):
    recorder.respond("POST", "/sdk/v1/subscribe", 200, {"subscriber_id": SUBSCRIBER_ID})
    page = sdk_page()
    assert settle(page, "PushPilot._postSubscription(arg)", SUBSCRIPTION)["ok"] is True

    identified = settle(
        page,
        "PushPilot.identify({externalUserId: 'user-43', tags: ['churn-risk'], "
        "attributes: {plan: 'free'}, locale: 'de-DE', timezone: 'Europe/Berlin'})",
    )
    unsubscribed = settle(page, "PushPilot.unsubscribe()")

    assert identified["ok"] is True
    [identify] = recorder.matching("POST", "/sdk/v1/identify")
    assert identify.sdk_key == SDK_KEY
    assert identify.body == {
        "subscriber_id": SUBSCRIBER_ID,
        "external_user_id": "user-43",
        "tags": ["churn-risk"],
        "attributes": {"plan": "free"},
        "locale": "de-DE",
        "timezone": "Europe/Berlin",
    }
    assert unsubscribed == {"ok": True, "value": True}
    [unsubscribe] = recorder.matching("POST", "/sdk/v1/unsubscribe")
    assert unsubscribe.body == {"subscriber_id": SUBSCRIBER_ID}
    assert page.evaluate("PushPilot.getSubscriberId()") is None
    assert settle(page, "PushPilot.identify({externalUserId: 'x'})")["code"] == "not_subscribed"


def test_errors_are_rejected_promises_with_codes_and_readable_messages(sdk_page, recorder):
    recorder.respond(
        "POST",
        "/sdk/v1/subscribe",
        400,
        {
            "error": {
                "code": "validation_error",
                "message": "endpoint: not an allowed push service.",
                "details": {"endpoint": ["not an allowed push service."]},
            }
        },
    )
    page = sdk_page(init=False)

    not_ready = settle(page, "PushPilot.subscribe()")
    bad_init = page.evaluate(
        "() => { try { PushPilot.init({apiOrigin: 'https://push.example.com'}); }"
        " catch (e) { return [e.name, e.code, e.message]; } }"
    )
    page.evaluate("([key, api]) => ppTest.init({sdkKey: key, apiOrigin: api})", [SDK_KEY, recorder.url])
    rejected = settle(page, "PushPilot._postSubscription(arg)", SUBSCRIPTION)
    bad_tags = settle(page, "PushPilot.subscribe({tags: 'vip'})")
    page.evaluate("key => ppTest.init({sdkKey: key, apiOrigin: 'http://127.0.0.1:9'})", SDK_KEY)
    unreachable = settle(page, "PushPilot._postSubscription(arg)", SUBSCRIPTION)

    assert (not_ready["code"], not_ready["message"]) == (
        "not_initialized",
        "PushPilot: call PushPilot.init({sdkKey, apiOrigin}) first.",
    )
    assert bad_init[:2] == ["PushPilotError", "invalid_config"]
    assert rejected["code"] == "validation_error"
    assert rejected["message"] == (
        "PushPilot: POST /sdk/v1/subscribe failed with HTTP 400: endpoint: not an allowed push service."
    )
    assert bad_tags["code"] == "invalid_argument"
    assert unreachable["code"] == "network_error"
    assert "http://127.0.0.1:9" in unreachable["message"]
    assert page.evaluate("PushPilot.getSubscriberId()") is None
