"""`seed_demo` (run by `make run`): the demo workspace a marketer opens first — apps, subscribers,
segments, campaigns in every state and two weeks of history whose numbers add up — created once."""

from __future__ import annotations

import time
from collections import Counter
from io import StringIO

from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_tenants.utils import schema_context

from analytics.models import AnalyticsEvent, HourlyRollup, SentTally
from campaigns.models import Campaign, CampaignContent
from campaigns.pipeline_models import Delivery, Notification, ScheduledJob, SendingPolicy
from integrations.endpoints import is_allowed_push_endpoint
from integrations.models import App, Segment, Subscriber
from integrations.serializers import b64url_decode
from pushpilot import demo
from tenants.models import AuditLog, Membership, User, Workspace

OUTCOMES = ("sent", "failed", "invalid", "suppressed")


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def demo_workspace() -> Workspace:
    return Workspace.objects.get(slug=demo.DEMO_SLUG)


def demo_api(api):
    return api(user=User.objects.get(email=demo.DEMO_EMAIL), workspace=demo.DEMO_SLUG)


def row_counts() -> dict:
    """Every table the seed writes, public and tenant, with the rollup totals."""
    workspace = demo_workspace()
    counts = {
        "users": User.objects.filter(email=demo.DEMO_EMAIL).count(),
        "workspaces": Workspace.objects.filter(slug=demo.DEMO_SLUG).count(),
        "memberships": Membership.objects.filter(workspace=workspace).count(),
        "audit": AuditLog.objects.filter(workspace=workspace).count(),
    }
    with schema_context(workspace.schema_name):
        for model in (
            App,
            Subscriber,
            Segment,
            Campaign,
            CampaignContent,
            ScheduledJob,
            Notification,
            Delivery,
            AnalyticsEvent,
            SendingPolicy,
        ):
            counts[model.__name__] = model.objects.count()
        counts["rollup"] = HourlyRollup.objects.aggregate(n=Sum("count"))["n"]
        counts["tally"] = SentTally.objects.aggregate(n=Sum("count"))["n"]
        counts["subscriber_states"] = sorted(
            Counter(Subscriber.objects.values_list("status", flat=True)).items()
        )
    return counts


def results(response) -> list:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_seed_demo_creates_the_demo_once_and_a_second_run_changes_nothing(db):
    first = seed()
    assert "demo@pushpilot.local / pushpilot-demo" in first  # what make run prints (test_launcher)
    assert "demo data created" in first
    assert "nothing is sent" in first
    before = row_counts()
    assert before["Subscriber"] == demo.SUBSCRIBER_COUNT
    assert before["Delivery"] > 1000 and before["AnalyticsEvent"] > 1000

    started = time.monotonic()
    second = seed()
    elapsed = time.monotonic() - started

    assert "nothing to do" in second
    assert "demo@pushpilot.local / pushpilot-demo" in second
    assert row_counts() == before
    assert elapsed < 3, f"a repeated make run should not wait for the seed ({elapsed:.1f} s)"


def test_demo_leaves_a_workspace_that_already_has_its_own_apps_alone(db, api):
    from integrations import services

    account = demo.demo_account_ensure()
    with schema_context(account.workspace.schema_name):
        services.app_create(
            workspace=account.workspace, kind="web_push", name="Mine", subject="mailto:me@example.com"
        )
    assert "left alone" in seed()
    assert results(demo_api(api).get("/api/v1/campaigns/")) == []


def test_demo_fills_an_empty_workspace_left_by_an_older_seed_in_india_time(db):
    from tenants import services

    user = User.objects.create_user(demo.DEMO_EMAIL, demo.DEMO_PASSWORD)
    services.workspace_create(owner=user, name=demo.DEMO_NAME, slug=demo.DEMO_SLUG)  # UTC, no data
    assert "demo data created" in seed()
    workspace = demo_workspace()
    assert workspace.timezone == demo.DEMO_TIMEZONE
    with schema_context(workspace.schema_name):
        assert Subscriber.objects.count() == demo.SUBSCRIBER_COUNT
        assert set(Campaign.objects.values_list("timezone", flat=True)) == {demo.DEMO_TIMEZONE}


