"""SDK routes of analytics (mounted under /sdk/v1/ by pushpilot/urls.py, next to integrations')."""

from django.urls import re_path

from analytics import sdk_api

urlpatterns = [re_path(r"^events/?$", sdk_api.EventsView.as_view(), name="sdk-events")]
