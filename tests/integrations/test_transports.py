"""The transports, end to end through the real client libraries to the local fakes.

No database: the transports take plain data. The FCM fake speaks HTTP/2 over TLS (test CA) and
checks OAuth tokens and message JSON like FCM; the Web Push fake checks VAPID like a push service
and decrypts every body with the subscriber's private key (the test plays the browser).
"""

from __future__ import annotations

import asyncio
import json
import time

import firebase_admin
import http_ece
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from integrations.transports import ErrorCode, Message, Outcome, OutcomeKind, Transport, WebPushSubscription
from integrations.transports import fcm as fcm_module
from integrations.transports.base import DEFAULT_TTL_SECONDS, parse_retry_after
from integrations.transports.fcm import FcmTransport, cached_app
from integrations.transports.urls import (
    DEFAULT_ALLOWED_ORIGINS,
    EndpointChecker,
    EndpointNotAllowed,
    check_endpoint,
    parse_allowed_origins,
)
from integrations.transports.webpush import (
    MAX_PLAINTEXT_BYTES,
    ReceiverKeys,
    VapidSigner,
    WebPushTransport,
    b64url_decode,
    b64url_encode,
    encrypt_aes128gcm,
    generate_vapid_key_pair,
)

SUBJECT = "mailto:ops@pushpilot.example"


def contract_payload(**extra) -> dict:
    """The Web Push payload contract from DESIGN.md (and the source of FCM's fields)."""
    payload = {
        "title": "Weekend sale",
        "body": "Everything 20% off until Sunday — ünïcödé included",
        "url": "https://shop.example/sale",
        "icon": "https://shop.example/icon.png",
        "image": "https://shop.example/banner.png",
        "actions": [{"action": "open", "title": "Open"}],
        "data": {"campaign": "weekend", "variant": 2, "flags": {"vip": True}},
        "pp": {"delivery": "dlv.signed-token.abc", "notification": "8d7c6b5a-0000-4000-8000-000000000001"},
    }
    payload.update(extra)
    return payload


# ---------------------------------------------------------------------------------------------
# FCM


@pytest.fixture
def fcm_transport(fake_fcm, request):
    """A transport for a fresh app id (so the App cache starts empty for this test)."""

    def make(service_account=None, app_id=None, **options) -> FcmTransport:
        account = service_account or fake_fcm.create_service_account("pushpilot-test")
        return FcmTransport(
            account,
            app_id=app_id or f"app-{request.node.name}",
            api_url=fake_fcm.base_url,
            ca_bundle=fake_fcm.ca_file,
            **options,
        )

    return make


def test_fcm_message_arrives_over_http2_with_the_contract_fields(fake_fcm, fcm_transport):
    transport = fcm_transport()
    assert isinstance(transport, Transport)
    message = Message(
        payload=contract_payload(),
        token="dXk2ZFNx:APA91bGood-token_0123456789",
        ttl=3600,
        urgency="high",
        collapse_key="weekend-sale",
        click_action="OPEN_SALE",
    )

    [outcome] = transport.send_batch([message])

    assert outcome.kind is OutcomeKind.SENT, outcome
    assert outcome.provider_message_id.startswith("projects/pushpilot-test/messages/")
    [received] = fake_fcm.received
    sent = received["message"]
    assert sent["token"] == "dXk2ZFNx:APA91bGood-token_0123456789"
    assert sent["notification"] == {
        "title": "Weekend sale",
        "body": "Everything 20% off until Sunday — ünïcödé included",
        "image": "https://shop.example/banner.png",
    }
    # FCM data values are strings; the delivery token travels as pp_delivery.
    assert sent["data"] == {
        "campaign": "weekend",
        "variant": "2",
        "flags": '{"vip":true}',
        "pp_delivery": "dlv.signed-token.abc",
        "pp_notification": "8d7c6b5a-0000-4000-8000-000000000001",
        "pp_url": "https://shop.example/sale",
        "pp_actions": '[{"action":"open","title":"Open"}]',
    }
    assert sent["android"]["ttl"] == "3600s"
    assert sent["android"]["priority"] == "high"
    assert sent["android"]["collapse_key"] == "weekend-sale"
    assert sent["android"]["notification"] == {
        "image": "https://shop.example/banner.png",
        "click_action": "OPEN_SALE",
    }
    assert sent["apns"]["headers"]["apns-priority"] == "10"
    assert sent["apns"]["headers"]["apns-collapse-id"] == "weekend-sale"
    assert int(sent["apns"]["headers"]["apns-expiration"]) == pytest.approx(time.time() + 3600, abs=30)
    assert sent["apns"]["payload"]["aps"] == {"mutable-content": 1, "category": "OPEN_SALE"}
    assert sent["apns"]["fcm_options"] == {"image": "https://shop.example/banner.png"}
    assert sent["webpush"]["headers"] == {"TTL": "3600", "Urgency": "high"}
    assert sent["webpush"]["fcm_options"] == {"link": "https://shop.example/sale"}
    # The async client really used HTTP/2 (ALPN h2 over TLS), and one token served the request.
    assert fake_fcm.counters["http/2"] == 1
    assert fake_fcm.counters["tokens_issued"] == 1


def test_fcm_default_ttl_is_four_weeks_not_zero(fake_fcm, fcm_transport):
    [outcome] = fcm_transport().send_batch(
        [Message(payload={"title": "t", "body": "b"}, token="tok-default-ttl")]
    )
    assert outcome.ok
    sent = fake_fcm.received[0]["message"]
    assert DEFAULT_TTL_SECONDS == 28 * 24 * 3600
    assert sent["android"]["ttl"] == f"{DEFAULT_TTL_SECONDS}s"
    assert sent["android"]["priority"] == "normal"
    assert sent["webpush"]["headers"]["TTL"] == str(DEFAULT_TTL_SECONDS)


