"""/api/v1/templates/: workspace templates CRUD with the read-only global library listed alongside
(``is_global``), and POST /campaigns/{id}/apply-template."""

from __future__ import annotations

import uuid

import pytest

from campaigns import content as personalization
from campaigns.library.models import GlobalTemplate
from tenants.models import Role
from tests.campaigns.conftest import assert_error

pytestmark = pytest.mark.django_db

CATEGORIES = {"festive", "weekend", "retention", "re-engagement", "transactional", "pharma"}
NEW = {
    "name": "Monsoon Sale",
    "category": "festive",
    "title": 'Monsoon deals, {{ first_name|default:"friend" }}',
    "body": "Stay dry and save: rain-ready picks at monsoon prices.",
    "tone": "cheerful",
    "language": "en-IN",
}


def _all(client, **params) -> list[dict]:
    response = client.get("/api/v1/templates/", {"page_size": 500, **params})
    assert response.status_code == 200, response.content
    return response.json()["results"]


# -- the library -------------------------------------------------------------------------------------------------
def test_global_library_is_seeded_with_useful_templates_in_every_category():
    rows = list(GlobalTemplate.objects.all())
    assert len(rows) >= 20
    assert CATEGORIES <= {r.category for r in rows}
    for row in rows:
        for field, limit in (("title", personalization.TITLE_MAX), ("body", personalization.BODY_MAX)):
            assert personalization.validate_copy(getattr(row, field), limit=limit, field=field) == [], row.key
    # Stable ids: the same on every install.
    diwali = GlobalTemplate.objects.get(key="diwali-delight")
    assert diwali.pk == uuid.uuid5(uuid.UUID("6f1c7a52-4d0e-4c1b-9a57-2d6a2f0d9b11"), "diwali-delight")


def test_library_and_workspace_templates_are_listed_together(alice_api):
    made = alice_api.post("/api/v1/templates/", NEW)
    assert made.status_code == 201, made.content
    assert made.json()["is_global"] is False
    rows = _all(alice_api)
    assert rows[0]["name"] == "Monsoon Sale" and rows[0]["is_global"] is False  # own templates first
    assert sum(r["is_global"] for r in rows) == GlobalTemplate.objects.count()
    assert {"id", "name", "category", "title", "body", "subtitle", "tone", "language", "is_global"} <= set(
        rows[0]
    )
    assert [r["name"] for r in _all(alice_api, is_global="false")] == ["Monsoon Sale"]
    assert all(r["is_global"] for r in _all(alice_api, is_global="true"))
    assert {r["category"] for r in _all(alice_api, category="pharma")} == {"pharma"}
    assert [r["name"] for r in _all(alice_api, search="monsoon")] == ["Monsoon Sale"]
    assert [r["name"] for r in _all(alice_api, search="self-care")] == ["Self-Care Saturday"]
    by_name = [r["name"] for r in _all(alice_api, ordering="name")]
    assert by_name == sorted(by_name)
    page = alice_api.get("/api/v1/templates/", {"page_size": 5}).json()
    assert page["count"] == GlobalTemplate.objects.count() + 1 and len(page["results"]) == 5 and page["next"]
    assert_error(alice_api.get("/api/v1/templates/", {"is_global": "maybe"}), 400, "validation_error")
    assert len(_all(alice_api, ordering="password")) == len(rows)  # unknown orderings are ignored


def test_global_templates_are_readable_and_read_only(alice_api):
    global_id = str(GlobalTemplate.objects.get(key="self-care-saturday").pk)
    url = f"/api/v1/templates/{global_id}"
    detail = alice_api.get(url).json()
    assert detail["is_global"] is True and detail["name"] == "Self-Care Saturday"
    assert_error(alice_api.patch(url, {"name": "Mine now"}), 403, "global_template_readonly")
    assert_error(alice_api.patch(url, {"bogus": 1}), 403, "global_template_readonly")
    assert_error(alice_api.delete(url), 403, "global_template_readonly")
    assert GlobalTemplate.objects.get(pk=global_id).name == "Self-Care Saturday"


