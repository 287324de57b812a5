"""Which URLs we accept from customers and browsers, for requests our workers make later (SSRF).

The rules live in one place, ``integrations.transports.urls`` (shared with the transports, which
check every endpoint again right before sending). This module applies them where input arrives:

- ``validate_push_endpoint``: a Web Push subscription endpoint must be on an allowed push-service
  origin (``PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS``; by default https on 443 of the real services).
- ``validate_token_uri``: a service account's OAuth2 ``token_uri`` must be on Google's OAuth
  origins, the origin of ``PUSHPILOT_FCM_API_URL`` (a local FCM fake serves both), or one of
  ``PUSHPILOT_FCM_TOKEN_URI_ALLOWED_ORIGINS``: an uploaded JSON must not point our workers at an
  internal host either.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from integrations.transports.urls import (
    EndpointNotAllowed,
    check_endpoint,
    configured_allowed_origins,
    parse_allowed_origins,
)

__all__ = ["EndpointNotAllowed", "is_allowed_push_endpoint", "validate_push_endpoint", "validate_token_uri"]

GOOGLE_TOKEN_URI_ORIGINS = (
    "https://oauth2.googleapis.com",
    "https://accounts.google.com",
    "https://www.googleapis.com",
)
MAX_TOKEN_URI_LENGTH = 500


def validate_push_endpoint(url: object) -> str:
    """The endpoint if we may POST to it; raises EndpointNotAllowed (its message is client-safe)."""
    return check_endpoint(url, configured_allowed_origins()).url  # type: ignore[arg-type]


def is_allowed_push_endpoint(url: object) -> bool:
    try:
        validate_push_endpoint(url)
    except EndpointNotAllowed:
        return False
    return True


def token_uri_origins() -> tuple[str, ...]:
    fcm = urlsplit(settings.PUSHPILOT_FCM_API_URL)
    extra = (f"{fcm.scheme}://{fcm.netloc}",) if fcm.scheme in ("http", "https") and fcm.netloc else ()
    return (*GOOGLE_TOKEN_URI_ORIGINS, *extra, *settings.PUSHPILOT_FCM_TOKEN_URI_ALLOWED_ORIGINS)


def validate_token_uri(url: object) -> str:
    if isinstance(url, str) and len(url) > MAX_TOKEN_URI_LENGTH:
        raise EndpointNotAllowed(f"token_uri is longer than {MAX_TOKEN_URI_LENGTH} characters")
    try:
        return check_endpoint(url, parse_allowed_origins(token_uri_origins())).url  # type: ignore[arg-type]
    except EndpointNotAllowed:
        raise EndpointNotAllowed(
            "token_uri must be Google's OAuth2 token URL (https://oauth2.googleapis.com/token), "
            "as in the JSON the Firebase console generates."
        ) from None
