"""Segments: the JSON filter schema (400 with per-field details), its compilation to one query with
the right semantics for every operator, the indexes it relies on, and the API."""

from __future__ import annotations

import functools
import operator
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from integrations.segments import segment_count, subscribers_matching
from tenants.models import Role
from tests.integrations.integration_support import make_app, make_subscriber
from tests.tenants.support import assert_error, base_schema_once, fast_tenancy  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(api, ws_a, alice):
    return api(user=alice, workspace=ws_a)


@pytest.fixture
def apps(ws_a):
    return {"web": make_app(ws_a, "web_push", name="Site"), "fcm": make_app(ws_a, "fcm", name="Android")}


@pytest.fixture
def crowd(ws_a, apps):
    now = timezone.now()
    web, fcm = apps["web"], apps["fcm"]
    return {
        "ada": make_subscriber(
            ws_a,
            web,
            tags=["vip", "de"],
            locale="de-DE",
            attributes={"plan": "pro", "age": 34, "signup": "2024-03-01", "beta": True},
        ),
        "ben": make_subscriber(
            ws_a,
            web,
            tags=["de"],
            locale="de-AT",
            attributes={"plan": "free", "age": 17, "signup": "2023-11-20"},
        ),
        "cat": make_subscriber(
            ws_a,
            fcm,
            tags=["vip", "churned"],
            locale="en-GB",
            platform="ios",
            attributes={"plan": "pro", "age": "unknown"},
            last_seen_at=now - timedelta(days=45),
        ),
        "dan": make_subscriber(
            ws_a,
            fcm,
            tags=[],
            locale="en",
            platform="android",
            attributes={"plan": "team", "age": 65, "beta": False},
        ),
        "eve": make_subscriber(
            ws_a,
            web,
            tags=["vip", "de"],
            locale="de-DE",
            attributes={"plan": "pro", "age": 40},
            status="unsubscribed",
        ),
    }


def _names(ws, crowd, filter_) -> set[str]:
    with schema_context(ws.schema_name):
        ids = set(subscribers_matching(filter_).values_list("id", flat=True))
    return {name for name, sub in crowd.items() if sub.pk in ids}


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({}, {"ada", "ben", "cat", "dan"}),  # every active subscriber; eve unsubscribed
        ({"tags": {"any": ["vip"]}}, {"ada", "cat"}),
        ({"tags": {"any": ["churned", "de"]}}, {"ada", "ben", "cat"}),
        ({"tags": {"all": ["vip", "de"]}}, {"ada"}),
        ({"tags": {"none": ["vip"]}}, {"ben", "dan"}),
        ({"tags": {"any": ["vip"], "none": ["churned"]}}, {"ada"}),
        ({"attributes": {"plan": {"equals": "pro"}}}, {"ada", "cat"}),
        ({"attributes": {"beta": {"equals": True}}}, {"ada"}),
        ({"attributes": {"plan": {"in": ["free", "team"]}}}, {"ben", "dan"}),
        ({"attributes": {"age": {"range": {"gte": 18, "lt": 65}}}}, {"ada"}),  # "unknown" is not a number
        ({"attributes": {"age": {"range": {"gt": 17}}}}, {"ada", "dan"}),
        ({"attributes": {"age": {"range": {"lte": 17}}}}, {"ben"}),
        ({"attributes": {"signup": {"range": {"gte": "2024-01-01"}}}}, {"ada"}),
        ({"attributes": {"plan": {"equals": "pro"}, "age": {"range": {"gte": 30}}}}, {"ada"}),
        # Bounds become jsonpath literals: exponents, fractions and awkward strings stay values.
        ({"attributes": {"age": {"range": {"gt": 1.5e1, "lt": 6.4e1}}}}, {"ada", "ben"}),
        ({"attributes": {"age": {"range": {"gte": -0.5, "lt": 17.5}}}}, {"ben"}),
        ({"attributes": {"plan": {"range": {"gte": 'p"ro\\', "lt": "zé"}}}}, {"ada", "cat", "dan"}),
        ({"platform": "ios"}, {"cat"}),
        ({"platform": ["web", "android"]}, {"ada", "ben", "dan"}),
        ({"locale": "de"}, {"ada", "ben"}),
        ({"locale": ["de-AT", "en"]}, {"ben", "cat", "dan"}),
        ({"locale": "en-gb"}, {"cat"}),
        ({"last_seen_within_days": 30}, {"ada", "ben", "dan"}),
        ({"tags": {"any": ["vip"]}, "last_seen_within_days": 30, "platform": "web"}, {"ada"}),
    ],
)
def test_each_operator_selects_the_right_subscribers(ws_a, crowd, filter_, expected):
    assert _names(ws_a, crowd, filter_) == expected


