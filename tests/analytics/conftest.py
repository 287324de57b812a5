"""Analytics tests send real runs through the pipeline against the local Web Push / FCM fakes, then
report events with the delivery tokens found in the decrypted payloads."""

from tests.pipeline.conftest import (  # noqa: F401 - fixtures, by name
    fake_fcm,
    fake_webpush,
    fcm_app,
    fcm_server,
    pipeline,
    pipeline_settings,
    web_app,
    webpush_server,
)
