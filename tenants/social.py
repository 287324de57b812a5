"""Google and Apple sign-in from a token the client already holds (native apps, Google Identity
Services, Sign in with Apple JS), through social-core's backends, pipeline and social_django's
``UserSocialAuth`` storage.

Verification:
- Google ``id_token``: the tokeninfo endpoint (``PUSHPILOT_GOOGLE_TOKENINFO_URL``) checks the signature
  and expiry; we check issuer, audience (our client id) and expiry again on the claims it returns.
- Google ``access_token``: tokeninfo tells whom the token was issued to (``aud``), so a token minted
  for another app cannot sign in here; userinfo (``PUSHPILOT_GOOGLE_USERINFO_URL``) gives the profile.
- Apple: the identity token is a JWT verified locally against Apple's JWKS
  (``PUSHPILOT_APPLE_KEYS_URL``): RS256 signature, issuer, audience, expiry. Apple has no userinfo
  endpoint, so an ``access_token`` sent to the Apple endpoint is treated as the identity token, the
  way social-core's Apple backend does.

Linking (CVE-2025-61783 class): a matching email never links a social identity to an existing account
by itself. See ``link_or_create_user``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from rest_framework import status
from social_core.backends.apple import AppleIdAuth
from social_core.backends.google import GoogleOAuth2
from social_core.exceptions import (
    AuthConfigurationError,
    AuthProviderError,
    AuthResponseError,
    SocialAuthBaseException,
)
from social_django.models import DjangoStorage
from social_django.strategy import DjangoStrategy

from pushpilot.api.errors import ApiError
from tenants.models import AuthProvider, User

# The whole pipeline, fixed in code so that no setting can slip `associate_by_email` (or a
# username/`create_user` step that would bypass the rules below) into social sign-in.
SOCIAL_SIGN_IN_PIPELINE: tuple[str, ...] = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_names",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    # An existing (provider, uid) link decides the user; nothing else may.
    "social_core.pipeline.social_auth.social_user",
    "tenants.social.link_or_create_user",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
)


# -- errors --------------------------------------------------------------------------------------
def _token_rejected(provider_title: str) -> ApiError:
    return ApiError(
        f"The {provider_title} token is invalid, expired or was issued to another app.",
        code="social_token_invalid",
        status_code=status.HTTP_401_UNAUTHORIZED,
    )


def _provider_unavailable(provider_title: str) -> ApiError:
    return ApiError(
        f"{provider_title} could not verify the token right now; try again shortly.",
        code="social_provider_unavailable",
        status_code=status.HTTP_502_BAD_GATEWAY,
    )


def _not_configured(provider_title: str) -> ApiError:
    return ApiError(
        f"Sign in with {provider_title} is not configured on this server.",
        code="social_not_configured",
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


def _api_error_for(exc: SocialAuthBaseException, provider_title: str) -> ApiError:
    """Provider trouble (down, slow, misconfigured URL) is a 502; everything else is a bad token."""
    if isinstance(exc, AuthConfigurationError):
        return _provider_unavailable(provider_title)
    if isinstance(exc, AuthProviderError):
        status_code = getattr(exc, "status_code", None)
        if status_code is not None and 400 <= status_code < 500 and status_code != 429:
            return _token_rejected(provider_title)
        return _provider_unavailable(provider_title)
    return _token_rejected(provider_title)


def _claim_is_true(value: Any) -> bool:
    # Google's tokeninfo and Apple send "true"/"false" strings; userinfo sends JSON booleans.
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


# -- backends ------------------------------------------------------------------------------------
class _TokenSignInMixin:
    """What both backends add to social-core: configuration check and one token entry point."""

    auth_provider: str
    LEGACY_ID_KEYS: tuple[str, ...] = ()  # never look identities up by email, not even legacy rows
    GET_ALL_EXTRA_DATA = False

    def is_configured(self) -> bool:
        raise NotImplementedError

    def sign_in(self, *, id_token: str | None, access_token: str | None, **pipeline_kwargs) -> User | None:
        raise NotImplementedError

    def extra_data(self, user, uid, response, details, pipeline_kwargs) -> dict[str, Any]:
        # social-core's OAuth base always keeps the provider's access token. We only sign people
        # in, so a bearer token at rest would be a liability with no use.
        data = super().extra_data(user, uid, response, details, pipeline_kwargs)  # type: ignore[misc]
        for key in ("access_token", "id_token", "token_type"):
            data.pop(key, None)
        return data

    def provider_json(self, url: str, *, stage, params=None, headers=None) -> dict:
        """GET a provider endpoint; a 4xx answer means the token was refused."""
        response = self.get_json(url, params=params, headers=headers, stage=stage)  # type: ignore[attr-defined]
        if not isinstance(response, dict):
            raise AuthResponseError(self, code="malformed_response", stage=stage)
        return response


class GoogleBackend(_TokenSignInMixin, GoogleOAuth2):
    name = "google-oauth2"
    auth_provider = AuthProvider.GOOGLE
    ID_TOKEN_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
    # Only the stable subject id and what we show; never the provider's tokens.
    EXTRA_DATA = [("sub", "sub"), ("email", "email")]

    def is_configured(self) -> bool:
        return bool(self.setting("KEY"))

    def audiences(self) -> list[str]:
        # SOCIAL_AUTH_GOOGLE_OAUTH2_AUDIENCE may list extra client ids (e.g. the Android/iOS ones).
        return [aud for aud in self.setting("AUDIENCE", default=[self.setting("KEY")]) if aud]

    def sign_in(self, *, id_token: str | None, access_token: str | None, **pipeline_kwargs) -> User | None:
        if id_token:
            claims = self.verify_id_token(id_token)
            pipeline_kwargs.update(response=claims, backend=self)
            return self.strategy.authenticate(**pipeline_kwargs)
        # OAuth2 access token: social-core's do_auth calls user_data() below, then the pipeline.
        return self.do_auth(access_token, **pipeline_kwargs)

    def verify_id_token(self, id_token: str) -> dict[str, Any]:
        claims = self.provider_json(
            settings.PUSHPILOT_GOOGLE_TOKENINFO_URL, params={"id_token": id_token}, stage="token_validation"
        )
        if claims.get("iss") not in self.ID_TOKEN_ISSUERS:
            raise AuthResponseError(self, code="invalid_claim", claim="iss", stage="token_validation")
        self._check_audience_and_expiry(claims)
        claims["email_verified"] = _claim_is_true(claims.get("email_verified"))
        return claims

    def user_data(self, access_token, *args, **kwargs) -> dict[str, Any]:
        # Whom was this access token issued to? userinfo alone would accept any app's token.
        info = self.provider_json(
            settings.PUSHPILOT_GOOGLE_TOKENINFO_URL,
            params={"access_token": access_token},
            stage="token_validation",
        )
        self._check_audience_and_expiry(info)
        profile = self.provider_json(
            settings.PUSHPILOT_GOOGLE_USERINFO_URL,
            headers={"Authorization": f"Bearer {access_token}"},
            stage="user_info",
        )
        if not profile.get("sub") or str(profile.get("sub")) != str(info.get("sub")):
            raise AuthResponseError(self, code="invalid_claim", claim="sub", stage="user_info")
        profile["email_verified"] = _claim_is_true(profile.get("email_verified"))
        return profile

    def _check_audience_and_expiry(self, claims: dict[str, Any]) -> None:
        if claims.get("aud") not in self.audiences():
            raise AuthResponseError(self, code="invalid_claim", claim="aud", stage="token_validation")
        try:
            expires_at = int(claims["exp"])
        except (KeyError, TypeError, ValueError) as exc:
            raise AuthResponseError(
                self, code="missing_claim", claim="exp", stage="token_validation"
            ) from exc
        # Google refuses expired tokens itself; this keeps us safe behind a lenient or caching peer.
        if expires_at <= time.time():
            raise AuthResponseError(self, code="response_expired", claim="exp", stage="token_validation")


class AppleBackend(_TokenSignInMixin, AppleIdAuth):
    name = "apple-id"
    auth_provider = AuthProvider.APPLE
    EXTRA_DATA = [("sub", "sub"), ("email", "email")]

    @property
    def JWK_URL(self) -> str:
        return settings.PUSHPILOT_APPLE_KEYS_URL

    def is_configured(self) -> bool:
        return bool(self.setting("CLIENT"))

    def sign_in(self, *, id_token: str | None, access_token: str | None, **pipeline_kwargs) -> User | None:
        token = id_token or access_token
        return self.do_auth(token, response={"id_token": token}, **pipeline_kwargs)

    def decode_id_token(self, id_token):
        # social-core checks signature (RS256 against the JWKS key named by `kid`), iss and aud;
        # PyJWT only checks `exp` when present, and a token without one would never expire.
        claims = super().decode_id_token(id_token)
        for claim in ("exp", "sub"):
            if not claims.get(claim):
                raise AuthResponseError(self, code="missing_claim", claim=claim, stage="token_validation")
        claims["email_verified"] = _claim_is_true(claims.get("email_verified"))
        return claims


# -- strategy ------------------------------------------------------------------------------------
class TokenSignInStrategy(DjangoStrategy):
    """A Django strategy for JSON token sign-in.

    The pipeline is fixed in code, and the request's own query/form data never reaches the backends:
    everything they use arrives as verified claims or explicit arguments."""

    def get_pipeline(self, backend=None) -> list[str]:
        return list(SOCIAL_SIGN_IN_PIPELINE)

    def get_request_data(self, merge=True):
        return {}


# -- the pipeline step that decides who signs in -----------------------------------------------
def _account_exists(provider_title: str, *, wrong_password: bool) -> ApiError:
    if wrong_password:
        message = (
            f"An account with this email already exists and the password does not match. Send the "
            f"account's password as `password` to link your {provider_title} sign-in to it."
        )
    else:
        message = (
            f"An account with this email already exists. Sign in with your password, or send it here "
            f"as `password`, to link your {provider_title} sign-in to that account."
        )
    return ApiError(message, code="account_exists", status_code=status.HTTP_409_CONFLICT)


def _account_disabled() -> ApiError:
    return ApiError(
        "This account is disabled.", code="account_disabled", status_code=status.HTTP_403_FORBIDDEN
    )


def link_or_create_user(
    backend, uid, details, response, *args, user=None, link_password=None, link_full_name=None, **kwargs
):
    """Pipeline step after ``social_user``. Rules, in order:

    1. (provider, uid) is already linked: that user signs in (``user`` is set by ``social_user``).
    2. The provider did not verify the email: refused, whether or not an account has that email.
    3. An account with that email exists: linked only when the request carries that account's
       correct password (proof of ownership); otherwise 409 ``account_exists`` and nothing is linked.
    4. Otherwise a new account (unusable password, ``auth_provider`` google/apple) is created;
       ``associate_user`` then records the link.
    """
    title = backend.title
    if user is not None:
        if not user.is_active:
            raise _account_disabled()
        return {"is_new": False}

    email = (details.get("email") or "").strip().lower()
    if not email:
        raise ApiError(
            f"{title} did not share an email address; allow email access and try again.",
            code="email_required",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    if not _claim_is_true(response.get("email_verified")):
        raise ApiError(
            f"{title} has not verified this email address; verify it with {title} first.",
            code="email_not_verified",
            status_code=status.HTTP_403_FORBIDDEN,
        )

    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        return _link_existing(existing, link_password, title)

    full_name = (link_full_name or details.get("fullname") or "").strip()[:150]
    try:
        with transaction.atomic():
            created = User.objects.create_user(
                email, None, full_name=full_name, auth_provider=backend.auth_provider
            )
    except IntegrityError:
        # A concurrent first sign-in created the account. If it was this very identity, its link
        # is committed by now; otherwise the email belongs to someone who must prove it.
        social = backend.strategy.storage.user.get_social_auth(backend.name, uid)
        if social is not None:
            return {"user": social.user, "social": social, "is_new": False}
        raise _account_exists(title, wrong_password=False) from None
    return {"user": created, "is_new": True}


def _link_existing(existing: User, password: str | None, title: str) -> dict:
    if not password:
        raise _account_exists(title, wrong_password=False)
    # check_password is False for an unusable password, so a social-only account cannot be claimed.
    if not existing.check_password(password):
        raise _account_exists(title, wrong_password=True)
    if not existing.is_active:
        raise _account_disabled()
    return {"user": existing, "is_new": False}


# -- service -------------------------------------------------------------------------------------
PROVIDER_BACKENDS = {"google": GoogleBackend.name, "apple": AppleBackend.name}
PROVIDER_TITLES = {"google": "Google", "apple": "Apple"}


@dataclass(frozen=True)
class SocialSignIn:
    user: User
    created: bool


def social_sign_in(
    *,
    request,
    provider: str,
    id_token: str | None = None,
    access_token: str | None = None,
    password: str | None = None,
    full_name: str | None = None,
) -> SocialSignIn:
    """Verify a provider token and return the user it signs in (creating or linking per the rules in
    ``link_or_create_user``); the (provider, uid) link is stored in social_django's UserSocialAuth."""
    title = PROVIDER_TITLES[provider]
    strategy = TokenSignInStrategy(DjangoStorage, request)
    try:
        backend = strategy.get_backend(PROVIDER_BACKENDS[provider])
    except AuthConfigurationError as exc:  # not in AUTHENTICATION_BACKENDS
        raise _not_configured(title) from exc
    if not backend.is_configured():
        raise _not_configured(title)

    try:
        # Provider HTTP calls run before the first query, so no transaction is open during them.
        with transaction.atomic():
            user = backend.sign_in(
                id_token=id_token, access_token=access_token, link_password=password, link_full_name=full_name
            )
    except SocialAuthBaseException as exc:
        raise _api_error_for(exc, title) from exc
    if not isinstance(user, User):
        raise _token_rejected(title)
    return SocialSignIn(user=user, created=bool(getattr(user, "is_new", False)))