def test_app_id_narrows_to_one_app(ws_a, crowd, apps):
    assert _names(ws_a, crowd, {"app_id": str(apps["fcm"].pk)}) == {"cat", "dan"}


def test_a_segment_count_is_one_query(ws_a, crowd):
    filter_ = {
        "tags": {"any": ["vip"], "none": ["x"]},
        "attributes": {"plan": {"in": ["pro", "team"]}, "age": {"range": {"gte": 18}}},
        "platform": ["web", "ios"],
        "locale": ["de", "en"],
        "last_seen_within_days": 90,
    }
    with schema_context(ws_a.schema_name), CaptureQueriesContext(connection) as queries:
        assert segment_count(filter_) == 1
    assert len([q for q in queries.captured_queries if "integrations_subscriber" in q["sql"]]) == 1


BULK_INSERT = """
INSERT INTO integrations_subscriber (id, app_id, kind, endpoint, endpoint_hash, p256dh, auth, platform, tags,
    attributes, locale, timezone, status, status_reason, last_seen_at, created_at, updated_at)
SELECT gen_random_uuid(), %s, 'web_push', 'https://fcm.googleapis.com/fcm/send/' || i, md5(i::text) || md5(i::text),
    'BNcR', 'dGVzdA', 'web',
    CASE WHEN i %% 200 = 0 THEN ARRAY['rare', 'common'] ELSE ARRAY['common'] END,
    jsonb_build_object('plan', CASE WHEN i %% 200 = 1 THEN 'rare' ELSE 'free' END, 'n', i),
    'en', '', 'active', '',
    now() - CASE WHEN i %% 200 = 2 THEN interval '1 hour' ELSE interval '30 days' END, now(), now()
FROM generate_series(1, 40000) AS i
"""


@pytest.mark.parametrize(
    ("filter_", "indexes"),
    [
        ({"tags": {"any": ["rare"]}}, {"subscriber_tags_gin"}),
        ({"tags": {"all": ["rare", "common"]}}, {"subscriber_tags_gin"}),
        ({"attributes": {"plan": {"equals": "rare"}}}, {"subscriber_attributes_gin"}),
        ({"last_seen_within_days": 1}, {"subscriber_status_seen_idx", "subscriber_audience_idx"}),
    ],
)
def test_selective_filters_use_their_indexes(ws_a, apps, filter_, indexes):
    """On a table of realistic size, with statistics, the planner serves each selective predicate
    from an index built for it, never a sequential scan (what keeps a count over 1,000,000
    subscribers fast)."""
    with schema_context(ws_a.schema_name):
        with connection.cursor() as cursor:
            cursor.execute(BULK_INSERT, [apps["web"].pk])
            # A full-table statistics sample, so the plan does not depend on ANALYZE's random pick.
            cursor.execute("SET LOCAL default_statistics_target = 1000")
            cursor.execute("ANALYZE integrations_subscriber")
        qs = subscribers_matching(filter_).order_by()
        plan = qs.explain()
        assert qs.count() == 200
        sql, params = qs.values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN SELECT count(*) FROM ({sql}) counted", params)
            count_plan = "\n".join(row[0] for row in cursor.fetchall())
    assert any(index in plan for index in indexes), plan
    assert "Seq Scan" not in count_plan, count_plan


