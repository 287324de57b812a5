"""The SDK's public endpoints (``/sdk/v1/…``): called from browsers and mobile apps with an App's
public ``X-SDK-Key``, no user and no workspace header.

The key is resolved in the public schema (``tenants.SdkKeyRegistry``) to its workspace and app,
then the connection switches to that workspace's schema, so everything after it can only see that
workspace's rows. Every lookup is further scoped to the key's app: a key can never name another
app's (let alone another workspace's) subscribers. Throttled per key and client IP before any
database work; CORS is open for ``/sdk/`` (settings ``CORS_URLS_REGEX``).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from integrations import selectors, services
from integrations import serializers as s
from integrations.models import App, AppKind, Subscriber
from pushpilot.api.errors import ApiError

SDK_KEY_HEADER = "X-SDK-Key"
_SDK_KEY_PARAMETER = OpenApiParameter(
    SDK_KEY_HEADER, str, OpenApiParameter.HEADER, required=True, description="The app's public sdk_key."
)


class InvalidSdkKey(ApiError):
    status_code = 401
    default_code = "invalid_sdk_key"
    default_detail = "The X-SDK-Key header does not name a connected app."
    auth_header = 'SDK-Key realm="sdk"'


class SdkThrottle(SimpleRateThrottle):
    """Per SDK key and client IP (rate ``PUSHPILOT_THROTTLE_SDK``, read at call time). Keyed on the
    header as sent, so unknown keys are throttled before they cost a lookup."""

    scope = "sdk"
    cache = caches["throttle"]

    def get_rate(self):
        return settings.PUSHPILOT_THROTTLE_SDK

    def get_cache_key(self, request, view):
        raw = request.headers.get(SDK_KEY_HEADER, "")
        digest = hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": f"{digest}:{self.get_ident(request)}"}


class SdkView(APIView):
    """Base of the SDK endpoints: throttle, resolve ``X-SDK-Key``, enter the key's workspace."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [SdkThrottle]
    parser_classes = [JSONParser]

    app: App

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # content negotiation, then the throttle
        route = selectors.sdk_key_route(sdk_key=request.headers.get(SDK_KEY_HEADER, "").strip())
        if route is None:
            raise InvalidSdkKey()
        connection.set_tenant(route.workspace)
        request.tenant = route.workspace
        app = App.objects.filter(pk=route.app_id, sdk_key=route.sdk_key).first()
        if app is None:  # the registry and the app disagree (mid-rotation): refuse, never guess
            raise InvalidSdkKey()
        self.workspace, self.app = route.workspace, app

    def subscriber(self, **lookup) -> Subscriber:
        subscriber = selectors.subscriber_of_app(app=self.app, **lookup)
        if subscriber is None:
            raise ApiError(
                "No subscriber with this id, token or endpoint in this app.",
                code="subscriber_not_found",
                status_code=404,
            )
        return subscriber

    def valid(self, serializer_class, **context) -> dict:
        serializer = serializer_class(data=request_data(self.request), context={"app": self.app, **context})
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


def request_data(request):
    data = request.data
    if not isinstance(data, dict):
        raise ApiError(
            "The body must be a JSON object.",
            code="validation_error",
            details={"non_field_errors": ["The body must be a JSON object."]},
        )
    return data


class SubscriberIdSerializer(serializers.Serializer):
    subscriber_id = serializers.UUIDField()


class SubscriberStatusSerializer(SubscriberIdSerializer):
    status = serializers.CharField()


class SdkConfigSerializer(serializers.Serializer):
    app_id = serializers.UUIDField()
    kind = serializers.CharField()
    name = serializers.CharField()
    vapid_public_key = serializers.CharField(allow_null=True)


class SubscribeView(SdkView):
    @extend_schema(
        request=s.SubscribeSerializer,
        parameters=[_SDK_KEY_PARAMETER],
        responses={200: SubscriberIdSerializer, 201: SubscriberIdSerializer},
    )
    def post(self, request):
        """Register this device or browser (idempotent: 201 the first time, 200 afterwards)."""
        data = self.valid(s.SubscribeSerializer, lenient_device_fields=True)
        subscriber, created = services.subscriber_upsert(
            app=self.app,
            fcm_token=data.pop("fcm_token", None),
            subscription=data.pop("subscription", None),
            profile=data,
        )
        return Response(
            {"subscriber_id": str(subscriber.pk)},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class UnsubscribeView(SdkView):
    @extend_schema(
        request=s.UnsubscribeSerializer,
        parameters=[_SDK_KEY_PARAMETER],
        responses={200: SubscriberStatusSerializer},
    )
    def post(self, request):
        data = self.valid(s.UnsubscribeSerializer)
        subscriber = self.subscriber(**data)
        services.subscriber_unsubscribe(subscriber=subscriber, reason="unsubscribed via SDK")
        return Response({"subscriber_id": str(subscriber.pk), "status": subscriber.status})


class IdentifyView(SdkView):
    @extend_schema(
        request=s.IdentifySerializer, parameters=[_SDK_KEY_PARAMETER], responses={200: SubscriberIdSerializer}
    )
    def post(self, request):
        """Attach who this subscriber is: external_user_id, tags, attributes, locale, timezone."""
        data = self.valid(s.IdentifySerializer)
        subscriber = self.subscriber(subscriber_id=data.pop("subscriber_id"))
        services.subscriber_update(subscriber=subscriber, changes=data, touch=True)
        return Response({"subscriber_id": str(subscriber.pk)})


class ConfigView(SdkView):
    @extend_schema(parameters=[_SDK_KEY_PARAMETER], responses={200: SdkConfigSerializer})
    def get(self, request):
        """What the SDK needs to subscribe: the app's kind and, for Web Push, its VAPID public key."""
        return Response(
            {
                "app_id": str(self.app.pk),
                "kind": self.app.kind,
                "name": self.app.name,
                "vapid_public_key": self.app.vapid_public_key if self.app.kind == AppKind.WEB_PUSH else None,
            }
        )
