"""Analytics API: the workspace summary, one campaign's statistics and their CSV export.

Every member reads (viewer and up); API keys need the ``read`` scope. Thin: parameters are
validated here, figures come from ``analytics.selectors`` (definitions in its docstring)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import selectors
from analytics.selectors import EVENTS, OUTCOMES, SeriesRange
from campaigns.api import object_by_id
from campaigns.models import Campaign
from pushpilot.api.errors import ApiError
from tenants.access import WorkspaceAccessMixin
from tenants.models import ApiKeyScope

MAX_RANGE_DAYS = 400
MAX_HOURLY_DAYS = 31
# Up to this range the series is hourly unless asked otherwise; beyond, daily (workspace timezone).
HOURLY_UP_TO = timedelta(days=7)
DEFAULT_RANGE = timedelta(days=30)
# Far enough from datetime's year 1 and 9999 that local midnights and bucket arithmetic never overflow.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
COUNT_FIELDS = ("targeted", *OUTCOMES, "pending", *EVENTS)
RATE_FIELDS = ("failed_pct", "delivery_rate", "open_rate", "click_through_rate")


class StatsQuerySerializer(serializers.Serializer):
    # Named from_/to in Python; the query parameters are `from` and `to`.
    from_ = serializers.DateTimeField(required=False)
    to = serializers.DateTimeField(required=False)
    granularity = serializers.ChoiceField(choices=["hour", "day"], required=False)

    def to_internal_value(self, data):
        data = {("from_" if key == "from" else key): value for key, value in data.items()}
        return super().to_internal_value(data)


def _counts_serializer(name: str, **extra):
    fields = {field: serializers.IntegerField() for field in COUNT_FIELDS}
    fields.update({field: serializers.FloatField(allow_null=True) for field in RATE_FIELDS})
    fields.update(extra)
    return inline_serializer(name, fields, many=True)


class AnalyticsDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    sent = serializers.IntegerField()


SummarySchema = inline_serializer(
    "AnalyticsSummary",
    {
        "total_notifications_sent": serializers.IntegerField(),
        "today_notifications": serializers.IntegerField(),
        "next_notification_time": serializers.DateTimeField(allow_null=True),
        "active_campaign_count": serializers.IntegerField(),
        "connected_applications_count": serializers.IntegerField(),
        "timezone": serializers.CharField(),
        "trend_7d": AnalyticsDaySerializer(many=True),
        "trend_30d": AnalyticsDaySerializer(many=True),
    },
)
_POINT = inline_serializer(
    "AnalyticsSeriesPoint",
    {
        "start": serializers.DateTimeField(),
        **{m: serializers.IntegerField() for m in selectors.SERIES_METRICS},
    },
    many=True,
)
CampaignStatsSchema = inline_serializer(
    "CampaignAnalytics",
    {
        "campaign_id": serializers.UUIDField(),
        "name": serializers.CharField(),
        "status": serializers.CharField(),
        **{field: serializers.IntegerField() for field in COUNT_FIELDS},
        **{field: serializers.FloatField(allow_null=True) for field in RATE_FIELDS},
        "breakdown": inline_serializer(
            "CampaignAnalyticsBreakdown",
            {
                "variant": _counts_serializer(
                    "VariantAnalytics", variant=serializers.CharField(allow_null=True)
                ),
                "language": _counts_serializer(
                    "LanguageAnalytics", language=serializers.CharField(allow_null=True)
                ),
                "platform": _counts_serializer(
                    "PlatformAnalytics", platform=serializers.CharField(allow_null=True)
                ),
                "run": _counts_serializer(
                    "RunAnalytics",
                    notification_id=serializers.UUIDField(),
                    status=serializers.CharField(),
                    scheduled_for=serializers.DateTimeField(),
                    started_at=serializers.DateTimeField(allow_null=True),
                    finished_at=serializers.DateTimeField(allow_null=True),
                ),
            },
        ),
        "series": inline_serializer(
            "CampaignAnalyticsSeries",
            {
                "granularity": serializers.ChoiceField(choices=["hour", "day"]),
                "timezone": serializers.CharField(),
                "from": serializers.DateTimeField(),
                "to": serializers.DateTimeField(),
                "points": _POINT,
            },
        ),
        "ab_test": inline_serializer(
            "AbTestResult",
            {
                "variants_compared": serializers.ListField(child=serializers.CharField()),
                "metric": serializers.CharField(),
                "z": serializers.FloatField(allow_null=True),
                "p_value": serializers.FloatField(allow_null=True),
                "significant": serializers.BooleanField(),
                "confidence": serializers.FloatField(),
                "winner": serializers.CharField(allow_null=True),
                "reason": serializers.CharField(allow_null=True),
            },
        ),
    },
)
_RANGE_PARAMETERS = [
    OpenApiParameter(
        "from", OpenApiTypes.DATETIME, description="Series start (ISO 8601). Default: 30 days before `to`."
    ),
    OpenApiParameter(
        "to", OpenApiTypes.DATETIME, description="Series end, exclusive (ISO 8601). Default: now."
    ),
    OpenApiParameter(
        "granularity",
        str,
        enum=["hour", "day"],
        description="Default: hour for ranges up to 7 days, else day (in the workspace timezone).",
    ),
]


class SummaryView(WorkspaceAccessMixin, APIView):
    """The workspace at a glance: messages sent (all time and today, in the workspace timezone), the
    next scheduled send, active campaigns, connected apps, and daily sends for 7 and 30 days."""

    api_key_scopes = {"get": ApiKeyScope.READ}

    @extend_schema(responses={200: SummarySchema})
    def get(self, request):
        return Response(selectors.workspace_summary(workspace=self.workspace))


class _CampaignStatsBase(WorkspaceAccessMixin, APIView):
    api_key_scopes = {"get": ApiKeyScope.READ}

    def campaign(self) -> Campaign:
        return object_by_id(Campaign.objects.all(), self.kwargs["campaign_id"])

    def series_range(self) -> SeriesRange:
        query = StatsQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        for name, value in (
            ("from", query.validated_data.get("from_")),
            ("to", query.validated_data.get("to")),
        ):
            if value is not None and not EARLIEST <= value <= LATEST:
                raise ApiError(
                    f"`{name}` must be between {EARLIEST:%Y} and {LATEST:%Y}.",
                    code="validation_error",
                    details={name: [f"Between {EARLIEST.isoformat()} and {LATEST.isoformat()}."]},
                )
        end = query.validated_data.get("to") or timezone.now()
        start = query.validated_data.get("from_") or end - DEFAULT_RANGE
        if start >= end:
            raise ApiError(
                "`from` must be before `to`.",
                code="validation_error",
                details={"from": ["Must be before `to`."]},
            )
        if end - start > timedelta(days=MAX_RANGE_DAYS):
            raise ApiError(
                f"The range may span at most {MAX_RANGE_DAYS} days.",
                code="validation_error",
                details={"from": [f"At most {MAX_RANGE_DAYS} days before `to`."]},
            )
        granularity = query.validated_data.get("granularity") or (
            "hour" if end - start <= HOURLY_UP_TO else "day"
        )
        if granularity == "hour" and end - start > timedelta(days=MAX_HOURLY_DAYS):
            raise ApiError(
                f"An hourly series may span at most {MAX_HOURLY_DAYS} days; ask for granularity=day.",
                code="validation_error",
                details={"granularity": [f"hour needs a range of at most {MAX_HOURLY_DAYS} days."]},
            )
        return SeriesRange(start=start, end=end, granularity=granularity)

    def stats(self) -> dict:
        campaign = self.campaign()
        series = self.series_range()
        return selectors.campaign_stats(campaign=campaign, workspace=self.workspace, series=series)


class CampaignStatsView(_CampaignStatsBase):
    """One campaign: totals, rates (percentages; definitions below), breakdowns by variant,
    language, platform and run, an hourly or daily series and the A/B test.

    targeted = sent + failed + invalid + suppressed + pending; delivered ≤ sent.
    failed_pct = failed / targeted; delivery_rate = delivered / sent; open_rate = opened / delivered;
    click_through_rate = clicked / delivered. The A/B result is a two-proportion z-test on the
    click-through rate of the two best variants (significant when p < 0.05)."""

    @extend_schema(parameters=_RANGE_PARAMETERS, responses={200: CampaignStatsSchema})
    def get(self, request, campaign_id):
        return Response(self.stats())


class CsvRenderer(BaseRenderer):
    """Lets ``Accept: text/csv`` through content negotiation; errors are still JSON bodies."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data)


