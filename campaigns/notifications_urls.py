"""URLs of the notifications API (mounted under /api/v1/ by pushpilot/urls.py)."""

from django.urls import re_path

from campaigns import notifications_api as api
from pushpilot.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("notifications", api.NotificationViewSet, basename="notification")

urlpatterns = [
    re_path(r"^sending-policy/?$", api.SendingPolicyView.as_view(), name="sending-policy"),
    *router.urls,
]