def test_workspace_template_crud(alice_api, alice, bob_api):
    made = alice_api.post("/api/v1/templates/", NEW).json()
    url = f"/api/v1/templates/{made['id']}"
    assert made["language"] == "en-IN" and made["category"] == "festive"
    patched = bob_api.patch(url + "/", {"title": "Rainy day deals", "category": "weekend"})
    assert patched.status_code == 200, patched.content
    assert alice_api.get(url).json()["title"] == "Rainy day deals"
    assert alice_api.delete(url).status_code == 204
    assert_error(alice_api.get(url), 404)
    assert_error(alice_api.get(f"/api/v1/templates/{uuid.uuid4()}"), 404)
    assert_error(alice_api.get("/api/v1/templates/not-an-id"), 404)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"title": "Hi {{ nickname }}"}, "invalid_personalization"),
        ({"body": "x" * 241}, "content_too_long"),
        ({"category": "gossip"}, "validation_error"),
        ({"name": ""}, "validation_error"),
        ({"is_global": True}, "validation_error"),
        ({"language": "Klingon!"}, "validation_error"),
    ],
)
def test_bad_templates_are_refused(alice_api, change, code):
    assert_error(alice_api.post("/api/v1/templates/", {**NEW, **change}), 400, code)


@pytest.mark.parametrize(
    ("role", "can_write"), [(Role.VIEWER, False), (Role.MEMBER, True), (Role.ADMIN, True)]
)
def test_template_roles(api, ws_a, alice_api, member_with_role, role, can_write):
    existing = alice_api.post("/api/v1/templates/", NEW).json()
    client = api(user=member_with_role(role), workspace=ws_a)
    assert client.get("/api/v1/templates/").status_code == 200
    assert client.get(f"/api/v1/templates/{existing['id']}").status_code == 200
    responses = [
        client.post("/api/v1/templates/", {**NEW, "name": "Other"}),
        client.patch(f"/api/v1/templates/{existing['id']}", {"name": "Renamed"}),
    ]
    for response in responses:
        if can_write:
            assert response.status_code in (200, 201), response.content
        else:
            assert_error(response, 403, "permission_denied")


def test_api_key_read_scope_lists_templates_only(api, ws_a, api_key_for):
    reader = api(api_key=api_key_for(ws_a, scopes=["read"]))
    assert reader.get("/api/v1/templates/").json()["count"] == GlobalTemplate.objects.count()
    assert_error(reader.post("/api/v1/templates/", NEW), 403)


# -- apply-template ------------------------------------------------------------------------------------------------
def test_apply_a_global_template_copies_it_into_a_content(alice_api, make_campaign):
    campaign = make_campaign(content=False)
    template = GlobalTemplate.objects.get(key="refill-reminder")
    response = alice_api.post(
        f"/api/v1/campaigns/{campaign['id']}/apply-template", {"template_id": str(template.pk)}
    )
    assert response.status_code == 201, response.content
    content = response.json()
    assert (content["title"], content["body"], content["tone"]) == (
        template.title,
        template.body,
        template.tone,
    )
    assert content["source_template_id"] == str(template.pk) and content["variant"] == "A"
    again = alice_api.post(
        f"/api/v1/campaigns/{campaign['id']}/apply-template/",
        {"template_id": str(template.pk), "language": "en-IN", "is_active": False},
    ).json()
    assert again["language"] == "en-IN" and again["is_active"] is False
    assert alice_api.get(f"/api/v1/campaigns/{campaign['id']}/contents/").json()["count"] == 2


def test_apply_a_workspace_template(alice_api, make_campaign):
    template = alice_api.post("/api/v1/templates/", NEW).json()
    campaign = make_campaign()
    content = alice_api.post(
        f"/api/v1/campaigns/{campaign['id']}/apply-template", {"template_id": template["id"]}
    ).json()
    assert content["title"] == NEW["title"] and content["language"] == "en-IN"


def test_apply_template_errors(alice_api, api, ws_b, charlie, make_campaign):
    campaign = make_campaign()
    url = f"/api/v1/campaigns/{campaign['id']}/apply-template"
    assert_error(alice_api.post(url, {"template_id": str(uuid.uuid4())}), 400, "template_not_found")
    assert_error(alice_api.post(url, {}), 400, "validation_error")
    foreign = api(user=charlie, workspace=ws_b).post("/api/v1/templates/", NEW).json()
    assert_error(alice_api.post(url, {"template_id": foreign["id"]}), 400, "template_not_found")
    alice_api.post(f"/api/v1/campaigns/{campaign['id']}/cancel")
    some = str(GlobalTemplate.objects.first().pk)
    assert_error(alice_api.post(url, {"template_id": some}), 409, "campaign_not_editable")
