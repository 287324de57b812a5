from django.urls import re_path

from integrations import sdk_api

urlpatterns = [
    re_path(r"^subscribe/?$", sdk_api.SubscribeView.as_view(), name="sdk-subscribe"),
    re_path(r"^unsubscribe/?$", sdk_api.UnsubscribeView.as_view(), name="sdk-unsubscribe"),
    re_path(r"^identify/?$", sdk_api.IdentifyView.as_view(), name="sdk-identify"),
    re_path(r"^config/?$", sdk_api.ConfigView.as_view(), name="sdk-config"),
]
