"""Helpers for the analytics tests (not collected)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from analytics.models import AnalyticsEvent, HourlyRollup
from campaigns import fanout
from integrations.models import App

EVENTS = "/sdk/v1/events"


def make_campaign(
    client, app, *, variants=(("A", 1, "Variant A"), ("B", 1, "Variant B")), languages=()
) -> dict:
    campaign = client.post(
        "/api/v1/campaigns/",
        {
            "name": "Weekend sale",
            "channel_type": "web_push",
            "schedule_type": "send_now",
            "app_id": str(app.pk),
        },
    )
    assert campaign.status_code == 201, campaign.content
    campaign = campaign.json()
    for variant, weight, title in variants:
        made = client.post(
            f"/api/v1/campaigns/{campaign['id']}/contents/",
            {"title": title, "body": "Same offer.", "variant": variant, "weight": weight},
        )
        assert made.status_code == 201, made.content
    for language, title in languages:
        made = client.post(
            f"/api/v1/campaigns/{campaign['id']}/contents/",
            {"title": title, "body": "Gleiches Angebot.", "language": language},
        )
        assert made.status_code == 201, made.content
    return campaign


def send_campaign(client, app, campaign: dict, pipeline, *, target=None) -> str:
    response = client.post(
        "/api/v1/notifications/send-now",
        {"app_id": str(app.pk), "campaign_id": campaign["id"], "target": target or {"all": True}},
    )
    assert response.status_code == 202, response.content
    pipeline.run()
    return response.json()["id"]


@dataclass
class Tokens:
    """Delivery tokens as they arrived on devices, by endpoint (what the service worker posts)."""

    by_endpoint: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_webpush(cls, fake_webpush, notification_id: str | None = None) -> Tokens:
        tokens = cls()
        for received in list(fake_webpush.received):
            pp = received.payload["pp"]
            if notification_id is None or pp["notification"] == str(notification_id):
                tokens.by_endpoint[received.endpoint] = pp["delivery"]
        return tokens

    def of(self, subscriber) -> str:
        return self.by_endpoint[subscriber.endpoint]


def post_events(app: App | str, events, *, body=None):
    """POST /sdk/v1/events the way the service worker does (no user, only the app's sdk_key)."""
    sdk_key = app if isinstance(app, str) else app.sdk_key
    return APIClient().post(
        EVENTS, {"events": events} if body is None else body, format="json", HTTP_X_SDK_KEY=sdk_key
    )


def token_for(workspace, delivery_id) -> str:
    return fanout.delivery_token_make(workspace_id=workspace.pk, delivery_id=delivery_id)


def rollup_totals(workspace, **filters) -> dict:
    """metric -> count from the hourly rollup."""
    with schema_context(workspace.schema_name):
        totals: dict[str, int] = {}
        for metric, count in HourlyRollup.objects.filter(**filters).values_list("metric", "count"):
            totals[metric] = totals.get(metric, 0) + count
        return totals


def counted_events(workspace, **filters) -> dict:
    """event type -> raw events counted (what the rollups must agree with)."""
    with schema_context(workspace.schema_name):
        totals: dict[str, int] = {}
        for kind in AnalyticsEvent.objects.filter(counted=True, **filters).values_list(
            "event_type", flat=True
        ):
            totals[kind] = totals.get(kind, 0) + 1
        return totals
