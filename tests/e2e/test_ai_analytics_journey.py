"""A marketer's day in the dashboard, in Chromium against the real API: the overview's figures and trend
chart, AI-written copy from an OpenAI-compatible model (tests/fakes/openai_fake.py, reached by the real
``openai`` client), activating one variant, and the campaign's analytics with its CSV download."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from analytics.models import SentTally
from campaigns.models import CampaignContent
from tests.conftest import token_for
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MODEL = "fake-gpt-mini"


@pytest.fixture
def fake_ai(openai_server, settings):
    # live_server runs in this process, so the settings fixture reaches the API it serves.
    openai_server.reset()
    settings.OPENAI_BASE_URL = openai_server.base_url
    settings.OPENAI_API_KEY = "sk-e2e-platform-0123456789abcdef"
    settings.OPENAI_MODEL = MODEL
    settings.PUSHPILOT_AI_TIMEOUT_SECONDS = 10
    return openai_server


def test_marketer_reads_the_overview_writes_copy_with_ai_and_opens_campaign_analytics(
    new_page, live_server, ws_a, alice, fake_ai, screenshot
):
    # A website and a draft campaign, through the API.
    auth = {"Authorization": f"Bearer {token_for(alice)}", "X-Workspace-ID": str(ws_a.pk)}
    app = requests.post(
        f"{live_server.url}/api/v1/apps/",
        json={"kind": "web_push", "name": "Shop website", "subject": "https://shop.example"},
        headers=auth,
        timeout=10,
    )
    assert app.status_code == 201, app.text
    created = requests.post(
        f"{live_server.url}/api/v1/campaigns/",
        json={
            "name": "Diwali Dhamaka",
            "description": "Festive sale on sweets and dry fruits.",
            "channel_type": "web_push",
            "schedule_type": "scheduled",
            "app_id": app.json()["id"],
            "default_language": "en-IN",
        },
        headers=auth,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]

    # Messages sent yesterday and today (workspace-local days), as the pipeline tallies them.
    zone = ZoneInfo(ws_a.timezone or "UTC")
    midnight = datetime.combine(timezone.now().astimezone(zone).date(), time(0), tzinfo=zone)
    with schema_context(ws_a.schema_name):
        SentTally.objects.create(bucket=midnight - timedelta(hours=12), count=17)
        SentTally.objects.create(bucket=midnight, count=42)

    # Signing in lands on the overview: the figures and the daily trend, drawn as bars.
    page = new_page()
    sign_in(page, "alice@example.com")
    expect(page).to_have_url(re.compile(r"/overview$"))
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stat-total-sent")).to_contain_text("59")
    expect(page.get_by_test_id("stat-today")).to_contain_text("42")
    expect(page.get_by_role("group", name="Connected apps")).to_contain_text("1")
    chart = page.get_by_test_id("trend-chart")
    expect(chart.locator("rect.chart-bar")).to_have_count(7)
    expect(chart.get_by_role("img")).to_have_attribute(
        "aria-label", re.compile(r"last 7 days .*: 59 in all, most on .* \(42\)")
    )
    bars = chart.locator("rect.chart-bar")
    assert float(bars.last.get_attribute("height")) > float(bars.nth(5).get_attribute("height")) > 0
    page.get_by_role("radio", name="30 days").check()
    expect(chart.locator("rect.chart-bar")).to_have_count(30)
    screenshot(page, "overview")

    # The campaign's contents: ask the model for two festive variants in Indian English. The provider is
    # busy at first (429 with Retry-After): the panel says so plainly, and the quota is not spent.
    fake_ai.reply_error(429, "Rate limit reached for requests", headers=[("Retry-After", "20")])
    fake_ai.reply_variants(
        [
            ("Diwali sweets are here!", "20% off on mithai all weekend. Light up your celebrations."),
            ("Light up your Diwali", "Sweets and dry fruits at 20% off till Sunday."),
        ],
        language="en-IN",
        usage=(321, 87),
        delay=1.5,  # the model "thinks": the panel shows that it is working
    )
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="Diwali Dhamaka").click()
    expect(page.get_by_role("heading", name="Diwali Dhamaka")).to_be_visible()
    contents = page.get_by_role("region", name="Contents")
    contents.get_by_role("button", name="Write with AI").click()
    panel = page.get_by_role("region", name="Write with AI")
    expect(panel.get_by_test_id("ai-quota")).to_contain_text("0 of 100 AI generations used this month")
    panel.get_by_label("What should the notifications say?").fill("Announce 20% off on sweets this weekend")
    panel.get_by_label("Tone").select_option("festive")
    expect(panel.get_by_label("Language")).to_have_value("en-IN")
    panel.get_by_label("Variants").select_option("2")
    panel.get_by_role("button", name="Generate").click()
    expect(panel.get_by_role("alert")).to_contain_text(
        "The AI provider is busy. It asked us to slow down: try again in 20 seconds."
    )
    expect(panel.get_by_test_id("ai-quota")).to_contain_text("0 of 100 AI generations used this month")
    panel.get_by_role("button", name="Generate").click()
    expect(panel.get_by_role("status").filter(has_text="Writing 2 variants")).to_be_visible()

    results = panel.get_by_role("region", name="Generated variants")
    expect(results.get_by_role("listitem")).to_have_count(2)
    expect(results.get_by_test_id("ai-usage")).to_contain_text(MODEL)
    expect(results.get_by_test_id("ai-usage")).to_contain_text("321 prompt + 87 completion = 408 tokens")
    expect(panel.get_by_test_id("ai-quota")).to_contain_text("1 of 100 AI generations used this month")
    first = results.get_by_role("listitem", name="Variant A")
    expect(first).to_contain_text("Diwali sweets are here!")
    expect(first).to_contain_text("Title 23 / 65")
    # Saved as inactive drafts: the contents table lists them already.
    table_row = contents.get_by_role("row", name=re.compile("Light up your Diwali"))
    expect(table_row).to_contain_text("AI")
    request = fake_ai.requests[-1]
    assert "Announce 20% off on sweets this weekend" in " ".join(request.user_messages)
    screenshot(page, "ai-variants")

    # Activate the first: only that one will be sent.
    first.get_by_role("button", name="Activate en-IN variant A").click()
    expect(first.get_by_role("status")).to_have_text("Active")
    expect(
        results.get_by_role("listitem", name="Variant B").get_by_role("button", name=re.compile("Activate"))
    ).to_be_visible()
    expect(contents.get_by_role("checkbox", name="Active: en-IN variant A")).to_be_checked()
    with schema_context(ws_a.schema_name):
        drafts = {c.title: c for c in CampaignContent.objects.filter(campaign_id=campaign_id)}
    assert drafts["Diwali sweets are here!"].is_active is True
    assert drafts["Light up your Diwali"].is_active is False
    assert {c.generated_by for c in drafts.values()} == {"ai"}

    # The campaign's analytics: nothing sent yet, said plainly; the series is drawn; the CSV downloads.
    page.get_by_role("link", name="Analytics", exact=True).click()
    expect(page.get_by_role("heading", name="Analytics: Diwali Dhamaka")).to_be_visible()
    expect(page.get_by_test_id("funnel-targeted")).to_contain_text("0")
    expect(page.get_by_test_id("ab-verdict")).to_contain_text("No A/B result yet")
    series = page.get_by_test_id("campaign-series")
    expect(series.locator("path")).to_have_count(4)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"campaign-{campaign_id}.csv"
    with open(download.path(), encoding="utf-8") as handle:
        assert handle.readline().startswith("section,key,targeted,sent")
    screenshot(page, "campaign-analytics")

    # Settings → AI: the workspace brings its own key; it is stored encrypted and shown masked only.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    ai = page.get_by_role("region", name="AI", exact=True)
    expect(ai.get_by_test_id("ai-configured")).to_contain_text("AI copy is available")
    expect(ai.get_by_test_id("ai-key-state")).to_contain_text("No key stored")
    ai.get_by_label("Brand voice").fill("Warm, festive, short sentences.")
    ai.get_by_label("API key", exact=True).fill("sk-e2e-workspace-key-9876")
    ai.get_by_role("button", name="Save AI settings").click()
    expect(ai.get_by_role("status").filter(has_text="Saved the AI settings.")).to_be_visible()
    expect(ai.get_by_test_id("ai-key-state")).to_contain_text("key set ••••9876")
    expect(ai.get_by_label("Brand voice")).to_have_value("Warm, festive, short sentences.")
    assert "sk-e2e-workspace-key-9876" not in page.content()
    screenshot(page, "settings-ai")
