"""HTTP API for accounts, workspaces, members, invitations, API keys and the audit log."""

from __future__ import annotations

import django_filters
from django.contrib.auth import authenticate
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, mixins, status, viewsets
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken

from pushpilot.api.errors import ApiError
from pushpilot.api.throttling import LoginThrottle
from tenants import serializers as s
from tenants import services
from tenants.access import WorkspaceAccessMixin
from tenants.authentication import JWTAuthentication
from tenants.models import ApiKey, AuditLog, Invitation, Membership, Role, User, Workspace


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def tokens_for(user: User) -> dict:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


class JwtUserOnly(IsAuthenticated):
    """Account endpoints act for a person; an API key is not one."""

    def has_permission(self, request, view):
        return super().has_permission(request, view) and isinstance(request.user, User)


# -- auth ----------------------------------------------------------------------------------------
class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginThrottle]

    @extend_schema(request=s.RegisterSerializer, responses={201: s.RegisterResponseSerializer})
    def post(self, request):
        data = _valid(s.RegisterSerializer, request)
        user = services.user_register(**data)
        return Response(
            {"user": s.UserSerializer(user).data, **tokens_for(user)}, status=status.HTTP_201_CREATED
        )


class LoginView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginThrottle]

    @extend_schema(request=s.LoginSerializer, responses={200: s.TokenPairSerializer})
    def post(self, request):
        data = _valid(s.LoginSerializer, request)
        user = authenticate(request, username=data["email"].lower(), password=data["password"])
        if user is None:
            raise ApiError("Email or password is incorrect.", code="invalid_credentials", status_code=401)
        return Response(tokens_for(user))


class RefreshView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginThrottle]

    @extend_schema(request=s.RefreshSerializer, responses={200: s.TokenPairSerializer})
    def post(self, request):
        data = _valid(s.RefreshSerializer, request)
        serializer = TokenRefreshSerializer(data=data)
        try:
            serializer.is_valid(raise_exception=True)
        # SimpleJWT looks the token's user up with .get(): a deleted account raises DoesNotExist.
        except (
            TokenError,
            exceptions.ValidationError,
            exceptions.AuthenticationFailed,
            User.DoesNotExist,
        ) as exc:
            raise ApiError(
                "The refresh token is invalid, expired or already used.",
                code="token_invalid",
                status_code=401,
            ) from exc
        return Response(serializer.validated_data)


class LogoutView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=s.RefreshSerializer, responses={204: None})
    def post(self, request):
        data = _valid(s.RefreshSerializer, request)
        try:
            RefreshToken(data["refresh"]).blacklist()
        except TokenError as exc:
            raise ApiError(
                "The refresh token is invalid, expired or already used.",
                code="token_invalid",
                status_code=401,
            ) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    authentication_classes = [JWTAuthentication]
    permission_classes = [JwtUserOnly]

    @extend_schema(responses={200: s.UserSerializer})
    def get(self, request):
        return Response(s.UserSerializer(request.user).data)