@pytest.mark.parametrize(
    ("token", "kind", "code", "status"),
    [
        ("unregistered-abc", OutcomeKind.INVALID, ErrorCode.UNREGISTERED, 404),
        ("invalid-abc", OutcomeKind.INVALID, ErrorCode.INVALID_TOKEN, 400),
        ("quota-abc", OutcomeKind.RETRY, ErrorCode.RATE_LIMITED, 429),
        ("unavailable-abc", OutcomeKind.RETRY, ErrorCode.UNAVAILABLE, 503),
        ("internal-abc", OutcomeKind.RETRY, ErrorCode.UNAVAILABLE, 500),
        ("mismatch-abc", OutcomeKind.FAILED, ErrorCode.CREDENTIALS_INVALID, 403),
        ("thirdparty-abc", OutcomeKind.FAILED, ErrorCode.CREDENTIALS_INVALID, 401),
    ],
)
def test_fcm_fault_maps_to_outcome(fake_fcm, fcm_transport, token, kind, code, status):
    [outcome] = fcm_transport().send_batch([Message(payload={"title": "t", "body": "b"}, token=token)])
    assert (outcome.kind, outcome.error_code, outcome.status) == (kind, code, status), outcome
    assert outcome.error_message
    assert outcome.app_level is (code == ErrorCode.CREDENTIALS_INVALID)
    # No hidden retries inside the client: the pipeline owns backoff.
    assert fake_fcm.counters["messages"] == 1
    assert fake_fcm.counters["token_requests"] == 1


def test_fcm_quota_exceeded_backs_off_at_least_a_minute_or_as_told(fake_fcm, fcm_transport):
    transport = fcm_transport()
    fake_fcm.retry_after = 5
    [short] = transport.send_batch([Message(payload={"title": "t"}, token="quota-1")])
    fake_fcm.retry_after = 300
    [long] = transport.send_batch([Message(payload={"title": "t"}, token="quota-2")])
    assert (short.kind, short.retry_after) == (OutcomeKind.RETRY, 60.0)
    assert (long.kind, long.retry_after) == (OutcomeKind.RETRY, 300.0)


def test_fcm_timeout_is_a_retry(fake_fcm, fcm_transport):
    fake_fcm.slow_seconds = 3
    transport = fcm_transport(timeout=0.5)
    started = time.monotonic()
    outcomes = transport.send_batch(
        [Message(payload={"title": "t"}, token="slow-1"), Message(payload={"title": "t"}, token="fast-1")]
    )
    assert time.monotonic() - started < 2.5
    assert (outcomes[0].kind, outcomes[0].error_code) == (OutcomeKind.RETRY, ErrorCode.TIMEOUT)
    assert outcomes[1].ok


def test_fcm_mixed_batch_keeps_order(fake_fcm, fcm_transport):
    tokens = ["ok-1", "unregistered-2", "ok-3", "quota-4", "ok-5"]
    outcomes = fcm_transport().send_batch([Message(payload={"title": t}, token=t) for t in tokens])
    assert [o.kind for o in outcomes] == [
        OutcomeKind.SENT,
        OutcomeKind.INVALID,
        OutcomeKind.SENT,
        OutcomeKind.RETRY,
        OutcomeKind.SENT,
    ]
    assert sorted(r["message"]["notification"]["title"] for r in fake_fcm.received) == [
        "ok-1",
        "ok-3",
        "ok-5",
    ]


def test_fcm_second_batch_reuses_the_cached_app_on_the_long_lived_loop(fake_fcm, fcm_transport):
    """asyncio.run() per batch breaks a cached firebase App on the second call; one loop doesn't."""
    account = fake_fcm.create_service_account("pushpilot-test")
    first = fcm_transport(account, app_id="loop-app").send_batch(
        [Message(payload={"title": "1"}, token="t-1")]
    )
    app = cached_app("loop-app")
    # A new transport object per batch, as a Celery task would build it.
    second = fcm_transport(account, app_id="loop-app").send_batch(
        [Message(payload={"title": "2"}, token="t-2")]
    )
    third = fcm_transport(account, app_id="loop-app").send_batch(
        [Message(payload={"title": "3"}, token="t-3")]
    )

    assert [o.kind for o in first + second + third] == [OutcomeKind.SENT] * 3
    assert cached_app("loop-app") is app
    assert fake_fcm.counters["tokens_issued"] == 1  # the access token is reused too


def test_fcm_async_api_from_another_event_loop(fake_fcm, fcm_transport):
    transport = fcm_transport()

    async def from_a_view():
        return await transport.send_batch_async([Message(payload={"title": "async"}, token="t-async")])

    for _ in range(2):  # two asyncio.run() loops of the caller; the transport's loop stays
        [outcome] = asyncio.run(from_a_view())
        assert outcome.ok, outcome


def test_fcm_credentials_change_recreates_the_app(fake_fcm, fcm_transport):
    old_account = fake_fcm.create_service_account("pushpilot-test", name="old")
    new_account = fake_fcm.create_service_account("pushpilot-test", name="new")
    assert (
        fcm_transport(old_account, app_id="rotating")
        .send_batch([Message(payload={"title": "a"}, token="t-a")])[0]
        .ok
    )
    old_app = cached_app("rotating")

    # The old key is revoked at Google; the uploaded replacement must be used from now on.
    fake_fcm.revoke_service_account(old_account["client_email"])
    [outcome] = fcm_transport(new_account, app_id="rotating").send_batch(
        [Message(payload={"title": "b"}, token="t-b")]
    )

    assert outcome.ok, outcome
    new_app = cached_app("rotating")
    assert new_app is not old_app
    with pytest.raises(ValueError):
        firebase_admin.get_app(old_app.name)  # deleted, not leaked
    assert fake_fcm.counters["tokens_issued"] == 2


