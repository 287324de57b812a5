from __future__ import annotations

from django.db import connection

from tenants import routing


class WorkspaceRoutingMiddleware:
    """Only *routes*: resets the connection to public, then points it at the workspace named by
    ``X-Workspace-ID`` (or by the API key's prefix) so the request costs one ``SET search_path``.

    It authorises nothing. Credentials (401), membership (404), role and scope are decided in
    ``tenants.access.WorkspaceAccessMixin.initial`` after DRF has authenticated the caller.
    django-tenants' host-based TenantMainMiddleware is deliberately not used: hosts never select
    a tenant here, so there is no default-tenant fallback for unknown hosts.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Lazy: the SET is sent with the next query (django-tenants re-sends it before every query
        # unless TENANT_LIMIT_SET_CALLS is on; see the README "Performance" section).
        connection.set_schema_to_public()
        request.routed_workspace = None
        request.workspace_header = request.headers.get("X-Workspace-ID")
        route = None
        if request.workspace_header is not None:
            route = routing.resolve_workspace_ref(request.workspace_header)
        else:
            raw_key = routing.api_key_from_request(request)
            match = routing.API_KEY_RE.match(raw_key) if raw_key else None
            if match:
                route = routing.resolve_api_key_prefix(match["prefix"])
        if route is not None:
            request.routed_workspace = route
            connection.set_schema(route.schema_name)
        try:
            return self.get_response(request)
        finally:
            # Nothing started from this request (threads, on_commit tasks) may inherit its schema.
            connection.set_schema_to_public()
