"""Reads of the AI feature: the workspace's AI settings, its quota status and the template examples
a prompt shows the model. Nothing here locks, writes or calls the network."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone as dj_timezone

from campaigns import selectors as campaign_selectors
from campaigns.ai_models import AiSettings, AiUsage

MAX_EXAMPLES = 3


def ai_settings_get() -> AiSettings:
    """The workspace's AI settings (an unsaved blank row when it never set any)."""
    return AiSettings.objects.filter(pk=AiSettings.SINGLETON_PK).first() or AiSettings()


def quota_period(workspace, now: datetime) -> date:
    """The first day of ``now``'s calendar month in the workspace's timezone."""
    local = now.astimezone(ZoneInfo(workspace.timezone or "UTC"))
    return local.date().replace(day=1)


def next_period_start(workspace, period: date) -> datetime:
    first = (period.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime(first.year, first.month, 1, tzinfo=ZoneInfo(workspace.timezone or "UTC"))


def ai_quota_limit(workspace) -> int | None:
    """Generations per month of the workspace's plan: None = unlimited, 0 = none."""
    return settings.PUSHPILOT_PLAN_AI_GENERATIONS.get(workspace.plan_type)


def ai_quota_status(*, workspace, now: datetime | None = None) -> dict:
    """{used, limit, period, resets_at} for the current month (a read: nothing is locked)."""
    now = now or dj_timezone.now()
    period = quota_period(workspace, now)
    used = AiUsage.objects.filter(period=period).values_list("generations", flat=True).first() or 0
    return {
        "used": used,
        "limit": ai_quota_limit(workspace),
        "period": period.strftime("%Y-%m"),
        "resets_at": next_period_start(workspace, period).isoformat(),
    }


def template_examples(*, language: str, tone: str, limit: int = MAX_EXAMPLES) -> list[dict]:
    """A few templates to show the model the house style: the workspace's own before the global
    library's, the same language first, then the same tone. Read from this tenant's schema and the
    public library only."""
    rows: dict[Any, dict] = {}
    for row in list(campaign_selectors.template_listing(language=language)[:20]) + list(
        campaign_selectors.template_listing()[:50]
    ):
        rows.setdefault(row["id"], row)
    primary = language.split("-")[0].lower()

    def rank(row: dict) -> tuple:
        tag = (row.get("language") or "").lower()
        return (
            0 if tag == language.lower() else 1 if tag.split("-")[0] == primary else 2,
            0 if tone and (row.get("tone") or "").lower() == tone.lower() else 1,
            1 if row.get("is_global") else 0,
        )

    return sorted(rows.values(), key=rank)[:limit]
