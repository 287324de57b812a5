"""Sign in with Google / Apple against a local fake of the providers' verification endpoints
(tests/fakes/oauth_provider.py). social-core's backends make real HTTP calls to it; nothing of ours
is mocked."""

from __future__ import annotations

import socket

import pytest
from social_django.models import UserSocialAuth

from tenants.models import User
from tests.conftest import PASSWORD
from tests.fakes.oauth_provider import SigningKey, oauth_provider  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

GOOGLE_CLIENT_ID = "1234567890-pushpilot.apps.googleusercontent.com"
APPLE_CLIENT_ID = "io.pushpilot.dashboard"
GOOGLE = "/api/v1/auth/google"
APPLE = "/api/v1/auth/apple"


@pytest.fixture
def fake(oauth_provider, settings):  # noqa: F811
    oauth_provider.reset()
    settings.SOCIAL_AUTH_GOOGLE_OAUTH2_KEY = GOOGLE_CLIENT_ID
    settings.SOCIAL_AUTH_APPLE_ID_CLIENT = APPLE_CLIENT_ID
    settings.PUSHPILOT_GOOGLE_TOKENINFO_URL = oauth_provider.google_tokeninfo_url
    settings.PUSHPILOT_GOOGLE_USERINFO_URL = oauth_provider.google_userinfo_url
    settings.PUSHPILOT_APPLE_KEYS_URL = oauth_provider.apple_keys_url
    return oauth_provider


def _error(response) -> str:
    return response.json()["error"]["code"]


def _links(provider: str | None = None):
    qs = UserSocialAuth.objects.all()
    return qs.filter(provider=provider) if provider else qs


def _me(api, access: str) -> dict:
    client = api()
    client.client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    r = client.get("/api/v1/auth/me")
    assert r.status_code == 200, r.content
    return r.json()


# -- new accounts --------------------------------------------------------------------------------
def test_new_google_user_signs_up_with_id_token(api, fake):
    token = fake.google_id_token(
        aud=GOOGLE_CLIENT_ID, sub="110169484474386276334", email="Ada@Gmail.com", name="Ada Lovelace"
    )
    r = api().post(GOOGLE, {"id_token": token})

    assert r.status_code == 201, r.content
    body = r.json()
    assert body["created"] is True
    assert {"access", "refresh", "user"} <= set(body)
    user = User.objects.get(email="ada@gmail.com")
    assert (user.auth_provider, user.full_name) == ("google", "Ada Lovelace")
    assert not user.has_usable_password()
    link = UserSocialAuth.objects.get(provider="google-oauth2", uid="110169484474386276334")
    assert link.user == user
    assert "access_token" not in link.extra_data
    assert _me(api, body["access"])["email"] == "ada@gmail.com"
    assert ("GET", "/tokeninfo") in fake.requests


def test_new_google_user_signs_up_with_access_token(api, fake):
    token = fake.google_access_token(
        aud=GOOGLE_CLIENT_ID, sub="220000000000000000001", email="grace@gmail.com", name="Grace Hopper"
    )
    r = api().post(GOOGLE + "/", {"access_token": token})

    assert r.status_code == 201, r.content
    user = User.objects.get(email="grace@gmail.com")
    assert (user.auth_provider, user.full_name) == ("google", "Grace Hopper")
    assert _links("google-oauth2").get().uid == "220000000000000000001"
    # Audience from tokeninfo, profile from userinfo: both real calls.
    assert ("GET", "/tokeninfo") in fake.requests and ("GET", "/v1/userinfo") in fake.requests


def test_new_apple_user_signs_up_with_id_token_signed_by_apple_key(api, fake):
    token = fake.apple_id_token(
        aud=APPLE_CLIENT_ID, sub="001234.abcdef.1234", email="x1y2@privaterelay.appleid.com"
    )
    r = api().post(APPLE, {"id_token": token, "full_name": "Tim Apple"})

    assert r.status_code == 201, r.content
    assert r.json()["user"]["auth_provider"] == "apple"
    user = User.objects.get(email="x1y2@privaterelay.appleid.com")
    assert user.full_name == "Tim Apple" and not user.has_usable_password()
    assert _links("apple-id").get().uid == "001234.abcdef.1234"
    assert ("GET", "/auth/keys") in fake.requests