def test_demo_numbers_add_up_from_deliveries_to_summary_and_campaign_funnels(db, api):
    seed()
    client = demo_api(api)
    with schema_context(demo_workspace().schema_name):
        sent_deliveries = Delivery.objects.filter(status="sent").count()
        by_run = {
            run.pk: Counter(run.deliveries.values_list("status", flat=True))
            for run in Notification.objects.all()
        }
        run_counters = {
            run.pk: {name: getattr(run, name) for name in ("targeted", *OUTCOMES)}
            for run in Notification.objects.all()
        }

    # Each run's counters are its Delivery rows.
    assert len(by_run) >= 10
    for run_id, statuses in by_run.items():
        assert run_counters[run_id] == {
            "targeted": sum(statuses.values()),
            **{s: statuses[s] for s in OUTCOMES},
        }

    summary = client.get("/api/v1/analytics/summary")
    assert summary.status_code == 200, summary.content
    summary = summary.json()
    assert summary["total_notifications_sent"] == sent_deliveries > 0
    assert sum(day["sent"] for day in summary["trend_30d"]) == sent_deliveries
    assert sum(1 for day in summary["trend_30d"] if day["sent"]) >= 10  # a chart, not a spike
    assert summary["connected_applications_count"] == 1
    assert summary["active_campaign_count"] == 1

    campaigns = {c["name"]: c for c in results(client.get("/api/v1/campaigns/"))}
    assert Counter(c["status"] for c in campaigns.values()) == {
        "draft": 1,
        "scheduled": 1,
        "paused": 1,
        "completed": 2,
    }
    significant = []
    funnel: Counter = Counter()
    for campaign in (c for c in campaigns.values() if c["status"] == "completed"):
        stats = client.get(f"/api/v1/analytics/campaign/{campaign['id']}")
        assert stats.status_code == 200, stats.content
        stats = stats.json()
        assert stats["pending"] == 0
        assert stats["targeted"] == sum(stats[name] for name in OUTCOMES)
        assert 0 < stats["clicked"] <= stats["opened"] <= stats["delivered"] <= stats["sent"]
        assert stats["unsubscribed"] <= stats["delivered"]
        # The rollups (variant breakdown) hold the same outcomes as the runs' counters.
        for name in OUTCOMES:
            assert sum(v[name] for v in stats["breakdown"]["variant"]) == stats[name]
        assert sum(r["sent"] for r in stats["breakdown"]["run"]) == stats["sent"]
        assert {r["status"] for r in stats["breakdown"]["run"]} == {"sent"}
        assert {lang["language"] for lang in stats["breakdown"]["language"]} >= {"en", "hi"}
        funnel.update({name: stats[name] for name in (*OUTCOMES, "unsubscribed")})
        if stats["ab_test"]["significant"]:
            significant.append(stats)
    assert funnel["sent"] == sent_deliveries
    assert all(funnel[name] > 0 for name in (*OUTCOMES, "unsubscribed")), funnel  # every outcome shows

    assert len(significant) == 1
    ab = significant[0]["ab_test"]
    assert ab["winner"] == "B" and ab["p_value"] < 0.05
    variants = {v["variant"]: v for v in significant[0]["breakdown"]["variant"] if v["variant"]}
    assert set(variants) == {"A", "B"}
    assert variants["B"]["click_through_rate"] > variants["A"]["click_through_rate"]

    runs = client.get("/api/v1/notifications/", {"campaign": campaigns["Morning deals (2-week pilot)"]["id"]})
    assert runs.status_code == 200, runs.content
    assert runs.json()["count"] == 14


def test_demo_has_a_schedule_to_preview_and_lists_to_browse(db, api):
    seed()
    client = demo_api(api)

    campaigns = {c["name"]: c for c in results(client.get("/api/v1/campaigns/"))}
    weekly = campaigns["Weekly picks for you"]
    assert weekly["status"] == "scheduled" and weekly["recurrence_rule"].startswith("FREQ=WEEKLY")
    assert weekly["timezone"] == demo_workspace().timezone == demo.DEMO_TIMEZONE
    next_run = parse_datetime(weekly["next_run_at"])
    assert next_run > timezone.now()
    preview = client.get(f"/api/v1/campaigns/{weekly['id']}/schedule/preview", {"count": 3})
    assert preview.status_code == 200, preview.content
    occurrences = [parse_datetime(o) for o in preview.json()["occurrences"]]
    assert occurrences[0] == next_run and len(occurrences) == 3
    summary = client.get("/api/v1/analytics/summary").json()
    assert parse_datetime(summary["next_notification_time"]) == next_run
    # It never sends to the made-up endpoints: its segment is empty until a real browser is tagged.
    segment_id = weekly["audience"]["segment_id"]
    assert client.get(f"/api/v1/segments/{segment_id}/count").json()["count"] == 0

    draft = campaigns["Weekend mega sale"]
    contents = results(client.get(f"/api/v1/campaigns/{draft['id']}/contents/"))
    assert {(c["language"], c["variant"]) for c in contents} == {
        ("en", "A"),
        ("en", "B"),
        ("hi", "A"),
        ("hi", "B"),
    }
    assert campaigns["Cart reminder"]["status"] == "paused"

    apps = results(client.get("/api/v1/apps/"))
    assert [(a["name"], a["kind"]) for a in apps] == [("Demo website", "web_push")]
    assert len(results(client.get("/api/v1/segments/"))) == 3
    listed = client.get("/api/v1/subscribers/")
    assert listed.status_code == 200 and listed.json()["count"] > 0

    with schema_context(demo_workspace().schema_name):
        subscribers = list(Subscriber.objects.all())
    assert {s.locale for s in subscribers} == {"en-IN", "hi-IN", "en-US", "es-MX"}
    assert len({s.timezone for s in subscribers}) >= 5
    assert len({s.platform for s in subscribers}) >= 3
    assert {"vip", "newsletter", "cart-abandoner"} <= {t for s in subscribers for t in s.tags}
    assert all({"first_name", "plan"} <= set(s.attributes) for s in subscribers)
    seen_days = {(timezone.now() - s.last_seen_at).days for s in subscribers}
    assert min(seen_days) == 0 and max(seen_days) >= 20
    for subscriber in subscribers:
        assert is_allowed_push_endpoint(subscriber.endpoint)  # the default allowlist, no test override
        point = b64url_decode(subscriber.p256dh)
        assert len(point) == 65 and point[0] == 4
        assert len(b64url_decode(subscriber.auth)) == 16
