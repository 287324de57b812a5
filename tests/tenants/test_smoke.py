import pytest

pytestmark = pytest.mark.django_db


def test_register_login_and_create_workspace(api):
    r = api().post(
        "/api/v1/auth/register",
        {"email": "new@example.com", "password": "Very-long-pass-1", "full_name": "New"},
    )
    assert r.status_code == 201, r.content
    assert set(r.json()) == {"user", "access", "refresh"}
    r = api().post("/api/v1/auth/login/", {"email": "new@example.com", "password": "Very-long-pass-1"})
    assert r.status_code == 200
    client = api()
    client.client.credentials(HTTP_AUTHORIZATION=f"Bearer {r.json()['access']}")
    r = client.post("/api/v1/workspaces/", {"name": "Alpha Foods"})
    assert r.status_code == 201, r.content
    assert r.json()["slug"] == "alpha-foods"
    r = client.get("/api/v1/api-keys", headers={"HTTP_X_WORKSPACE_ID": "alpha-foods"})
    assert r.status_code == 200, r.content
    assert r.json()["count"] == 0


def test_non_member_gets_404(api, ws_a, charlie):
    r = api(user=charlie, workspace=ws_a).get("/api/v1/api-keys")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