def test_fcm_revoked_service_account_fails_every_message_as_credentials_invalid(fake_fcm, fcm_transport):
    account = fake_fcm.create_service_account("pushpilot-test")
    fake_fcm.revoke_service_account(account["client_email"])
    outcomes = fcm_transport(account).send_batch(
        [Message(payload={"title": "x"}, token=f"t-{i}") for i in range(3)]
    )
    assert {(o.kind, o.error_code) for o in outcomes} == {(OutcomeKind.FAILED, ErrorCode.CREDENTIALS_INVALID)}
    assert fake_fcm.counters["messages"] == 0


def test_fcm_credentials_of_another_project_are_credentials_invalid(fake_fcm, fcm_transport):
    other = fake_fcm.create_service_account("someone-else")
    other["project_id"] = "pushpilot-test"  # a JSON edited by hand: key of one project, id of another
    [outcome] = fcm_transport(other).send_batch([Message(payload={"title": "x"}, token="t-1")])
    assert (outcome.kind, outcome.error_code, outcome.status) == (
        OutcomeKind.FAILED,
        ErrorCode.CREDENTIALS_INVALID,
        403,
    )


def test_fcm_unparseable_service_account_is_credentials_invalid(fake_fcm, fcm_transport):
    account = fake_fcm.create_service_account("pushpilot-test")
    account["private_key"] = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
    [outcome] = fcm_transport(account).send_batch([Message(payload={"title": "x"}, token="t-1")])
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.FAILED, ErrorCode.CREDENTIALS_INVALID)


def test_fcm_more_than_500_messages_go_in_several_calls(fake_fcm, fcm_transport):
    messages = [Message(payload={"title": f"m{i}"}, token=f"tok-{i}") for i in range(1203)]
    outcomes = fcm_transport().send_batch(messages)
    assert all(o.ok for o in outcomes)
    assert len({o.provider_message_id for o in outcomes}) == 1203
    assert fake_fcm.counters["sent"] == 1203


def test_fcm_refuses_locally_what_fcm_would_reject(fake_fcm, fcm_transport):
    outcomes = fcm_transport().send_batch(
        [
            Message(payload={"title": "t", "data": {"blob": "x" * 5000}}, token="t-big"),
            Message(payload={"title": "t", "data": {"google.sent_time": "1"}}, token="t-reserved"),
            Message(payload={"title": "t"}, token="has whitespace"),
            Message(payload={"title": "t"}),
            Message(payload={"title": "fine"}, token="t-fine"),
        ]
    )
    assert [(o.kind, o.error_code) for o in outcomes] == [
        (OutcomeKind.FAILED, ErrorCode.PAYLOAD_TOO_LARGE),
        (OutcomeKind.FAILED, ErrorCode.INVALID_MESSAGE),
        (OutcomeKind.INVALID, ErrorCode.INVALID_TOKEN),
        (OutcomeKind.FAILED, ErrorCode.INVALID_MESSAGE),
        (OutcomeKind.SENT, None),
    ]
    assert fake_fcm.counters["messages"] == 1  # only the good one was sent


def test_fcm_messages_of_one_batch_keep_their_own_options(fake_fcm, fcm_transport):
    """A batch shares its Android/APNs/Web Push configs between messages with the same options;
    messages with other options in the same batch get their own."""
    loud = {"ttl": 60, "urgency": "high", "collapse_key": "flash"}
    outcomes = fcm_transport().send_batch(
        [
            Message(payload={"title": "a", "image": "https://shop.example/a.png"}, token="t-loud-1", **loud),
            Message(payload={"title": "b", "url": "https://shop.example/b"}, token="t-quiet", ttl=3600),
            Message(payload={"title": "c", "image": "https://shop.example/a.png"}, token="t-loud-2", **loud),
        ]
    )
    assert [o.kind for o in outcomes] == [OutcomeKind.SENT] * 3
    sent = {r["message"]["token"]: r["message"] for r in fake_fcm.received}
    for token in ("t-loud-1", "t-loud-2"):
        message = sent[token]
        assert message["android"] == {
            "ttl": "60s",
            "priority": "high",
            "collapse_key": "flash",
            "notification": {"image": "https://shop.example/a.png"},
        }
        assert message["apns"]["headers"]["apns-priority"] == "10"
        assert message["apns"]["headers"]["apns-collapse-id"] == "flash"
        assert message["webpush"] == {"headers": {"TTL": "60", "Urgency": "high"}}
    assert sent["t-loud-1"]["notification"]["title"] == "a"
    assert sent["t-loud-2"]["notification"]["title"] == "c"
    quiet = sent["t-quiet"]
    assert quiet["android"] == {"ttl": "3600s", "priority": "normal"}
    assert "apns-collapse-id" not in quiet["apns"]["headers"]
    assert quiet["apns"]["headers"]["apns-priority"] == "5"
    assert quiet["webpush"] == {
        "headers": {"TTL": "3600", "Urgency": "normal"},
        "fcm_options": {"link": "https://shop.example/b"},
    }
    assert quiet["data"]["pp_url"] == "https://shop.example/b"


def _platform_sections(message: dict) -> dict:
    """What a message says per platform, without the APNs expiry (a time: it moves between sends)."""
    apns = {**message["apns"], "headers": dict(message["apns"]["headers"])}
    apns["headers"].pop("apns-expiration")
    return {"android": message["android"], "apns": apns, "webpush": message["webpush"]}


