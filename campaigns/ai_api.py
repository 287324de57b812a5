"""HTTP API of AI copy: ``POST /campaigns/{id}/generate-content`` and ``GET/PATCH /ai/settings``.

Thin: serializers validate, ``campaigns.ai.services`` writes. Members and up generate (the same role
that edits campaigns); owners and admins change the AI settings, every member reads them. The
workspace's API key is write-only: reads say whether one is set and its last four characters.
"""

from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import content as personalization
from campaigns.ai import prompts
from campaigns.ai import selectors as ai_selectors
from campaigns.ai import services as ai_services
from campaigns.api import object_by_id
from campaigns.models import Campaign
from campaigns.serializers import ContentSerializer, validate_language
from pushpilot.api.errors import ApiError
from pushpilot.api.serializers import StrictSerializer
from tenants.access import WorkspaceAccessMixin
from tenants.api import client_ip
from tenants.models import ApiKeyScope, Role

# Free text, but only words: a tone is an adjective or two, never a place to smuggle instructions.
_TONE_RE = re.compile(r"^[^\W\d_][\w \-]{0,29}$")
MAX_PROMPT_CHARS = 1000
MAX_BRAND_VOICE_CHARS = 2000


class GenerateContentRequestSerializer(StrictSerializer):
    prompt = serializers.CharField(max_length=MAX_PROMPT_CHARS, help_text="What the notifications are about.")
    tone = serializers.CharField(
        required=False,
        max_length=30,
        help_text="Free text of letters, spaces and hyphens (≤ 30), e.g. cheerful, festive, formal, "
        "urgent, playful, empathetic. Default: the campaign's tone, else friendly.",
    )
    language = serializers.CharField(
        required=False,
        max_length=35,
        help_text="BCP 47 tag (en-IN, hi-IN, es-MX). Default: the campaign's default language.",
    )
    variants = serializers.IntegerField(min_value=1, max_value=5, default=3)
    include_emoji = serializers.BooleanField(default=False)
    max_title = serializers.IntegerField(
        min_value=10, max_value=personalization.TITLE_MAX, default=personalization.TITLE_MAX
    )
    max_body = serializers.IntegerField(
        min_value=20, max_value=personalization.BODY_MAX, default=personalization.BODY_MAX
    )

    def validate_prompt(self, value):
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value.strip()

    def validate_tone(self, value):
        value = " ".join(value.split())
        if not _TONE_RE.match(value):
            raise serializers.ValidationError("A tone is one or a few words: letters, spaces and hyphens.")
        return value.lower()

    def validate_language(self, value):
        return validate_language(value)


class GenerationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    model = serializers.CharField()
    provider = serializers.CharField(help_text="platform (OPENAI_*) or workspace (its own settings).")
    attempts = serializers.IntegerField(help_text="Provider calls: 2 when a repair round was needed.")
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class QuotaSerializer(serializers.Serializer):
    used = serializers.IntegerField()
    limit = serializers.IntegerField(allow_null=True, help_text="null: unlimited.")
    period = serializers.CharField(help_text="YYYY-MM, in the workspace's timezone.")
    resets_at = serializers.DateTimeField()


class GenerateContentResponseSerializer(serializers.Serializer):
    variants = ContentSerializer(many=True, help_text="Saved as inactive drafts (generated_by=ai).")
    generation = GenerationSerializer()
    quota = QuotaSerializer()


class AiSettingsSerializer(serializers.Serializer):
    base_url = serializers.CharField(
        help_text="The workspace's OpenAI-compatible endpoint; empty: the platform's."
    )
    model = serializers.CharField(help_text="Empty: the platform's OPENAI_MODEL.")
    api_key_set = serializers.BooleanField()
    api_key_last4 = serializers.CharField(allow_null=True)
    brand_voice = serializers.CharField()
    configured = serializers.BooleanField(help_text="Whether generate-content has a provider to call.")
    quota = QuotaSerializer()
    updated_at = serializers.DateTimeField(allow_null=True)