def test_apple_access_token_field_carries_the_identity_token(api, fake):
    token = fake.apple_id_token(aud=APPLE_CLIENT_ID, email="ios@icloud.com", email_verified=True)
    r = api().post(APPLE, {"access_token": token})
    assert r.status_code == 201, r.content


# -- tokens that must not sign anyone in ---------------------------------------------------------
def test_apple_token_signed_with_another_key_is_rejected(api, fake):
    forger = SigningKey(kid=fake.apple_key.kid)  # same kid, different key
    token = fake.apple_id_token(aud=APPLE_CLIENT_ID, email="victim@icloud.com", key=forger)
    r = api().post(APPLE, {"id_token": token})

    assert r.status_code == 401, r.content
    assert _error(r) == "social_token_invalid"
    assert not User.objects.filter(email="victim@icloud.com").exists()


def test_google_id_token_not_signed_by_google_is_rejected(api, fake):
    forged = SigningKey(kid=fake.google_key.kid).sign(
        {
            "iss": "https://accounts.google.com",
            "aud": GOOGLE_CLIENT_ID,
            "sub": "1",
            "email": "v@gmail.com",
            "email_verified": True,
            "iat": 1,
            "exp": 4_000_000_000,
        }
    )
    r = api().post(GOOGLE, {"id_token": forged})
    assert r.status_code == 401 and _error(r) == "social_token_invalid"


@pytest.mark.parametrize("kind", ["google_id", "google_access", "apple"])
def test_token_issued_to_another_app_is_rejected(api, fake, kind):
    other = "someone-elses-app.apps.googleusercontent.com"
    endpoint, body = {
        "google_id": (GOOGLE, {"id_token": fake.google_id_token(aud=other, email="a@gmail.com")}),
        "google_access": (GOOGLE, {"access_token": fake.google_access_token(aud=other, email="a@gmail.com")}),
        "apple": (APPLE, {"id_token": fake.apple_id_token(aud="com.other.app", email="a@icloud.com")}),
    }[kind]
    r = api().post(endpoint, body)

    assert r.status_code == 401, r.content
    assert _error(r) == "social_token_invalid"
    assert User.objects.count() == 0 and _links().count() == 0


@pytest.mark.parametrize("kind", ["google_id", "google_access", "apple"])
def test_expired_token_is_rejected(api, fake, kind):
    endpoint, body = {
        "google_id": (GOOGLE, {"id_token": fake.google_id_token(aud=GOOGLE_CLIENT_ID, exp_in=-60)}),
        "google_access": (
            GOOGLE,
            {"access_token": fake.google_access_token(aud=GOOGLE_CLIENT_ID, exp_in=-60)},
        ),
        "apple": (APPLE, {"id_token": fake.apple_id_token(aud=APPLE_CLIENT_ID, exp_in=-60)}),
    }[kind]
    r = api().post(endpoint, body)
    assert r.status_code == 401 and _error(r) == "social_token_invalid"
    assert User.objects.count() == 0


@pytest.mark.parametrize("field", ["id_token", "access_token"])
def test_expired_google_token_is_rejected_even_when_tokeninfo_answers(api, fake, field):
    """Our own `exp` check, not only Google's."""
    fake.tokeninfo_checks_expiry = False
    mint = fake.google_id_token if field == "id_token" else fake.google_access_token
    r = api().post(GOOGLE, {field: mint(aud=GOOGLE_CLIENT_ID, exp_in=-60)})
    assert r.status_code == 401 and _error(r) == "social_token_invalid"


def test_garbage_token_is_rejected(api, fake):
    assert api().post(GOOGLE, {"id_token": "not-a-jwt"}).status_code == 401
    assert api().post(GOOGLE, {"access_token": "ya29.unknown"}).status_code == 401
    assert api().post(APPLE, {"id_token": "not-a-jwt"}).status_code == 401


