"""The SDK against PushPilot's real SDK endpoints (integrations/sdk_api.py) on the live server, called
cross-origin (page on http://localhost:…, API on http://127.0.0.1:…), so CORS is the production one."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from integrations import services as integration_services
from integrations.models import Subscriber
from tests.sdk.support import SUBSCRIPTION, click_subscribe, settle

pytestmark = pytest.mark.e2e


@pytest.fixture
def web_push_app(ws_a):
    with schema_context(ws_a.schema_name):
        return integration_services.app_create(
            workspace=ws_a, kind="web_push", name="Website", subject="mailto:ops@example.com"
        )


@pytest.fixture
def api_origin(sdk_site) -> str:
    return sdk_site.url.replace("//localhost:", "//127.0.0.1:")


def init(page, sdk_key: str, api_origin: str) -> None:
    page.evaluate("([key, api]) => ppTest.init({sdkKey: key, apiOrigin: api})", [sdk_key, api_origin])


def test_sdk_registers_identifies_and_unsubscribes_a_browser_through_the_api(
    sdk_page, ws_a, web_push_app, api_origin
):
    page = sdk_page(init=False)
    init(page, web_push_app.sdk_key, api_origin)

    assert page.evaluate("PushPilot._fetchVapidPublicKey()") == web_push_app.vapid_public_key
    first = settle(
        page,
        "PushPilot._postSubscription(arg, {externalUserId: 'user-42', tags: ['vip'], attributes: {plan: 'pro'}})",
        SUBSCRIPTION,
    )
    again = settle(page, "PushPilot._postSubscription(arg)", SUBSCRIPTION)

    assert first["ok"] is True, first
    assert first["value"]["created"] is True
    assert again["value"] == {"subscriberId": first["value"]["subscriberId"], "created": False}
    subscriber_id = first["value"]["subscriberId"]
    with schema_context(ws_a.schema_name):
        subscriber = Subscriber.objects.get(pk=subscriber_id)
    assert subscriber.app_id == web_push_app.pk
    assert subscriber.endpoint == SUBSCRIPTION["endpoint"]
    assert (subscriber.p256dh, subscriber.auth) == (
        SUBSCRIPTION["keys"]["p256dh"],
        SUBSCRIPTION["keys"]["auth"],
    )
    assert subscriber.external_user_id == "user-42"
    assert subscriber.tags == ["vip"]
    assert subscriber.attributes == {"plan": "pro"}
    assert (subscriber.locale, subscriber.timezone) == ("fr-FR", "Europe/Paris")

    identified = settle(page, "PushPilot.identify({externalUserId: 'user-43', timezone: 'America/New_York'})")
    unsubscribed = settle(page, "PushPilot.unsubscribe()")

    assert identified["ok"] is True, identified
    assert unsubscribed == {"ok": True, "value": True}
    with schema_context(ws_a.schema_name):
        subscriber.refresh_from_db()
    assert (subscriber.external_user_id, subscriber.timezone) == ("user-43", "America/New_York")
    assert subscriber.status == "unsubscribed"
    assert page.evaluate("PushPilot.getSubscriberId()") is None


def test_subscribe_with_the_real_config_fails_only_at_the_browser_push_service(
    sdk_page, web_push_app, api_origin
):
    page = sdk_page(init=False)
    init(page, web_push_app.sdk_key, api_origin)

    outcome = click_subscribe(page)

    assert outcome["code"] == "push_subscribe_failed", outcome


def test_an_unknown_sdk_key_is_reported_from_the_api(sdk_page, api_origin, db):
    page = sdk_page(init=False)
    init(page, "pk_not_a_real_key", api_origin)

    outcome = click_subscribe(page)

    assert outcome["code"] == "invalid_sdk_key"
    assert outcome["message"].startswith("PushPilot: GET /sdk/v1/config failed with HTTP 401: ")
