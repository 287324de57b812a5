"""A workspace request switches the connection's schema once: one ``SET search_path``, not one per query.

django-tenants re-sends the search path before every query unless ``TENANT_LIMIT_SET_CALLS`` is on;
each switch is a round trip. These tests fail if the setting is dropped or if our routing starts
switching schemas more than once per request.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def _sets(queries) -> int:
    return sum(q["sql"].lstrip().upper().startswith("SET SEARCH_PATH") for q in queries)


@pytest.mark.parametrize(
    "path", ["/api/v1/api-keys/", "/api/v1/campaigns/", "/api/v1/apps/", "/api/v1/subscribers/"]
)
def test_a_jwt_workspace_get_costs_one_set_search_path(api, alice, ws_a, path):
    client = api(user=alice, workspace=ws_a)
    client.get(path)  # warm caches (routing map, content types)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content
    assert len(ctx.captured_queries) > 2  # the request did real work in the schema…
    assert _sets(ctx.captured_queries) == 1  # …with one switch


def test_an_api_key_request_costs_one_set_search_path(api, ws_a, api_key_for):
    client = api(api_key=api_key_for(ws_a, scopes=["read"]))
    client.get("/api/v1/campaigns/")
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/api/v1/campaigns/")
    assert response.status_code == 200, response.content
    assert _sets(ctx.captured_queries) == 1


def test_alternating_workspaces_switch_once_each(api, alice, ws_a, charlie, ws_b):
    a, b = api(user=alice, workspace=ws_a), api(user=charlie, workspace=ws_b)
    a.get("/api/v1/campaigns/")
    b.get("/api/v1/campaigns/")
    for client in (a, b, a, b):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/campaigns/").status_code == 200
        assert _sets(ctx.captured_queries) == 1
