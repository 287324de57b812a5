"""What a marketer does in the dashboard, end to end in Chromium against the real API: connect a website,
write a campaign, preview a recurring schedule drawn across a DST change, and schedule it."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from campaigns.models import Campaign, CampaignStatus
from integrations.models import App
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def next_eu_dst_change(today: date) -> date:
    """The next last-Sunday-of-March/October at least two weeks away (Europe/Paris changes offset then)."""
    candidates = [last_sunday(y, m) for y in (today.year, today.year + 1) for m in (3, 10)]
    return min(d for d in candidates if d >= today + timedelta(days=14))


def test_marketer_connects_a_site_writes_a_campaign_and_schedules_it_weekly(
    new_page, ws_a, alice, screenshot
):
    page = new_page()
    sign_in(page, "alice@example.com")
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")

    # Connect a website: we generate its VAPID keys; the public one and the SDK key come with copy buttons.
    nav.get_by_role("link", name="Apps").click()
    expect(page.get_by_role("heading", name="Apps", exact=True)).to_be_visible()
    page.get_by_label("Site name").fill("Shop website")
    page.get_by_label("VAPID subject").fill("https://shop.example")
    page.get_by_role("button", name="Connect website").click()
    card = page.get_by_role("region", name="Shop website")
    expect(card).to_be_visible()
    with schema_context(ws_a.schema_name):
        app = App.objects.get(name="Shop website")
    expect(card.get_by_label("VAPID public key of Shop website")).to_have_value(app.vapid_public_key)
    expect(card.get_by_label("SDK key of Shop website")).to_have_value(app.sdk_key)
    card.get_by_role("button", name="Copy VAPID key").click()
    expect(card.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == app.vapid_public_key
    screenshot(page, "apps")

    # A new recurring web push campaign through that site.
    nav.get_by_role("link", name="Campaigns").click()
    expect(page.get_by_text("No campaigns yet")).to_be_visible()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Campaign name").fill("Weekly digest")
    expect(page.get_by_label("Channel")).to_have_value("web_push")
    expect(page.get_by_label("App", exact=True)).to_have_value(str(app.pk))
    page.get_by_label("Timezone").fill("Europe/Paris")
    page.get_by_label("Schedule type").select_option("recurring")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name="Weekly digest")).to_be_visible()
    with schema_context(ws_a.schema_name):
        campaign = Campaign.objects.get(name="Weekly digest")
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign.pk}$"))
    assert (campaign.channel_type, campaign.schedule_type, campaign.timezone) == (
        "web_push",
        "recurring",
        "Europe/Paris",
    )

    # Its copy, with the title counted against the 65-character limit.
    contents = page.get_by_role("region", name="Contents")
    contents.get_by_role("button", name="Add content").click()
    form = page.get_by_role("form", name="New content")
    form.get_by_label("Title").fill("Your weekly digest")
    expect(form.get_by_test_id("title-counter")).to_have_text("18 / 65")
    form.get_by_label("Body").fill('Five stories picked for you, {{ first_name | default: "friend" }}.')
    form.get_by_role("button", name="Add content").click()
    expect(contents.get_by_role("row", name=re.compile("Your weekly digest"))).to_be_visible()
    with schema_context(ws_a.schema_name):
        assert campaign.contents.get().title == "Your weekly digest"

    # Monday and Friday at 09:00 from a week before a DST change: the preview draws the occurrences, all at
    # 09:00 local time, and marks the offset change.
    dst = next_eu_dst_change(date.today())
    first_monday = dst - timedelta(days=6)
    schedule = page.get_by_role("region", name="Schedule", exact=True)
    expect(schedule.get_by_role("radio", name="Recurring")).to_be_checked()
    schedule.get_by_label("First send (local time)").fill(f"{first_monday.isoformat()}T09:00")
    schedule.get_by_label("Frequency").select_option("WEEKLY")
    schedule.get_by_role("checkbox", name="Friday").check()
    expect(schedule.get_by_label("Rule (RRULE)")).to_have_value("FREQ=WEEKLY;BYDAY=MO,FR")
    preview = schedule.get_by_test_id("schedule-preview")
    occurrences = preview.get_by_test_id("occurrence")
    expect(occurrences).to_have_count(10)
    expect(occurrences.first).to_have_text("09:00")
    expect(occurrences.last).to_have_text("09:00")
    expect(preview.get_by_role("img")).to_have_attribute(
        "aria-label", re.compile(r"10 occurrences in Europe/Paris.*1 UTC offset change")
    )
    expect(preview.get_by_text(re.compile(r"UTC\+0[12]:00 → UTC\+0[12]:00"))).to_be_visible()
    expect(schedule.get_by_text("✓ Schedulable on your plan.")).to_be_visible()
    screenshot(page, "campaign-schedule-preview")

    # A rule that fires too often is computed but not schedulable; the API's reason is shown.
    schedule.get_by_label("Rule (RRULE)").fill("FREQ=MINUTELY;INTERVAL=5")
    expect(schedule.get_by_text(re.compile(r"Not schedulable: .*every 5 min"))).to_be_visible()
    schedule.get_by_role("button", name="Schedule", exact=True).click()
    expect(schedule.get_by_role("alert")).to_contain_text("every 5 min")
    with schema_context(ws_a.schema_name):
        campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT

    # Back to the weekly rule, typed as text: the builder follows, and scheduling succeeds.
    schedule.get_by_label("Rule (RRULE)").fill("FREQ=WEEKLY;BYDAY=MO,FR")
    expect(schedule.get_by_role("checkbox", name="Friday")).to_be_checked()
    expect(occurrences).to_have_count(10)
    schedule.get_by_role("button", name="Schedule", exact=True).click()
    expect(schedule.get_by_role("status").filter(has_text="Scheduled. Next run:")).to_contain_text(
        f"{first_monday.isoformat()} 09:00 (Europe/Paris)"
    )
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    with schema_context(ws_a.schema_name):
        campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    assert campaign.recurrence_rule == "FREQ=WEEKLY;BYDAY=MO,FR"
    assert campaign.scheduled_local == f"{first_monday.isoformat()}T09:00:00"

    # The list shows it scheduled.
    nav.get_by_role("link", name="Campaigns").click()
    row = page.get_by_role("row", name=re.compile("Weekly digest"))
    expect(row).to_contain_text("scheduled")
    expect(row).to_contain_text("Recurring")
