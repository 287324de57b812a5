"""GET /api/v1/analytics/campaign/{id} (and its CSV export) over a real run: numbers that add up,
rates from the same rows, breakdowns, the series, the A/B test, and who may read them."""

from __future__ import annotations

import csv
import io
import math

import pytest
from django_tenants.utils import schema_context

from analytics import selectors
from analytics.models import AnalyticsEvent
from integrations import services as integration_services
from integrations.models import Subscriber
from tenants.models import Role
from tests.analytics.support import (
    Tokens,
    counted_events,
    make_campaign,
    post_events,
    rollup_totals,
    send_campaign,
)
from tests.pipeline.support import web_subscribers
from tests.tenants.support import assert_error

pytestmark = pytest.mark.django_db

COUNTS = ("targeted", "sent", "failed", "invalid", "suppressed", "pending")
EVENT_COUNTS = ("delivered", "opened", "clicked", "unsubscribed")


@pytest.fixture
def sent_campaign(api, alice, ws_a, web_app, fake_webpush, pipeline, settings):
    """A two-variant campaign sent to 10 good browsers, 2 gone (410), 1 failing (500, one attempt)
    and 1 unsubscribed subscriber, named explicitly so it is targeted and suppressed."""
    settings.PUSHPILOT_SEND_MAX_ATTEMPTS = 1
    client = api(user=alice, workspace=ws_a)
    campaign = make_campaign(client, web_app)
    good = web_subscribers(ws_a, web_app, fake_webpush, 10, platform="web")
    gone = web_subscribers(ws_a, web_app, fake_webpush, 2, fault="410")
    broken = web_subscribers(ws_a, web_app, fake_webpush, 1, fault="500")
    [quit_] = web_subscribers(ws_a, web_app, fake_webpush, 1)
    with schema_context(ws_a.schema_name):
        integration_services.subscriber_unsubscribe(subscriber=quit_)
    everyone = [*good, *gone, *broken, quit_]
    run_id = send_campaign(
        client, web_app, campaign, pipeline, target={"subscriber_ids": [str(s.pk) for s in everyone]}
    )
    return {
        "client": client,
        "campaign": campaign,
        "run_id": run_id,
        "good": good,
        "tokens": Tokens.from_webpush(fake_webpush),
    }


def test_campaign_numbers_add_up_and_rates_come_from_the_same_rows(sent_campaign, ws_a, web_app):
    good, tokens = sent_campaign["good"], sent_campaign["tokens"]
    events = [{"delivery": tokens.of(s), "type": "delivered"} for s in good[:8]]
    events += [{"delivery": tokens.of(s), "type": "clicked"} for s in good[:3]]
    events += [{"delivery": tokens.of(good[3]), "type": "opened"}]
    # A click whose `delivered` never arrived still counts as delivered (and opened).
    events += [{"delivery": tokens.of(good[9]), "type": "clicked"}]
    events += [{"delivery": tokens.of(good[4]), "type": "unsubscribed", "metadata": {"os": "Linux"}}]
    response = post_events(web_app, events)
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == len(events) and response.json()["rejected"] == 0

    stats = sentinel = sent_campaign["client"].get(
        f"/api/v1/analytics/campaign/{sent_campaign['campaign']['id']}"
    )
    assert stats.status_code == 200, stats.content
    stats = stats.json()
    assert {k: stats[k] for k in COUNTS} == {
        "targeted": 14,
        "sent": 10,
        "failed": 1,
        "invalid": 2,
        "suppressed": 1,
        "pending": 0,
    }
    assert stats["targeted"] == stats["sent"] + stats["failed"] + stats["invalid"] + stats["suppressed"]
    assert {k: stats[k] for k in EVENT_COUNTS} == {
        "delivered": 9,
        "opened": 5,
        "clicked": 4,
        "unsubscribed": 1,
    }
    assert stats["delivered"] <= stats["sent"]
    assert stats["failed_pct"] == round(100 * 1 / 14, 2)
    assert stats["delivery_rate"] == 90.0
    assert stats["open_rate"] == round(100 * 5 / 9, 2)
    assert stats["click_through_rate"] == round(100 * 4 / 9, 2)

    # Every breakdown adds up to the totals, field by field.
    for dimension in ("variant", "language", "platform", "run"):
        rows = stats["breakdown"][dimension]
        for name in (*COUNTS, *EVENT_COUNTS):
            assert sum(row[name] for row in rows) == stats[name], (dimension, name)
        for row in rows:
            assert row["targeted"] == sum(
                row[n] for n in ("sent", "failed", "invalid", "suppressed", "pending")
            )
    variants = {row["variant"]: row for row in stats["breakdown"]["variant"]}
    assert {"A", "B"} <= set(variants) and variants["A"]["sent"] + variants["B"]["sent"] == 10
    # The suppressed subscriber never reached content selection: no variant, language or platform.
    assert variants[None]["suppressed"] == 1
    platforms = {row["platform"]: row for row in stats["breakdown"]["platform"]}
    assert platforms["web"]["sent"] == 10 and platforms["web"]["delivered"] == 9
    [run] = stats["breakdown"]["run"]
    assert run["notification_id"] == sent_campaign["run_id"] and run["status"] == "sent"

    # The series (hourly for the default 30-day range? no: daily) carries the same counts.
    series = stats["series"]
    assert series["granularity"] == "day" and len(series["points"]) in (30, 31)
    # Every outcome is in the series, the suppressed message of the production time included.
    for name in ("sent", "failed", "invalid", "suppressed", *EVENT_COUNTS):
        assert sum(p[name] for p in series["points"]) == stats[name], name

    # The failed delivery became a `failed` event written by the pipeline; the unsubscribe stuck.
    with schema_context(ws_a.schema_name):
        failed = AnalyticsEvent.objects.get(event_type="failed")
        assert failed.metadata_json["error_code"]
        assert Subscriber.objects.get(pk=good[4].pk).status == "unsubscribed"
        assert AnalyticsEvent.objects.get(event_type="unsubscribed").metadata_json == {"os": "Linux"}
    # Rollups agree with the raw events they count.
    rolled = rollup_totals(ws_a)
    for kind, count in counted_events(ws_a).items():
        assert rolled[kind] == count, kind
    assert sentinel.status_code == 200


