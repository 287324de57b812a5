"""The SDK's public endpoints: X-SDK-Key auth through the public registry, idempotent subscribe,
unsubscribe, identify, config, SSRF rules for Web Push endpoints, input shapes, CORS, throttling."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from integrations.models import Subscriber
from tests.integrations.integration_support import (
    browser_subscription,
    fcm_token,
    make_app,
    make_subscriber,
)
from tests.tenants.support import assert_error, base_schema_once, fast_tenancy  # noqa: F401

pytestmark = pytest.mark.django_db


class Sdk:
    def __init__(self, api, sdk_key: str | None):
        self.client = api()
        self.headers = {"HTTP_X_SDK_KEY": sdk_key} if sdk_key is not None else {}

    def post(self, path, body, **extra):
        return self.client.post(f"/sdk/v1/{path}", body, headers={**self.headers, **extra})

    def get(self, path, **extra):
        return self.client.get(f"/sdk/v1/{path}", headers={**self.headers, **extra})


@pytest.fixture
def web_app(ws_a):
    return make_app(ws_a, "web_push", name="Alpha site")


@pytest.fixture
def fcm_app(ws_a):
    return make_app(ws_a, "fcm", name="Alpha Android")


@pytest.fixture
def sdk(api, web_app):
    return Sdk(api, web_app.sdk_key)


def _subscribers(ws):
    with schema_context(ws.schema_name):
        return list(Subscriber.objects.order_by("created_at"))


# -- subscribe -------------------------------------------------------------------------------------
def test_subscribe_is_an_idempotent_upsert_201_then_200(sdk, ws_a, web_app):
    subscription = browser_subscription()
    first = sdk.post(
        "subscribe",
        {
            "subscription": subscription,
            "tags": ["news"],
            "locale": "de_de",
            "timezone": "Europe/Berlin",
            "attributes": {"plan": "free"},
        },
    )
    assert first.status_code == 201, first.content
    assert set(first.json()) == {"subscriber_id"}
    again = sdk.post("subscribe", {"subscription": subscription})
    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    [row] = _subscribers(ws_a)
    assert str(row.pk) == first.json()["subscriber_id"]
    assert row.app_id == web_app.pk and row.kind == "web_push" and row.platform == "web"
    assert row.endpoint == subscription["endpoint"] and row.p256dh == subscription["keys"]["p256dh"]
    assert row.tags == ["news"] and row.locale == "de-DE" and row.timezone == "Europe/Berlin"
    assert row.attributes == {"plan": "free"}
    assert subscription["endpoint"] not in first.content.decode() + again.content.decode()


def test_subscribe_drops_unreadable_browser_locale_and_timezone_instead_of_failing(sdk, ws_a):
    r = sdk.post(
        "subscribe", {"subscription": browser_subscription(), "timezone": "Etc/Unknown", "locale": "??"}
    )
    assert r.status_code == 201, r.content
    [row] = _subscribers(ws_a)
    assert (row.timezone, row.locale) == ("", "")
    # identify, which the site calls on purpose, is strict.
    error = assert_error(
        sdk.post("identify", {"subscriber_id": r.json()["subscriber_id"], "timezone": "Etc/Unknown"}), 400
    )
    assert "timezone" in error["details"]


def test_resubscribing_reactivates_and_refreshes_the_keys(sdk, ws_a):
    subscription = browser_subscription()
    subscriber_id = sdk.post("subscribe", {"subscription": subscription}).json()["subscriber_id"]
    assert sdk.post("unsubscribe", {"subscriber_id": subscriber_id}).json()["status"] == "unsubscribed"
    renewed = browser_subscription(subscription["endpoint"])
    renewed["expirationTime"] = 1893456000000
    r = sdk.post("subscribe", {"subscription": renewed})
    assert r.status_code == 200 and r.json()["subscriber_id"] == subscriber_id
    [row] = _subscribers(ws_a)
    assert row.status == "active" and row.p256dh == renewed["keys"]["p256dh"]
    assert row.expires_at.year == 2030


def test_fcm_subscribe_and_the_app_kind_must_match(api, fcm_app, web_app, ws_a):
    fcm = Sdk(api, fcm_app.sdk_key)
    token = fcm_token()
    r = fcm.post("subscribe", {"fcm_token": token, "platform": "android"})
    assert r.status_code == 201, r.content
    assert fcm.post("subscribe", {"fcm_token": token}).status_code == 200
    assert (
        "subscription"
        in assert_error(fcm.post("subscribe", {"subscription": browser_subscription()}), 400)["details"]
    )
    web = Sdk(api, web_app.sdk_key)
    assert "fcm_token" in assert_error(web.post("subscribe", {"fcm_token": fcm_token()}), 400)["details"]
    assert_error(web.post("subscribe", {}), 400, "validation_error")
    row = next(s for s in _subscribers(ws_a) if s.kind == "fcm")
    assert row.fcm_token == token and row.platform == "android"


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("short", "characters long"),
        ("x" * 1025, "characters long"),
        ("abc def ghi jkl mno pqr stu", "letters, digits"),
        ("abcdefghijklmnopqrstuvwxyz<script>", "letters, digits"),
    ],
)
def test_fcm_token_shape_and_size(api, fcm_app, token, why):
    error = assert_error(
        Sdk(api, fcm_app.sdk_key).post("subscribe", {"fcm_token": token}), 400, "validation_error"
    )
    assert why in error["details"]["fcm_token"][0]


def _with_keys(**keys):
    subscription = browser_subscription()
    subscription["keys"].update(keys)
    return subscription


@pytest.mark.parametrize(
    ("subscription", "field"),
    [
        (_with_keys(p256dh="BAAAA"), "p256dh"),  # too short
        (_with_keys(p256dh="B" + "A" * 86), "p256dh"),  # 65 bytes, but not a point on the curve
        (_with_keys(p256dh="not base64 at all!"), "p256dh"),
        (_with_keys(auth="AAAAAAAAAAAAAAAAAAAAAA"[:-4]), "auth"),  # 12 bytes
        (_with_keys(auth="A" * 40), "auth"),
    ],
)
def test_subscription_keys_are_validated(sdk, subscription, field):
    error = assert_error(sdk.post("subscribe", {"subscription": subscription}), 400, "validation_error")
    assert field in error["details"]["subscription"]["keys"], error


def test_standard_base64_keys_are_accepted_and_stored_as_base64url(sdk, ws_a):
    subscription = browser_subscription()
    for name in ("p256dh", "auth"):
        value = subscription["keys"][name]
        subscription["keys"][name] = value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4)
    assert sdk.post("subscribe", {"subscription": subscription}).status_code == 201
    [row] = _subscribers(ws_a)
    assert "=" not in row.p256dh + row.auth and "+" not in row.p256dh + row.auth


# -- SSRF ----------------------------------------------------------------------------------------------
REJECTED_BY_DEFAULT = [
    "http://fcm.googleapis.com/fcm/send/abc",  # not https
    "https://fcm.googleapis.com:8443/fcm/send/abc",  # other port
    "https://evil.example/fcm/send/abc",  # other host
    "https://fcm.googleapis.com.evil.example/x",  # suffix trick
    "https://evilfcm.googleapis.com@evil.example/x",  # userinfo
    "https://user:pass@fcm.googleapis.com/fcm/send/abc",  # userinfo on an allowed host
    "https://127.0.0.1/push",  # IP literal
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://[::1]/push",  # IPv6 literal
    "https://2130706433/push",  # 127.0.0.1 as one number
    "https://0x7f.1/push",  # 127.0.0.1, hex short form
    "https://localhost/push",
    "https://intranet:443/push",
    "ftp://fcm.googleapis.com/x",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "https://fcm.googleapis.com\\@evil.example/x",  # backslash confusion
    "https://fcm.googleapis.com/fcm/send/abc#frag",
    "https://fcm.googleapis.com/fcm/send/" + "a" * 1000,  # > 1,000 characters
    "//fcm.googleapis.com/fcm/send/abc",  # scheme-relative
    "",
]
ACCEPTED_BY_DEFAULT = [
    "https://fcm.googleapis.com/fcm/send/dGhpcy1pcy1hbi1lbmRwb2ludA",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABh",
    "https://web.push.apple.com/QGuQyavXutnMSOHjNpo8",
    "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAB",
]


@pytest.mark.parametrize("endpoint", REJECTED_BY_DEFAULT)
def test_web_push_endpoints_outside_the_push_services_are_rejected(sdk, ws_a, endpoint):
    error = assert_error(
        sdk.post("subscribe", {"subscription": browser_subscription(endpoint)}), 400, "validation_error"
    )
    assert "endpoint" in error["details"]["subscription"], error
    assert not _subscribers(ws_a)


@pytest.mark.parametrize("endpoint", ACCEPTED_BY_DEFAULT)
def test_real_push_service_endpoints_are_accepted(sdk, endpoint):
    r = sdk.post("subscribe", {"subscription": browser_subscription(endpoint)})
    assert r.status_code == 201, r.content


def test_the_allowed_origins_setting_replaces_the_default_list(sdk, settings):
    settings.PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS = ["http://127.0.0.1:9999", "https://*.push.example"]
    for endpoint in (
        "http://127.0.0.1:9999/push/abc",
        "https://eu.push.example/p/1",
        "https://a.b.push.example/p",
    ):
        assert sdk.post("subscribe", {"subscription": browser_subscription(endpoint)}).status_code == 201, (
            endpoint
        )
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/abc",  # the defaults are gone
        "http://127.0.0.1:9998/push/abc",
        "https://127.0.0.1:9999/push/abc",
        "http://localhost:9999/push/abc",
        "https://push.example/p",
        "http://[::ffff:127.0.0.1]:9999/push",
    ):
        assert_error(sdk.post("subscribe", {"subscription": browser_subscription(endpoint)}), 400)


# -- auth --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [None, "", "pp_sdk_doesnotexist", "x" * 500])
def test_unknown_or_missing_sdk_key_is_401(api, key):
    sdk = Sdk(api, key)
    for response in (
        sdk.post("subscribe", {"subscription": browser_subscription()}),
        sdk.get("config"),
        sdk.post("identify", {"subscriber_id": "0b3a4f1e-2a9c-4a8e-9a55-1f5f0a3c9d77"}),
    ):
        assert_error(response, 401, "invalid_sdk_key")
        assert response["WWW-Authenticate"].startswith("SDK-Key")


def test_a_users_jwt_is_not_an_sdk_credential(api, alice, ws_a):
    client = api(user=alice, workspace=ws_a)
    assert_error(
        client.post("/sdk/v1/subscribe", {"subscription": browser_subscription()}), 401, "invalid_sdk_key"
    )


def test_config_gives_the_vapid_public_key(sdk, api, web_app, fcm_app):
    body = sdk.get("config").json()
    assert body == {
        "app_id": str(web_app.pk),
        "kind": "web_push",
        "name": "Alpha site",
        "vapid_public_key": web_app.vapid_public_key,
    }
    assert Sdk(api, fcm_app.sdk_key).get("config").json()["vapid_public_key"] is None


# -- unsubscribe, identify -------------------------------------------------------------------------------
def test_unsubscribe_by_id_endpoint_or_token(sdk, api, ws_a, fcm_app):
    one, two = browser_subscription(), browser_subscription()
    first = sdk.post("subscribe", {"subscription": one}).json()["subscriber_id"]
    second = sdk.post("subscribe", {"subscription": two}).json()["subscriber_id"]
    assert sdk.post("unsubscribe", {"subscriber_id": first}).json() == {
        "subscriber_id": first,
        "status": "unsubscribed",
    }
    assert sdk.post("unsubscribe", {"subscription": two}).json()["subscriber_id"] == second
    token = fcm_token()
    fcm = Sdk(api, fcm_app.sdk_key)
    third = fcm.post("subscribe", {"fcm_token": token}).json()["subscriber_id"]
    assert fcm.post("unsubscribe", {"fcm_token": token}).json()["subscriber_id"] == third
    assert {s.status for s in _subscribers(ws_a)} == {"unsubscribed"}
    assert_error(
        sdk.post("unsubscribe", {"subscription": browser_subscription()}), 404, "subscriber_not_found"
    )
    assert_error(sdk.post("unsubscribe", {}), 400, "validation_error")


def test_identify_sets_the_profile(sdk, ws_a):
    subscriber_id = sdk.post(
        "subscribe",
        {"subscription": browser_subscription(), "tags": ["a"], "attributes": {"plan": "free", "age": 30}},
    ).json()["subscriber_id"]
    r = sdk.post(
        "identify",
        {
            "subscriber_id": subscriber_id,
            "external_user_id": "user-42",
            "add_tags": ["vip"],
            "attributes": {"plan": "pro", "age": None, "first_name": "Ada"},
            "locale": "en-gb",
            "timezone": "America/New_York",
        },
    )
    assert r.status_code == 200, r.content
    assert r.json() == {"subscriber_id": subscriber_id}
    [row] = _subscribers(ws_a)
    assert row.external_user_id == "user-42" and row.tags == ["a", "vip"]
    assert row.attributes == {"plan": "pro", "first_name": "Ada"}
    assert row.locale == "en-GB" and row.timezone == "America/New_York"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"locale": "english please"}, "locale"),
        ({"tags": ["ok", ""]}, "tags"),
        ({"tags": ["x" * 65]}, "tags"),
        ({"attributes": {"bad key!": 1}}, "attributes"),
        ({"attributes": {"nested": {"a": 1}}}, "attributes"),
        ({"attributes": {"nul": "a\u0000b"}}, "attributes"),
        ({"attributes": ["not", "an", "object"]}, "attributes"),
        ({"platform": "blackberry"}, "platform"),
        ({"external_user_id": "u" * 256}, "external_user_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_identify_validates_each_field(sdk, body, field):
    subscriber_id = sdk.post("subscribe", {"subscription": browser_subscription()}).json()["subscriber_id"]
    error = assert_error(
        sdk.post("identify", {"subscriber_id": subscriber_id, **body}), 400, "validation_error"
    )
    assert field in error["details"], error


def test_sdk_key_of_workspace_a_cannot_touch_workspace_b(api, ws_a, ws_b, web_app):
    b_app = make_app(ws_b, "web_push", name="Beta site")
    b_sub = make_subscriber(ws_b, b_app, external_user_id="beta-user", tags=["beta"])
    a_sdk = Sdk(api, web_app.sdk_key)
    assert_error(
        a_sdk.post("identify", {"subscriber_id": str(b_sub.pk), "external_user_id": "hijacked"}),
        404,
        "subscriber_not_found",
    )
    assert_error(a_sdk.post("unsubscribe", {"subscriber_id": str(b_sub.pk)}), 404, "subscriber_not_found")
    with schema_context(ws_b.schema_name):
        b_endpoint = Subscriber.objects.get(pk=b_sub.pk).endpoint
    assert_error(a_sdk.post("unsubscribe", {"endpoint": b_endpoint}), 404, "subscriber_not_found")
    # Subscribing B's endpoint with A's key creates A's own row and leaves B's untouched.
    subscription = browser_subscription(b_endpoint)
    assert a_sdk.post("subscribe", {"subscription": subscription}).status_code == 201
    with schema_context(ws_b.schema_name):
        row = Subscriber.objects.get(pk=b_sub.pk)
    assert (row.status, row.external_user_id, row.tags) == ("active", "beta-user", ["beta"])
    assert len(_subscribers(ws_b)) == 1 and len(_subscribers(ws_a)) == 1
    # B's key sees B's config, A's sees A's.
    assert Sdk(api, b_app.sdk_key).get("config").json()["app_id"] == str(b_app.pk)
    assert a_sdk.get("config").json()["app_id"] == str(web_app.pk)


def test_sdk_key_of_one_app_cannot_touch_another_apps_subscribers(api, ws_a, web_app):
    other = make_app(ws_a, "web_push", name="Other site")
    other_sub = make_subscriber(ws_a, other)
    assert_error(
        Sdk(api, web_app.sdk_key).post("identify", {"subscriber_id": str(other_sub.pk), "tags": ["x"]}),
        404,
        "subscriber_not_found",
    )


# -- transport-level behaviour -------------------------------------------------------------------------
def test_cors_preflight_allows_the_sdk_key_header(api):
    r = api().client.options(
        "/sdk/v1/subscribe",
        HTTP_ORIGIN="https://shop.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-sdk-key",
    )
    assert r.status_code == 200
    assert r["Access-Control-Allow-Origin"] == "*"
    assert "x-sdk-key" in r["Access-Control-Allow-Headers"].lower()


def test_sdk_is_throttled_per_key_and_ip(sdk, settings):
    settings.PUSHPILOT_THROTTLE_SDK = "3/min"
    for _ in range(3):
        assert sdk.get("config").status_code == 200
    r = sdk.get("config")
    assert_error(r, 429, "throttled")
    assert int(r["Retry-After"]) > 0
    assert sdk.get("config", REMOTE_ADDR="10.1.2.3").status_code == 200  # another client IP


def test_malformed_bodies_get_the_error_shape(sdk):
    r = sdk.client.client.post(
        "/sdk/v1/subscribe", data="{not json", content_type="application/json", **sdk.headers
    )
    assert_error(r, 400, "malformed_request")
    r = sdk.client.client.post(
        "/sdk/v1/subscribe", data="[1, 2]", content_type="application/json", **sdk.headers
    )
    assert_error(r, 400, "validation_error")
    assert_error(sdk.get("nowhere"), 404, "not_found")
