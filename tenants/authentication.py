from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication as _JWTAuthentication

from tenants import routing
from tenants.models import ApiKey

LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer pp_live_…`` or ``X-Api-Key``. Returns None for anything else so
    the JWT class gets its turn; a malformed, unknown or revoked key is a 401."""

    def authenticate(self, request):
        raw = routing.api_key_from_request(request)
        if raw is None:
            return None
        match = routing.API_KEY_RE.match(raw)
        if not match:
            raise exceptions.AuthenticationFailed("The API key is malformed.")
        key = (
            ApiKey.objects.select_related("workspace")
            .filter(prefix=match["prefix"], revoked_at__isnull=True, workspace__is_template=False)
            .first()
        )
        if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(match["secret"])):
            raise exceptions.AuthenticationFailed("The API key is invalid or revoked.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            # At most one write a minute per key, not one per request.
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return key, key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class JWTAuthentication(_JWTAuthentication):
    www_authenticate_realm = "api"