@pytest.mark.parametrize("option", ["ttl", "urgency", "collapse_key", "click_action", "image", "url"])
def test_fcm_messages_differing_in_one_option_get_their_own_platform_configs(fake_fcm, fcm_transport, option):
    """Sent in one batch, two messages that differ in one option come out exactly as each does
    when sent alone: the configs a batch shares never leak from one to the other."""
    base = {"ttl": 600, "urgency": "normal", "collapse_key": "sale", "click_action": "OPEN_SALE"}
    payload = {"title": "t", "image": "https://shop.example/a.png", "url": "https://shop.example/a"}
    other_value = {
        "ttl": 60,
        "urgency": "high",
        "collapse_key": "flash",
        "click_action": "OPEN_FLASH",
        "image": "https://shop.example/b.png",
        "url": "https://shop.example/b",
    }[option]

    def pair(suffix: str) -> list[Message]:
        changed_options = {**base, **({option: other_value} if option in base else {})}
        changed_payload = {**payload, **({option: other_value} if option in payload else {})}
        return [
            Message(payload=payload, token=f"t-first-{suffix}", **base),
            Message(payload=changed_payload, token=f"t-second-{suffix}", **changed_options),
        ]

    transport = fcm_transport()
    together = transport.send_batch(pair("batch"))
    alone = [transport.send_batch([m])[0] for m in pair("alone")]
    assert [o.kind for o in together + alone] == [OutcomeKind.SENT] * 4
    sent = {r["message"]["token"]: r["message"] for r in fake_fcm.received}
    for which in ("first", "second"):
        assert _platform_sections(sent[f"t-{which}-batch"]) == _platform_sections(sent[f"t-{which}-alone"])
    assert _platform_sections(sent["t-first-batch"]) != _platform_sections(sent["t-second-batch"])


@pytest.mark.parametrize("extra, accepted", [(0, True), (1, False)])
@pytest.mark.parametrize("unit", ["é", "\x01", "x"], ids=["two-byte", "escaped-control", "ascii"])
def test_fcm_payload_limit_is_exact_in_utf8_bytes(fake_fcm, fcm_transport, unit, extra, accepted):
    """notification + data may be 4,096 bytes of compact JSON, counted in UTF-8 with escapes (a
    control character is 6 bytes): one byte more is refused locally, before any request."""
    title = 'Sale "now"' if unit.isascii() else 'ü"'  # all-ASCII fields take the bound's shortcut

    def size(value: str) -> int:
        document = {"notification": {"title": title}, "data": {"k": value}}
        return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())

    width = size(unit) - size("")
    room = 4096 - size("")
    filler = unit * (room // width) + "x" * (room % width + extra)
    assert size(filler) == 4096 + extra
    [outcome] = fcm_transport().send_batch(
        [Message(payload={"title": title, "data": {"k": filler}}, token="t-edge")]
    )
    if accepted:
        assert outcome.kind is OutcomeKind.SENT, outcome
        assert fake_fcm.counters["messages"] == 1
    else:
        assert (outcome.kind, outcome.error_code) == (OutcomeKind.FAILED, ErrorCode.PAYLOAD_TOO_LARGE)
        assert "4097 bytes" in outcome.error_message
        assert fake_fcm.counters["messages"] == 0


def test_fcm_text_that_cannot_be_encoded_fails_alone(fake_fcm, fcm_transport):
    """A lone surrogate has no UTF-8 form: that message fails locally, its batch is sent."""
    outcomes = fcm_transport().send_batch(
        [
            Message(payload={"title": "broken \ud800 text"}, token="t-broken"),
            Message(payload={"title": "fine"}, token="t-fine"),
        ]
    )
    assert [(o.kind, o.error_code) for o in outcomes] == [
        (OutcomeKind.FAILED, ErrorCode.INVALID_MESSAGE),
        (OutcomeKind.SENT, None),
    ]
    assert [r["message"]["token"] for r in fake_fcm.received] == ["t-fine"]


def test_a_malformed_message_fails_alone_not_the_batch(
    fake_fcm, fcm_transport, fake_webpush, webpush_transport
):
    browser = fake_webpush.subscribe().json()
    fcm_outcomes = fcm_transport().send_batch(
        [
            Message(payload={"title": "t", "data": {"when": object()}}, token="t-1"),
            Message(payload={"title": "ok"}, token="t-2"),
        ]
    )
    webpush_outcomes = webpush_transport().send_batch(
        [
            Message(payload={"when": object()}, subscription=browser),
            Message(payload={"title": "t"}, subscription="not a subscription"),  # type: ignore[arg-type]
            Message(payload={"title": "ok"}, subscription=browser),
        ]
    )
    assert [(o.kind, o.error_code) for o in fcm_outcomes + webpush_outcomes] == [
        (OutcomeKind.FAILED, ErrorCode.INVALID_MESSAGE),
        (OutcomeKind.SENT, None),
        (OutcomeKind.FAILED, ErrorCode.INVALID_MESSAGE),
        (OutcomeKind.FAILED, ErrorCode.INVALID_MESSAGE),
        (OutcomeKind.SENT, None),
    ]


def test_fcm_topic_message(fake_fcm, fcm_transport):
    [outcome] = fcm_transport().send_batch([Message(payload={"title": "news"}, topic="weekend-deals")])
    assert outcome.ok
    assert fake_fcm.received[0]["message"]["topic"] == "weekend-deals"


def test_fcm_unreachable_service_is_a_retry(fake_fcm):
    account = fake_fcm.create_service_account("pushpilot-test")
    transport = FcmTransport(
        account,
        app_id="unreachable",
        api_url="https://127.0.0.1:9",
        ca_bundle=fake_fcm.ca_file,
        connect_timeout=1,
    )
    [outcome] = transport.send_batch([Message(payload={"title": "x"}, token="t-1")])
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.RETRY, ErrorCode.CONNECTION_ERROR), outcome


