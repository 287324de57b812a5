"""OpenAPI details drf-spectacular cannot infer: DELETE bodies and our two credential schemes."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as _AutoSchema
from rest_framework.serializers import BaseSerializer


class AutoSchema(_AutoSchema):
    def _get_request_body(self, direction="request"):
        # Deleting a workspace takes {confirm}; spectacular documents bodies only for POST/PUT/PATCH.
        # Only a body declared with @extend_schema(request=SomeSerializer) counts: the view's own
        # serializer (an instance, spectacular's fallback) is not what a DELETE takes.
        if self.method == "DELETE" and _declared(self.get_request_serializer()):
            self.method = "POST"
            try:
                return super()._get_request_body(direction)
            finally:
                self.method = "DELETE"
        return super()._get_request_body(direction)


def _declared(request) -> bool:
    return request is not None and not isinstance(request, BaseSerializer)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "pp_live_<prefix>_<secret> (or the X-Api-Key header)",
        }


class JwtScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.JWTAuthentication"
    name = "JWT"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