class AiSettingsUpdateSerializer(StrictSerializer):
    base_url = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=500)
    model = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=100)
    api_key = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=500,
        write_only=True,
        help_text="Write-only. Empty or null removes the workspace's key.",
    )
    brand_voice = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=MAX_BRAND_VOICE_CHARS
    )

    def validate_api_key(self, value):
        # It travels in an HTTP header: printable ASCII without spaces, or nothing at all.
        if value and not all("!" <= ch <= "~" for ch in value):
            raise serializers.ValidationError("An API key is printable ASCII without spaces.")
        return value


def _settings_body(workspace) -> dict:
    row = ai_selectors.ai_settings_get()
    try:
        configured = ai_services.ai_provider_config(workspace=workspace, row=row) is not None
    except ApiError:
        configured = False
    return {
        "base_url": row.base_url,
        "model": row.model,
        "api_key_set": bool(row.api_key_encrypted),
        "api_key_last4": row.api_key_hint or None,
        "brand_voice": row.brand_voice,
        "configured": configured,
        "quota": ai_selectors.ai_quota_status(workspace=workspace),
        "updated_at": row.updated_at if row.pk and row.updated_at else None,
    }


class GenerateContentView(WorkspaceAccessMixin, APIView):
    """Ask the workspace's AI model for copy variants; each is saved as an inactive draft content
    (``generated_by=ai``) until a marketer activates it with PATCH …/contents/{id} {is_active: true}."""

    queryset = Campaign.objects.all()
    action_roles = {"post": Role.MEMBER}

    @extend_schema(
        request=GenerateContentRequestSerializer,
        responses={
            201: GenerateContentResponseSerializer,
            429: OpenApiResponse(description="ai_quota_exceeded or ai_rate_limited, with Retry-After."),
            502: OpenApiResponse(
                description="ai_upstream_error (details.reason: timeout, unreachable, upstream_status, "
                "provider_quota_exhausted, …) or ai_invalid_output."
            ),
            503: OpenApiResponse(
                description="ai_not_configured (also when the workspace's base_url resolves to a "
                "non-public address at call time)."
            ),
        },
    )
    def post(self, request, pk=None):
        campaign = object_by_id(self.get_queryset(), pk)
        serializer = GenerateContentRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        generate = prompts.GenerationRequest(
            prompt=data["prompt"],
            tone=data.get("tone") or (campaign.tone or "friendly")[:30],
            language=data.get("language") or campaign.default_language,
            variants=data["variants"],
            include_emoji=data["include_emoji"],
            max_title=data["max_title"],
            max_body=data["max_body"],
        )
        result = ai_services.ai_content_generate(
            workspace=self.workspace, campaign=campaign, actor=self.actor, request=generate
        )
        body = {
            "variants": ContentSerializer(result.contents, many=True).data,
            "generation": GenerationSerializer(result.generation).data,
            "quota": QuotaSerializer(result.quota).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class AiSettingsView(WorkspaceAccessMixin, APIView):
    """The workspace's AI provider override and brand voice. Owners and admins write; members read."""

    action_roles = {"get": Role.VIEWER, "patch": Role.ADMIN}
    api_key_scopes = {"get": ApiKeyScope.READ}

    @extend_schema(responses={200: AiSettingsSerializer})
    def get(self, request):
        return Response(AiSettingsSerializer(_settings_body(self.workspace)).data)

    @extend_schema(request=AiSettingsUpdateSerializer, responses={200: AiSettingsSerializer})
    def patch(self, request):
        serializer = AiSettingsUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ai_services.ai_settings_update(
            workspace=self.workspace,
            actor=self.actor,
            data=serializer.validated_data,
            ip=client_ip(request),
        )
        return Response(AiSettingsSerializer(_settings_body(self.workspace)).data)
