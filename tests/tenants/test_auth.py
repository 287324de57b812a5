"""Accounts: register, login, refresh rotation with blacklist, logout, me, and the login throttle."""

from __future__ import annotations

import jwt
import pytest
from django.conf import settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from tenants.models import User
from tests.conftest import PASSWORD
from tests.tenants.support import (  # noqa: F401 - autouse fixtures and the shared world
    _shared_alice,
    _shared_bob,
    _shared_charlie,
    _shared_ws_a,
    _shared_ws_b,
    assert_error,
    base_schema_once,
    fast_tenancy,
    shared_world,
)

pytestmark = pytest.mark.django_db


def _claims(token: str) -> dict:
    return jwt.decode(token, settings.SIMPLE_JWT["SIGNING_KEY"], algorithms=["HS256"])


def _login(api, email="alice@example.com", password=PASSWORD):
    return api().post("/api/v1/auth/login", {"email": email, "password": password})


def _bearer(api, access: str):
    client = api()
    client.client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# -- register ------------------------------------------------------------------------------------
def test_register_creates_an_email_account_and_returns_tokens(api):
    response = api().post(
        "/api/v1/auth/register",
        {"email": "Dana@Example.com", "password": "Tall-Giraffe-91", "full_name": "Dana"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"user", "access", "refresh"}
    assert body["user"]["email"] == "dana@example.com"
    assert body["user"]["auth_provider"] == "email"
    assert "password" not in body["user"]
    user = User.objects.get(email="dana@example.com")
    assert user.check_password("Tall-Giraffe-91")
    assert _claims(body["access"])["user_id"] == str(user.pk)
    me = _bearer(api, body["access"]).get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["email"] == "dana@example.com"


def test_register_refuses_an_email_that_exists_in_any_case(api, alice):
    response = api().post(
        "/api/v1/auth/register", {"email": "ALICE@example.com", "password": "Tall-Giraffe-91"}
    )
    error = assert_error(response, 400, "validation_error")
    assert "email" in error["details"]
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1


@pytest.mark.parametrize("password", ["short1", "password123", "12345678901", "dana@example.com"])
def test_register_applies_djangos_password_validators(api, password):
    response = api().post("/api/v1/auth/register", {"email": "dana@example.com", "password": password})
    error = assert_error(response, 400, "validation_error")
    assert "password" in error["details"]
    assert not User.objects.filter(email="dana@example.com").exists()


# -- login ---------------------------------------------------------------------------------------
def test_login_returns_a_token_pair_and_the_access_token_lives_15_minutes(api, alice):
    response = _login(api, email="Alice@Example.COM")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access", "refresh"}
    claims = _claims(body["access"])
    assert claims["user_id"] == str(alice.pk)
    assert claims["exp"] - claims["iat"] == 15 * 60


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("alice@example.com", "wrong-password-1"),
        ("nobody@example.com", PASSWORD),
    ],
)
def test_login_with_wrong_credentials_is_401_without_saying_which_part(api, alice, email, password):
    response = _login(api, email=email, password=password)
    error = assert_error(response, 401, "invalid_credentials")
    assert response.has_header("WWW-Authenticate")
    assert "password" not in error["details"] and "email" not in error["details"]


def test_inactive_user_cannot_log_in(api, alice):
    alice.is_active = False
    alice.save()
    assert_error(_login(api), 401, "invalid_credentials")


def test_social_only_account_has_no_password_to_log_in_with(api, make_user):
    user = User.objects.create_user("social@example.com", None, auth_provider="google")
    assert not user.has_usable_password()
    assert_error(_login(api, email="social@example.com", password=""), 400, "validation_error")
    assert_error(
        _login(api, email="social@example.com", password="anything-at-all"), 401, "invalid_credentials"
    )


# -- refresh: rotation + blacklist ---------------------------------------------------------------
def test_refresh_rotates_and_the_old_refresh_token_is_blacklisted(api, alice):
    first = _login(api).json()
    response = api().post("/api/v1/auth/refresh", {"refresh": first["refresh"]})
    assert response.status_code == 200, response.content
    second = response.json()
    assert set(second) == {"access", "refresh"}
    assert second["refresh"] != first["refresh"]
    assert _claims(second["access"])["user_id"] == str(alice.pk)
    assert BlacklistedToken.objects.filter(token__jti=_claims(first["refresh"])["jti"]).exists()

    # Replaying the rotated-out token fails; the new one keeps working.
    replay = api().post("/api/v1/auth/refresh", {"refresh": first["refresh"]})
    assert_error(replay, 401, "token_invalid")
    assert replay.has_header("WWW-Authenticate")
    third = api().post("/api/v1/auth/refresh/", {"refresh": second["refresh"]})
    assert third.status_code == 200


