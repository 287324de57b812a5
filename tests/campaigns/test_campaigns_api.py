"""/api/v1/campaigns/: create, list (filters, ordering, pages), retrieve, patch, delete; channels,
audiences and options; the role matrix; the status machine."""

from __future__ import annotations

import itertools
import uuid

import pytest
from django_tenants.utils import schema_context

from campaigns import services
from campaigns.models import Campaign, CampaignStatus
from tenants.models import Role
from tests.campaigns.conftest import assert_error, future_local, make_app

pytestmark = pytest.mark.django_db


def _body(app, **fields):
    body = {
        "name": "Diwali Delight",
        "channel_type": "web_push" if app.kind == "web_push" else "app_push",
        "schedule_type": "scheduled",
        "app_id": str(app.pk),
    }
    body.update(fields)
    return body


# -- create ----------------------------------------------------------------------------------------------------
def test_create_returns_a_draft_with_workspace_defaults(alice_api, alice, ws_a, web_app):
    ws_a.timezone = "Asia/Kolkata"
    ws_a.save()
    response = alice_api.post("/api/v1/campaigns/", _body(web_app, tone="festive", description="Lights"))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "draft"
    assert data["timezone"] == "Asia/Kolkata"
    assert data["audience"] == {"all": True}
    assert data["app_id"] == str(web_app.pk)
    assert data["created_by"] == str(alice.pk) and data["updated_by"] == str(alice.pk)
    assert data["next_run_at"] is None
    uuid.UUID(data["id"])
    with schema_context(ws_a.schema_name):
        assert Campaign.objects.get(pk=data["id"]).tone == "festive"


