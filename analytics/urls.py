"""Analytics API routes (mounted under /api/v1/ by pushpilot/urls.py)."""

from django.urls import re_path

from analytics import api

urlpatterns = [
    re_path(r"^analytics/summary/?$", api.SummaryView.as_view(), name="analytics-summary"),
    re_path(
        r"^analytics/campaign/(?P<campaign_id>[^/]+)/export\.csv$",
        api.CampaignExportView.as_view(),
        name="analytics-campaign-export",
    ),
    re_path(
        r"^analytics/campaign/(?P<campaign_id>[^/]+)/?$",
        api.CampaignStatsView.as_view(),
        name="analytics-campaign",
    ),
]
