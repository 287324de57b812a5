"""Campaign contents: personalization (parse, validate at save time, render), limits, languages,
A/B variants, action buttons, and the /campaigns/{id}/contents/ API."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass

import pytest

from campaigns import content as personalization
from campaigns.content import PersonalizationError
from tenants.models import Role
from tests.campaigns.conftest import assert_error, future_local

pytestmark = pytest.mark.django_db


# -- the template language ------------------------------------------------------------------------------------
def test_render_uses_attributes_then_defaults_then_empty():
    text = "Hi {{ first_name|default:\"there\" }}, deals in {{city}} — {{ attributes.plan|default:'free' }}"
    assert (
        personalization.render_text(text, {"first_name": "Asha", "city": "Pune", "plan": "pro"})
        == "Hi Asha, deals in Pune — pro"
    )
    assert personalization.render_text(text, {}) == "Hi there, deals in — free"
    assert personalization.render_text(text, None) == "Hi there, deals in — free"


def test_render_never_evaluates_and_treats_values_as_text():
    attrs = {"first_name": "{{ last_name }}", "last_name": "SECRET", "city": ["not", "scalar"]}
    assert (
        personalization.render_text('{{ first_name }} / {{ city|default:"x" }}', attrs)
        == "{{ last_name }} / x"
    )
    assert personalization.render_text("{{ first_name }}", {"first_name": "a\nb\tc"}) == "a b c"


def test_full_name_falls_back_to_first_and_last():
    assert (
        personalization.render_text("{{ full_name }}", {"first_name": "Asha", "last_name": "Rao"})
        == "Asha Rao"
    )
    assert personalization.render_text("{{ full_name }}", {"full_name": "Dr. A. Rao"}) == "Dr. A. Rao"


def test_render_for_the_pipeline_keeps_within_limits():
    @dataclass
    class Copy:
        title: str
        body: str

    long_name = "Bartholomew-Maximilian Featherstonehaugh-Worthington the Third"
    rendered = personalization.render(
        Copy(title="Welcome back, {{ first_name }}! Your deals await you", body="{{ first_name }}"),
        {"first_name": long_name},
    )
    assert len(rendered["title"]) == personalization.TITLE_MAX and rendered["title"].endswith("…")
    assert rendered["body"] == long_name


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Hi {{ email }}", "unknown_variable"),
        ("Hi {{ user.password }}", "unknown_variable"),
        ("Hi {{ attributes. }}", "invalid_placeholder"),
        ("Hi {{ attributes.a b }}", "invalid_placeholder"),
        ("Hi {{ first_name|upper }}", "unknown_filter"),
        ("Hi {{ first_name|default }}", "invalid_placeholder"),
        ('Hi {{ first_name|default:"x"|upper }}', "invalid_placeholder"),
        ("Hi {{ first_name", "unclosed_placeholder"),
        ("Hi first_name }}", "unopened_placeholder"),
        ("Hi {{ }}", "invalid_placeholder"),
        ("{% if first_name %}Hi{% endif %}", "unsupported_tag"),
        ("{{ __import__('os').system('id') }}", "invalid_placeholder"),
        ("{{ first_name.__class__ }}", "unknown_variable"),
        ('{{ first_name|default:"' + "x" * 61 + '" }}', "default_too_long"),
    ],
)
def test_bad_placeholders_are_refused(text, code):
    with pytest.raises(PersonalizationError) as caught:
        personalization.parse(text)
    assert code in [e["code"] for e in caught.value.errors], caught.value.errors


def test_allowed_variables():
    for name in (
        "first_name",
        "last_name",
        "full_name",
        "city",
        "country",
        "attributes.tier",
        "attributes.favourite-store_2",
    ):
        assert personalization.parse("{{ " + name + " }}")


def test_length_is_measured_with_defaults_and_20_for_a_bare_variable():
    assert personalization.budget_length('Hi {{ first_name|default:"there" }}!') == len("Hi there!")
    assert personalization.budget_length("Hi {{ first_name }}!") == 4 + 20
    assert personalization.validate_copy("x" * 45 + "{{ city }}", limit=65, field="title") == []
    problems = personalization.validate_copy("x" * 46 + "{{ city }}", limit=65, field="title")
    assert problems[0]["code"] == "title_too_long" and problems[0]["length"] == 66


# -- languages and variants -------------------------------------------------------------------------------------
@dataclass
class V:
    language: str
    weight: int = 1
    name: str = ""


def test_language_fallback_chain():
    assert personalization.language_fallbacks("hi-IN", "en") == ["hi-IN", "hi", "en"]
    assert personalization.language_fallbacks("pt_br", "en-GB") == ["pt-BR", "pt", "en-GB", "en"]
    assert personalization.language_fallbacks(None, "de") == ["de"]
    assert personalization.language_fallbacks("not a locale!", "de") == ["de"]


def test_contents_are_chosen_by_subscriber_locale_with_fallback():
    hi, hi_in, en, de_at = (
        V("hi", name="hi"),
        V("hi-IN", name="hi-IN"),
        V("en", name="en"),
        V("de-AT", name="de-AT"),
    )
    pick = personalization.contents_for_locale
    assert pick([hi, hi_in, en], locale="hi-IN", default_language="en") == [hi_in]
    assert pick([hi, en], locale="hi-IN", default_language="en") == [hi]
    assert pick([hi_in, en], locale="hi", default_language="en") == [hi_in]
    assert pick([hi, en], locale="fr-FR", default_language="en") == [en]
    assert pick([de_at, hi], locale="fr", default_language="de") == [de_at]
    assert pick([hi], locale="fr", default_language="en") == [hi]  # something is always sent
    assert pick([], locale="fr", default_language="en") == []


def test_variants_are_weighted_and_sticky_per_subscriber():
    a, b = V("en", weight=3, name="A"), V("en", weight=1, name="B")
    keys = [f"campaign-1:{uuid.UUID(int=i)}" for i in range(4000)]
    counts = Counter(personalization.pick_variant([a, b], key=k).name for k in keys)
    assert 2800 < counts["A"] < 3200, counts  # 3:1
    assert all(
        personalization.pick_variant([a, b], key=k) is personalization.pick_variant([a, b], key=k)
        for k in keys[:50]
    )
    off = V("en", weight=0, name="off")
    assert {personalization.pick_variant([a, off], key=k).name for k in keys[:200]} == {"A"}
    assert (
        personalization.select_content(
            [a, b, V("fr", name="fr")], locale="fr-CA", default_language="en", key="k"
        ).name
        == "fr"
    )


# -- the API ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def campaign(make_campaign):
    return make_campaign(content=False, default_language="en-IN")


def test_create_list_patch_delete_contents(alice_api, campaign):
    url = f"/api/v1/campaigns/{campaign['id']}/contents/"
    made = alice_api.post(
        url,
        {
            "title": 'Happy Diwali, {{ first_name|default:"friend" }}!',
            "body": 'Light up the festival with our offers in {{ city|default:"your city" }}.',
            "image_url": "https://cdn.example/diwali.png",
            "click_url": "https://shop.example/diwali",
            "actions": [
                {"action": "shop", "title": "Shop now", "url": "https://shop.example"},
                {"action": "later", "title": "Later"},
            ],
            "tone": "festive",
            "segment_filter_json": {"tags": {"any": ["vip"]}},
            "weight": 3,
        },
    )
    assert made.status_code == 201, made.content
    content = made.json()
    assert content["language"] == "en-IN" and content["variant"] == "A" and content["is_active"] is True
    assert content["generated_by"] == "manual" and content["subtitle"] == content["body"]
    second = alice_api.post(
        url, {"title": "Diwali offers", "body": "Tap to see them.", "language": "en_in"}
    ).json()
    assert second["language"] == "en-IN" and second["variant"] == "B"
    hindi = alice_api.post(url, {"title": "दिवाली मुबारक", "body": "ऑफ़र देखें", "language": "hi"}).json()
    assert hindi["variant"] == "A"
    listed = alice_api.get(url).json()
    assert [c["id"] for c in listed["results"]] == [content["id"], second["id"], hindi["id"]]
    detail = f"{url}{content['id']}"
    patched = alice_api.patch(detail, {"title": "Happy Diwali!", "is_active": False})
    assert patched.status_code == 200 and patched.json()["title"] == "Happy Diwali!"
    assert alice_api.get(detail).json()["is_active"] is False
    assert alice_api.delete(detail).status_code == 204
    assert_error(alice_api.get(detail), 404)
    assert alice_api.get(f"/api/v1/campaigns/{campaign['id']}").json()["content_count"] == 2


def test_unknown_variable_fails_at_save_time_with_details(alice_api, campaign):
    url = f"/api/v1/campaigns/{campaign['id']}/contents/"
    error = assert_error(
        alice_api.post(url, {"title": "Hi {{ nickname }}", "body": "{{ first_name|shout }}"}),
        400,
        "invalid_personalization",
    )
    assert "nickname" in error["details"]["title"][0]
    assert "shout" in error["details"]["body"][0]
    codes = {(p["field"], p["code"]) for p in error["details"]["problems"]}
    assert codes == {("title", "unknown_variable"), ("body", "unknown_filter")}
    assert alice_api.get(url).json()["count"] == 0


def test_limits_apply_after_rendering_with_defaults(alice_api, campaign):
    url = f"/api/v1/campaigns/{campaign['id']}/contents/"
    ok = alice_api.post(url, {"title": "x" * 60 + '{{ first_name|default:"Ana" }}', "body": "y" * 240})
    assert ok.status_code == 201, ok.content
    error = assert_error(
        alice_api.post(url, {"title": "x" * 50 + "{{ first_name }}", "body": "ok", "variant": "Z"}),
        400,
        "content_too_long",
    )
    assert "title" in error["details"] and "65" in error["details"]["title"][0]
    assert_error(
        alice_api.post(url, {"title": "ok", "body": "y" * 241, "variant": "Z"}), 400, "content_too_long"
    )
    content_id = ok.json()["id"]
    assert_error(
        alice_api.patch(f"{url}{content_id}", {"body": "{{ zodiac }}"}), 400, "invalid_personalization"
    )


BAD_CONTENT_FIELDS = [
    ("language", "english"),
    ("image_url", "ftp://example.com/a.png"),
    ("click_url", "not a url"),
    (
        "actions",
        [{"action": "a", "title": "A"}, {"action": "b", "title": "B"}, {"action": "c", "title": "C"}],
    ),
    ("actions", [{"action": "a", "title": "A"}, {"action": "a", "title": "B"}]),
    ("actions", [{"action": "has space", "title": "A"}]),
    ("actions", [{"title": "no id"}]),
    ("actions", [{"action": "a", "title": "A", "icon": "x"}]),
    ("weight", -1),
    ("variant", "A/B"),
    ("segment_filter_json", [1, 2]),
    ("generated_by", "ai"),
    ("title", ""),
]


def test_bad_content_fields(alice_api, campaign):
    url = f"/api/v1/campaigns/{campaign['id']}/contents/"
    for field, value in BAD_CONTENT_FIELDS:
        error = assert_error(alice_api.post(url, {"title": "Hello", "body": "World", field: value}), 400)
        assert field in error["details"], (field, value, error)
    assert alice_api.get(url).json()["count"] == 0


def test_two_active_contents_cannot_share_language_and_variant(alice_api, campaign):
    url = f"/api/v1/campaigns/{campaign['id']}/contents/"
    alice_api.post(url, {"title": "One", "body": "1", "variant": "A"})
    assert_error(alice_api.post(url, {"title": "Two", "body": "2", "variant": "A"}), 409, "variant_conflict")
    draft = alice_api.post(url, {"title": "Two", "body": "2", "variant": "A", "is_active": False})
    assert draft.status_code == 201  # inactive drafts may share a label
    assert_error(alice_api.patch(f"{url}{draft.json()['id']}", {"is_active": True}), 409, "variant_conflict")


def test_contents_of_finished_campaigns_are_frozen(alice_api, make_campaign):
    campaign = make_campaign()
    url = f"/api/v1/campaigns/{campaign['id']}/contents/"
    content_id = alice_api.get(url).json()["results"][0]["id"]
    alice_api.post(f"/api/v1/campaigns/{campaign['id']}/schedule", {"scheduled_at": future_local()})
    assert alice_api.patch(f"{url}{content_id}", {"title": "Still editable"}).status_code == 200
    alice_api.post(f"/api/v1/campaigns/{campaign['id']}/cancel")
    assert_error(alice_api.post(url, {"title": "x", "body": "y"}), 409, "campaign_not_editable")
    assert_error(alice_api.patch(f"{url}{content_id}", {"title": "x"}), 409, "campaign_not_editable")
    assert_error(alice_api.delete(f"{url}{content_id}"), 409, "campaign_not_editable")


def test_contents_of_an_unknown_campaign_are_404(alice_api, campaign):
    assert_error(alice_api.get(f"/api/v1/campaigns/{uuid.uuid4()}/contents/"), 404)
    assert_error(alice_api.post("/api/v1/campaigns/nope/contents/", {"title": "x", "body": "y"}), 404)
    assert_error(alice_api.get(f"/api/v1/campaigns/{campaign['id']}/contents/{uuid.uuid4()}"), 404)


def test_a_content_is_only_reachable_under_its_own_campaign(alice_api, make_campaign):
    one, two = make_campaign(), make_campaign()
    content_id = alice_api.get(f"/api/v1/campaigns/{one['id']}/contents/").json()["results"][0]["id"]
    assert_error(alice_api.get(f"/api/v1/campaigns/{two['id']}/contents/{content_id}"), 404)
    assert_error(alice_api.delete(f"/api/v1/campaigns/{two['id']}/contents/{content_id}"), 404)


def test_content_roles(api, ws_a, member_with_role, api_key_for, campaign):
    url = f"/api/v1/campaigns/{campaign['id']}/contents/"
    viewer = api(user=member_with_role(Role.VIEWER), workspace=ws_a)
    assert viewer.get(url).status_code == 200
    assert_error(viewer.post(url, {"title": "x", "body": "y"}), 403, "permission_denied")
    member = api(user=member_with_role(Role.MEMBER), workspace=ws_a)
    assert member.post(url, {"title": "x", "body": "y"}).status_code == 201
    reader = api(api_key=api_key_for(ws_a, scopes=["read"]))
    assert reader.get(url).json()["count"] == 1
    assert_error(reader.post(url, {"title": "x", "body": "y"}), 403)
