from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from campaigns import urls as campaign_urls
from pushpilot import frontend, health, sdk_files

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^api/docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include("tenants.urls")),
    re_path(r"^sdk/(?P<name>pushpilot-(?:sdk|sw)\.js)$", sdk_files.serve, name="sdk-file"),
    path("api/v1/", include("campaigns.urls")),
    path("", include(campaign_urls.media_urlpatterns)),  # local uploaded images (MEDIA_URL)
    path("api/v1/", include("integrations.urls")),
    path("sdk/v1/", include("integrations.sdk_urls")),
    path("api/v1/", include("campaigns.notifications_urls")),
    path("api/v1/", include("analytics.urls")),
    path("sdk/v1/", include("analytics.sdk_urls")),
    re_path(r"^(?!api/|sdk/|static/)(?P<path>.*)$", frontend.spa_index, name="spa"),
]

handler404 = "pushpilot.api.errors.handler404"
handler500 = "pushpilot.api.errors.handler500"
