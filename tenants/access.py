"""The one base for workspace API views: authentication, workspace resolution, membership, role and
API-key scope, in that order, and querysets scoped to the workspace.

Subclasses declare policy (``read_role``, ``write_role``, ``action_roles``, ``api_key_scopes``) and
may not override the machinery: ``__init_subclass__`` refuses ``initial``, ``get_permissions``,
``check_permissions`` and ``get_queryset``, the way PostHog's TeamAndOrgViewSetMixin does.
"""

from __future__ import annotations

import uuid

from django.db import connection
from rest_framework import exceptions, permissions

from pushpilot.api.errors import ApiError, WorkspaceRequired
from tenants import routing
from tenants.models import ApiKey, Membership, Role

ROLE_RANK = {Role.VIEWER: 1, Role.MEMBER: 2, Role.ADMIN: 3, Role.OWNER: 4}
_SEALED = ("initial", "get_permissions", "check_permissions", "get_queryset")


def role_at_least(role: str, needed: str) -> bool:
    return ROLE_RANK[Role(role)] >= ROLE_RANK[Role(needed)]


class WorkspaceAccessMixin:
    read_role: str = Role.VIEWER
    write_role: str = Role.MEMBER
    # Per view action (ViewSets) or HTTP method: the least role allowed. Overrides read/write.
    action_roles: dict[str, str] = {}
    # Action or method -> scope an API key needs; None means API keys are refused here.
    api_key_scopes: dict[str, str] | None = None
    # URL kwarg carrying the workspace id for /workspaces/{id}/… paths; None: header-routed.
    workspace_url_kwarg: str | None = None

    permission_classes = [permissions.IsAuthenticated]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in _SEALED:
            if name in cls.__dict__:
                raise TypeError(
                    f"{cls.__name__} may not override {name}(); declare policy attributes instead."
                )

    # -- machinery ---------------------------------------------------------------------------
    def initial(self, request, *args, **kwargs):
        self.format_kwarg = self.get_format_suffix(**kwargs)
        neg = self.perform_content_negotiation(request)
        request.accepted_renderer, request.accepted_media_type = neg
        version, scheme = self.determine_version(request, *args, **kwargs)
        request.version, request.versioning_scheme = version, scheme

        # 1. Credentials: missing, invalid or revoked -> 401 before any workspace lookup.
        self.perform_authentication(request)
        if request.user is None or not getattr(request.user, "is_authenticated", False):
            raise exceptions.NotAuthenticated()
        # 2. Which workspace, and is the caller in it? Unknown or foreign -> 404.
        self.workspace, self.membership = self._resolve_workspace(request, kwargs)
        request.tenant = self.workspace
        if connection.schema_name != self.workspace.schema_name:
            connection.set_tenant(self.workspace)
        # 3. Role or scope for this action.
        self._check_role_or_scope(request)
        self.check_throttles(request)

    def get_permissions(self):
        return [permission() for permission in self.permission_classes]

    def check_permissions(self, request):  # everything is decided in initial()
        return None

    def get_queryset(self):
        qs = self.queryset.all()
        if any(f.name == "workspace" for f in qs.model._meta.get_fields()):
            qs = qs.filter(workspace=self.workspace)  # public-schema model: scope by column
        return self.scope_queryset(qs)  # tenant-schema models are scoped by search_path

    def scope_queryset(self, qs):
        """Hook for views to narrow or annotate; the workspace scoping has already been applied."""
        return qs

    # -- helpers -----------------------------------------------------------------------------
    @property
    def api_key(self) -> ApiKey | None:
        return self.request.auth if isinstance(self.request.auth, ApiKey) else None

    @property
    def actor(self):
        """The user behind the request, or None for an API key."""
        return None if self.api_key else self.request.user

    def _action_name(self, request) -> str:
        return getattr(self, "action", None) or request.method.lower()

    def _resolve_workspace(self, request, kwargs):
        path_ref = kwargs.get(self.workspace_url_kwarg) if self.workspace_url_kwarg else None
        header_ref = request.workspace_header
        key = request.auth if isinstance(request.auth, ApiKey) else None
        if path_ref is None and header_ref is None and key is None:
            raise WorkspaceRequired()
        if path_ref is None and header_ref is None:
            return self._enter(request, key, key.workspace_id)  # the key's own workspace
        # Each reference must name a workspace the caller may enter before two of them are compared:
        # answering "mismatch" for a foreign workspace would confirm that it exists.
        entered = [self._enter(request, key, ref) for ref in (path_ref, header_ref) if ref is not None]
        if len(entered) == 2 and entered[0][0].pk != entered[1][0].pk:
            raise ApiError(
                "X-Workspace-ID names a different workspace than the URL.", code="workspace_mismatch"
            )
        return entered[0]

    def _enter(self, request, key: ApiKey | None, ref):
        """(workspace, membership) for a reference the caller may enter; 404 for anything else."""
        ref = str(ref).strip()
        workspace_id = _parse_uuid(ref)
        if workspace_id is not None:
            entered = self._entry(request, key, workspace_id, slug=None)
        else:
            # A slug is checked against the workspace row in the same query, and a miss is looked up
            # once more: another process may have renamed, deleted or created it while this
            # process's routing map (a hint with a TTL) still says otherwise.
            slug = ref.lower()
            entered = None
            for fresh in (False, True):
                route = routing.resolve_workspace_ref(slug, fresh=fresh)
                entered = route and self._entry(request, key, route.workspace_id, slug=slug)
                if entered or routing.is_reserved(slug):
                    break
        if not entered:
            raise exceptions.NotFound()
        return entered

    def _entry(self, request, key: ApiKey | None, workspace_id, *, slug: str | None):
        if key is not None:
            workspace = key.workspace
            if workspace.pk != workspace_id or workspace.is_template or (slug and workspace.slug != slug):
                return None
            return workspace, None
        membership = _membership(request.user, workspace_id, slug=slug)
        return (membership.workspace, membership) if membership else None

    def _check_role_or_scope(self, request):
        action = self._action_name(request)
        if self.api_key is not None:
            scopes = self.api_key_scopes
            needed = None if scopes is None else scopes.get(action, scopes.get(request.method.lower()))
            if needed is None:
                raise ApiError(
                    "API keys cannot use this endpoint; sign in as a member.",
                    code="api_key_not_allowed",
                    status_code=403,
                )
            if needed not in self.api_key.scopes:
                raise ApiError(
                    f"This API key lacks the '{needed}' scope.", code="insufficient_scope", status_code=403
                )
            return
        needed = self.action_roles.get(action)
        if needed is None:
            needed = self.read_role if request.method in permissions.SAFE_METHODS else self.write_role
        if not role_at_least(self.membership.role, needed):
            raise ApiError(
                f"Your role ({self.membership.role}) cannot do this; it needs {needed} or above.",
                code="permission_denied",
                status_code=403,
            )


def _membership(user, workspace_id, *, slug: str | None = None) -> Membership | None:
    memberships = Membership.objects.select_related("workspace").filter(
        user=user, workspace_id=workspace_id, workspace__is_template=False, status="active"
    )
    if slug is not None:
        memberships = memberships.filter(workspace__slug=slug)
    return memberships.first()


def _parse_uuid(ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None
