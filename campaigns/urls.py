import re

from django.conf import settings
from django.urls import re_path

from campaigns import ai_api, api
from pushpilot.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("campaigns", api.CampaignViewSet, basename="campaign")
router.register(
    r"campaigns/(?P<campaign_pk>[^/]+)/contents", api.CampaignContentViewSet, basename="campaign-content"
)
router.register("templates", api.TemplateViewSet, basename="template")

urlpatterns = [
    re_path(r"^uploads/?$", api.UploadView.as_view(), name="upload"),
    re_path(r"^schedule/preview/?$", api.SchedulePreviewView.as_view(), name="schedule-preview"),
    re_path(
        r"^campaigns/(?P<pk>[^/]+)/generate-content/?$",
        ai_api.GenerateContentView.as_view(),
        name="campaign-generate-content",
    ),
    re_path(r"^ai/settings/?$", ai_api.AiSettingsView.as_view(), name="ai-settings"),
    *router.urls,
]

# Served outside /api/ (pushpilot/urls.py mounts these at the site root): local uploaded images.
_MEDIA_PREFIX = settings.MEDIA_URL.strip("/")
media_urlpatterns = (
    [
        re_path(rf"^{re.escape(_MEDIA_PREFIX)}/(?P<path>.+)$", api.serve_upload, name="upload-file"),
    ]
    if _MEDIA_PREFIX and "://" not in settings.MEDIA_URL
    else []
)
