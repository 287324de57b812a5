"""Fixtures for the campaigns tests: connected apps in workspace A (and B), and helpers that create
campaigns through the API, the way a marketer or a developer does."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from tests.tenants.support import assert_error, base_schema_once, fast_tenancy  # noqa: F401 - autouse fixtures

__all__ = ["assert_error", "future_local"]


def make_app(workspace, kind: str, name: str | None = None):
    """A connected App row in ``workspace``'s schema (what integrations stores after connecting)."""
    from integrations.models import App

    fields = {
        "fcm": {
            "project_id": "demo-project",
            "service_account_encrypted": "ciphertext",
            "client_email": "push@demo-project.iam.gserviceaccount.com",
        },
        "web_push": {
            "vapid_public_key": "B" + "A" * 86,
            "vapid_private_key_encrypted": "ciphertext",
            "subject": "mailto:ops@example.com",
        },
    }[kind]
    with schema_context(workspace.schema_name):
        return App.objects.create(
            kind=kind, name=name or f"{kind} app", sdk_key=f"pk_{secrets.token_hex(12)}", **fields
        )


@pytest.fixture
def fcm_app(ws_a):
    return make_app(ws_a, "fcm")


@pytest.fixture
def web_app(ws_a):
    return make_app(ws_a, "web_push")


@pytest.fixture
def alice_api(api, alice, ws_a):
    return api(user=alice, workspace=ws_a)


@pytest.fixture
def bob_api(api, bob, ws_a):
    return api(user=bob, workspace=ws_a)


def future_local(days: int = 10, hour: int = 9) -> str:
    """A wall-clock time ``days`` ahead (no offset), at ``hour``:00."""
    moment = (timezone.now() + timedelta(days=days)).date()
    return datetime(moment.year, moment.month, moment.day, hour, 0).isoformat()


@pytest.fixture
def make_campaign(alice_api, web_app, fcm_app):
    """Create a campaign (and, unless ``content=False``, one content) through the API."""

    def _make(client=None, *, content: bool = True, **fields):
        client = client or alice_api
        body = {
            "name": "Weekend Blast",
            "channel_type": "web_push",
            "schedule_type": "scheduled",
            "app_id": str(web_app.pk if fields.get("channel_type", "web_push") == "web_push" else fcm_app.pk),
        }
        body.update(fields)
        response = client.post("/api/v1/campaigns/", body)
        assert response.status_code == 201, response.content
        campaign = response.json()
        if content:
            made = client.post(
                f"/api/v1/campaigns/{campaign['id']}/contents/",
                {"title": 'Hello {{ first_name|default:"there" }}', "body": "Big weekend deals."},
            )
            assert made.status_code == 201, made.content
        return campaign

    return _make


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on a loopback port: speaks the real S3 REST protocol to boto3."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    """The default storage switched to django-storages' S3 backend against the moto server, the way
    PUSHPILOT_S3_BUCKET configures it; yields a boto3 client to look at the bucket."""
    import boto3

    bucket = f"pushpilot-test-{secrets.token_hex(4)}"
    credentials = {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "region_name": "us-east-1",
    }
    client = boto3.client("s3", endpoint_url=s3_endpoint, **credentials)
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_endpoint,
                "access_key": "testing",
                "secret_key": "testing",
                "region_name": "us-east-1",
                "querystring_auth": False,
                "file_overwrite": False,
                "addressing_style": "path",
            },
        },
    }
    client.bucket = bucket
    return client
