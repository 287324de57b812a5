from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pushpilot.api.serializers import StrictSerializer
from tenants.models import (
    ApiKey,
    ApiKeyScope,
    AuditLog,
    Invitation,
    Membership,
    PlanType,
    Role,
    User,
    Workspace,
    validate_timezone,
)


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name", "auth_provider", "created_at"]
        read_only_fields = fields


class RegisterSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class LoginSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class RefreshSerializer(StrictSerializer):
    refresh = serializers.CharField(max_length=2048)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RegisterResponseSerializer(TokenPairSerializer):
    user = UserSerializer()


class SocialLoginSerializer(StrictSerializer):
    id_token = serializers.CharField(max_length=8192, required=False)
    access_token = serializers.CharField(max_length=8192, required=False)
    # Proves ownership of an existing email account before a social identity is linked to it.
    password = serializers.CharField(max_length=128, required=False, trim_whitespace=False)
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True)

    def validate(self, attrs):
        if bool(attrs.get("id_token")) == bool(attrs.get("access_token")):
            raise serializers.ValidationError("Send exactly one of id_token or access_token.")
        return attrs


class TimezoneField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)
        self.validators.append(validate_timezone)


class WorkspaceSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = [
            "id",
            "name",
            "slug",
            "plan_type",
            "timezone",
            "owner",
            "role",
            "next_run_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True))
    def get_role(self, obj):
        roles = self.context.get("roles") or {}
        return roles.get(obj.pk)


class WorkspaceCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.CharField(max_length=63, required=False)
    timezone = TimezoneField(required=False)


class WorkspaceUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False)
    slug = serializers.CharField(max_length=63, required=False)
    timezone = TimezoneField(required=False)
    plan_type = serializers.ChoiceField(choices=PlanType.choices, required=False)


class WorkspaceDeleteSerializer(StrictSerializer):
    confirm = serializers.CharField(max_length=63, help_text="The workspace's slug, typed to confirm.")


class TransferOwnershipSerializer(StrictSerializer):
    user_id = serializers.UUIDField()


class MemberSerializer(serializers.ModelSerializer):
    user = UserSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "status", "invited_at", "joined_at"]
        read_only_fields = fields


class MemberUpdateSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InviteSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(
        choices=[(r, r) for r in (Role.ADMIN, Role.MEMBER, Role.VIEWER)], default=Role.MEMBER
    )


class InvitationSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    invited_by = UserSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "status",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ]
        read_only_fields = fields


class AcceptInvitationSerializer(StrictSerializer):
    token = serializers.CharField(max_length=128)
    password = serializers.CharField(max_length=128, required=False, trim_whitespace=False)
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class AcceptInvitationResponseSerializer(serializers.Serializer):
    workspace = WorkspaceSerializer()
    member = MemberSerializer()
    access = serializers.CharField(required=False)
    refresh = serializers.CharField(required=False)


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The whole key. Shown once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKeyScope.choices), min_length=1, max_length=3
    )


class AuditLogSerializer(serializers.ModelSerializer):
    actor = UserSerializer(read_only=True, allow_null=True)
    actor_api_key = serializers.UUIDField(source="actor_api_key_id", read_only=True, allow_null=True)

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "action",
            "actor",
            "actor_api_key",
            "target_type",
            "target_id",
            "metadata",
            "ip_address",
            "created_at",
        ]
        read_only_fields = fields
