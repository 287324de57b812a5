"""Scheduling campaigns: POST /campaigns/{id}/schedule, cancel/pause/resume, the preview endpoints,
plan limits, and the pipeline's entry points (next_occurrence, the _on_scheduled hook)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns import scheduling, services
from campaigns.models import Campaign
from tenants.models import Role
from tests.campaigns.conftest import assert_error, future_local

pytestmark = pytest.mark.django_db


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- one-off ----------------------------------------------------------------------------------------------------
def test_scheduled_at_without_offset_is_wall_clock_in_the_timezone(alice_api, make_campaign):
    campaign = make_campaign()
    local = future_local(30, hour=9)
    response = alice_api.post(
        f"/api/v1/campaigns/{campaign['id']}/schedule",
        {"scheduled_at": local, "timezone": "America/New_York"},
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "scheduled" and data["timezone"] == "America/New_York"
    assert data["next_run_at"] == data["scheduled_at"]
    assert data["next_run_at"].startswith(local)  # 09:00 in New York, shown with New York's offset
    assert _parse(data["next_run_at"]).utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))


def test_scheduled_at_with_offset_is_an_instant(alice_api, make_campaign):
    campaign = make_campaign()
    instant = (timezone.now() + timedelta(days=5)).replace(microsecond=0).astimezone(UTC)
    data = alice_api.post(
        f"/api/v1/campaigns/{campaign['id']}/schedule",
        {"scheduled_at": instant.isoformat().replace("+00:00", "Z"), "timezone": "Asia/Kolkata"},
    ).json()
    assert _parse(data["next_run_at"]) == instant
    assert data["next_run_at"].endswith("+05:30")


def test_rescheduling_a_scheduled_campaign_moves_its_run(alice_api, make_campaign):
    campaign = make_campaign()
    url = f"/api/v1/campaigns/{campaign['id']}/schedule"
    first = alice_api.post(url, {"scheduled_at": future_local(5)}).json()
    second = alice_api.post(url, {"scheduled_at": future_local(6)}).json()
    assert second["status"] == "scheduled" and second["next_run_at"] != first["next_run_at"]


@pytest.mark.parametrize(
    ("when", "code"),
    [
        (lambda: (timezone.now() - timedelta(minutes=1)).isoformat(), "schedule_in_past"),
        (lambda: "2001-01-01T09:00:00", "schedule_in_past"),
        (lambda: (timezone.now() + timedelta(days=367)).isoformat(), "schedule_too_far"),
        (lambda: "next friday", "invalid_datetime"),
        (lambda: "2030-02-30T09:00:00", "invalid_datetime"),
    ],
)
def test_bad_one_off_times_are_refused(alice_api, make_campaign, when, code):
    campaign = make_campaign()
    error = assert_error(
        alice_api.post(f"/api/v1/campaigns/{campaign['id']}/schedule", {"scheduled_at": when()}), 400, code
    )
    assert error["message"]
    assert alice_api.get(f"/api/v1/campaigns/{campaign['id']}").json()["status"] == "draft"


def test_look_ahead_is_a_setting(settings, alice_api, make_campaign):
    settings.PUSHPILOT_MAX_SCHEDULE_AHEAD_DAYS = 7
    campaign = make_campaign()
    url = f"/api/v1/campaigns/{campaign['id']}/schedule"
    assert_error(alice_api.post(url, {"scheduled_at": future_local(9)}), 400, "schedule_too_far")
    assert alice_api.post(url, {"scheduled_at": future_local(5)}).status_code == 200


def test_schedule_needs_a_time_content_and_a_good_zone(alice_api, make_campaign):
    campaign = make_campaign()
    url = f"/api/v1/campaigns/{campaign['id']}/schedule"
    assert_error(alice_api.post(url, {}), 400, "scheduled_at_required")
    assert_error(
        alice_api.post(url, {"scheduled_at": future_local(), "timezone": "Nowhere/Land"}),
        400,
        "validation_error",
    )
    assert_error(
        alice_api.post(url, {"scheduled_at": future_local(), "recurrence_rule": "FREQ=DAILY"}),
        400,
        "schedule_type_mismatch",
    )
    assert_error(alice_api.post(url, {"scheduled_at": future_local(), "bogus": 1}), 400, "validation_error")
    empty = make_campaign(content=False)
    assert_error(
        alice_api.post(f"/api/v1/campaigns/{empty['id']}/schedule", {"scheduled_at": future_local()}),
        400,
        "campaign_has_no_content",
    )


def test_a_drafted_scheduled_at_is_used_when_the_body_has_none(alice_api, make_campaign):
    campaign = make_campaign(scheduled_at=future_local(4), timezone="Europe/Berlin")
    data = alice_api.post(f"/api/v1/campaigns/{campaign['id']}/schedule", {}).json()
    assert data["status"] == "scheduled" and data["next_run_at"].startswith(future_local(4))


# -- send now -----------------------------------------------------------------------------------------------------
def test_schedule_on_a_send_now_campaign_sends_at_once(alice_api, ws_a, make_campaign):
    campaign = make_campaign(schedule_type="send_now")
    before = timezone.now()
    response = alice_api.post(f"/api/v1/campaigns/{campaign['id']}/schedule", {})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "running"
    assert before - timedelta(seconds=1) <= _parse(data["next_run_at"]) <= timezone.now()
    with schema_context(ws_a.schema_name):
        assert Campaign.objects.get(pk=campaign["id"]).next_run_at is not None
    assert_error(
        alice_api.post(f"/api/v1/campaigns/{campaign['id']}/schedule", {}), 409, "invalid_transition"
    )
    other = make_campaign(schedule_type="send_now")
    assert_error(
        alice_api.post(f"/api/v1/campaigns/{other['id']}/schedule", {"scheduled_at": future_local()}),
        400,
        "schedule_type_mismatch",
    )


# -- recurring -------------------------------------------------------------------------------------------------------
def test_recurring_schedule_stores_the_rule_and_first_run(alice_api, make_campaign):
    campaign = make_campaign(schedule_type="recurring")
    start = future_local(3, hour=9)
    data = alice_api.post(
        f"/api/v1/campaigns/{campaign['id']}/schedule",
        {
            "scheduled_at": start,
            "timezone": "Europe/Berlin",
            "recurrence_rule": "FREQ=DAILY;BYHOUR=9,18;BYMINUTE=0",
        },
    ).json()
    assert data["status"] == "scheduled"
    assert data["recurrence_rule"] == "FREQ=DAILY;BYHOUR=9,18;BYMINUTE=0"
    assert data["next_run_at"].startswith(start)


def test_recurring_needs_a_rule(alice_api, make_campaign):
    campaign = make_campaign(schedule_type="recurring")
    assert_error(
        alice_api.post(f"/api/v1/campaigns/{campaign['id']}/schedule", {"scheduled_at": future_local()}),
        400,
        "recurrence_rule_required",
    )


@pytest.mark.parametrize(
    ("rule", "part"),
    [
        ("FREQ=DAILY;BYHOUR=25", "BYHOUR"),
        ("FREQ=WEEKLY;BYDAY=1MO", "BYDAY"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20300101T000000Z", "UNTIL"),
        ("FREQ=DAILY;EVERY=2", "EVERY"),
        ("RRULE:FREQ=DAILY\nRDATE:20300101T090000", "RDATE"),
    ],
)
def test_bad_rules_are_400_naming_the_problem(alice_api, make_campaign, rule, part):
    campaign = make_campaign(schedule_type="recurring")
    error = assert_error(
        alice_api.post(
            f"/api/v1/campaigns/{campaign['id']}/schedule",
            {"scheduled_at": future_local(), "recurrence_rule": rule},
        ),
        400,
        "invalid_rrule",
    )
    assert error["details"]["part"] == part and part in error["message"]


def test_recurring_in_the_past_or_never_firing_is_refused(alice_api, make_campaign):
    campaign = make_campaign(schedule_type="recurring")
    url = f"/api/v1/campaigns/{campaign['id']}/schedule"
    assert_error(
        alice_api.post(url, {"scheduled_at": "2020-01-06T09:00:00", "recurrence_rule": "FREQ=WEEKLY"}),
        400,
        "schedule_in_past",
    )
    assert_error(
        alice_api.post(
            url, {"scheduled_at": future_local(), "recurrence_rule": "FREQ=DAILY;UNTIL=20200101T000000Z"}
        ),
        400,
        "schedule_no_occurrence",
    )
    assert_error(
        alice_api.post(
            url, {"scheduled_at": future_local(), "recurrence_rule": "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30"}
        ),
        400,
        "schedule_no_occurrence",
    )
    far = (timezone.now() + timedelta(days=400)).strftime("%Y-%m-%dT09:00:00")
    assert_error(
        alice_api.post(url, {"scheduled_at": far, "recurrence_rule": "FREQ=DAILY"}), 400, "schedule_too_far"
    )


PLAN_MATRIX = [
    ("free", "FREQ=MINUTELY;INTERVAL=15", True),
    ("free", "FREQ=MINUTELY;INTERVAL=10", False),
    ("pro", "FREQ=MINUTELY;INTERVAL=5", False),
    ("enterprise", "FREQ=MINUTELY;INTERVAL=5", True),
    ("enterprise", "FREQ=MINUTELY;INTERVAL=4", False),
    ("free", "FREQ=HOURLY;BYMINUTE=0,5", False),
]


def test_recurrence_more_frequent_than_the_plan_is_400(alice_api, ws_a, make_campaign):
    for plan, rule, ok in PLAN_MATRIX:
        ws_a.plan_type = plan
        ws_a.save()
        campaign = make_campaign(schedule_type="recurring")
        response = alice_api.post(
            f"/api/v1/campaigns/{campaign['id']}/schedule",
            {"scheduled_at": future_local(), "recurrence_rule": rule},
        )
        if ok:
            assert response.status_code == 200, (plan, rule, response.content)
        else:
            error = assert_error(response, 400, "recurrence_too_frequent")
            assert error["details"]["plan"] == plan, (plan, rule)
            assert error["details"]["min_interval_minutes"] == (5 if plan == "enterprise" else 15)


# -- the pipeline's entry points, with a fixed clock ------------------------------------------------------------
@pytest.fixture
def draft(ws_a, web_app):
    from campaigns.models import CampaignContent

    def _make(**fields):
        with schema_context(ws_a.schema_name):
            values = {
                "name": "x",
                "channel_type": "web_push",
                "app": web_app,
                "timezone": "America/New_York",
                "schedule_type": "recurring",
                **fields,
            }
            campaign = Campaign.objects.create(**values)
            CampaignContent.objects.create(campaign=campaign, title="Hi", body="There")
            return campaign

    return _make


def _chain(campaign, first, count):
    runs = [first]
    while len(runs) < count:
        nxt = scheduling.next_occurrence(campaign, runs[-1])
        if nxt is None:
            break
        runs.append(nxt)
    return [r.astimezone(scheduling.get_zone(campaign.timezone)).isoformat() for r in runs]


def test_recurring_campaign_keeps_wall_clock_across_dst(ws_a, alice, draft):
    now = datetime(2025, 3, 1, tzinfo=UTC)
    with schema_context(ws_a.schema_name):
        campaign = services.campaign_schedule(
            campaign=draft(),
            workspace=ws_a,
            actor=alice,
            at="2025-03-07T09:00:00",
            rule="FREQ=DAILY;COUNT=5",
            now=now,
        )
        assert campaign.status == "scheduled"
        assert campaign.next_run_at == datetime(2025, 3, 7, 14, 0, tzinfo=UTC)
        runs = _chain(campaign, campaign.next_run_at, 10)
    assert runs == [
        "2025-03-07T09:00:00-05:00",
        "2025-03-08T09:00:00-05:00",
        "2025-03-09T09:00:00-04:00",
        "2025-03-10T09:00:00-04:00",
        "2025-03-11T09:00:00-04:00",
    ]  # COUNT=5 ends it


def test_gap_anchor_survives_storage(ws_a, alice, draft):
    # DTSTART 02:30 the day before spring-forward: the anchor is the wall clock, not the instant.
    now = datetime(2025, 3, 1, tzinfo=UTC)
    with schema_context(ws_a.schema_name):
        campaign = services.campaign_schedule(
            campaign=draft(),
            workspace=ws_a,
            actor=alice,
            at="2025-03-08T02:30:00",
            rule="FREQ=DAILY",
            now=now,
        )
        campaign = Campaign.objects.get(pk=campaign.pk)
        assert _chain(campaign, campaign.next_run_at, 3) == [
            "2025-03-08T02:30:00-05:00",
            "2025-03-09T03:30:00-04:00",
            "2025-03-10T02:30:00-04:00",
        ]


def test_until_ends_and_exdate_skips_in_the_chain(ws_a, alice, draft):
    now = datetime(2025, 10, 1, tzinfo=UTC)
    rule = "RRULE:FREQ=WEEKLY;BYDAY=SU;UNTIL=20251116T140000Z\nEXDATE;TZID=America/New_York:20251102T090000"
    with schema_context(ws_a.schema_name):
        campaign = services.campaign_schedule(
            campaign=draft(), workspace=ws_a, actor=alice, at="2025-10-26T09:00:00", rule=rule, now=now
        )
        assert _chain(campaign, campaign.next_run_at, 10) == [
            "2025-10-26T09:00:00-04:00",
            "2025-11-09T09:00:00-05:00",
            "2025-11-16T09:00:00-05:00",
        ]


def test_one_off_next_occurrence_is_its_time_then_none(ws_a, alice, draft):
    with schema_context(ws_a.schema_name):
        campaign = services.campaign_schedule(
            campaign=draft(schedule_type="scheduled"),
            workspace=ws_a,
            actor=alice,
            at="2025-06-01T10:00:00+02:00",
            now=datetime(2025, 5, 1, tzinfo=UTC),
        )
        at = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
        assert campaign.next_run_at == at
        assert scheduling.next_occurrence(campaign, at - timedelta(seconds=1)) == at
        assert scheduling.next_occurrence(campaign, at) is None


def test_resume_skips_runs_missed_while_paused_and_completes_an_exhausted_rule(ws_a, alice, draft):
    with schema_context(ws_a.schema_name):
        campaign = services.campaign_schedule(
            campaign=draft(),
            workspace=ws_a,
            actor=alice,
            at="2025-01-06T09:00:00",
            rule="FREQ=WEEKLY;COUNT=3",
            now=datetime(2025, 1, 1, tzinfo=UTC),
        )
        services.campaign_pause(campaign=campaign, actor=alice)
        resumed = services.campaign_resume(
            campaign=campaign, actor=alice, now=datetime(2025, 1, 10, tzinfo=UTC)
        )
        assert resumed.status == "scheduled"
        assert resumed.next_run_at == datetime(2025, 1, 13, 14, 0, tzinfo=UTC)
        services.campaign_pause(campaign=resumed, actor=alice)
        done = services.campaign_resume(campaign=resumed, actor=alice, now=datetime(2025, 2, 1, tzinfo=UTC))
        assert done.status == "completed" and done.next_run_at is None


# -- preview endpoints ----------------------------------------------------------------------------------------------
def test_campaign_preview_lists_the_next_runs_in_its_zone(alice_api, make_campaign):
    campaign = make_campaign(schedule_type="recurring")
    url = f"/api/v1/campaigns/{campaign['id']}"
    alice_api.post(
        url + "/schedule",
        {
            "scheduled_at": future_local(2, hour=9),
            "timezone": "Asia/Tokyo",
            "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO,TH",
        },
    )
    data = alice_api.get(url + "/schedule/preview", {"count": 5}).json()
    assert len(data["occurrences"]) == 5 and data["timezone"] == "Asia/Tokyo"
    assert all(o.endswith("T09:00:00+09:00") for o in data["occurrences"])
    assert all(_parse(o).weekday() in (0, 3) for o in data["occurrences"])
    assert data["schedulable"] is True
    assert_error(alice_api.get(url + "/schedule/preview", {"count": 101}), 400, "validation_error")
    assert_error(alice_api.get(url + "/schedule/preview", {"count": 0}), 400, "validation_error")
    assert_error(alice_api.get(url + "/schedule/preview", {"bogus": 1}), 400, "validation_error")


def test_campaign_preview_of_one_off_and_unscheduled(alice_api, make_campaign):
    one_off = make_campaign()
    url = f"/api/v1/campaigns/{one_off['id']}"
    assert alice_api.get(url + "/schedule/preview").json()["schedulable"] is False
    alice_api.post(url + "/schedule", {"scheduled_at": future_local(3), "timezone": "UTC"})
    assert alice_api.get(url + "/schedule/preview").json()["occurrences"] == [f"{future_local(3)}+00:00"]


def test_preview_new_york_dst_from_a_past_dtstart(alice_api):
    response = alice_api.post(
        "/api/v1/schedule/preview",
        {"rule": "FREQ=DAILY", "dtstart": "2025-03-07T09:00:00", "timezone": "America/New_York", "count": 4},
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "occurrences": [
            "2025-03-07T09:00:00-05:00",
            "2025-03-08T09:00:00-05:00",
            "2025-03-09T09:00:00-04:00",
            "2025-03-10T09:00:00-04:00",
        ],
        "timezone": "America/New_York",
        "dtstart": "2025-03-07T09:00:00-05:00",
        "rule": "FREQ=DAILY",
        "schedulable": True,
        "reason": None,
        "reason_code": None,
    }


def test_preview_berlin_fall_back_gap_and_exdates(alice_api):
    data = alice_api.post(
        "/api/v1/schedule/preview",
        {
            "rule": "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
            "dtstart": "2025-03-29T02:30:00",
            "timezone": "Europe/Berlin",
            "count": 3,
            "exdates": ["2025-03-31T02:30:00"],
        },
    ).json()
    assert data["occurrences"] == [
        "2025-03-29T02:30:00+01:00",
        "2025-03-30T03:30:00+02:00",
        "2025-04-01T02:30:00+02:00",
    ]
    data = alice_api.post(
        "/api/v1/schedule/preview",
        {"rule": "FREQ=WEEKLY", "dtstart": "2025-10-19T09:00:00", "timezone": "Europe/Berlin", "count": 2},
    ).json()
    assert data["occurrences"] == ["2025-10-19T09:00:00+02:00", "2025-10-26T09:00:00+01:00"]


def test_preview_reports_plan_limits_without_refusing(alice_api, ws_a):
    body = {
        "rule": "FREQ=MINUTELY;INTERVAL=5",
        "dtstart": "2020-01-01T00:00:00",
        "timezone": "UTC",
        "count": 3,
    }
    free = alice_api.post("/api/v1/schedule/preview", body).json()
    assert free["occurrences"] == [
        "2020-01-01T00:00:00+00:00",
        "2020-01-01T00:05:00+00:00",
        "2020-01-01T00:10:00+00:00",
    ]
    assert free["schedulable"] is False and free["reason_code"] == "recurrence_too_frequent"
    assert "15 min" in free["reason"]
    ws_a.plan_type = "enterprise"
    ws_a.save()
    assert alice_api.post("/api/v1/schedule/preview", body).json()["schedulable"] is True


def test_preview_accepts_rfc5545_lines_and_defaults(alice_api, ws_a):
    ws_a.timezone = "Asia/Kolkata"
    ws_a.save()
    # 02:00 is in the gap (= 03:00 EDT), so the generated 03:00 is the same instant and fires once.
    lines = alice_api.post(
        "/api/v1/schedule/preview",
        {"rule": "DTSTART;TZID=America/New_York:20250309T010000\nRRULE:FREQ=HOURLY;COUNT=4"},
    ).json()
    assert lines["occurrences"] == [
        "2025-03-09T01:00:00-05:00",
        "2025-03-09T03:00:00-04:00",
        "2025-03-09T04:00:00-04:00",
    ]
    default_zone = alice_api.post(
        "/api/v1/schedule/preview", {"rule": "FREQ=DAILY;COUNT=1", "dtstart": "2025-01-01T09:00:00"}
    ).json()
    assert default_zone["occurrences"] == ["2025-01-01T09:00:00+05:30"]


BAD_PREVIEWS = [
    ({"rule": "FREQ=NEVER", "dtstart": "2025-01-01T09:00:00", "timezone": "UTC"}, "invalid_rrule"),
    ({"rule": "FREQ=DAILY", "timezone": "UTC"}, "invalid_rrule"),
    ({"rule": "FREQ=DAILY", "dtstart": "soon", "timezone": "UTC"}, "invalid_datetime"),
    ({"rule": "FREQ=DAILY", "dtstart": "2025-01-01T09:00:00", "timezone": "Moon/Base"}, "validation_error"),
    ({"rule": "FREQ=DAILY", "dtstart": "2025-01-01T09:00:00", "count": 101}, "validation_error"),
    ({"rule": "FREQ=DAILY", "dtstart": "2025-01-01T09:00:00", "exdates": ["later"]}, "invalid_datetime"),
    ({"dtstart": "2025-01-01T09:00:00"}, "validation_error"),
    ({"rule": "FREQ=DAILY", "dtstart": "2025-01-01T09:00:00", "extra": True}, "validation_error"),
]


def test_preview_bad_input(alice_api):
    for body, code in BAD_PREVIEWS:
        error = assert_error(alice_api.post("/api/v1/schedule/preview", body), 400, code)
        assert error["details"], (body, error)


def test_preview_is_open_to_viewers_and_read_keys(api, ws_a, member_with_role, api_key_for):
    body = {"rule": "FREQ=DAILY", "dtstart": "2025-01-01T09:00:00", "timezone": "UTC", "count": 1}
    viewer = api(user=member_with_role(Role.VIEWER), workspace=ws_a)
    assert viewer.post("/api/v1/schedule/preview", body).status_code == 200
    assert (
        api(api_key=api_key_for(ws_a, scopes=["read"])).post("/api/v1/schedule/preview", body).status_code
        == 200
    )
    assert_error(api(api_key=api_key_for(ws_a, scopes=["send"])).post("/api/v1/schedule/preview", body), 403)


def test_scheduling_hands_the_run_to_the_pipeline_and_cancel_takes_it_back(alice_api, ws_a, make_campaign):
    from campaigns.models import JobStatus, ScheduledJob

    campaign = make_campaign()
    url = f"/api/v1/campaigns/{campaign['id']}"
    first = alice_api.post(url + "/schedule", {"scheduled_at": future_local(5)}).json()
    second = alice_api.post(url + "/schedule", {"scheduled_at": future_local(6)}).json()
    with schema_context(ws_a.schema_name):
        jobs = list(ScheduledJob.objects.filter(campaign_id=campaign["id"]).order_by("created_at"))
        assert [j.status for j in jobs] == [JobStatus.CANCELLED, JobStatus.PENDING]  # rescheduled
        assert jobs[1].run_at == _parse(second["next_run_at"]) != _parse(first["next_run_at"])
    ws_a.refresh_from_db()
    assert ws_a.next_run_at is not None and ws_a.next_run_at <= _parse(first["next_run_at"])
    alice_api.post(url + "/cancel")
    with schema_context(ws_a.schema_name):
        assert not ScheduledJob.objects.filter(campaign_id=campaign["id"], status=JobStatus.PENDING).exists()