def _valid(serializer_class, request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# -- workspaces ----------------------------------------------------------------------------------
class WorkspaceListCreateView(generics.GenericAPIView):
    """Workspaces I belong to, and creating one (I become its owner)."""

    authentication_classes = [JWTAuthentication]
    permission_classes = [JwtUserOnly]
    serializer_class = s.WorkspaceSerializer

    def get_queryset(self):
        return Workspace.objects.visible().filter(memberships__user=self.request.user).order_by("name", "id")

    @extend_schema(responses={200: s.WorkspaceSerializer(many=True)})
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        roles = dict(Membership.objects.filter(user=request.user).values_list("workspace_id", "role"))
        data = s.WorkspaceSerializer(page, many=True, context={"roles": roles}).data
        return self.get_paginated_response(data)

    @extend_schema(request=s.WorkspaceCreateSerializer, responses={201: s.WorkspaceSerializer})
    def post(self, request):
        data = _valid(s.WorkspaceCreateSerializer, request)
        workspace = services.workspace_create(
            owner=request.user,
            name=data["name"],
            slug=data.get("slug"),
            timezone_name=data.get("timezone"),
            ip=client_ip(request),
        )
        return Response(
            s.WorkspaceSerializer(workspace, context={"roles": {workspace.pk: Role.OWNER}}).data,
            status=status.HTTP_201_CREATED,
        )


class WorkspaceDetailView(WorkspaceAccessMixin, generics.GenericAPIView):
    workspace_url_kwarg = "workspace_pk"
    write_role = Role.ADMIN
    action_roles = {"delete": Role.OWNER}
    queryset = Workspace.objects.none()
    serializer_class = s.WorkspaceSerializer

    def _out(self):
        return s.WorkspaceSerializer(
            self.workspace, context={"roles": {self.workspace.pk: self.membership.role}}
        ).data

    def get(self, request, workspace_pk):
        return Response(self._out())

    @extend_schema(request=s.WorkspaceUpdateSerializer, responses={200: s.WorkspaceSerializer})
    def patch(self, request, workspace_pk):
        data = _valid(s.WorkspaceUpdateSerializer, request)
        services.workspace_update(workspace=self.workspace, actor=request.user, ip=client_ip(request), **data)
        return Response(self._out())

    @extend_schema(request=s.WorkspaceDeleteSerializer, responses={204: None})
    def delete(self, request, workspace_pk):
        data = _valid(s.WorkspaceDeleteSerializer, request)
        services.workspace_delete(workspace=self.workspace, actor=request.user, confirm=data["confirm"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class TransferOwnershipView(WorkspaceAccessMixin, generics.GenericAPIView):
    workspace_url_kwarg = "workspace_pk"
    write_role = Role.OWNER
    queryset = Workspace.objects.none()
    serializer_class = s.TransferOwnershipSerializer

    @extend_schema(request=s.TransferOwnershipSerializer, responses={200: s.WorkspaceSerializer})
    def post(self, request, workspace_pk):
        data = _valid(s.TransferOwnershipSerializer, request)
        services.workspace_transfer_ownership(
            workspace=self.workspace, actor=request.user, new_owner_id=data["user_id"], ip=client_ip(request)
        )
        self.workspace.refresh_from_db()
        return Response(
            s.WorkspaceSerializer(self.workspace, context={"roles": {self.workspace.pk: Role.ADMIN}}).data
        )


# -- members -------------------------------------------------------------------------------------
class MemberViewSet(
    WorkspaceAccessMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """GET lists members; POST invites one by email; PATCH changes a role; DELETE removes."""

    workspace_url_kwarg = "workspace_pk"
    write_role = Role.ADMIN
    queryset = Membership.objects.select_related("user").order_by("joined_at", "id")
    serializer_class = s.MemberSerializer
    lookup_value_regex = "[^/]+"

    def get_object(self):
        try:
            return super().get_object()
        except (exceptions.ValidationError, ValueError, Membership.DoesNotExist):
            raise exceptions.NotFound() from None

    @extend_schema(request=s.InviteSerializer, responses={201: s.InvitationSerializer})
    def create(self, request, workspace_pk):
        data = _valid(s.InviteSerializer, request)
        invitation = services.invitation_create(
            workspace=self.workspace,
            email=data["email"],
            role=data["role"],
            actor=request.user,
            ip=client_ip(request),
        )
        return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.MemberUpdateSerializer, responses={200: s.MemberSerializer})
    def partial_update(self, request, workspace_pk, pk):
        membership = _get_uuid_object(self, pk)
        data = _valid(s.MemberUpdateSerializer, request)
        services.member_update_role(
            membership=membership, role=data["role"], actor=request.user, ip=client_ip(request)
        )
        return Response(s.MemberSerializer(membership).data)

    def destroy(self, request, workspace_pk, pk):
        membership = _get_uuid_object(self, pk)
        services.member_remove(membership=membership, actor=request.user, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _get_uuid_object(view, pk):
    try:
        return view.get_queryset().get(pk=pk)
    except (ObjectDoesNotExist, DjangoValidationError, ValueError):
        # A malformed id and a row of another workspace read the same: not found.
        raise exceptions.NotFound() from None


# -- invitations ---------------------------------------------------------------------------------
class InvitationViewSet(WorkspaceAccessMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Pending invitations of a workspace; DELETE revokes one."""

    workspace_url_kwarg = "workspace_pk"
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    queryset = Invitation.objects.select_related("invited_by").order_by("-created_at")
    serializer_class = s.InvitationSerializer

    def scope_queryset(self, qs):
        # The status filter is for the list; DELETE finds any invitation of the workspace, so revoking
        # one that is no longer pending is the service's 409, not a 404.
        if self.action != "list" or self.request.query_params.get("status", "pending") == "all":
            return qs
        from django.utils import timezone

        return qs.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())

    def destroy(self, request, workspace_pk, pk):
        invitation = _get_uuid_object(self, pk)
        services.invitation_revoke(invitation=invitation, actor=request.user, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AcceptInvitationView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]
    authentication_classes = [JWTAuthentication]

    @extend_schema(
        request=s.AcceptInvitationSerializer, responses={200: s.AcceptInvitationResponseSerializer}
    )
    def post(self, request):
        data = _valid(s.AcceptInvitationSerializer, request)
        user = request.user if isinstance(request.user, User) else None
        membership, user = services.invitation_accept(
            token=data["token"],
            user=user,
            password=data.get("password"),
            full_name=data.get("full_name", ""),
            ip=client_ip(request),
        )
        body = {
            "workspace": s.WorkspaceSerializer(
                membership.workspace, context={"roles": {membership.workspace_id: membership.role}}
            ).data,
            "member": s.MemberSerializer(membership).data,
        }
        if request.user is None:
            body.update(tokens_for(user))
        return Response(body)


# -- API keys ------------------------------------------------------------------------------------
class ApiKeyViewSet(
    WorkspaceAccessMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    queryset = ApiKey.objects.order_by("-created_at")
    serializer_class = s.ApiKeySerializer

    def scope_queryset(self, qs):
        if self.request.query_params.get("include_revoked") in ("1", "true"):
            return qs
        return qs.filter(revoked_at__isnull=True) if self.action == "list" else qs

    def get_object(self):
        return _get_uuid_object(self, self.kwargs["pk"])

    @extend_schema(request=s.ApiKeyCreateSerializer, responses={201: s.ApiKeyCreatedSerializer})
    def create(self, request):
        data = _valid(s.ApiKeyCreateSerializer, request)
        key, full = services.api_key_create(
            workspace=self.workspace,
            name=data["name"],
            scopes=data["scopes"],
            actor=request.user,
            ip=client_ip(request),
        )
        key.key = full
        return Response(s.ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk):
        services.api_key_revoke(key=self.get_object(), actor=request.user, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- audit log -----------------------------------------------------------------------------------
class AuditLogFilter(django_filters.FilterSet):
    # A form field, so a NUL byte or an over-long value is a 400 before it reaches PostgreSQL.
    action = django_filters.CharFilter(
        field_name="action",
        lookup_expr="startswith",
        max_length=64,
        help_text="Entries whose action starts with this, e.g. `member.`",
    )

    class Meta:
        model = AuditLog
        fields = ["action"]


class AuditLogView(WorkspaceAccessMixin, generics.ListAPIView):
    workspace_url_kwarg = "workspace_pk"
    read_role = Role.ADMIN
    queryset = AuditLog.objects.select_related("actor")
    serializer_class = s.AuditLogSerializer
    filterset_class = AuditLogFilter
