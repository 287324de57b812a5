"""Push transports: one contract, two implementations, plain Python over plain data.

    from integrations.transports import Message
    from integrations.transports.fcm import FcmTransport
    from integrations.transports.webpush import WebPushTransport

    fcm = FcmTransport(service_account_json, app_id=str(app.pk))
    webpush = WebPushTransport(vapid_private_key, subject="mailto:ops@example.com")
    outcomes = webpush.send_batch([Message(payload=..., subscription={"endpoint": ..., "keys": {...}})])

`send_batch(messages) -> list[Outcome]` (same order; `send_batch_async` from a coroutine) never
raises for provider errors: see `base.Outcome` / `base.ErrorCode` for what the pipeline does with
each outcome, and `base.APP_LEVEL_ERRORS` for failures that concern the app, not the subscriber.

Settings read (only when the constructor is not told explicitly):
- `PUSHPILOT_FCM_API_URL`: FCM's base URL (default https://fcm.googleapis.com); the OAuth token URL
  is the service account's own `token_uri`;
- `PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS`: push-service origins accepted as endpoints (`urls`).
TLS trust: `ca_bundle=` on either transport replaces the system CAs (tests: the fakes' test CA,
`tests.fakes.tls`); without it the system store / certifi, honouring `SSL_CERT_FILE`.

Modules: `base` (contract, the shared background event loop), `fcm` (firebase-admin
`send_each_async` over `http2`), `webpush` (RFC 8291 encryption, VAPID via py-vapid, over
`http1`), `urls` (the endpoint allowlist, also used where subscriptions are stored).
"""

from .base import (
    APP_LEVEL_ERRORS,
    DEFAULT_TTL_SECONDS,
    ErrorCode,
    Message,
    Outcome,
    OutcomeKind,
    Transport,
    WebPushSubscription,
)

__all__ = [
    "APP_LEVEL_ERRORS",
    "DEFAULT_TTL_SECONDS",
    "ErrorCode",
    "Message",
    "Outcome",
    "OutcomeKind",
    "Transport",
    "WebPushSubscription",
]