def test_fcm_base_url_comes_from_the_setting(settings):
    settings.PUSHPILOT_FCM_API_URL = "https://fcm.example.test/"
    assert fcm_module.configured_api_url() == "https://fcm.example.test"


# ---------------------------------------------------------------------------------------------
# Web Push


@pytest.fixture
def vapid_keys():
    return generate_vapid_key_pair()


@pytest.fixture
def webpush_transport(fake_webpush, vapid_keys):
    def make(**options) -> WebPushTransport:
        options.setdefault("allowed_origins", [fake_webpush.origin, f"http://localhost:{fake_webpush.port}"])
        return WebPushTransport(vapid_keys[0], subject=SUBJECT, **options)

    return make


def test_webpush_message_arrives_and_decrypts_to_the_exact_payload(
    fake_webpush, webpush_transport, vapid_keys
):
    transport = webpush_transport()
    assert isinstance(transport, Transport)
    browser = fake_webpush.subscribe(application_server_key=vapid_keys[1])
    payload = contract_payload()

    [outcome] = transport.send_batch(
        [Message(payload=payload, subscription=browser.json(), urgency="high", collapse_key="weekend-sale")]
    )

    assert outcome.kind is OutcomeKind.SENT, outcome
    assert outcome.status == 201
    assert outcome.provider_message_id.startswith(f"{fake_webpush.origin}/m/")
    [received] = fake_webpush.received
    assert received.payload == payload  # byte-exact JSON round trip, non-ASCII included
    assert received.headers == {"TTL": str(DEFAULT_TTL_SECONDS), "Urgency": "high", "Topic": "weekend-sale"}
    assert received.claims["aud"] == fake_webpush.origin
    assert received.claims["sub"] == SUBJECT
    assert received.claims["exp"] <= time.time() + 12 * 3600 + 5
    assert received.vapid_key == vapid_keys[1] == transport.vapid_public_key


def test_webpush_accepts_a_pem_vapid_key_and_a_subscription_object(fake_webpush):
    key = ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    transport = WebPushTransport(
        pem, subject="https://shop.example/contact", allowed_origins=[fake_webpush.origin]
    )
    browser = fake_webpush.subscribe(application_server_key=transport.vapid_public_key)
    subscription = WebPushSubscription.from_json(browser.json())
    [outcome] = transport.send_batch([Message(payload={"title": "pem"}, subscription=subscription)])
    assert outcome.ok, outcome
    assert fake_webpush.received[0].payload == {"title": "pem"}


@pytest.mark.parametrize(
    ("fault", "kind", "code"),
    [
        ("404", OutcomeKind.INVALID, ErrorCode.SUBSCRIPTION_GONE),
        ("410", OutcomeKind.INVALID, ErrorCode.SUBSCRIPTION_GONE),
        ("413", OutcomeKind.FAILED, ErrorCode.PAYLOAD_TOO_LARGE),
        ("429", OutcomeKind.RETRY, ErrorCode.RATE_LIMITED),
        ("500", OutcomeKind.RETRY, ErrorCode.UNAVAILABLE),
        ("503", OutcomeKind.RETRY, ErrorCode.UNAVAILABLE),
        ("401", OutcomeKind.FAILED, ErrorCode.VAPID_REJECTED),
        ("403", OutcomeKind.FAILED, ErrorCode.VAPID_REJECTED),
        ("redirect", OutcomeKind.FAILED, ErrorCode.REDIRECT_REFUSED),
    ],
)
def test_webpush_fault_maps_to_outcome(fake_webpush, webpush_transport, fault, kind, code):
    browser = fake_webpush.subscribe(fault=fault)
    [outcome] = webpush_transport().send_batch([Message(payload={"title": "t"}, subscription=browser.json())])
    assert (outcome.kind, outcome.error_code) == (kind, code), outcome
    assert outcome.status == (307 if fault == "redirect" else int(fault))
    assert outcome.app_level is (code == ErrorCode.VAPID_REJECTED)
    if fault == "429":
        assert outcome.retry_after == 30.0
    assert fake_webpush.counters["messages"] == 1  # sent once, never retried inside the transport
    assert fake_webpush.counters["redirect_followed"] == 0


def test_webpush_429_holds_back_the_rest_of_the_batch_for_that_origin(fake_webpush, webpush_transport):
    limited = fake_webpush.subscribe(fault="429")
    others = [fake_webpush.subscribe() for _ in range(3)]
    elsewhere = fake_webpush.subscribe(host="localhost")
    transport = webpush_transport(max_in_flight=1)  # one at a time: the order is deterministic
    outcomes = transport.send_batch(
        [Message(payload={"title": "t"}, subscription=s.json()) for s in [limited, *others, elsewhere]]
    )
    assert [o.kind for o in outcomes] == [OutcomeKind.RETRY] * 4 + [OutcomeKind.SENT]
    assert all(o.retry_after and o.retry_after <= 30 for o in outcomes[:4])
    assert fake_webpush.counters["messages"] == 2  # the 429 and the other origin


def test_webpush_timeout_is_a_retry(fake_webpush, webpush_transport):
    fake_webpush.slow_seconds = 3
    started = time.monotonic()
    [outcome] = webpush_transport(timeout=0.5).send_batch(
        [Message(payload={"title": "t"}, subscription=fake_webpush.subscribe(fault="slow").json())]
    )
    assert time.monotonic() - started < 2.5
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.RETRY, ErrorCode.TIMEOUT)


