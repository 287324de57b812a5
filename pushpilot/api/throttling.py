"""Redis-backed throttles. Counters live in the ``throttle`` cache, which is not schema-scoped, so a
user's budget is one budget whichever workspace they call."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle


class _Throttle(SimpleRateThrottle):
    cache = caches["throttle"]

    def get_rate(self):
        # Read at call time (DRF binds rates at import), so PUSHPILOT_THROTTLE_* changes apply.
        return getattr(settings, f"PUSHPILOT_THROTTLE_{self.scope.upper()}")


class AnonThrottle(_Throttle):
    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user is not None and getattr(request.user, "is_authenticated", False):
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ApiThrottle(_Throttle):
    """Per user (JWT) or per API key."""

    scope = "api"

    def get_cache_key(self, request, view):
        principal = request.auth if _is_api_key(request.auth) else request.user
        if principal is None or not getattr(principal, "is_authenticated", False):
            return None
        kind = "key" if _is_api_key(request.auth) else "user"
        return self.cache_format % {"scope": self.scope, "ident": f"{kind}:{principal.pk}"}


class LoginThrottle(_Throttle):
    """Per IP on the credential endpoints (login, register, social, invitation accept)."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def _is_api_key(auth) -> bool:
    from tenants.models import ApiKey

    return isinstance(auth, ApiKey)
