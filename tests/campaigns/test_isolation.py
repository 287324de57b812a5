"""Two workspaces never see each other's campaigns, contents, templates or uploads: a member of B, B's
API key and a forged X-Workspace-ID all get 404 for A's rows, and nothing of A changes."""

from __future__ import annotations

import io

import pytest
from django_tenants.utils import schema_context
from PIL import Image

from campaigns.models import Campaign, CampaignContent, Template
from tests.campaigns.conftest import assert_error, future_local

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_rows(alice_api, make_campaign):
    campaign = make_campaign(name="Alpha secret launch", schedule_type="recurring")
    content = alice_api.get(f"/api/v1/campaigns/{campaign['id']}/contents/").json()["results"][0]
    template = alice_api.post(
        "/api/v1/templates/", {"name": "Alpha secret template", "title": "Hi", "body": "There"}
    ).json()
    return {"campaign": campaign["id"], "content": content["id"], "template": template["id"]}


def _png() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="PNG")
    out.seek(0)
    out.name = "x.png"
    return out


def _requests(rows):
    c, ct, t = rows["campaign"], rows["content"], rows["template"]
    base = f"/api/v1/campaigns/{c}"
    return [
        ("get", base, None),
        ("patch", base, {"name": "Taken over"}),
        ("delete", base, None),
        ("get", base + "/contents/", None),
        ("post", base + "/contents/", {"title": "Injected", "body": "copy"}),
        ("get", f"{base}/contents/{ct}", None),
        ("patch", f"{base}/contents/{ct}", {"title": "Injected"}),
        ("delete", f"{base}/contents/{ct}", None),
        ("post", base + "/schedule", {"scheduled_at": future_local(), "recurrence_rule": "FREQ=DAILY"}),
        ("post", base + "/cancel", None),
        ("post", base + "/pause", None),
        ("post", base + "/resume", None),
        ("get", base + "/schedule/preview", None),
        ("post", base + "/apply-template", {"template_id": t}),
        ("get", f"/api/v1/templates/{t}", None),
        ("patch", f"/api/v1/templates/{t}", {"name": "Taken over"}),
        ("delete", f"/api/v1/templates/{t}", None),
    ]


def _snapshot(ws):
    with schema_context(ws.schema_name):
        return (
            sorted(Campaign.objects.values_list("id", "name", "status", "next_run_at")),
            sorted(CampaignContent.objects.values_list("id", "title")),
            sorted(Template.objects.values_list("id", "name")),
        )


def _assert_hidden(response, context):
    error = assert_error(response, 404, "not_found")
    assert "Alpha" not in response.content.decode(), context
    return error


def test_member_of_b_in_own_workspace_cannot_reach_a_rows(api, ws_a, ws_b, charlie, a_rows):
    before = _snapshot(ws_a)
    client = api(user=charlie, workspace=ws_b)
    for method, path, body in _requests(a_rows):
        _assert_hidden(getattr(client, method)(path, body), (method, path))
    assert _snapshot(ws_a) == before
    # B's own lists show nothing of A.
    assert client.get("/api/v1/campaigns/").json()["count"] == 0
    assert all(
        row["is_global"] for row in client.get("/api/v1/templates/", {"page_size": 500}).json()["results"]
    )


@pytest.mark.parametrize("ref", ["id", "slug"])
def test_member_of_b_naming_a_in_the_header_is_404(api, ws_a, ws_b, charlie, a_rows, ref):
    before = _snapshot(ws_a)
    forged = str(ws_a.pk) if ref == "id" else ws_a.slug
    client = api(user=charlie, workspace=forged)
    for method, path, body in [
        *_requests(a_rows),
        ("get", "/api/v1/campaigns/", None),
        ("get", "/api/v1/templates/", None),
        ("post", "/api/v1/schedule/preview", {"rule": "FREQ=DAILY", "dtstart": "2025-01-01T09:00:00"}),
        (
            "post",
            "/api/v1/campaigns/",
            {"name": "x", "channel_type": "web_push", "app_id": a_rows["campaign"]},
        ),
    ]:
        _assert_hidden(getattr(client, method)(path, body), (method, path))
    _assert_hidden(client.post("/api/v1/uploads/", {"image": _png()}, format="multipart"), "upload")
    assert _snapshot(ws_a) == before


def test_b_api_key_cannot_reach_a(api, ws_a, ws_b, a_rows, api_key_for):
    before = _snapshot(ws_a)
    key = api_key_for(ws_b, scopes=["send", "subscribers:write", "read"])
    own = api(api_key=key)
    for method, path, body in _requests(a_rows):
        response = getattr(own, method)(path, body)
        assert response.status_code in (403, 404), (method, path, response.status_code)
        assert "Alpha" not in response.content.decode()
    assert own.get("/api/v1/campaigns/").json()["count"] == 0
    pointed = api(api_key=key, workspace=ws_a)
    for method, path, body in [*_requests(a_rows), ("get", "/api/v1/campaigns/", None)]:
        _assert_hidden(getattr(pointed, method)(path, body), (method, path))
    _assert_hidden(pointed.post("/api/v1/uploads/", {"image": _png()}, format="multipart"), "upload")
    assert _snapshot(ws_a) == before


def test_a_stranger_with_no_workspace_gets_404(api, make_user, ws_a, a_rows):
    client = api(user=make_user("stranger@example.com"), workspace=ws_a)
    for method, path, body in _requests(a_rows)[:3]:
        _assert_hidden(getattr(client, method)(path, body), (method, path))


def test_campaign_and_template_ids_of_b_are_unknown_in_a(api, alice_api, charlie, ws_b, make_campaign):
    from tests.campaigns.conftest import make_app

    b_app = make_app(ws_b, "web_push")
    b_client = api(user=charlie, workspace=ws_b)
    b_campaign = b_client.post(
        "/api/v1/campaigns/", {"name": "Beta", "channel_type": "web_push", "app_id": str(b_app.pk)}
    ).json()
    b_template = b_client.post("/api/v1/templates/", {"name": "Beta", "title": "Hi", "body": "There"}).json()
    a_campaign = make_campaign()
    assert_error(alice_api.get(f"/api/v1/campaigns/{b_campaign['id']}"), 404)
    assert_error(alice_api.get(f"/api/v1/templates/{b_template['id']}"), 404)
    assert_error(
        alice_api.post(
            f"/api/v1/campaigns/{a_campaign['id']}/apply-template", {"template_id": b_template["id"]}
        ),
        400,
        "template_not_found",
    )
    assert_error(
        alice_api.post(
            "/api/v1/campaigns/", {"name": "x", "channel_type": "web_push", "app_id": str(b_app.pk)}
        ),
        400,
        "app_not_found",
    )