def test_webpush_response_body_is_capped(fake_webpush, webpush_transport):
    browser = fake_webpush.subscribe(fault="bigbody")
    [outcome] = webpush_transport(max_response_bytes=1024).send_batch(
        [Message(payload={"title": "t"}, subscription=browser.json())]
    )
    assert (outcome.kind, outcome.status) == (OutcomeKind.FAILED, 400)
    assert len(outcome.error_message) < 400
    # The connection that carried the oversized body was dropped; the next send still works.
    [after] = webpush_transport().send_batch(
        [Message(payload={"title": "t"}, subscription=fake_webpush.subscribe().json())]
    )
    assert after.ok


def test_webpush_unreachable_service_is_a_retry(vapid_keys):
    transport = WebPushTransport(
        vapid_keys[0], subject=SUBJECT, allowed_origins=["http://127.0.0.1:9"], connect_timeout=1
    )
    browser_keys = {"p256dh": b64url_encode(_browser_public()), "auth": b64url_encode(b"0123456789abcdef")}
    [outcome] = transport.send_batch(
        [
            Message(
                payload={"title": "t"},
                subscription={"endpoint": "http://127.0.0.1:9/push/x", "keys": browser_keys},
            )
        ]
    )
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.RETRY, ErrorCode.CONNECTION_ERROR)


def test_vapid_is_signed_once_per_origin_across_many_sends(fake_webpush, webpush_transport):
    local = [fake_webpush.subscribe() for _ in range(40)]
    named = [fake_webpush.subscribe(host="localhost") for _ in range(40)]
    before = VapidSigner.signatures
    for round_ in range(3):  # three batches, a new transport object each time (one per task)
        batch = [Message(payload={"n": round_}, subscription=s.json()) for s in local + named]
        assert all(o.ok for o in webpush_transport().send_batch(batch))

    assert VapidSigner.signatures - before == 2  # one JWT per push-service origin
    assert len(fake_webpush.tokens_for(fake_webpush.origin)) == 1
    assert len(fake_webpush.tokens_for(f"http://localhost:{fake_webpush.port}")) == 1
    assert len(fake_webpush.received) == 240


def test_vapid_token_is_resigned_ten_minutes_before_expiry(vapid_keys):
    signer = VapidSigner(vapid_keys[0], SUBJECT)
    now = time.time()
    first = signer.header("https://fcm.googleapis.com", now=now)
    assert signer.header("https://fcm.googleapis.com", now=now + 11 * 3600) == first
    assert signer.header("https://fcm.googleapis.com", now=now + 12 * 3600 - 9 * 60) != first
    assert signer.header("https://updates.push.services.mozilla.com", now=now) != first


def test_vapid_subject_must_be_mailto_or_https(vapid_keys):
    with pytest.raises(ValueError):
        VapidSigner(vapid_keys[0], "ops@example.com")


def test_webpush_payload_over_4kb_is_refused_unsent(fake_webpush, webpush_transport):
    browser = fake_webpush.subscribe()
    fits = {"title": "x" * (MAX_PLAINTEXT_BYTES - len('{"title":""}'))}
    too_big = {"title": "x" * (MAX_PLAINTEXT_BYTES - len('{"title":""}') + 1)}
    outcomes = webpush_transport().send_batch(
        [
            Message(payload=too_big, subscription=browser.json()),
            Message(payload=fits, subscription=browser.json()),
        ]
    )
    assert (outcomes[0].kind, outcomes[0].error_code) == (OutcomeKind.FAILED, ErrorCode.PAYLOAD_TOO_LARGE)
    assert outcomes[1].ok, outcomes[1]
    assert fake_webpush.counters["messages"] == 1  # the big one never left
    assert fake_webpush.received[0].payload == fits  # 4096 bytes on the wire, still accepted


def test_webpush_broken_subscription_keys_make_the_subscriber_invalid(fake_webpush, webpush_transport):
    browser = fake_webpush.subscribe().json()
    browser["keys"]["p256dh"] = b64url_encode(b"\x04" + b"\x01" * 64)  # not a point on P-256
    [outcome] = webpush_transport().send_batch([Message(payload={"t": 1}, subscription=browser)])
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.INVALID, ErrorCode.INVALID_TOKEN)
    assert fake_webpush.counters["messages"] == 0


def test_webpush_endpoint_off_allowlist_is_refused_unsent(fake_webpush, webpush_transport):
    browser = fake_webpush.subscribe()
    keys = browser.json()["keys"]
    transport = webpush_transport(allowed_origins=[f"http://localhost:{fake_webpush.port}"])
    [outcome] = transport.send_batch([Message(payload={"a": 1}, subscription=browser.json())])
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.FAILED, ErrorCode.ENDPOINT_NOT_ALLOWED)
    [outcome] = transport.send_batch(
        [
            Message(
                payload={"a": 1},
                subscription={"endpoint": "http://169.254.169.254/latest/meta-data", "keys": keys},
            )
        ]
    )
    assert outcome.error_code == ErrorCode.ENDPOINT_NOT_ALLOWED
    assert fake_webpush.counters["messages"] == 0


def test_webpush_allowlist_comes_from_the_setting(settings, fake_webpush, vapid_keys):
    settings.PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS = [fake_webpush.origin]
    transport = WebPushTransport(vapid_keys[0], subject=SUBJECT)
    assert transport.send_batch([Message(payload={"a": 1}, subscription=fake_webpush.subscribe().json())])[
        0
    ].ok
    settings.PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS = []  # empty: the real push services only
    transport = WebPushTransport(vapid_keys[0], subject=SUBJECT)
    [outcome] = transport.send_batch(
        [Message(payload={"a": 1}, subscription=fake_webpush.subscribe().json())]
    )
    assert outcome.error_code == ErrorCode.ENDPOINT_NOT_ALLOWED