@pytest.mark.parametrize("provider", ["google_id", "google_access", "apple"])
def test_unverified_email_cannot_create_an_account(api, fake, provider):
    endpoint, body = {
        "google_id": (
            GOOGLE,
            {
                "id_token": fake.google_id_token(
                    aud=GOOGLE_CLIENT_ID, email="u@corp.example", email_verified=False
                )
            },
        ),
        "google_access": (
            GOOGLE,
            {
                "access_token": fake.google_access_token(
                    aud=GOOGLE_CLIENT_ID, email="u@corp.example", email_verified=False
                )
            },
        ),
        "apple": (
            APPLE,
            {
                "id_token": fake.apple_id_token(
                    aud=APPLE_CLIENT_ID, email="u@corp.example", email_verified="false"
                )
            },
        ),
    }[provider]
    r = api().post(endpoint, body)

    assert r.status_code == 403, r.content
    assert _error(r) == "email_not_verified"
    assert not User.objects.filter(email="u@corp.example").exists() and _links().count() == 0


# -- existing accounts: never linked by email alone (CVE-2025-61783 class) ------------------------
def test_existing_email_account_is_not_linked_without_password(api, fake, alice):
    token = fake.google_id_token(aud=GOOGLE_CLIENT_ID, email="alice@example.com")
    r = api().post(GOOGLE, {"id_token": token})

    assert r.status_code == 409, r.content
    assert _error(r) == "account_exists"
    assert "password" in r.json()["error"]["message"]
    assert "access" not in r.json()
    assert _links().count() == 0
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1


def test_existing_email_account_is_not_linked_with_wrong_password(api, fake, alice):
    token = fake.apple_id_token(aud=APPLE_CLIENT_ID, email="Alice@Example.com")
    r = api().post(APPLE, {"id_token": token, "password": "not-" + PASSWORD})

    assert r.status_code == 409, r.content
    assert _error(r) == "account_exists"
    assert _links().count() == 0


@pytest.mark.parametrize("endpoint", [GOOGLE, APPLE])
def test_existing_email_account_links_with_correct_password_and_verified_email(api, fake, alice, endpoint):
    if endpoint == GOOGLE:
        body = {
            "id_token": fake.google_id_token(
                aud=GOOGLE_CLIENT_ID, sub="330000000000000000003", email="alice@example.com"
            )
        }
    else:
        body = {
            "id_token": fake.apple_id_token(
                aud=APPLE_CLIENT_ID, sub="001234.alice.1234", email="alice@example.com"
            )
        }
    r = api().post(endpoint, {**body, "password": PASSWORD})

    assert r.status_code == 200, r.content
    assert r.json()["created"] is False
    assert r.json()["user"]["id"] == str(alice.pk)
    link = _links().get()
    assert link.user_id == alice.pk
    alice.refresh_from_db()
    assert alice.auth_provider == "email" and alice.check_password(PASSWORD)
    assert _me(api, r.json()["access"])["id"] == str(alice.pk)
    # Linked now: the next sign-in needs no password.
    r = api().post(endpoint, body)
    assert r.status_code == 200 and r.json()["user"]["id"] == str(alice.pk)


def test_correct_password_does_not_link_an_unverified_email(api, fake, alice):
    token = fake.google_id_token(aud=GOOGLE_CLIENT_ID, email="alice@example.com", email_verified=False)
    r = api().post(GOOGLE, {"id_token": token, "password": PASSWORD})

    assert r.status_code == 403 and _error(r) == "email_not_verified"
    assert _links().count() == 0


def test_social_only_account_cannot_be_claimed_by_another_identity(api, fake):
    first = fake.google_id_token(aud=GOOGLE_CLIENT_ID, sub="440000000000000000004", email="sam@gmail.com")
    assert api().post(GOOGLE, {"id_token": first}).status_code == 201

    # Another Google identity, or an Apple one, claiming the same email: not linked, whatever password.
    other_google = fake.google_id_token(
        aud=GOOGLE_CLIENT_ID, sub="550000000000000000005", email="sam@gmail.com"
    )
    apple = fake.apple_id_token(aud=APPLE_CLIENT_ID, email="sam@gmail.com")
    r1 = api().post(GOOGLE, {"id_token": other_google})
    r2 = api().post(APPLE, {"id_token": apple, "password": "anything-at-all"})

    assert (r1.status_code, _error(r1)) == (409, "account_exists")
    assert (r2.status_code, _error(r2)) == (409, "account_exists")
    assert list(_links().values_list("uid", flat=True)) == ["440000000000000000004"]


