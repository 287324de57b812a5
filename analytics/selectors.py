"""Analytics reads. Every figure comes from a rollup or a run's counters; nothing scans deliveries or
raw events, so a campaign with millions of messages costs what its few thousand rollup rows cost.

Definitions (the API documents the same):

* ``targeted``, ``sent``, ``failed``, ``invalid``, ``suppressed``, ``pending``: the campaign's runs'
  counters (``Notification``), the same numbers ``/notifications/{id}`` shows, kept after deliveries
  are pruned. ``targeted = sent + failed + invalid + suppressed + pending``; ``pending`` is 0 once
  every run has finished.
* ``delivered``, ``opened``, ``clicked``, ``unsubscribed``: distinct deliveries with such an SDK
  event (once per delivery and type); only deliveries recorded as sent count, so
  ``delivered ≤ sent``. A click implies an open and a delivery.
* Rates are percentages (0 to 100, two decimals, ``null`` when the denominator is 0):
  ``failed_pct = failed / targeted``, ``delivery_rate = delivered / sent``,
  ``open_rate = opened / delivered``, ``click_through_rate = clicked / delivered``.
* Breakdowns by variant, language and platform add up to the totals: messages that never reached
  content selection (subscriber suppressed when the run was produced, a run stopped before its
  batch) have no variant or language and are reported under ``null``; so is what a run counted
  but no rollup holds (runs recorded before analytics existed).
* The series sums the hourly rollups (UTC hours) of ``from`` ≤ hour < ``to``; a daily point is the
  hours that start on that day in the workspace's timezone.
"""

from __future__ import annotations

import math
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Min, Sum
from django.utils import timezone

from analytics.models import HourlyRollup, SentTally

OUTCOMES = ("sent", "failed", "invalid", "suppressed")
EVENTS = ("delivered", "opened", "clicked", "unsubscribed")
SERIES_METRICS = (*OUTCOMES, *EVENTS)
Z_95 = 1.959963984540054