def test_create_with_the_seed_body_and_no_trailing_slash(alice_api, fcm_app):
    response = alice_api.post(
        "/api/v1/campaigns",
        {
            "name": "Weekend Blast",
            "channel_type": "app_push",
            "schedule_type": "send_now",
            "app_id": str(fcm_app.pk),
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["schedule_type"] == "send_now"


@pytest.mark.parametrize("channel", ["sms", "email", "whatsapp"])
def test_seed_channels_we_do_not_deliver_are_refused(alice_api, web_app, channel):
    error = assert_error(
        alice_api.post("/api/v1/campaigns/", _body(web_app, channel_type=channel)),
        400,
        "channel_not_supported",
    )
    assert "channel_type" in error["details"]


def test_unknown_channel_is_a_validation_error(alice_api, web_app):
    error = assert_error(
        alice_api.post("/api/v1/campaigns/", _body(web_app, channel_type="pigeon")), 400, "validation_error"
    )
    assert "channel_type" in error["details"]


def test_channel_must_match_the_app_kind(alice_api, web_app, fcm_app):
    assert_error(
        alice_api.post("/api/v1/campaigns/", _body(web_app, channel_type="app_push")),
        400,
        "channel_app_mismatch",
    )
    assert_error(
        alice_api.post("/api/v1/campaigns/", _body(fcm_app, channel_type="web_push")),
        400,
        "channel_app_mismatch",
    )


def test_app_must_exist_in_this_workspace(alice_api, ws_b, web_app):
    assert_error(
        alice_api.post("/api/v1/campaigns/", _body(web_app, app_id=str(uuid.uuid4()))), 400, "app_not_found"
    )
    foreign = make_app(ws_b, "web_push")
    error = assert_error(alice_api.post("/api/v1/campaigns/", _body(foreign)), 400, "app_not_found")
    assert str(foreign.pk) not in error["message"]


BAD_CAMPAIGN_FIELDS = [
    ("name", ""),
    ("name", "x" * 201),
    ("app_id", "not-a-uuid"),
    ("schedule_type", "sometimes"),
    ("timezone", "Mars/Olympus"),
    ("default_language", "english please"),
    ("audience", {"all": False}),
    ("audience", {"all": True, "segment_id": str(uuid.uuid4())}),
    ("audience", {"segment_id": "nope"}),
    ("audience", {"filter": {}}),
    ("audience", ["all"]),
    ("options", {"ttl": -1}),
    ("options", {"ttl": 99_999_999}),
    ("options", {"priority": "urgent"}),
    ("options", {"click_url": "javascript:alert(1)"}),
    ("options", {"data": {"google.foo": "x"}}),
    ("options", {"data": {"pp_delivery": "forged"}}),
    ("options", {"data": {"k": {"nested": 1}}}),
    ("options", {"collapse_key": "has space"}),
    ("options", {"color": "red"}),
    ("options", {"throttle_per_minute": 0}),
    ("options", {"throttle_per_minute": -5}),
    ("options", {"throttle_per_minute": 1_000_001}),
    ("options", {"throttle_per_minute": "fast"}),
    ("options", {"throttle_per_minute": 2.5}),
    ("surprise", 1),
]


def test_bad_campaign_fields_are_400_naming_the_field(alice_api, ws_a, web_app):
    for field, value in BAD_CAMPAIGN_FIELDS:
        error = assert_error(alice_api.post("/api/v1/campaigns/", _body(web_app, **{field: value})), 400)
        assert field in error["details"] or field in error["message"], (field, value, error)
    with schema_context(ws_a.schema_name):
        assert not Campaign.objects.exists()


def test_audience_segment_and_filter(alice_api, ws_a, web_app):
    from integrations.models import Segment

    with schema_context(ws_a.schema_name):
        segment = Segment.objects.create(name="VIPs", filter={"tags": {"any": ["vip"]}})
    made = alice_api.post("/api/v1/campaigns/", _body(web_app, audience={"segment_id": str(segment.pk)}))
    assert made.status_code == 201 and made.json()["audience"] == {"segment_id": str(segment.pk)}
    assert_error(
        alice_api.post("/api/v1/campaigns/", _body(web_app, audience={"segment_id": str(uuid.uuid4())})),
        400,
        "segment_not_found",
    )
    inline = alice_api.post(
        "/api/v1/campaigns/", _body(web_app, audience={"filter": {"tags": {"any": ["vip"]}}})
    )
    assert inline.status_code == 201, inline.content
    error = assert_error(
        alice_api.post("/api/v1/campaigns/", _body(web_app, audience={"filter": {"bogus": 1}})),
        400,
        "invalid_audience",
    )
    assert "audience" in error["details"]


def test_options_are_stored(alice_api, web_app):
    options = {
        "ttl": 3600,
        "priority": "high",
        "collapse_key": "deals",
        "click_url": "https://shop.example/deals",
        "data": {"screen": "deals", "count": "3"},
        "throttle_per_minute": 1000,
    }
    response = alice_api.post("/api/v1/campaigns/", _body(web_app, options=options))
    assert response.status_code == 201, response.content
    assert response.json()["options"] == options
    url = f"/api/v1/campaigns/{response.json()['id']}"
    patched = alice_api.patch(url, {"options": {"throttle_per_minute": None}})
    assert patched.status_code == 200 and patched.json()["options"] == {"throttle_per_minute": None}


def test_a_content_segment_filter_is_validated_when_saved(alice_api, make_campaign):
    campaign = make_campaign()
    url = f"/api/v1/campaigns/{campaign['id']}/contents/"
    for bad, where in (
        ({"tags": {"any": "vip"}}, "tags"),
        ({"bogus": 1}, "bogus"),
        ({"attributes": {"age": {"range": {"gte": 18, "lt": "65"}}}}, "attributes"),
        ({"app_id": str(uuid.uuid4())}, "app_id"),
    ):
        error = assert_error(
            alice_api.post(url, {"title": "Hi", "body": "There", "segment_filter_json": bad}),
            400,
            "invalid_segment_filter",
        )
        assert where in error["details"]["segment_filter_json"], (bad, error)
    made = alice_api.post(
        url, {"title": "Hi", "body": "There", "segment_filter_json": {"tags": {"any": ["vip"]}}}
    )
    assert made.status_code == 201, made.content
    detail = f"{url}{made.json()['id']}"
    error = assert_error(
        alice_api.patch(detail, {"segment_filter_json": {"platform": "fridge"}}),
        400,
        "invalid_segment_filter",
    )
    assert "platform" in error["details"]["segment_filter_json"]
    assert alice_api.get(detail).json()["segment_filter_json"] == {"tags": {"any": ["vip"]}}
    cleared = alice_api.patch(detail, {"segment_filter_json": {}})
    assert cleared.status_code == 200 and cleared.json()["segment_filter_json"] is None


def test_schedule_fields_can_be_drafted_and_are_validated(alice_api, web_app):
    body = _body(
        web_app,
        schedule_type="recurring",
        recurrence_rule="FREQ=WEEKLY;BYDAY=MO",
        scheduled_at="2030-01-07T09:00:00",
        timezone="Europe/Berlin",
    )
    data = alice_api.post("/api/v1/campaigns/", body).json()
    assert (
        data["scheduled_at"] == "2030-01-07T09:00:00+01:00"
        and data["scheduled_local"] == "2030-01-07T09:00:00"
    )
    assert data["status"] == "draft" and data["next_run_at"] is None
    error = assert_error(
        alice_api.post(
            "/api/v1/campaigns/", _body(web_app, schedule_type="recurring", recurrence_rule="FREQ=SOMETIMES")
        ),
        400,
        "invalid_rrule",
    )
    assert error["details"]["part"] == "FREQ"
    assert_error(
        alice_api.post("/api/v1/campaigns/", _body(web_app, recurrence_rule="FREQ=DAILY")),
        400,
        "schedule_type_mismatch",
    )
    assert_error(
        alice_api.post("/api/v1/campaigns/", _body(web_app, scheduled_at="tomorrow-ish")),
        400,
        "invalid_datetime",
    )


# -- list -------------------------------------------------------------------------------------------------------
@pytest.fixture
def listed(alice_api, web_app, fcm_app, make_campaign):
    a = make_campaign(name="Diwali Delight", content=True)
    b = make_campaign(name="Weekend Blast", channel_type="app_push", schedule_type="recurring")
    c = make_campaign(name="Self-Care Saturday", schedule_type="send_now")
    alice_api.post(f"/api/v1/campaigns/{a['id']}/schedule", {"scheduled_at": future_local(3)})
    return {"a": a, "b": b, "c": c}


def _names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


def test_list_filters(alice_api, listed, fcm_app):
    assert sorted(_names(alice_api.get("/api/v1/campaigns/"))) == [
        "Diwali Delight",
        "Self-Care Saturday",
        "Weekend Blast",
    ]
    assert _names(alice_api.get("/api/v1/campaigns/", {"status": "scheduled"})) == ["Diwali Delight"]
    assert sorted(_names(alice_api.get("/api/v1/campaigns/", {"status": "draft,scheduled"}))) == [
        "Diwali Delight",
        "Self-Care Saturday",
        "Weekend Blast",
    ]
    assert _names(alice_api.get("/api/v1/campaigns/", {"channel_type": "app_push"})) == ["Weekend Blast"]
    assert _names(alice_api.get("/api/v1/campaigns/", {"schedule_type": "send_now"})) == [
        "Self-Care Saturday"
    ]
    assert _names(alice_api.get("/api/v1/campaigns/", {"app": str(fcm_app.pk)})) == ["Weekend Blast"]
    assert _names(alice_api.get("/api/v1/campaigns/", {"search": "diwali"})) == ["Diwali Delight"]
    assert _names(alice_api.get("/api/v1/campaigns/", {"search": "nothing like it"})) == []


def test_list_ordering_is_whitelisted(alice_api, listed):
    assert _names(alice_api.get("/api/v1/campaigns/", {"ordering": "name"})) == [
        "Diwali Delight",
        "Self-Care Saturday",
        "Weekend Blast",
    ]
    assert _names(alice_api.get("/api/v1/campaigns/", {"ordering": "-name"}))[0] == "Weekend Blast"
    for bad in ("app__sdk_key", "password", "created_by"):
        assert_error(alice_api.get("/api/v1/campaigns/", {"ordering": bad}), 400, "validation_error")
    for bad in ({"status": "bogus"}, {"app": "not-a-uuid"}, {"channel_type": "sms,bogus"}):
        assert_error(alice_api.get("/api/v1/campaigns/", bad), 400, "validation_error")


def test_list_is_paginated(alice_api, listed):
    first = alice_api.get("/api/v1/campaigns/", {"page_size": 2, "ordering": "name"}).json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"] and first["previous"] is None
    second = alice_api.get("/api/v1/campaigns/", {"page_size": 2, "ordering": "name", "page": 2}).json()
    assert [r["name"] for r in second["results"]] == ["Weekend Blast"]
    assert_error(alice_api.get("/api/v1/campaigns/", {"page": 99}), 404)


# -- retrieve, patch, delete ----------------------------------------------------------------------------------
def test_retrieve_patch_delete_a_draft(alice_api, bob_api, bob, make_campaign):
    campaign = make_campaign()
    url = f"/api/v1/campaigns/{campaign['id']}"
    assert alice_api.get(url).json()["name"] == "Weekend Blast"
    patched = bob_api.patch(
        url + "/", {"name": "Weekend Blast v2", "timezone": "Asia/Tokyo", "options": {"ttl": 60}}
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["name"] == "Weekend Blast v2" and patched.json()["timezone"] == "Asia/Tokyo"
    assert patched.json()["updated_by"] == str(bob.pk)
    assert_error(bob_api.patch(url, {"channel_type": "email"}), 400, "channel_not_supported")
    assert_error(bob_api.patch(url, {"unknown": 1}), 400, "validation_error")
    assert alice_api.delete(url).status_code == 204
    assert_error(alice_api.get(url), 404, "not_found")


def test_malformed_and_unknown_ids_are_404(alice_api):
    for path in ("/api/v1/campaigns/nope", f"/api/v1/campaigns/{uuid.uuid4()}", "/api/v1/campaigns/1%27--"):
        assert_error(alice_api.get(path), 404, "not_found")


def test_put_is_not_allowed(alice_api, make_campaign):
    campaign = make_campaign()
    assert_error(alice_api.put(f"/api/v1/campaigns/{campaign['id']}", {"name": "x"}), 405)


def test_only_drafts_are_deleted_others_must_be_cancelled(alice_api, make_campaign):
    campaign = make_campaign()
    url = f"/api/v1/campaigns/{campaign['id']}"
    alice_api.post(url + "/schedule", {"scheduled_at": future_local()})
    error = assert_error(alice_api.delete(url), 409, "campaign_not_draft")
    assert error["details"]["current_status"] == "scheduled" and "ancel" in error["message"]
    alice_api.post(url + "/cancel")
    assert_error(alice_api.delete(url), 409, "campaign_not_draft")
    assert alice_api.get(url).status_code == 200


def test_scheduled_campaign_keeps_its_channel_and_schedule_fields(alice_api, make_campaign, fcm_app):
    campaign = make_campaign()
    url = f"/api/v1/campaigns/{campaign['id']}"
    alice_api.post(url + "/schedule", {"scheduled_at": future_local()})
    for change in (
        {"channel_type": "app_push", "app_id": str(fcm_app.pk)},
        {"scheduled_at": future_local(20)},
        {"recurrence_rule": "FREQ=DAILY"},
        {"timezone": "UTC"},
    ):
        error = assert_error(alice_api.patch(url, change), 409, "campaign_not_editable")
        assert error["details"]["current_status"] == "scheduled"
    assert alice_api.patch(url, {"name": "Renamed", "options": {"ttl": 10}}).status_code == 200


# -- roles -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "can_write"), [(Role.VIEWER, False), (Role.MEMBER, True), (Role.ADMIN, True), (Role.OWNER, True)]
)
def test_role_matrix(api, ws_a, member_with_role, make_campaign, web_app, role, can_write):
    existing = make_campaign()
    client = api(user=member_with_role(role), workspace=ws_a)
    url = f"/api/v1/campaigns/{existing['id']}"
    assert client.get("/api/v1/campaigns/").status_code == 200
    assert client.get(url).status_code == 200
    assert client.get(url + "/schedule/preview").status_code == 200
    assert client.get(url + "/contents/").status_code == 200
    writes = [
        ("post", "/api/v1/campaigns/", _body(web_app)),
        ("patch", url, {"name": "New name"}),
        ("post", url + "/contents/", {"title": "Hi", "body": "There"}),
        ("post", url + "/schedule", {"scheduled_at": future_local()}),
        ("post", url + "/cancel", None),
    ]
    for method, path, body in writes:
        response = getattr(client, method)(path, body)
        if can_write:
            assert response.status_code in (200, 201), (method, path, response.content)
        else:
            assert_error(response, 403, "permission_denied")
    if not can_write:
        assert_error(client.delete(url), 403, "permission_denied")


def test_api_key_with_read_scope_reads_and_cannot_write(api, ws_a, api_key_for, make_campaign, web_app):
    existing = make_campaign()
    reader = api(api_key=api_key_for(ws_a, scopes=["read"]))
    url = f"/api/v1/campaigns/{existing['id']}"
    assert reader.get("/api/v1/campaigns/").json()["count"] == 1
    assert reader.get(url).status_code == 200
    assert reader.get(url + "/contents/").status_code == 200
    assert reader.get(url + "/schedule/preview").status_code == 200
    assert_error(reader.post("/api/v1/campaigns/", _body(web_app)), 403)
    assert_error(reader.patch(url, {"name": "x"}), 403)
    assert_error(reader.post(url + "/schedule", {"scheduled_at": future_local()}), 403)
    assert_error(reader.delete(url), 403)
    sender = api(api_key=api_key_for(ws_a, scopes=["send"]))
    assert_error(sender.get("/api/v1/campaigns/"), 403, "insufficient_scope")


def test_anonymous_is_401(api, ws_a):
    response = api(workspace=ws_a).get("/api/v1/campaigns/")
    assert_error(response, 401)


# -- the status machine ---------------------------------------------------------------------------------------
ALLOWED = {
    ("draft", "scheduled"),
    ("draft", "running"),
    ("draft", "cancelled"),
    ("scheduled", "scheduled"),
    ("scheduled", "running"),
    ("scheduled", "paused"),
    ("scheduled", "completed"),
    ("scheduled", "cancelled"),
    ("running", "scheduled"),
    ("running", "paused"),
    ("running", "completed"),
    ("running", "cancelled"),
    ("paused", "scheduled"),
    ("paused", "completed"),
    ("paused", "cancelled"),
}
STATUSES = [s.value for s in CampaignStatus]


def test_status_machine_table(ws_a, web_app):
    """Every (current, target) pair: the allowed ones move, every other one is a 409 that names the
    current status and changes nothing. (One workspace for all 36 pairs: creating one costs.)"""
    from pushpilot.api.errors import Conflict

    with schema_context(ws_a.schema_name):
        for current, target in itertools.product(STATUSES, STATUSES):
            campaign = Campaign.objects.create(
                name=f"{current}->{target}",
                channel_type="web_push",
                app=web_app,
                timezone="UTC",
                schedule_type="send_now",
                status=current,
            )
            if (current, target) in ALLOWED:
                services.campaign_transition(campaign=campaign, to=target)
                campaign.refresh_from_db()
                assert campaign.status == target, (current, target)
                assert campaign.status_changed_at is not None
            else:
                with pytest.raises(Conflict) as caught:
                    services.campaign_transition(campaign=campaign, to=target)
                assert caught.value.status_code == 409, (current, target)
                assert caught.value.error_code == "invalid_transition", (current, target)
                assert caught.value.details["current_status"] == current, (current, target)
                campaign.refresh_from_db()
                assert campaign.status == current, (current, target)
    assert services.TRANSITIONS == {s: frozenset(t for c, t in ALLOWED if c == s) for s in STATUSES}


def test_illegal_transitions_over_http_are_409_with_the_current_status(alice_api, make_campaign):
    campaign = make_campaign()
    url = f"/api/v1/campaigns/{campaign['id']}"
    # draft: pause and resume are illegal.
    assert_error(alice_api.post(url + "/pause"), 409, "not_recurring")
    error = assert_error(alice_api.post(url + "/resume"), 409)
    assert error["details"]["current_status"] == "draft"
    assert alice_api.post(url + "/cancel").json()["status"] == "cancelled"
    for action, body in (("cancel", None), ("schedule", {"scheduled_at": future_local()}), ("resume", None)):
        error = assert_error(alice_api.post(f"{url}/{action}", body), 409)
        assert error["details"]["current_status"] == "cancelled", (action, error)
    assert alice_api.get(url).json()["status"] == "cancelled"


def test_recurring_pause_resume_and_cancel(alice_api, make_campaign):
    campaign = make_campaign(schedule_type="recurring")
    url = f"/api/v1/campaigns/{campaign['id']}"
    assert_error(alice_api.post(url + "/pause"), 409, "invalid_transition")  # a draft cannot pause
    scheduled = alice_api.post(
        url + "/schedule",
        {"scheduled_at": future_local(2), "timezone": "Europe/Berlin", "recurrence_rule": "FREQ=DAILY"},
    ).json()
    assert scheduled["status"] == "scheduled" and scheduled["next_run_at"]
    paused = alice_api.post(url + "/pause").json()
    assert paused["status"] == "paused" and paused["next_run_at"] is None
    assert_error(alice_api.post(url + "/pause"), 409, "invalid_transition")
    assert_error(
        alice_api.post(url + "/schedule", {"scheduled_at": future_local(3)}), 409, "invalid_transition"
    )
    resumed = alice_api.post(url + "/resume").json()
    assert resumed["status"] == "scheduled" and resumed["next_run_at"] == scheduled["next_run_at"]
    assert_error(alice_api.post(url + "/resume"), 409, "invalid_transition")
    cancelled = alice_api.post(url + "/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["next_run_at"] is None