class _Echo:
    def write(self, value):
        return value


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (OWASP "CSV
# injection"); a leading apostrophe makes it text. Variant names may start with "-".
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_rows(stats: dict):
    yield ["section", "key", *COUNT_FIELDS, *RATE_FIELDS]
    yield ["total", stats["campaign_id"], *(stats[f] for f in COUNT_FIELDS + RATE_FIELDS)]
    for dimension in ("variant", "language", "platform"):
        for item in stats["breakdown"][dimension]:
            yield [dimension, item[dimension] or "", *(item[f] for f in COUNT_FIELDS + RATE_FIELDS)]
    for item in stats["breakdown"]["run"]:
        yield ["run", item["notification_id"], *(item[f] for f in COUNT_FIELDS + RATE_FIELDS)]
    yield []
    yield ["series", "start", *selectors.SERIES_METRICS]
    for point in stats["series"]["points"]:
        yield ["series", point["start"].isoformat(), *(point[m] for m in selectors.SERIES_METRICS)]
    ab = stats["ab_test"]
    yield []
    yield ["ab_test", "variants", "z", "p_value", "significant", "winner"]
    yield [
        "ab_test",
        "|".join(ab["variants_compared"]),
        ab["z"],
        ab["p_value"],
        ab["significant"],
        ab["winner"],
    ]


class CampaignExportView(_CampaignStatsBase):
    """The campaign's statistics as CSV (streamed): totals, breakdowns, the series, the A/B test."""

    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        parameters=_RANGE_PARAMETERS,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV")},
    )
    def get(self, request, campaign_id):
        stats = self.stats()
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow([csv_cell(cell) for cell in row]) for row in csv_rows(stats)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="campaign-{stats["campaign_id"]}.csv"'
        return response