def workspace_zone(workspace) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(workspace.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _pct(numerator: int, denominator: int) -> float | None:
    return round(100.0 * numerator / denominator, 2) if denominator else None


def rates(counts: dict) -> dict:
    return {
        "failed_pct": _pct(counts["failed"], counts["targeted"]),
        "delivery_rate": _pct(counts["delivered"], counts["sent"]),
        "open_rate": _pct(counts["opened"], counts["delivered"]),
        "click_through_rate": _pct(counts["clicked"], counts["delivered"]),
    }


def _local_midnight(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


# ---------------------------------------------------------------------------------------------
# Summary.


def daily_sent(*, zone: zoneinfo.ZoneInfo, days: int, now: datetime) -> list[dict]:
    """Messages sent per local day for the last ``days`` days (today included), zero-filled."""
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    per_day: dict[date, int] = defaultdict(int)
    rows = SentTally.objects.filter(
        bucket__gte=_local_midnight(first, zone), bucket__lt=_local_midnight(today + timedelta(days=1), zone)
    ).values_list("bucket", "count")
    for bucket, count in rows:
        per_day[bucket.astimezone(zone).date()] += count
    return [
        {"date": (first + timedelta(days=i)).isoformat(), "sent": per_day.get(first + timedelta(days=i), 0)}
        for i in range(days)
    ]


def workspace_summary(*, workspace, now: datetime | None = None) -> dict:
    from campaigns.models import Campaign, CampaignStatus
    from integrations.models import App

    at = now or timezone.now()
    zone = workspace_zone(workspace)
    trend_30 = daily_sent(zone=zone, days=30, now=at)
    next_run = Campaign.objects.filter(status=CampaignStatus.SCHEDULED, next_run_at__isnull=False).aggregate(
        at=Min("next_run_at")
    )["at"]
    return {
        "total_notifications_sent": SentTally.objects.aggregate(n=Sum("count"))["n"] or 0,
        "today_notifications": trend_30[-1]["sent"],
        "next_notification_time": next_run,
        "active_campaign_count": Campaign.objects.filter(
            status__in=[CampaignStatus.SCHEDULED, CampaignStatus.RUNNING]
        ).count(),
        "connected_applications_count": App.objects.count(),
        "timezone": str(zone.key),
        "trend_7d": trend_30[-7:],
        "trend_30d": trend_30,
    }


# ---------------------------------------------------------------------------------------------
# One campaign.


@dataclass
class SeriesRange:
    start: datetime
    end: datetime
    granularity: str  # hour | day


def _zero() -> dict:
    return dict.fromkeys(("targeted", "pending", *OUTCOMES, *EVENTS), 0)


def _finish(counts: dict) -> dict:
    return {**counts, **rates(counts)}


def _bucket_starts(series: SeriesRange, zone: zoneinfo.ZoneInfo) -> list[datetime]:
    starts = []
    if series.granularity == "hour":
        # Rollup hours are UTC hours (in a +05:30 zone they start at :30 local time).
        at = series.start.astimezone(zoneinfo.ZoneInfo("UTC")).replace(minute=0, second=0, microsecond=0)
        while at < series.end:
            starts.append(at.astimezone(zone))
            at += timedelta(hours=1)
    else:
        day = series.start.astimezone(zone).date()
        while _local_midnight(day, zone) < series.end:
            starts.append(_local_midnight(day, zone))
            day += timedelta(days=1)
    return starts


def ab_test(variants: list[dict]) -> dict:
    """Two-proportion z-test on click-through (clicked / delivered) between the two variants with
    the best CTR. Significant when the two-sided p-value is below 0.05."""
    candidates = [v for v in variants if v["variant"] and v["delivered"] > 0]
    if len(candidates) < 2:
        return {
            "variants_compared": [v["variant"] for v in candidates],
            "metric": "click_through_rate",
            "z": None,
            "p_value": None,
            "significant": False,
            "confidence": 0.95,
            "winner": None,
            "reason": "needs two variants with deliveries",
        }
    best, second = sorted(candidates, key=lambda v: (-v["clicked"] / v["delivered"], v["variant"]))[:2]
    z, p_value = two_proportion_z(best["clicked"], best["delivered"], second["clicked"], second["delivered"])
    significant = p_value is not None and p_value < 0.05
    return {
        "variants_compared": [best["variant"], second["variant"]],
        "metric": "click_through_rate",
        "z": None if z is None else round(z, 4),
        "p_value": None if p_value is None else round(p_value, 6),
        "significant": significant,
        "confidence": 0.95,
        "winner": best["variant"] if significant else None,
        "reason": None,
    }


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float | None, float | None]:
    """(z, two-sided p-value) for H0: p1 = p2, with the pooled standard error."""
    if not n1 or not n2:
        return None, None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


# The campaign's rollups summed per run and per dimension in one pass, in PostgreSQL: a campaign that
# ran hourly for a year has a million rollup rows, and they never cross the wire one by one.
# GROUPING() has a bit set for each column a row is *not* grouped by (notification_id first).
_BREAKDOWN_SQL = """
SELECT GROUPING(notification_id, variant, language, platform), notification_id, variant, language, platform,
       metric, sum(count)::bigint
FROM {rollup} WHERE campaign_id = %s
GROUP BY GROUPING SETS ((notification_id, metric), (variant, metric), (language, metric), (platform, metric))
"""
_GROUPING_SETS = {0b0111: "run", 0b1011: "variant", 0b1101: "language", 0b1110: "platform"}


def campaign_stats(*, campaign, workspace, series: SeriesRange) -> dict:
    """Totals, breakdowns (variant, language, platform, run), a series and the A/B result."""
    from campaigns.pipeline_models import Notification

    zone = workspace_zone(workspace)
    runs = list(
        Notification.objects.filter(campaign_id=campaign.pk)
        .order_by("scheduled_for", "id")
        .values(
            "id",
            "status",
            "scheduled_for",
            "started_at",
            "finished_at",
            "targeted",
            "sent",
            "failed",
            "invalid",
            "suppressed",
        )
    )
    totals = _zero()
    per_run: dict = {}
    for run in runs:
        counts = _zero()
        for name in ("targeted", *OUTCOMES):
            counts[name] = run[name]
        counts["pending"] = max(0, run["targeted"] - sum(run[name] for name in OUTCOMES))
        per_run[run["id"]] = counts
        for name in ("targeted", "pending", *OUTCOMES):
            totals[name] += counts[name]

    dimensions = {
        "variant": defaultdict(_zero),
        "language": defaultdict(_zero),
        "platform": defaultdict(_zero),
    }
    rolled = dict.fromkeys(OUTCOMES, 0)
    with connection.cursor() as cursor:
        cursor.execute(_BREAKDOWN_SQL.format(rollup=HourlyRollup._meta.db_table), [campaign.pk])
        for grouping, run_id, variant, language, platform, metric, count in cursor.fetchall():
            by = _GROUPING_SETS[grouping]
            if by == "run":
                if metric in EVENTS:
                    totals[metric] += count
                    if run_id in per_run:
                        per_run[run_id][metric] += count
                else:
                    rolled[metric] += count
            else:
                key = {"variant": variant, "language": language, "platform": platform}[by]
                dimensions[by][key][metric] += count

    starts = _bucket_starts(series, zone)
    buckets: dict[datetime, dict] = {start: dict.fromkeys(SERIES_METRICS, 0) for start in starts}
    hourly = (
        HourlyRollup.objects.filter(campaign_id=campaign.pk, hour__gte=starts[0], hour__lt=series.end)
        .values_list("hour", "metric")
        .annotate(n=Sum("count"))
        if starts
        else []
    )
    for hour, metric, count in hourly:
        local = hour.astimezone(zone)
        bucket = buckets.get(local if series.granularity == "hour" else _local_midnight(local.date(), zone))
        if bucket is not None:
            bucket[metric] += count

    # What the pipeline wrote outside a batch's outcome (suppressed when the run was produced,
    # failed when a run stopped) has no variant: it completes the `null` row so breakdowns add up.
    for dimension in dimensions.values():
        unattributed = dimension[""]
        for name in OUTCOMES:
            unattributed[name] += max(0, totals[name] - rolled[name])
        unattributed["pending"] += totals["pending"]
    breakdown = {}
    for name, dimension in dimensions.items():
        items = []
        for key, counts in sorted(dimension.items(), key=lambda kv: (kv[0] == "", kv[0])):
            counts["targeted"] = counts["pending"] + sum(counts[o] for o in OUTCOMES)
            if not any(counts.values()):
                continue
            items.append({name: key or None, **_finish(counts)})
        breakdown[name] = items
    breakdown["run"] = [
        {
            "notification_id": str(run["id"]),
            "status": run["status"],
            "scheduled_for": run["scheduled_for"],
            "started_at": run["started_at"],
            "finished_at": run["finished_at"],
            **_finish(per_run[run["id"]]),
        }
        for run in runs
    ]
    return {
        "campaign_id": str(campaign.pk),
        "name": campaign.name,
        "status": campaign.status,
        **_finish(totals),
        "breakdown": breakdown,
        "series": {
            "granularity": series.granularity,
            "timezone": str(zone.key),
            "from": series.start,
            "to": series.end,
            "points": [{"start": start, **buckets[start]} for start in starts],
        },
        "ab_test": ab_test(breakdown["variant"]),
    }
