"""API plumbing: the one error shape for every status (DEBUG on or off), credentials decided before
any workspace lookup, the optional trailing slash, body limits, pagination, health checks, and the
OpenAPI schema with a Swagger UI served from our own static files.

A few views are routed only for this module (``urlpatterns`` below) to make the server fail on
purpose: a DRF view and a plain Django view that raise, under /api/ and /sdk/.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import include, path, re_path, resolve
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from tenants.access import WorkspaceAccessMixin
from tenants.models import Role
from tests.tenants.support import (  # noqa: F401 - autouse fixtures and the shared world
    _shared_alice,
    _shared_bob,
    _shared_charlie,
    _shared_ws_a,
    _shared_ws_b,
    assert_error,
    base_schema_once,
    fast_tenancy,
    is_api_v1,
    shared_world,
    walk_urlconf,
)

pytestmark = pytest.mark.django_db

SECRET = "internal detail 7f3a that must never reach a client"


class Explodes(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    def get(self, request):
        raise RuntimeError(SECRET)


def explodes_plain(request):
    raise RuntimeError(SECRET)


class KeyPing(WorkspaceAccessMixin, APIView):
    """A workspace endpoint that accepts API keys with the `read` scope."""

    api_key_scopes = {"get": "read"}

    def get(self, request):
        return Response({"workspace": str(self.workspace.pk)})


urlpatterns = [
    re_path(r"^api/v1/test-explodes/?$", Explodes.as_view()),
    re_path(r"^api/v1/test-explodes-plain/?$", explodes_plain),
    re_path(r"^sdk/v1/test-explodes-plain/?$", explodes_plain),
    re_path(r"^api/v1/test-key-ping/?$", KeyPing.as_view()),
    path("", include("pushpilot.urls")),
]
failing_urls = pytest.mark.urls(__name__)


def _raw_client() -> APIClient:
    return APIClient(raise_request_exception=False)


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


# -- the error shape, status by status -----------------------------------------------------------
def test_400_validation_error_names_the_fields(api, alice):
    response = api(user=alice).post("/api/v1/workspaces", {"name": "", "timezone": "Nowhere/City"})
    error = assert_error(response, 400, "validation_error")
    assert set(error["details"]) == {"name", "timezone"}
    assert all(isinstance(v, list) and v for v in error["details"].values())
    assert error["message"].startswith(("name:", "timezone:"))


def test_401_comes_before_any_workspace_lookup(api, ws_a, debug):
    """No, a broken, or an unknown credential: 401 with WWW-Authenticate whatever workspace is named
    (none, an unknown one, or a real one), so the answer says nothing about workspaces."""
    for authorization in (
        None,
        "Bearer not.a.jwt",
        "Bearer pp_live_aaaaaaaaaaaa_" + "b" * 43,
        "Bearer pp_live_malformed",
    ):
        client = api()
        if authorization:
            client.client.credentials(HTTP_AUTHORIZATION=authorization)
        for workspace_header in (None, "no-such-workspace", str(uuid.uuid4()), ws_a.slug, str(ws_a.pk)):
            headers = {"HTTP_X_WORKSPACE_ID": workspace_header} if workspace_header else {}
            for path_ in (
                "/api/v1/api-keys",
                f"/api/v1/workspaces/{ws_a.pk}/members",
                "/api/v1/workspaces/nope/audit-log",
            ):
                response = client.get(path_, headers=headers)
                context = (authorization, workspace_header, path_)
                error = assert_error(response, 401)
                assert error["code"] == (
                    "not_authenticated" if authorization is None else "authentication_failed"
                ), context
                assert response["WWW-Authenticate"].startswith("Bearer"), context
                assert "alpha" not in response.content.decode().lower(), context


def test_401_for_a_revoked_key_even_with_its_own_workspace_named(api, ws_a, api_key_for):
    from tenants.models import ApiKey
    from tenants.services import api_key_revoke

    key = api_key_for(ws_a)
    api_key_revoke(key=ApiKey.objects.get(workspace=ws_a), actor=ws_a.owner)
    response = api(api_key=key).get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": str(ws_a.pk)})
    assert_error(response, 401, "authentication_failed")
    assert response.has_header("WWW-Authenticate")


def test_missing_workspace_header_on_a_header_scoped_endpoint_is_400(api, alice, ws_a):
    response = api(user=alice).get("/api/v1/api-keys")
    error = assert_error(response, 400, "workspace_required")
    assert "X-Workspace-ID" in error["message"]


def test_unknown_workspace_is_404(api, alice):
    assert_error(
        api(user=alice).get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": "nope"}), 404, "not_found"
    )


def test_403_permission_denied(api, ws_a, member_with_role):
    response = api(user=member_with_role(Role.VIEWER), workspace=ws_a).get("/api/v1/api-keys")
    assert_error(response, 403, "permission_denied")


@pytest.mark.parametrize(
    "path_",
    ["/api/v1/nothing-here", "/api/v1/", "/api/", "/api/v2/workspaces", "/sdk/v1/nothing-here", "/sdk/"],
)
def test_404_for_unknown_api_paths_is_json(debug, path_):
    response = _raw_client().get(path_)
    assert_error(response, 404, "not_found")


def test_405_is_json(api, alice, ws_a, debug):
    from tenants.models import Membership

    member = Membership.objects.get(workspace=ws_a, role=Role.MEMBER)
    client = api(user=alice, workspace=ws_a)
    for method, path_ in [
        ("put", "/api/v1/workspaces/{ws}"),
        ("post", "/api/v1/workspaces/{ws}"),
        ("get", "/api/v1/auth/login"),
        ("delete", "/api/v1/auth/me"),
        ("patch", "/api/v1/api-keys"),
        ("put", "/api/v1/workspaces/{ws}/members/{member}"),
        ("post", "/api/v1/workspaces/{ws}/audit-log"),
    ]:
        response = client.request(method, path_.format(ws=ws_a.pk, member=member.pk), {})
        assert_error(response, 405, "method_not_allowed")
        assert response.has_header("Allow"), (method, path_)


def test_413_for_a_body_over_one_mebibyte(api, alice, debug):
    big = {"name": "x", "padding": "a" * (1024 * 1024)}
    for client, path_ in (
        (api(), "/api/v1/auth/login"),
        (api(user=alice), "/api/v1/workspaces"),
        (api(), "/sdk/v1/events"),
    ):
        assert_error(client.post(path_, big), 413, "payload_too_large")
    # Just under the limit is read and judged on its content instead.
    under = {"email": "a@example.com", "password": "x" * (1024 * 1024 - 100)}
    assert api().post("/api/v1/auth/login", under).status_code == 400


@pytest.mark.parametrize("length", ["abc", "-1", "1e9", " ", "99999999999999999999999"])
def test_a_nonsense_content_length_is_a_4xx(length):
    response = _raw_client().post(
        "/api/v1/auth/login",
        data=b'{"email": "a@b.test", "password": "x"}',
        content_type="application/json",
        CONTENT_LENGTH=length,
    )
    assert 400 <= response.status_code < 500, (length, response.status_code, response.content[:200])
    assert_error(response, response.status_code)


def test_429_for_a_user_over_the_api_rate_with_retry_after(api, alice, ws_a, settings):
    settings.PUSHPILOT_THROTTLE_API = "3/min"
    client = api(user=alice, workspace=ws_a)
    for _ in range(3):
        assert client.get("/api/v1/api-keys").status_code == 200
    response = client.get("/api/v1/api-keys")
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) >= 1
    # The budget is the user's, whichever workspace or endpoint.
    assert_error(client.get(f"/api/v1/workspaces/{ws_a.pk}"), 429, "throttled")
    # Another user has their own.
    assert (
        api(user=ws_a.owner.__class__.objects.get(email="bob@example.com")).get("/api/v1/auth/me").status_code
        == 200
    )


@failing_urls
def test_429_for_an_api_key_over_the_api_rate(api, ws_a, api_key_for, settings):
    settings.PUSHPILOT_THROTTLE_API = "2/min"
    key, other = api_key_for(ws_a), api_key_for(ws_a, name="other")
    for _ in range(2):
        assert api(api_key=key).get("/api/v1/test-key-ping").status_code == 200
    response = api(api_key=key).get("/api/v1/test-key-ping")
    assert_error(response, 429, "throttled")
    assert response.has_header("Retry-After")
    assert api(api_key=other).get("/api/v1/test-key-ping").status_code == 200


def test_429_for_anonymous_calls_per_ip(api, settings):
    settings.PUSHPILOT_THROTTLE_ANON = "2/min"
    for _ in range(2):
        assert api().post("/api/v1/auth/logout", {"refresh": "x"}).status_code == 401
    response = api().post("/api/v1/auth/logout", {"refresh": "x"})
    assert_error(response, 429, "throttled")
    assert response.has_header("Retry-After")


@failing_urls
@pytest.mark.parametrize(
    "path_", ["/api/v1/test-explodes", "/api/v1/test-explodes-plain", "/sdk/v1/test-explodes-plain"]
)
def test_an_unhandled_error_is_a_json_500_without_details(debug, path_):
    response = _raw_client().get(path_)
    assert_error(response, 500, "server_error")
    body = response.content.decode()
    assert SECRET not in body and "Traceback" not in body and "RuntimeError" not in body


# -- request bodies ------------------------------------------------------------------------------
def test_malformed_json_is_400(api, alice, debug):
    response = api(user=alice).client.post(
        "/api/v1/workspaces", data=b'{"name": ', content_type="application/json"
    )
    assert_error(response, 400, "malformed_request")


def test_wrong_types_and_unknown_fields_are_400(api, alice):
    error = assert_error(
        api(user=alice).post("/api/v1/workspaces", {"name": {"a": 1}}), 400, "validation_error"
    )
    assert set(error["details"]) == {"name"}
    error = assert_error(
        api(user=alice).post("/api/v1/workspaces", {"name": "Fine", "nmae": "typo"}), 400, "validation_error"
    )
    assert error["details"] == {"nmae": ["Unknown field."]}


def test_form_encoded_bodies_follow_the_same_rules(api, alice):
    client = api(user=alice).client
    response = client.post(
        "/api/v1/workspaces", data="name=Form+Made&extra=1", content_type="application/x-www-form-urlencoded"
    )
    assert "extra" in assert_error(response, 400, "validation_error")["details"]
    response = client.post(
        "/api/v1/workspaces", data="name=Form+Made", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 201 and response.json()["slug"] == "form-made"


# -- trailing slash ------------------------------------------------------------------------------
def _concrete(route: str) -> str:
    route = route.replace("^", "").replace("$", "").replace("/?", "")
    route = re.sub(r"\(\?P<[^>]+>[^)]*\)", str(uuid.uuid4()), route)
    route = re.sub(r"<(?:\w+:)?\w+>", str(uuid.uuid4()), route)
    return "/" + route.rstrip("/")


def test_every_api_route_answers_with_and_without_a_trailing_slash():
    checked = 0
    for route, _name, pattern in walk_urlconf():
        if not (is_api_v1(route) or route.replace("^", "").startswith(("api/", "sdk/"))):
            continue
        if "\\." in route:  # a file name (the SDK's scripts), not an API path
            continue
        bare = _concrete(route)
        for candidate in (bare, bare + "/"):
            match = resolve(candidate)
            assert match.url_name == pattern.name, (route, candidate, match.url_name)
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize("path_", ["/api/v1/workspaces", "/api/v1/auth/me", "/api/v1/api-keys"])
def test_trailing_slash_requests_behave_the_same(api, alice, ws_a, path_):
    client = api(user=alice, workspace=ws_a)
    without, with_slash = client.get(path_), client.get(path_ + "/")
    assert without.status_code == with_slash.status_code == 200
    assert without.json() == with_slash.json()


def test_a_post_with_or_without_the_slash_is_never_redirected(api, alice):
    for suffix in ("", "/"):
        response = api(user=alice).post("/api/v1/workspaces" + suffix, {"name": f"Slash {suffix or 'none'}"})
        assert response.status_code == 201


# -- pagination ----------------------------------------------------------------------------------
def test_lists_are_paginated_with_count_next_previous_results(api, alice, ws_a, api_key_for):
    for n in range(5):
        api_key_for(ws_a, name=f"key-{n}")
    client = api(user=alice, workspace=ws_a)
    first = client.get("/api/v1/api-keys", {"page_size": 2}).json()
    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 5 and len(first["results"]) == 2 and first["previous"] is None
    assert "page=2" in first["next"] and "page_size=2" in first["next"]
    last = client.get("/api/v1/api-keys", {"page_size": 2, "page": 3}).json()
    assert len(last["results"]) == 1 and last["next"] is None and "page=2" in last["previous"]
    seen = {
        k["id"]
        for p in (1, 2, 3)
        for k in client.get("/api/v1/api-keys", {"page_size": 2, "page": p}).json()["results"]
    }
    assert len(seen) == 5


@pytest.mark.parametrize(
    "path_",
    [
        "/api/v1/workspaces",
        "/api/v1/workspaces/{ws}/members",
        "/api/v1/workspaces/{ws}/invitations",
        "/api/v1/workspaces/{ws}/audit-log",
        "/api/v1/api-keys",
    ],
)
def test_every_list_has_the_page_envelope(api, alice, ws_a, path_):
    body = api(user=alice, workspace=ws_a).get(path_.format(ws=ws_a.pk), {"page_size": 1}).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert isinstance(body["count"], int) and len(body["results"]) <= 1


def test_page_size_is_capped(api, alice, ws_a):
    body = api(user=alice, workspace=ws_a).get("/api/v1/api-keys", {"page_size": 100000}).json()
    assert body["count"] == 0 and body["next"] is None


# -- health --------------------------------------------------------------------------------------
def test_healthz_is_a_cheap_liveness_probe(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = _raw_client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_redis():
    response = _raw_client().get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


# -- OpenAPI and Swagger UI ----------------------------------------------------------------------
@pytest.mark.parametrize("path_", ["/api/schema/", "/api/schema"])
def test_the_openapi_schema_is_served_and_lists_the_endpoints(path_):
    response = _raw_client().get(path_, {"format": "json"})
    assert response.status_code == 200, response.content[:300]
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "PushPilot API"
    paths = set(schema["paths"])
    for expected in (
        "/api/v1/auth/login",
        "/api/v1/workspaces",
        "/api/v1/workspaces/{workspace_pk}/members",
        "/api/v1/api-keys",
        "/api/v1/invitations/accept",
    ):
        assert any(p.rstrip("/") == expected for p in paths), (expected, sorted(paths))


def test_only_deletes_that_take_a_body_document_one():
    schema = _raw_client().get("/api/schema/", {"format": "json"}).json()
    with_body = sorted(
        path for path, ops in schema["paths"].items() if "requestBody" in ops.get("delete", {})
    )
    # Deleting a workspace takes {confirm}; no other DELETE reads its body.
    assert with_body == ["/api/v1/workspaces/{workspace_pk}/"]


@pytest.mark.parametrize("path_", ["/api/docs/", "/api/docs"])
def test_swagger_ui_is_served_from_our_own_static_files(path_):
    client = _raw_client()
    response = client.get(path_)
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert assets, html[:500]
    external = [a for a in assets if a.startswith(("http:", "https:", "//"))]
    assert not external, external
    assert not re.search(r"cdn|jsdelivr|unpkg|cloudflare", html, re.IGNORECASE)
    scripts = [a for a in assets if a.endswith(".js")]
    assert any("swagger-ui-bundle" in a for a in scripts)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert b"".join(served.streaming_content if served.streaming else [served.content])
    assert "/api/schema" in html