def test_pipeline_setting_cannot_reintroduce_associate_by_email(api, fake, alice, settings):
    from social_core.pipeline import DEFAULT_AUTH_PIPELINE

    settings.SOCIAL_AUTH_PIPELINE = (
        *DEFAULT_AUTH_PIPELINE[:5],
        "social_core.pipeline.social_auth.associate_by_email",
        *DEFAULT_AUTH_PIPELINE[5:],
    )
    r = api().post(
        GOOGLE, {"id_token": fake.google_id_token(aud=GOOGLE_CLIENT_ID, email="alice@example.com")}
    )
    assert r.status_code == 409 and _links().count() == 0


# -- returning users -----------------------------------------------------------------------------
def test_second_sign_in_with_same_provider_uid_is_the_same_user(api, fake):
    sub = "660000000000000000006"
    r1 = api().post(
        GOOGLE, {"id_token": fake.google_id_token(aud=GOOGLE_CLIENT_ID, sub=sub, email="lin@gmail.com")}
    )
    # Same identity, via the other token kind and with a changed email: still the same account.
    r2 = api().post(
        GOOGLE,
        {"access_token": fake.google_access_token(aud=GOOGLE_CLIENT_ID, sub=sub, email="lin.new@gmail.com")},
    )

    assert (r1.status_code, r2.status_code) == (201, 200), r2.content
    assert r2.json()["created"] is False
    assert r1.json()["user"]["id"] == r2.json()["user"]["id"]
    assert User.objects.count() == 1 and _links().count() == 1


def test_disabled_account_cannot_sign_in(api, fake):
    token = fake.apple_id_token(aud=APPLE_CLIENT_ID, sub="001234.off.1234", email="off@icloud.com")
    assert api().post(APPLE, {"id_token": token}).status_code == 201
    User.objects.filter(email="off@icloud.com").update(is_active=False)
    r = api().post(APPLE, {"id_token": token})
    assert (r.status_code, _error(r)) == (403, "account_disabled")


# -- bad input, configuration, provider trouble --------------------------------------------------
@pytest.mark.parametrize("endpoint", [GOOGLE, APPLE])
@pytest.mark.parametrize(
    "body",
    [
        {"id_token": "a", "access_token": "b"},
        {},
        {"password": PASSWORD},
        {"id_token": ""},
        {"id_token": "a", "surprise": 1},
    ],
)
def test_exactly_one_token_is_required(api, fake, endpoint, body):
    r = api().post(endpoint, body)
    assert r.status_code == 400, r.content
    assert _error(r) == "validation_error"
    assert fake.requests == []


@pytest.mark.parametrize(
    "endpoint,setting", [(GOOGLE, "SOCIAL_AUTH_GOOGLE_OAUTH2_KEY"), (APPLE, "SOCIAL_AUTH_APPLE_ID_CLIENT")]
)
def test_unconfigured_provider_is_503(api, fake, settings, endpoint, setting):
    setattr(settings, setting, "")
    r = api().post(endpoint, {"id_token": "anything"})
    assert r.status_code == 503, r.content
    assert _error(r) == "social_not_configured"
    assert fake.requests == []


def test_unreachable_provider_is_502(api, fake, settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    settings.PUSHPILOT_APPLE_KEYS_URL = f"http://127.0.0.1:{closed_port}/auth/keys"
    r = api().post(APPLE, {"id_token": fake.apple_id_token(aud=APPLE_CLIENT_ID)})
    assert (r.status_code, _error(r)) == (502, "social_provider_unavailable")


def test_query_string_does_not_reach_the_backend(api, fake):
    """social-core's Apple backend json-decodes a `user` request parameter; ours ignores request data."""
    token = fake.apple_id_token(aud=APPLE_CLIENT_ID, email="q@icloud.com")
    r = api().post(APPLE + "?user=not-json", {"id_token": token})
    assert r.status_code == 201, r.content
