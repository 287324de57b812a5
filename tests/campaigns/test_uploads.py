"""POST /api/v1/uploads/: notification images, checked by their bytes, stored per workspace through
Django storages — local files by default, S3 (against moto's S3 server) when configured."""

from __future__ import annotations

import io
import os
import re

import pytest
from PIL import Image

from tenants.models import Role
from tests.campaigns.conftest import assert_error

pytestmark = pytest.mark.django_db


def image_bytes(fmt: str, size=(64, 32), noise: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 40, 90))
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def upload(client, data: bytes, name: str = "banner.png", field: str = "image"):
    file = io.BytesIO(data)
    file.name = name
    return client.post("/api/v1/uploads/", {field: file}, format="multipart")


@pytest.fixture
def local_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.MEDIA_URL = "/media/"
    return tmp_path


@pytest.mark.parametrize(
    ("fmt", "ext", "content_type"),
    [
        ("PNG", "png", "image/png"),
        ("JPEG", "jpg", "image/jpeg"),
        ("WEBP", "webp", "image/webp"),
        ("GIF", "gif", "image/gif"),
    ],
)
def test_upload_to_local_storage_and_serve_it(alice_api, ws_a, local_media, fmt, ext, content_type):
    data = image_bytes(fmt)
    # The declared name says nothing: the bytes decide the type.
    response = upload(alice_api, data, name="whatever.bin")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content_type"] == content_type and body["size"] == len(data)
    assert (body["width"], body["height"]) == (64, 32)
    assert re.fullmatch(
        rf"http://testserver/media/workspaces/{ws_a.pk}/images/[0-9a-f]{{32}}\.{ext}", body["url"]
    )
    assert (local_media / body["path"]).read_bytes() == data
    served = alice_api.client.get(body["url"].removeprefix("http://testserver"))
    assert served.status_code == 200 and served["Content-Type"] == content_type
    assert b"".join(served.streaming_content) == data
    assert served["X-Content-Type-Options"] == "nosniff"


def test_only_names_the_service_made_are_served(client, local_media):
    (local_media / "secret.txt").write_text("nope")
    for path in ("/media/secret.txt", "/media/../settings.py", "/media/workspaces/x/images/y.png"):
        assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"just some text, not an image", "fake.png"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "x.svg"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "truncated.png"),
        (image_bytes("BMP"), "bitmap.png"),
        (image_bytes("TIFF"), "photo.jpg"),
    ],
)
def test_files_that_are_not_allowed_images_are_refused(alice_api, local_media, data, name):
    error = assert_error(upload(alice_api, data, name=name), 400, "unsupported_image_type")
    assert "image" in error["details"]
    assert not any(local_media.rglob("*.*"))


def test_image_size_limit(settings, alice_api, local_media):
    settings.PUSHPILOT_UPLOAD_MAX_BYTES = 4096
    big = image_bytes("PNG", size=(128, 128), noise=True)
    assert len(big) > 4096
    assert_error(upload(alice_api, big), 413, "image_too_large")
    assert upload(alice_api, image_bytes("PNG")).status_code == 201


def test_a_body_over_one_mib_is_413(alice_api, local_media):
    assert_error(upload(alice_api, b"\x89PNG" + os.urandom(1024 * 1024 + 10)), 413)


def test_upload_needs_a_file(alice_api, local_media):
    assert_error(alice_api.post("/api/v1/uploads/", {}, format="multipart"), 400, "validation_error")
    assert_error(upload(alice_api, b"", name="empty.png"), 400, "validation_error")
    assert_error(upload(alice_api, image_bytes("PNG"), field="file"), 400, "validation_error")


def test_upload_roles(api, ws_a, member_with_role, api_key_for, local_media):
    viewer = api(user=member_with_role(Role.VIEWER), workspace=ws_a)
    assert_error(upload(viewer, image_bytes("PNG")), 403, "permission_denied")
    member = api(user=member_with_role(Role.MEMBER), workspace=ws_a)
    assert upload(member, image_bytes("PNG")).status_code == 201
    key = api(api_key=api_key_for(ws_a))
    assert_error(upload(key, image_bytes("PNG")), 403, "api_key_not_allowed")


def test_upload_to_s3_via_django_storages(alice_api, ws_a, s3_storage, s3_endpoint):
    data = image_bytes("JPEG")
    response = upload(alice_api, data, name="hero.jpeg")
    assert response.status_code == 201, response.content
    body = response.json()
    key = body["path"]
    assert re.fullmatch(rf"workspaces/{ws_a.pk}/images/[0-9a-f]{{32}}\.jpg", key)
    assert body["url"] == f"{s3_endpoint}/{s3_storage.bucket}/{key}"
    stored = s3_storage.get_object(Bucket=s3_storage.bucket, Key=key)
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "image/jpeg"
    listed = s3_storage.list_objects_v2(Bucket=s3_storage.bucket)["Contents"]
    assert [o["Key"] for o in listed] == [key]


def test_s3_uploads_of_two_workspaces_live_under_their_own_prefix(
    api, alice_api, charlie, ws_a, ws_b, s3_storage
):
    upload(alice_api, image_bytes("PNG"))
    upload(api(user=charlie, workspace=ws_b), image_bytes("GIF"))
    keys = sorted(o["Key"] for o in s3_storage.list_objects_v2(Bucket=s3_storage.bucket)["Contents"])
    assert [k.split("/")[1] for k in keys] == sorted([str(ws_a.pk), str(ws_b.pk)])