def test_webpush_through_aiohttp_behaves_the_same(fake_webpush, webpush_transport):
    transport = webpush_transport(http_client="aiohttp")
    good, gone, moved = (
        fake_webpush.subscribe(),
        fake_webpush.subscribe(fault="410"),
        fake_webpush.subscribe(fault="redirect"),
    )
    outcomes = transport.send_batch(
        [Message(payload={"via": "aiohttp"}, subscription=s.json()) for s in (good, gone, moved)]
    )
    assert [(o.kind, o.error_code) for o in outcomes] == [
        (OutcomeKind.SENT, None),
        (OutcomeKind.INVALID, ErrorCode.SUBSCRIPTION_GONE),
        (OutcomeKind.FAILED, ErrorCode.REDIRECT_REFUSED),
    ]
    assert fake_webpush.received[0].payload == {"via": "aiohttp"}
    assert fake_webpush.counters["redirect_followed"] == 0


# ---------------------------------------------------------------------------------------------
# Encryption and the allowlist, without the network


def _browser_public() -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def test_encryption_matches_the_rfc_8291_test_vector():
    # RFC 8291, Appendix A.
    sender = ec.derive_private_key(
        int.from_bytes(b64url_decode("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"), "big"), ec.SECP256R1()
    )
    receiver = ReceiverKeys.from_subscription(
        WebPushSubscription(
            endpoint="https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV",
            p256dh="BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
            auth="BTBZMqHH6r4Tts7J_aSIgg",
        )
    )
    body = encrypt_aes128gcm(
        b"When I grow up, I want to be a watermelon",
        receiver,
        salt=b64url_decode("DGv6ra1nlYgDCS1FRnbzlw"),
        sender=sender,
    )
    assert b64url_encode(body) == (
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3"
        "jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
    )


def test_encryption_decrypts_with_http_ece():
    browser = ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives import serialization

    public = browser.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    auth = b"sixteen byte key"
    receiver = ReceiverKeys.from_subscription(
        WebPushSubscription("https://x.example/", b64url_encode(public), b64url_encode(auth))
    )
    plaintext = json.dumps(contract_payload()).encode()
    body = encrypt_aes128gcm(plaintext, receiver)
    assert http_ece.decrypt(body, private_key=browser, auth_secret=auth, version="aes128gcm") == plaintext
    assert encrypt_aes128gcm(plaintext, receiver) != body  # fresh key and salt per message


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91bF",
        "https://fcm.googleapis.com:443/fcm/send/abc",
        "https://android.googleapis.com/gcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABl",
        "https://web.push.apple.com/QGuYz-ZbV3hP0dsdH8h1t2Q",
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD%2bxyz",
    ],
)
def test_default_allowlist_accepts_the_real_push_services(endpoint):
    rules = parse_allowed_origins(None)
    assert check_endpoint(endpoint, rules).url == endpoint
    assert EndpointChecker(rules).check(endpoint).url == endpoint


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("http://fcm.googleapis.com/fcm/send/abc", "allowed"),  # wrong scheme for the default list
        ("https://fcm.googleapis.com:8443/fcm/send/abc", "allowed"),  # other port
        ("https://user:pw@fcm.googleapis.com/fcm/send/abc", "credentials"),
        ("https://user@fcm.googleapis.com/fcm/send/abc", "credentials"),
        ("https://127.0.0.1/push", "IP"),
        ("https://[::1]/push", "IP"),
        ("https://2130706433/push", "IP"),  # 127.0.0.1 as one number
        ("https://0x7f.1/push", "IP"),
        ("https://169.254.169.254/latest/meta-data", "IP"),
        ("https://fcm.googleapis.com/" + "a" * 1000, "1000"),
        ("https://evil.example.com/push", "allowed"),
        ("https://fcm.googleapis.com.evil.example/push", "allowed"),
        ("https://googleapis.com/push", "allowed"),  # the wildcard needs a subdomain
        ("https://fcm.googleapis.com./push", "DNS"),
        ("ftp://fcm.googleapis.com/push", "https"),
        ("javascript:alert(1)", "https"),
        ("https://fcm.googleapis.com/push#frag", "fragment"),
        ("https://fcm.googleapis.com/pu sh", "characters"),
        ("https://fcm.googleapis.com\\@evil.example/push", "characters"),
        ("https://fcm.googleapis.com", "path"),
        ("", "empty"),
    ],
)
def test_allowlist_rejections(endpoint, reason):
    rules = parse_allowed_origins(None)
    for check in (lambda e: check_endpoint(e, rules), EndpointChecker(rules).check):
        with pytest.raises(EndpointNotAllowed) as excinfo:
            check(endpoint)
        assert reason.lower() in excinfo.value.reason.lower(), excinfo.value.reason


def test_configured_origins_replace_the_default_list():
    rules = parse_allowed_origins("http://127.0.0.1:8450, https://*.push.example")
    assert check_endpoint("http://127.0.0.1:8450/push/a", rules).origin == "http://127.0.0.1:8450"
    assert check_endpoint("https://eu.push.example/x", rules).origin == "https://eu.push.example"
    for refused in (
        "https://fcm.googleapis.com/fcm/send/a",  # the defaults are gone
        "http://127.0.0.1:8451/push/a",  # another port of the named IP
        "https://127.0.0.1:8450/push/a",  # another scheme
        "http://localhost:8450/push/a",  # a name is not the IP
        "https://push.example/x",
    ):
        with pytest.raises(EndpointNotAllowed):
            check_endpoint(refused, rules)
    assert parse_allowed_origins("") == parse_allowed_origins(DEFAULT_ALLOWED_ORIGINS)


@pytest.mark.parametrize(
    "bad", ["127.0.0.1:80", "https://host/path", "https://*.com", "https://user@host", "https://h:0"]
)
def test_bad_allowlist_setting_is_an_error(bad):
    with pytest.raises(ValueError):
        parse_allowed_origins(bad)


