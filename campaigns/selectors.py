"""Reads of the campaigns app: list filters (whitelisted), the combined template listing, lookups."""

from __future__ import annotations

import uuid

import django_filters
from django.db.models import BooleanField, Count, Q, QuerySet, Value

from campaigns.library.models import GlobalTemplate
from campaigns.models import Campaign, CampaignContent, CampaignStatus, ChannelType, ScheduleType, Template


class CampaignFilter(django_filters.FilterSet):
    """``?status=scheduled,paused&channel_type=web_push&schedule_type=recurring&app=<id>&search=diwali
    &ordering=-created_at``. Only these parameters reach the ORM."""

    status = django_filters.MultipleChoiceFilter(choices=CampaignStatus.choices)
    channel_type = django_filters.MultipleChoiceFilter(choices=ChannelType.choices)
    schedule_type = django_filters.MultipleChoiceFilter(choices=ScheduleType.choices)
    app = django_filters.UUIDFilter(field_name="app_id")
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains", max_length=200)
    ordering = django_filters.OrderingFilter(
        fields=("name", "status", "created_at", "updated_at", "scheduled_at", "next_run_at"),
    )

    class Meta:
        model = Campaign
        fields: list[str] = []


def split_commas(query_params) -> dict:
    """``status=a,b`` means ``status=a&status=b`` for the multiple-choice filters."""
    data = query_params.copy()
    for name in ("status", "channel_type", "schedule_type"):
        values = [v.strip() for raw in query_params.getlist(name) for v in raw.split(",") if v.strip()]
        if values:
            data.setlist(name, values)
    return data


def campaign_list(queryset: QuerySet[Campaign]) -> QuerySet[Campaign]:
    return queryset.annotate(content_count=Count("contents")).order_by("-created_at", "id")


def campaign_get(campaign_id) -> Campaign | None:
    parsed = _uuid(campaign_id)
    return Campaign.objects.filter(pk=parsed).first() if parsed else None


def content_queryset(campaign: Campaign) -> QuerySet[CampaignContent]:
    return campaign.contents.order_by("created_at", "id")


def active_contents(campaign: Campaign) -> list[CampaignContent]:
    """What the send pipeline renders: the active contents, oldest first."""
    return list(campaign.contents.filter(is_active=True).order_by("created_at", "id"))


# -- templates --------------------------------------------------------------------------------------------
TEMPLATE_COLUMNS = (
    "id",
    "name",
    "category",
    "title",
    "body",
    "tone",
    "language",
    "image_url",
    "click_url",
    "created_at",
    "updated_at",
)
TEMPLATE_ORDERING = {"name", "category", "created_at", "updated_at", "is_global"}


def _uuid(value) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def template_listing(
    *,
    category: str | None = None,
    search: str | None = None,
    is_global: bool | None = None,
    language: str | None = None,
    ordering: list[str] | None = None,
):
    """Workspace templates and the global library as one queryset of row dicts with ``is_global``.

    One UNION query: the library lives in the public schema, which the tenant's search_path
    includes, so the database pages and orders both together."""

    def narrow(qs):
        if category:
            qs = qs.filter(category=category)
        if language:
            qs = qs.filter(language__iexact=language)
        if search:
            qs = qs.filter(Q(name__icontains=search) | Q(title__icontains=search))
        return qs

    parts = []
    if is_global is not True:
        parts.append(
            narrow(Template.objects.all())
            .annotate(is_global=Value(False, output_field=BooleanField()))
            .values(*TEMPLATE_COLUMNS, "is_global")
        )
    if is_global is not False:
        parts.append(
            narrow(GlobalTemplate.objects.all())
            .annotate(is_global=Value(True, output_field=BooleanField()))
            .values(*TEMPLATE_COLUMNS, "is_global")
        )
    combined = (
        parts[0].order_by() if len(parts) == 1 else parts[0].order_by().union(parts[1].order_by(), all=True)
    )
    order = [o for o in (ordering or []) if o.lstrip("-") in TEMPLATE_ORDERING] or ["is_global", "name"]
    return combined.order_by(*order, "id")


def template_get(template_id) -> Template | GlobalTemplate | None:
    """A workspace template, else a global one; None when neither has the id."""
    parsed = _uuid(template_id)
    if parsed is None:
        return None
    return Template.objects.filter(pk=parsed).first() or GlobalTemplate.objects.filter(pk=parsed).first()
