"""Apps, subscribers and segments of workspace A stay invisible and untouchable from workspace B: for a
member of B (naming A, or naming B with A's ids), B's API key, and a forged X-Workspace-ID, every
endpoint answers 404 without naming anything of A, and A's rows do not change. SDK keys resolve to
their own workspace only."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from integrations.models import App, Segment, Subscriber
from integrations.services import segment_create
from tenants.models import AuditLog
from tests.integrations.integration_support import (
    SUBJECT,
    browser_subscription,
    fcm_token,
    make_app,
    make_subscriber,
    service_account,
)
from tests.tenants.support import assert_error, base_schema_once, fast_tenancy  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def target(ws_a):
    """Workspace A with one row of each kind; the strings that must never reach an outsider."""
    fcm = make_app(ws_a, "fcm", name="Alpha Android", service_account=service_account("alpha-secret-project"))
    web = make_app(ws_a, "web_push", name="Alpha Site")
    subscriber = make_subscriber(
        ws_a, web, external_user_id="alpha-user-1", tags=["alpha-tag"], attributes={"first_name": "Alphonse"}
    )
    with schema_context(ws_a.schema_name):
        segment = segment_create(name="Alpha VIPs", filter_={"tags": {"any": ["alpha-tag"]}})
        endpoint = Subscriber.objects.get(pk=subscriber.pk).endpoint
    return {
        "workspace": ws_a,
        "fcm": fcm,
        "web": web,
        "subscriber": subscriber,
        "segment": segment,
        "secrets": {
            str(fcm.pk),
            str(web.pk),
            fcm.sdk_key,
            web.sdk_key,
            "alpha-secret-project",
            "Alpha Android",
            "Alpha Site",
            str(subscriber.pk),
            "alpha-user-1",
            "alpha-tag",
            "Alphonse",
            str(segment.pk),
            "Alpha VIPs",
            endpoint,
            web.vapid_public_key,
            ws_a.slug,
            str(ws_a.pk),
        },
    }


def _snapshot(ws):
    with schema_context(ws.schema_name):
        return {
            "apps": sorted(
                App.objects.values_list(
                    "id",
                    "name",
                    "sdk_key",
                    "is_default",
                    "status",
                    "project_id",
                    "credentials_version",
                    "service_account_encrypted",
                    "vapid_private_key_encrypted",
                )
            ),
            "subscribers": sorted(
                Subscriber.objects.values_list("id", "status", "external_user_id", "tags", "last_seen_at")
            ),
            "segments": sorted(Segment.objects.values_list("id", "name")),
            "audit": AuditLog.objects.filter(workspace=ws).count(),
        }


def _requests(t, ws_ref):
    fcm, web, sub, seg = t["fcm"].pk, t["web"].pk, t["subscriber"].pk, t["segment"].pk
    return [
        ("get", "/api/v1/apps", None),
        ("get", f"/api/v1/apps/{fcm}", None),
        ("patch", f"/api/v1/apps/{web}", {"name": "Taken over", "is_default": True}),
        ("patch", f"/api/v1/apps/{fcm}", {"service_account": service_account("attacker-project")}),
        ("delete", f"/api/v1/apps/{web}", None),
        ("post", f"/api/v1/apps/{web}/rotate-sdk-key", None),
        ("post", f"/api/v1/apps/{fcm}/test", {"fcm_token": fcm_token()}),
        ("post", f"/api/v1/apps/{web}/test", {"subscriber_id": str(sub)}),
        ("get", "/api/v1/subscribers", None),
        ("get", f"/api/v1/subscribers/{sub}", None),
        ("patch", f"/api/v1/subscribers/{sub}", {"tags": ["owned"], "external_user_id": "mallory"}),
        ("delete", f"/api/v1/subscribers/{sub}", None),
        ("post", "/api/v1/subscribers", {"app_id": str(web), "subscription": browser_subscription()}),
        ("get", "/api/v1/segments", None),
        ("get", f"/api/v1/segments/{seg}", None),
        ("get", f"/api/v1/segments/{seg}/count", None),
        ("patch", f"/api/v1/segments/{seg}", {"name": "Renamed"}),
        ("delete", f"/api/v1/segments/{seg}", None),
        ("post", "/api/v1/segments/preview", {"filter": {"app_id": str(web)}}),
        ("get", f"/api/v1/workspaces/{ws_ref}/firebase", None),
        ("patch", f"/api/v1/workspaces/{ws_ref}/firebase", {"name": "Taken over"}),
        ("post", f"/api/v1/workspaces/{ws_ref}/firebase", {"service_account": service_account("attacker")}),
        ("post", f"/api/v1/workspaces/{ws_ref}/firebase/test", {"fcm_token": fcm_token()}),
    ]


def _call(client, method, path, body, headers):
    return client.request(method, path, body, headers=headers)


def _hidden(response, t, context):
    assert response.status_code == 404, (context, response.status_code, response.content[:300])
    assert response.json()["error"]["code"] in ("not_found",), (context, response.content[:300])
    text = response.content.decode()
    leaked = sorted(s for s in t["secrets"] if s and s in text)
    assert not leaked, (context, leaked)


def test_member_of_b_naming_workspace_a_gets_404_everywhere(api, target, ws_b, charlie):
    t = target
    before = _snapshot(t["workspace"])
    client = api(user=charlie)
    for ref in (t["workspace"].pk, t["workspace"].slug):
        for method, path, body in _requests(t, ref):
            _hidden(
                _call(client, method, path, body, {"HTTP_X_WORKSPACE_ID": str(ref)}), t, (method, path, ref)
            )
    assert _snapshot(t["workspace"]) == before


def test_forged_workspace_header_by_an_outsider_gets_404(api, target, make_user):
    t = target
    before = _snapshot(t["workspace"])
    stranger = api(user=make_user("stranger@example.com"))
    for method, path, body in _requests(t, t["workspace"].pk):
        _hidden(
            _call(stranger, method, path, body, {"HTTP_X_WORKSPACE_ID": str(t["workspace"].pk)}),
            t,
            (method, path),
        )
    assert _snapshot(t["workspace"]) == before


def test_api_key_of_b_pointed_at_a_gets_404(api, target, ws_b, api_key_for):
    t = target
    before = _snapshot(t["workspace"])
    key = api_key_for(ws_b, scopes=["send", "subscribers:write", "read"], name="b-server")
    for method, path, body in _requests(t, t["workspace"].pk):
        for client, headers in (
            (api(api_key=key), {"HTTP_X_WORKSPACE_ID": str(t["workspace"].pk)}),
            (api(), {"HTTP_X_API_KEY": key, "HTTP_X_WORKSPACE_ID": t["workspace"].slug}),
        ):
            response = _call(client, method, path, body, headers)
            _hidden(response, t, (method, path))
    assert _snapshot(t["workspace"]) == before


def test_inside_b_the_ids_of_a_do_not_exist(api, target, ws_b, charlie, api_key_for):
    """B's own workspace, A's row ids: member and key both see nothing (404 for rows, empty lists)."""
    t = target
    b_app = make_app(ws_b, "web_push", name="Beta Site")
    before = _snapshot(t["workspace"])
    key = api_key_for(ws_b, scopes=["send", "subscribers:write", "read"], name="b-server")
    for client in (api(user=charlie, workspace=ws_b), api(api_key=key)):
        for method, path, body in _requests(t, ws_b.pk):
            response = _call(client, method, path, body, {})
            if path in ("/api/v1/apps", "/api/v1/subscribers", "/api/v1/segments") and method == "get":
                assert response.status_code in (200, 403), response.content
                if response.status_code == 200:
                    text = response.content.decode()
                    assert not [s for s in t["secrets"] if s in text], text[:300]
                continue
            if (
                path.endswith("/firebase")
                or path.endswith("/firebase/test")
                or path == "/api/v1/segments/preview"
                or (method == "post" and path == "/api/v1/subscribers")
            ):
                # Workspace-level routes act on B itself: they must simply not reach A's data.
                text = response.content.decode()
                assert not [s for s in t["secrets"] if s in text], (path, text[:300])
                assert response.status_code in (200, 201, 400, 403, 404), (path, response.content[:300])
                continue
            assert response.status_code in (403, 404), (
                method,
                path,
                response.status_code,
                response.content[:300],
            )
            if response.status_code == 404:
                _hidden(response, t, (method, path))
    assert _snapshot(t["workspace"]) == before
    with schema_context(ws_b.schema_name):
        assert next(iter(App.objects.values_list("id", flat=True))) == b_app.pk


def test_lists_in_b_never_show_a(api, target, ws_b, charlie):
    t = target
    make_subscriber(ws_b, make_app(ws_b, "web_push", name="Beta Site"), external_user_id="beta-user")
    client = api(user=charlie, workspace=ws_b)
    for path in (
        "/api/v1/apps",
        "/api/v1/subscribers",
        "/api/v1/segments",
        "/api/v1/subscribers?search=alpha",
        f"/api/v1/subscribers?app={t['web'].pk}",
        "/api/v1/subscribers?tag=alpha-tag",
    ):
        response = client.get(path)
        assert response.status_code == 200, response.content
        assert not [s for s in t["secrets"] if s in response.content.decode()], path
    assert client.get(f"/api/v1/subscribers?app={t['web'].pk}").json()["count"] == 0
    preview = client.post("/api/v1/segments/preview", {"filter": {"tags": {"any": ["alpha-tag"]}}})
    assert preview.json()["count"] == 0
    error = assert_error(
        client.post("/api/v1/segments/preview", {"filter": {"app_id": str(t["web"].pk)}}), 400
    )
    assert "app_id" in error["details"]["filter"]


def test_sdk_keys_resolve_to_their_own_workspace_only(api, target, ws_b):
    t = target
    b_app = make_app(ws_b, "web_push", name="Beta Site")
    subscription = browser_subscription()
    a_id = (
        api()
        .post(
            "/sdk/v1/subscribe", {"subscription": subscription}, headers={"HTTP_X_SDK_KEY": t["web"].sdk_key}
        )
        .json()["subscriber_id"]
    )
    b_id = (
        api()
        .post("/sdk/v1/subscribe", {"subscription": subscription}, headers={"HTTP_X_SDK_KEY": b_app.sdk_key})
        .json()["subscriber_id"]
    )
    assert a_id != b_id
    with schema_context(t["workspace"].schema_name):
        assert Subscriber.objects.filter(pk=a_id).exists() and not Subscriber.objects.filter(pk=b_id).exists()
    with schema_context(ws_b.schema_name):
        assert Subscriber.objects.filter(pk=b_id).exists() and not Subscriber.objects.filter(pk=a_id).exists()
    # B's key cannot identify, unsubscribe or look up A's subscriber; the X-Workspace-ID header is ignored.
    for path, body in (
        ("identify", {"subscriber_id": a_id, "external_user_id": "x"}),
        ("unsubscribe", {"subscriber_id": a_id}),
    ):
        response = api().post(
            f"/sdk/v1/{path}",
            body,
            headers={"HTTP_X_SDK_KEY": b_app.sdk_key, "HTTP_X_WORKSPACE_ID": str(t["workspace"].pk)},
        )
        assert_error(response, 404, "subscriber_not_found")
    config = (
        api()
        .get(
            "/sdk/v1/config",
            headers={"HTTP_X_SDK_KEY": b_app.sdk_key, "HTTP_X_WORKSPACE_ID": str(t["workspace"].pk)},
        )
        .json()
    )
    assert config["app_id"] == str(b_app.pk) and config["vapid_public_key"] == b_app.vapid_public_key


def test_web_push_app_of_a_is_not_the_default_of_b(api, target, ws_b, charlie):
    client = api(user=charlie)
    assert_error(client.get(f"/api/v1/workspaces/{ws_b.pk}/firebase"), 404, "firebase_not_connected")
    r = client.post(
        "/api/v1/apps",
        {"kind": "web_push", "name": "Beta", "subject": SUBJECT},
        headers={"HTTP_X_WORKSPACE_ID": str(ws_b.pk)},
    )
    assert r.status_code == 201 and r.json()["is_default"] is True  # A's default does not count in B