@pytest.mark.parametrize(
    ("filter_", "path"),
    [
        ({"colour": "red"}, ["colour"]),
        ({"tags": {"some": ["x"]}}, ["tags", "some"]),
        ({"tags": {"any": "vip"}}, ["tags", "any"]),
        ({"tags": {"any": []}}, ["tags", "any"]),
        ({"tags": {}}, ["tags"]),
        ({"attributes": {"plan": "pro"}}, ["attributes", "plan"]),
        ({"attributes": {"plan": {"equals": "pro", "in": ["x"]}}}, ["attributes", "plan"]),
        ({"attributes": {"plan": {"like": "pr%"}}}, ["attributes", "plan", "like"]),
        ({"attributes": {"age": {"range": {"between": [1, 2]}}}}, ["attributes", "age", "range", "between"]),
        ({"attributes": {"age": {"range": {}}}}, ["attributes", "age", "range"]),
        ({"attributes": {"age": {"range": {"gte": 1, "lt": "z"}}}}, ["attributes", "age", "range"]),
        ({"attributes": {"bad key": {"equals": 1}}}, ["attributes"]),
        ({"attributes": {"plan": {"equals": {"nested": 1}}}}, ["attributes", "plan", "equals"]),
        ({"platform": "symbian"}, ["platform"]),
        ({"locale": "not a locale"}, ["locale"]),
        ({"last_seen_within_days": 0}, ["last_seen_within_days"]),
        ({"last_seen_within_days": "7"}, ["last_seen_within_days"]),
        ({"app_id": "not-a-uuid"}, ["app_id"]),
        ({"app_id": "0b3a4f1e-2a9c-4a8e-9a55-1f5f0a3c9d77"}, ["app_id"]),
        ({"tags": {"any": ["a\u0000b"]}}, []),
    ],
)
def test_filter_schema_errors_are_400_with_details(owner, crowd, filter_, path):
    for response in (
        owner.post("/api/v1/segments", {"name": "Bad", "filter": filter_}),
        owner.post("/api/v1/segments/preview", {"filter": filter_}),
    ):
        error = assert_error(response, 400, "validation_error")
        node = error["details"]["filter"]
        for part in path:
            assert isinstance(node, dict) and part in node, (path, error["details"])
            node = node[part]
        assert node and all(
            isinstance(message, str)
            for message in (
                node if isinstance(node, list) else functools.reduce(operator.iadd, node.values(), [])
            )
        ), error


def test_filter_must_be_an_object(owner):
    assert_error(owner.post("/api/v1/segments", {"name": "x", "filter": ["tags"]}), 400, "validation_error")
    assert_error(owner.post("/api/v1/segments", {"name": "x"}), 400, "validation_error")


def test_segment_crud_count_and_preview(owner, crowd):
    filter_ = {"tags": {"any": ["vip"]}, "attributes": {"plan": {"equals": "pro"}}}
    r = owner.post("/api/v1/segments/", {"name": "VIP pros", "description": "paying VIPs", "filter": filter_})
    assert r.status_code == 201, r.content
    segment = r.json()
    assert segment["filter"] == filter_ and segment["description"] == "paying VIPs"
    assert owner.get(f"/api/v1/segments/{segment['id']}/count").json() == {"count": 2}
    assert_error(owner.post("/api/v1/segments", {"name": "vip PROS", "filter": {}}), 400, "validation_error")
    r = owner.patch(f"/api/v1/segments/{segment['id']}", {"filter": {"tags": {"all": ["vip", "de"]}}})
    assert r.status_code == 200 and r.json()["name"] == "VIP pros"
    assert owner.get(f"/api/v1/segments/{segment['id']}/count").json() == {"count": 1}
    assert [s["id"] for s in owner.get("/api/v1/segments").json()["results"]] == [segment["id"]]

    preview = owner.post("/api/v1/segments/preview", {"filter": {"tags": {"any": ["de"]}}, "sample_size": 1})
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["count"] == 2 and len(body["sample"]) == 1
    assert body["sample"][0]["id"] in {str(crowd["ada"].pk), str(crowd["ben"].pk)}
    assert "endpoint" not in preview.content.decode() and "p256dh" not in preview.content.decode()

    assert owner.delete(f"/api/v1/segments/{segment['id']}").status_code == 204
    assert_error(owner.get(f"/api/v1/segments/{segment['id']}/count"), 404, "not_found")


def test_segment_roles_and_api_keys(api, ws_a, crowd, member_with_role, api_key_for):
    viewer = api(user=member_with_role(Role.VIEWER), workspace=ws_a)
    assert_error(viewer.post("/api/v1/segments", {"name": "x", "filter": {}}), 403, "permission_denied")
    assert viewer.post("/api/v1/segments/preview", {"filter": {}}).json()["count"] == 4
    member = api(user=member_with_role(Role.MEMBER), workspace=ws_a)
    segment = member.post("/api/v1/segments", {"name": "All", "filter": {}}).json()
    assert viewer.get(f"/api/v1/segments/{segment['id']}/count").json() == {"count": 4}
    reader = api(api_key=api_key_for(ws_a, scopes=["read"], name="r"))
    assert reader.get(f"/api/v1/segments/{segment['id']}/count").json() == {"count": 4}
    assert reader.post("/api/v1/segments/preview", {"filter": {"platform": "ios"}}).json()["count"] == 1
    assert_error(reader.post("/api/v1/segments", {"name": "y", "filter": {}}), 403, "insufficient_scope")
    writer = api(api_key=api_key_for(ws_a, scopes=["subscribers:write"], name="w"))
    assert writer.post("/api/v1/segments", {"name": "y", "filter": {}}).status_code == 201
