"""`POST /api/v1/auth/google` and `POST /api/v1/auth/apple`: sign in with a provider token."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from pushpilot.api.throttling import LoginThrottle
from tenants import social
from tenants.api import tokens_for
from tenants.serializers import SocialLoginSerializer, TokenPairSerializer, UserSerializer


class SocialLoginResponseSerializer(TokenPairSerializer):
    user = UserSerializer()
    created = serializers.BooleanField(help_text="True when this sign-in created the account.")


class _SocialLoginView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginThrottle]
    provider: str

    def post(self, request):
        serializer = SocialLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = social.social_sign_in(
            request=request._request,
            provider=self.provider,
            id_token=data.get("id_token"),
            access_token=data.get("access_token"),
            password=data.get("password"),
            full_name=data.get("full_name"),
        )
        body = {
            **tokens_for(result.user),
            "user": UserSerializer(result.user).data,
            "created": result.created,
        }
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


_RESPONSES = {
    200: SocialLoginResponseSerializer,
    201: OpenApiResponse(SocialLoginResponseSerializer, description="Signed in with a new account."),
    401: OpenApiResponse(description="`social_token_invalid`: bad signature, wrong audience, expired."),
    403: OpenApiResponse(description="`email_not_verified`, `email_required` or `account_disabled`."),
    409: OpenApiResponse(
        description="`account_exists`: an account has this email; send its `password` to link."
    ),
    502: OpenApiResponse(description="`social_provider_unavailable`: the provider could not be reached."),
    503: OpenApiResponse(description="`social_not_configured`: no client id for this provider."),
}


class GoogleLoginView(_SocialLoginView):
    provider = "google"

    @extend_schema(
        request=SocialLoginSerializer,
        responses=_RESPONSES,
        operation_id="auth_google",
        description="Sign in with a Google `id_token` or OAuth `access_token` issued to our client id.",
    )
    def post(self, request):
        return super().post(request)


class AppleLoginView(_SocialLoginView):
    provider = "apple"

    @extend_schema(
        request=SocialLoginSerializer,
        responses=_RESPONSES,
        operation_id="auth_apple",
        description="Sign in with an Apple identity token (`id_token`; `access_token` is accepted as "
        "a synonym carrying the same identity token).",
    )
    def post(self, request):
        return super().post(request)