@pytest.mark.parametrize("refresh", ["not-a-jwt", "a.b.c", "x" * 2000])
def test_refresh_with_garbage_is_401(api, refresh):
    assert_error(api().post("/api/v1/auth/refresh", {"refresh": refresh}), 401, "token_invalid")


def test_an_access_token_is_not_a_refresh_token(api, alice):
    access = _login(api).json()["access"]
    assert_error(api().post("/api/v1/auth/refresh", {"refresh": access}), 401, "token_invalid")


def test_a_deactivated_user_cannot_refresh(api, alice):
    refresh = _login(api).json()["refresh"]
    alice.is_active = False
    alice.save()
    assert_error(api().post("/api/v1/auth/refresh", {"refresh": refresh}), 401, "token_invalid")


def test_a_deleted_user_cannot_refresh(api, make_user):
    make_user("gone@example.com")
    refresh = _login(api, email="gone@example.com").json()["refresh"]
    User.objects.filter(email="gone@example.com").delete()
    assert_error(api().post("/api/v1/auth/refresh", {"refresh": refresh}), 401, "token_invalid")
    assert api().post("/api/v1/auth/logout", {"refresh": refresh}).status_code in (204, 401)


# -- logout --------------------------------------------------------------------------------------
def test_logout_blacklists_the_refresh_token(api, alice):
    tokens = _login(api).json()
    response = api().post("/api/v1/auth/logout", {"refresh": tokens["refresh"]})
    assert response.status_code == 204
    assert_error(api().post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]}), 401, "token_invalid")
    # Logging out twice with the same token is refused, not a server error.
    assert_error(api().post("/api/v1/auth/logout", {"refresh": tokens["refresh"]}), 401, "token_invalid")


def test_logout_needs_a_refresh_token(api):
    error = assert_error(api().post("/api/v1/auth/logout", {}), 400, "validation_error")
    assert "refresh" in error["details"]


# -- me ------------------------------------------------------------------------------------------
def test_me_returns_the_signed_in_user(api, alice):
    response = api(user=alice).get("/api/v1/auth/me/")
    assert response.status_code == 200
    assert response.json() == {
        "id": str(alice.pk),
        "email": "alice@example.com",
        "full_name": "Alice Owner",
        "auth_provider": "email",
        "created_at": response.json()["created_at"],
    }


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer not-a-token",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiMSJ9.c2lnbmF0dXJl",
        "Basic YWxpY2U6cGFzcw==",
        "Token abc",
    ],
)
def test_me_without_valid_credentials_is_401_with_www_authenticate(api, authorization):
    client = api()
    if authorization:
        client.client.credentials(HTTP_AUTHORIZATION=authorization)
    response = client.get("/api/v1/auth/me")
    assert_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_me_refuses_a_refresh_token_as_access(api, alice):
    refresh = _login(api).json()["refresh"]
    assert_error(_bearer(api, refresh).get("/api/v1/auth/me"), 401)


def test_me_refuses_the_access_token_of_a_deleted_user(api, make_user):
    user = make_user("gone@example.com")
    client = api(user=user)
    user.delete()
    assert_error(client.get("/api/v1/auth/me"), 401)


def test_me_is_for_people_not_api_keys(api, ws_a, api_key_for):
    key = api_key_for(ws_a)
    assert_error(api(api_key=key).get("/api/v1/auth/me"), 401)


# -- throttle ------------------------------------------------------------------------------------
def test_login_is_throttled_per_ip_with_retry_after(api, alice):
    limit = int(settings.PUSHPILOT_THROTTLE_LOGIN.split("/")[0])
    for _ in range(limit):
        assert _login(api, password="wrong-password-1").status_code == 401
    response = _login(api)  # even the right password waits now
    error = assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) >= 1
    assert error["message"]
    # Another address has its own budget.
    other = api().client.post(
        "/api/v1/auth/login",
        {"email": "alice@example.com", "password": PASSWORD},
        format="json",
        REMOTE_ADDR="10.9.8.7",
    )
    assert other.status_code == 200


def test_throttle_rate_is_a_setting(api, alice, settings):
    settings.PUSHPILOT_THROTTLE_LOGIN = "2/min"
    assert _login(api).status_code == 200
    assert _login(api).status_code == 200
    assert_error(_login(api), 429, "throttled")
