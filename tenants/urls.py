from django.urls import re_path

from pushpilot.api.routers import OptionalSlashRouter
from tenants import api, social_api

router = OptionalSlashRouter()
router.register("api-keys", api.ApiKeyViewSet, basename="api-key")
router.register(r"workspaces/(?P<workspace_pk>[^/]+)/members", api.MemberViewSet, basename="member")
router.register(
    r"workspaces/(?P<workspace_pk>[^/]+)/invitations", api.InvitationViewSet, basename="invitation"
)

WS = r"workspaces/(?P<workspace_pk>[^/]+)"

urlpatterns = [
    re_path(r"^auth/register/?$", api.RegisterView.as_view(), name="auth-register"),
    re_path(r"^auth/login/?$", api.LoginView.as_view(), name="auth-login"),
    re_path(r"^auth/refresh/?$", api.RefreshView.as_view(), name="auth-refresh"),
    re_path(r"^auth/logout/?$", api.LogoutView.as_view(), name="auth-logout"),
    re_path(r"^auth/me/?$", api.MeView.as_view(), name="auth-me"),
    re_path(r"^auth/google/?$", social_api.GoogleLoginView.as_view(), name="auth-google"),
    re_path(r"^auth/apple/?$", social_api.AppleLoginView.as_view(), name="auth-apple"),
    re_path(r"^invitations/accept/?$", api.AcceptInvitationView.as_view(), name="invitation-accept"),
    re_path(r"^workspaces/?$", api.WorkspaceListCreateView.as_view(), name="workspace-list"),
    re_path(rf"^{WS}/?$", api.WorkspaceDetailView.as_view(), name="workspace-detail"),
    re_path(rf"^{WS}/transfer-ownership/?$", api.TransferOwnershipView.as_view(), name="workspace-transfer"),
    re_path(rf"^{WS}/audit-log/?$", api.AuditLogView.as_view(), name="workspace-audit-log"),
    *router.urls,
]