def test_retry_after_parses_seconds_and_http_dates():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420.0) == 60.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_outcome_helpers():
    assert Outcome.sent("id").ok
    assert Outcome.failed(ErrorCode.CREDENTIALS_INVALID).app_level
    assert not Outcome.retry(ErrorCode.TIMEOUT).app_level


# ---------------------------------------------------------------------------------------------
# The HTTP clients underneath, against raw peers


def test_fcm_waits_for_free_http2_streams_when_the_server_allows_few():
    from tests.fakes.fcm import FakeFcm

    with FakeFcm(max_concurrent_streams=10) as narrow:
        account = narrow.create_service_account("pushpilot-test")
        transport = FcmTransport(
            account, app_id="narrow", api_url=narrow.base_url, ca_bundle=narrow.ca_file, max_connections=2
        )
        outcomes = transport.send_batch(
            [Message(payload={"title": f"n{i}"}, token=f"t-{i}") for i in range(300)]
        )
        assert all(o.ok for o in outcomes)
        assert narrow.counters["sent"] == 300


def test_fcm_survives_the_server_retiring_connections_with_goaway():
    """GFE retires HTTP/2 connections with GOAWAY; requests it did not process go out again."""
    from tests.fakes.fcm import FakeFcm

    with FakeFcm(goaway_after=150) as retiring:
        account = retiring.create_service_account("pushpilot-test")
        transport = FcmTransport(
            account, app_id="goaway", api_url=retiring.base_url, ca_bundle=retiring.ca_file
        )
        for _ in range(2):
            outcomes = transport.send_batch(
                [Message(payload={"title": "g"}, token=f"t-{i}") for i in range(300)]
            )
            assert all(o.ok for o in outcomes), {o.error_message for o in outcomes if not o.ok}
        assert retiring.counters["sent"] == 600


def _raw_http_server(responses: list[bytes]):
    """A peer that answers each request on a connection with the next canned response."""
    connections = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        try:
            while responses:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                response = responses.pop(0)
                writer.write(response)
                await writer.drain()
                if b"Connection: close" in response:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client dropped the connection (the capped body)
        writer.close()

    return handle, connections


def test_http1_client_reads_lengths_chunks_interim_responses_and_caps_bodies():
    from integrations.transports.http1 import Http1Client, Origin

    responses = [
        b"HTTP/1.1 201 Created\r\nLocation: /m/1\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
        b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 5000\r\n\r\n" + b"z" * 5000,
        b"HTTP/1.1 410 Gone\r\nConnection: close\r\n\r\ngone for good",
    ]

    async def scenario():
        handle, connections = _raw_http_server(responses)
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = Http1Client(max_connections=1, max_response_bytes=1024)
        origin = Origin("http", "127.0.0.1", port)
        results = [await client.post(origin, "/push/a?x=1", {"TTL": "60"}, b"body") for _ in range(4)]
        await client.aclose()
        server.close()
        return results, len(connections)

    results, connection_count = asyncio.run(scenario())
    assert [(r.status, r.body, r.truncated) for r in results] == [
        (201, b"", False),
        (400, b"hello world", False),
        (413, b"z" * 1024, True),
        (410, b"gone for good", False),
    ]
    assert results[0].headers["location"] == "/m/1"
    # Keep-alive reuse until the capped body forced a new connection.
    assert connection_count == 2


def test_http1_client_refuses_header_injection():
    from integrations.transports.http1 import Http1Client, Origin, ProtocolError

    async def scenario():
        client = Http1Client()
        with pytest.raises(ProtocolError):
            await client.post(Origin("http", "127.0.0.1", 9), "/push", {"TTL": "60\r\nX-Evil: 1"}, b"")
        with pytest.raises(ProtocolError):
            await client.post(Origin("http", "127.0.0.1", 9), "/push x", {}, b"")

    asyncio.run(scenario())


def _send_in_forked_child(transport, message, queue) -> None:
    [outcome] = transport.send_batch([message])
    queue.put((str(outcome.kind), outcome.error_code, outcome.error_message))


def test_transports_work_in_a_forked_worker_after_the_parent_sent(
    fake_fcm, fcm_transport, fake_webpush, webpush_transport
):
    """Celery's prefork pool forks after the parent may have used the transports: the child must
    not reuse the parent's loop thread (it does not exist there) or its connections."""
    import multiprocessing

    fcm = fcm_transport(app_id="forked")
    webpush = webpush_transport()
    fcm_message = Message(payload={"title": "fork"}, token="t-fork")
    webpush_message = Message(payload={"title": "fork"}, subscription=fake_webpush.subscribe().json())
    assert fcm.send_batch([fcm_message])[0].ok
    assert webpush.send_batch([webpush_message])[0].ok

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    for transport, message in ((fcm, fcm_message), (webpush, webpush_message)):
        child = context.Process(target=_send_in_forked_child, args=(transport, message, queue))
        child.start()
        child.join(30)
        assert child.exitcode == 0
        assert queue.get(timeout=5) == ("sent", None, None)
    # and the parent's cached clients still work afterwards
    assert fcm.send_batch([fcm_message])[0].ok
    assert webpush.send_batch([webpush_message])[0].ok
    assert len(fake_fcm.received) == 3  # parent, child, parent again
    assert len(fake_webpush.received) == 3


def test_a_batch_that_hangs_is_reported_as_retry_not_raised(fake_webpush, webpush_transport):
    fake_webpush.slow_seconds = 3
    transport = webpush_transport(timeout=10, batch_timeout=0.5)
    [outcome] = transport.send_batch(
        [Message(payload={"t": 1}, subscription=fake_webpush.subscribe(fault="slow").json())]
    )
    assert (outcome.kind, outcome.error_code) == (OutcomeKind.RETRY, ErrorCode.TIMEOUT)
