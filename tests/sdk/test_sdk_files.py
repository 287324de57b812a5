"""The SDK files are served by Django under /sdk/, as a customer's page and a service worker need them."""

from __future__ import annotations

from pathlib import Path

import pytest

SDK_DIR = Path(__file__).resolve().parents[2] / "frontend" / "sdk"


@pytest.mark.parametrize("name", ["pushpilot-sdk.js", "pushpilot-sw.js"])
def test_sdk_files_are_served_as_javascript_with_an_etag(client, name):
    response = client.get(f"/sdk/{name}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response.content == (SDK_DIR / name).read_bytes()
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["ETag"].startswith('"')

    revalidated = client.get(f"/sdk/{name}", HTTP_IF_NONE_MATCH=response["ETag"])
    assert revalidated.status_code == 304
    assert client.head(f"/sdk/{name}").status_code == 200


def test_service_worker_may_control_the_whole_origin_and_is_always_revalidated(client):
    response = client.get("/sdk/pushpilot-sw.js")

    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]


def test_page_script_is_cacheable_and_has_no_service_worker_header(client):
    response = client.get("/sdk/pushpilot-sdk.js")

    assert "Service-Worker-Allowed" not in response
    assert "public" in response["Cache-Control"]
    assert "max-age=600" in response["Cache-Control"]


@pytest.mark.parametrize("path", ["/sdk/pushpilot-other.js", "/sdk/pushpilot-sdk.js/", "/sdk/README.md"])
def test_other_paths_under_sdk_are_a_json_404(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"


def test_writing_to_an_sdk_file_is_a_json_405(client):
    response = client.post("/sdk/pushpilot-sdk.js", data={})

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
