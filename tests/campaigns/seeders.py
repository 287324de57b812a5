"""Row seeders for the URL-conf-driven isolation test (tests/tenants/test_isolation.py ``SEEDERS``):
model label -> function(workspace) creating one row of that model inside the workspace's schema.
Insertion order matters: a campaign before its content."""

from __future__ import annotations

from django_tenants.utils import schema_context


def seed_campaign(workspace) -> None:
    from campaigns.models import Campaign
    from tests.campaigns.conftest import make_app

    app = make_app(workspace, "web_push", name="isolation app")
    with schema_context(workspace.schema_name):
        Campaign.objects.create(
            name="isolation campaign",
            channel_type="web_push",
            app=app,
            timezone="UTC",
            schedule_type="scheduled",
            audience={"all": True},
        )


def seed_campaign_content(workspace) -> None:
    from campaigns.models import Campaign, CampaignContent

    with schema_context(workspace.schema_name):
        campaign = Campaign.objects.first()
        CampaignContent.objects.create(campaign=campaign, title="isolation title", body="isolation body")


def seed_template(workspace) -> None:
    from campaigns.models import Template

    with schema_context(workspace.schema_name):
        Template.objects.create(name="isolation template", title="isolation title", body="isolation body")


SEEDERS = {
    "campaigns.Campaign": seed_campaign,
    "campaigns.CampaignContent": seed_campaign_content,
    "campaigns.Template": seed_template,
}