def test_the_csv_export_streams_the_same_figures(sent_campaign, web_app):
    good, tokens = sent_campaign["good"], sent_campaign["tokens"]
    post_events(web_app, [{"delivery": tokens.of(s), "type": "clicked"} for s in good[:2]])
    campaign_id = sent_campaign["campaign"]["id"]
    client = sent_campaign["client"]
    stats = client.get(f"/api/v1/analytics/campaign/{campaign_id}").json()
    response = client.get(f"/api/v1/analytics/campaign/{campaign_id}/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header, total = rows[0], rows[1]
    assert header[:3] == ["section", "key", "targeted"]
    record = dict(zip(header, total, strict=False))
    assert record["section"] == "total" and record["key"] == campaign_id
    for name in ("targeted", "sent", "failed", "invalid", "suppressed", "delivered", "clicked"):
        assert int(record[name]) == stats[name], name
    sections = {row[0] for row in rows if row}
    assert {"total", "variant", "language", "platform", "run", "series", "ab_test"} <= sections


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised(
    api, alice, ws_a, web_app, fake_webpush, pipeline
):
    client = api(user=alice, workspace=ws_a)
    campaign = make_campaign(client, web_app, variants=(("-2-3", 1, "Formula-looking variant"),))
    web_subscribers(ws_a, web_app, fake_webpush, 2)
    send_campaign(client, web_app, campaign, pipeline)
    response = client.get(f"/api/v1/analytics/campaign/{campaign['id']}/export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    [variant] = [row for row in rows if row and row[0] == "variant"]
    assert variant[1] == "'-2-3" and int(variant[3]) == 2  # text to a spreadsheet; the figures untouched
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@")]
    # The JSON keeps the name as it is.
    stats = client.get(f"/api/v1/analytics/campaign/{campaign['id']}").json()
    assert [row["variant"] for row in stats["breakdown"]["variant"]] == ["-2-3"]


def test_the_ab_result_is_a_two_proportion_z_test_on_click_through():
    # By hand: p1 = 30/200 = 0.15, p2 = 15/200 = 0.075, pooled p = 45/400 = 0.1125,
    # se = sqrt(0.1125 * 0.8875 * (1/200 + 1/200)) = 0.0315981, z = 0.075 / 0.0315981 = 2.37356,
    # two-sided p = erfc(z / sqrt 2) = 0.017617.
    z, p_value = selectors.two_proportion_z(30, 200, 15, 200)
    assert z == pytest.approx(2.37356, abs=1e-4)
    assert p_value == pytest.approx(0.017617, abs=1e-5)
    result = selectors.ab_test(
        [
            {"variant": "A", "clicked": 15, "delivered": 200},
            {"variant": "B", "clicked": 30, "delivered": 200},
            {"variant": "C", "clicked": 1, "delivered": 200},
            {"variant": None, "clicked": 0, "delivered": 5},
        ]
    )
    assert result["variants_compared"] == ["B", "A"]
    assert result["significant"] is True and result["winner"] == "B"
    assert result["z"] == pytest.approx(2.3736, abs=1e-4)
    close = selectors.ab_test(
        [{"variant": "A", "clicked": 20, "delivered": 200}, {"variant": "B", "clicked": 22, "delivered": 200}]
    )
    assert close["significant"] is False and close["winner"] is None and close["p_value"] > 0.05
    assert math.isclose(close["z"], selectors.two_proportion_z(22, 200, 20, 200)[0], abs_tol=1e-4)
    alone = selectors.ab_test([{"variant": "A", "clicked": 2, "delivered": 10}])
    assert alone["z"] is None and alone["winner"] is None


def test_the_ab_result_over_the_api_names_a_winner_only_when_significant(sent_campaign, web_app):
    good, tokens = sent_campaign["good"], sent_campaign["tokens"]
    stats = (
        sent_campaign["client"].get(f"/api/v1/analytics/campaign/{sent_campaign['campaign']['id']}").json()
    )
    assert stats["ab_test"]["reason"] == "needs two variants with deliveries"
    post_events(web_app, [{"delivery": tokens.of(s), "type": "delivered"} for s in good])
    stats = (
        sent_campaign["client"].get(f"/api/v1/analytics/campaign/{sent_campaign['campaign']['id']}").json()
    )
    ab = stats["ab_test"]
    assert sorted(ab["variants_compared"]) == ["A", "B"]
    assert ab["z"] == 0.0 and ab["p_value"] == 1.0 and ab["significant"] is False and ab["winner"] is None


def test_hourly_series_for_a_short_range_and_bad_ranges_are_400(sent_campaign, ws_a):
    client, campaign_id = sent_campaign["client"], sent_campaign["campaign"]["id"]
    url = f"/api/v1/analytics/campaign/{campaign_id}"
    from django.utils import timezone

    now = timezone.now()
    hourly = client.get(
        url,
        {
            "from": (now - timezone.timedelta(hours=5)).isoformat(),
            "to": (now + timezone.timedelta(hours=1)).isoformat(),
        },
    ).json()
    assert hourly["series"]["granularity"] == "hour"
    assert len(hourly["series"]["points"]) in (6, 7)
    assert sum(p["sent"] for p in hourly["series"]["points"]) == 10
    assert_error(client.get(url, {"from": "yesterday"}), 400, "validation_error")
    assert_error(
        client.get(url, {"from": now.isoformat(), "to": (now - timezone.timedelta(days=1)).isoformat()}), 400
    )
    assert_error(
        client.get(url, {"from": (now - timezone.timedelta(days=500)).isoformat(), "to": now.isoformat()}),
        400,
    )
    assert_error(
        client.get(
            url,
            {
                "from": (now - timezone.timedelta(days=60)).isoformat(),
                "to": now.isoformat(),
                "granularity": "hour",
            },
        ),
        400,
    )
    assert_error(client.get(url, {"granularity": "minute"}), 400, "validation_error")
    assert_error(client.get("/api/v1/analytics/campaign/not-a-uuid"), 404)
    # Dates at datetime's edges are a 400, never an overflow (in a zone west of UTC, too).
    ws_a.timezone = "America/Los_Angeles"
    ws_a.save()
    for edge in (
        {"to": "0001-01-01T00:00:00Z"},
        {"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"},
        {"from": "9999-12-31T00:00:00Z", "to": "9999-12-31T23:30:00Z"},
        {"from": "9999-12-01T00:00:00Z", "to": "9999-12-31T23:30:00Z", "granularity": "day"},
        {"from": "0001-01-01T00:00:00+14:00"},
    ):
        assert_error(client.get(url, edge), 400, "validation_error")
        assert_error(client.get(f"{url}/export.csv", edge), 400, "validation_error")


def test_every_member_and_read_keys_may_read_stats_outsiders_get_404(
    sent_campaign, api, api_key_for, member_with_role, charlie, ws_a, ws_b
):
    url = f"/api/v1/analytics/campaign/{sent_campaign['campaign']['id']}"
    viewer = member_with_role(Role.VIEWER)
    assert api(user=viewer, workspace=ws_a).get(url).status_code == 200
    assert api(user=viewer, workspace=ws_a).get(url + "/export.csv").status_code == 200
    assert api(user=viewer, workspace=ws_a).get("/api/v1/analytics/summary").status_code == 200
    assert api(api_key=api_key_for(ws_a, scopes=["read"])).get(url).status_code == 200
    assert_error(api(api_key=api_key_for(ws_a, scopes=["send"])).get(url), 403, "insufficient_scope")
    # charlie is no member of A: naming A is a 404, and A's campaign from his own workspace too.
    assert_error(api(user=charlie, workspace=ws_a).get(url), 404)
    assert_error(api(user=charlie, workspace=ws_a).get("/api/v1/analytics/summary"), 404)
    assert_error(api(user=charlie, workspace=ws_b).get(url), 404)
    assert_error(api(api_key=api_key_for(ws_b, scopes=["read"])).get(url), 404)
