from django.urls import re_path

from integrations import api
from pushpilot.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("apps", api.AppViewSet, basename="app")
router.register("subscribers", api.SubscriberViewSet, basename="subscriber")
router.register("segments", api.SegmentViewSet, basename="segment")

WS = r"workspaces/(?P<workspace_pk>[^/]+)"

urlpatterns = [
    # The seed's routes, aliases on the workspace's default FCM app.
    re_path(rf"^{WS}/firebase/?$", api.FirebaseView.as_view(), name="workspace-firebase"),
    re_path(rf"^{WS}/firebase/test/?$", api.FirebaseTestView.as_view(), name="workspace-firebase-test"),
    *router.urls,
]
