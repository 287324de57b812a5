"""FCM HTTP v1 through firebase-admin's `send_each_async` (HTTP/2), 500 messages per call.

Per connected app (`app_id`) one firebase `App` is cached, keyed by a fingerprint of the
service-account JSON and the connection settings; new credentials re-create it (the old one is
closed and deleted). All of them live on the process's one background event loop
(`base.shared_loop()`): firebase-admin's async client keeps its connections on the loop it was
first used on.

firebase-admin hard-codes `https://fcm.googleapis.com` and builds its own HTTP client; both are
replaced in exactly one place, `_bind_messaging_service()`:
- the send URL comes from `api_url` (setting `PUSHPILOT_FCM_API_URL`);
- the async client is httpx with our HTTP/2 transport (`http2.Http2Transport`, see there why),
  explicit timeouts, no hidden retries (the pipeline retries with backoff and jitter, honouring
  Retry-After) and a bearer-token auth that reuses one token until it is about to expire.
The OAuth token URL is the service account's own `token_uri` (google-auth uses it as is).

TLS trust: the system's/certifi's CAs by default. `ca_bundle` (a PEM file) replaces them for both
FCM and the token endpoint (how tests trust the local fake's test CA); for a whole process,
`SSL_CERT_FILE` + `REQUESTS_CA_BUNDLE` do the same.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import itertools
import json
import os
import re
import ssl
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import firebase_admin
import google.auth.exceptions
import google.auth.transport.requests
import httpx
import requests
from firebase_admin import _http_client as firebase_http
from firebase_admin import credentials as firebase_credentials
from firebase_admin import exceptions as firebase_exceptions
from firebase_admin import messaging

from .base import (
    MAX_TTL_SECONDS,
    URGENCIES,
    ErrorCode,
    Message,
    Outcome,
    keep_inherited,
    on_fork_in_child,
    parse_retry_after,
    run_batch,
    run_batch_async,
    shared_loop,
    truncate,
)
from .http2 import Http2Client, Target

DEFAULT_API_URL = "https://fcm.googleapis.com"
SETTING_NAME = "PUSHPILOT_FCM_API_URL"
MAX_BATCH = 500  # send_each_async's limit per call
MAX_PAYLOAD_BYTES = 4096  # notification + data, as FCM counts it
MIN_QUOTA_BACKOFF = 60.0  # FCM: back off at least a minute on QUOTA_EXCEEDED
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
_RESERVED_DATA_KEYS = frozenset({"from", "notification", "message_type"})
_CREDENTIAL_ERRORS = frozenset({"SENDER_ID_MISMATCH", "THIRD_PARTY_AUTH_ERROR", "APNS_AUTH_ERROR"})
_TOKEN_REFRESH_MARGIN = 300.0
_WHITESPACE = re.compile(r"\s")
_METRICS_HEADERS: dict[str, str] = dict(getattr(firebase_http, "METRICS_HEADERS", {}))
_USER_AGENT = f"pushpilot fire-admin-python/{firebase_admin.__version__}".encode()

# firebase-admin 7.x marks `Message.token` deprecated in favour of Firebase installation ids, but
# registration tokens are what the client SDKs hand out and what FCM v1's `message.token` takes.
warnings.filterwarnings("ignore", message=r"Message\.token is deprecated", category=DeprecationWarning)


def configured_api_url() -> str:
    value = None
    try:
        from django.conf import settings

        if settings.configured:
            value = getattr(settings, SETTING_NAME, None)
    except ImportError:  # pragma: no cover
        pass
    return (value or os.environ.get(SETTING_NAME) or DEFAULT_API_URL).rstrip("/")


def credentials_fingerprint(service_account: Mapping[str, Any]) -> str:
    canonical = json.dumps(service_account, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class FcmTransport:
    """FCM for one connected app. Cheap to construct: the firebase App behind it is cached."""

    channel = "fcm"

    def __init__(
        self,
        service_account: Mapping[str, Any],
        *,
        app_id: str,
        api_url: str | None = None,
        ca_bundle: str | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_connections: int = 8,
        max_streams_per_connection: int = 100,
        parallel_calls: int = 2,
        dry_run: bool = False,
        batch_timeout: float = 300.0,
    ) -> None:
        self.service_account = dict(service_account)
        self.app_id = str(app_id)
        self.api_url = (api_url or configured_api_url()).rstrip("/")
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self.max_streams_per_connection = max_streams_per_connection
        self.parallel_calls = max(1, parallel_calls)
        self.dry_run = dry_run
        self.batch_timeout = batch_timeout
        self.fingerprint = credentials_fingerprint(
            {
                "credentials": self.service_account,
                "api_url": self.api_url,
                "ca_bundle": ca_bundle,
                "connections": [timeout, connect_timeout, max_connections, max_streams_per_connection],
            }
        )

    # -- public API ------------------------------------------------------------------------------
    def send_batch(self, messages: Sequence[Message]) -> list[Outcome]:
        return run_batch(self._send(list(messages)), len(messages), self.batch_timeout)

    async def send_batch_async(self, messages: Sequence[Message]) -> list[Outcome]:
        return await run_batch_async(self._send(list(messages)), len(messages), self.batch_timeout)

    # -- implementation (runs on the shared loop) ------------------------------------------------
    async def _send(self, messages: list[Message]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(messages)
        prepared: list[tuple[int, messaging.Message]] = []
        platforms: dict[tuple, _PlatformConfigs] = {}  # one set per batch and distinct options
        for index, message in enumerate(messages):
            built = build_message(message, platforms)
            if isinstance(built, Outcome):
                outcomes[index] = built
            else:
                prepared.append((index, built))
        if not prepared:
            return outcomes  # type: ignore[return-value]
        try:
            entry = await _registry.get(self)
        except (ValueError, KeyError, TypeError) as exc:
            failure = Outcome.failed(
                ErrorCode.CREDENTIALS_INVALID, f"service account rejected: {truncate(str(exc))}"
            )
            return [o or failure.copy() for o in outcomes]
        refresh_failure = await entry.ensure_token()
        if refresh_failure is not None:
            return [o or refresh_failure.copy() for o in outcomes]

        semaphore = asyncio.Semaphore(self.parallel_calls)

        async def call(chunk: list[tuple[int, messaging.Message]]) -> None:
            async with semaphore:
                results = await self._send_chunk(entry, [m for _, m in chunk])
            for (index, _), outcome in zip(chunk, results, strict=True):
                outcomes[index] = outcome

        chunks = [prepared[i : i + MAX_BATCH] for i in range(0, len(prepared), MAX_BATCH)]
        await asyncio.gather(*(call(chunk) for chunk in chunks))
        return outcomes  # type: ignore[return-value]

    async def _send_chunk(self, entry: _AppEntry, chunk: list[messaging.Message]) -> list[Outcome]:
        try:
            response = await messaging.send_each_async(chunk, dry_run=self.dry_run, app=entry.app)
        except ValueError as exc:
            # One message firebase-admin refuses to encode would sink the whole call; find it.
            return await self._send_one_by_one(entry, chunk, exc)
        except firebase_exceptions.FirebaseError as exc:
            return map_error(exc).repeat(len(chunk))
        return [map_response(r) for r in response.responses]

    async def _send_one_by_one(
        self, entry: _AppEntry, chunk: list[messaging.Message], first_error: Exception
    ) -> list[Outcome]:
        good: list[tuple[int, messaging.Message]] = []
        outcomes: list[Outcome | None] = [None] * len(chunk)
        for index, message in enumerate(chunk):
            try:
                messaging._MessagingService.encode_message(message)
            except ValueError as exc:
                outcomes[index] = Outcome.failed(ErrorCode.INVALID_MESSAGE, truncate(str(exc)))
            else:
                good.append((index, message))
        if len(good) == len(chunk):  # nothing individually wrong: report the batch error
            return Outcome.failed(ErrorCode.INVALID_MESSAGE, truncate(str(first_error))).repeat(len(chunk))
        if good:
            results = await self._send_chunk(entry, [m for _, m in good])
            for (index, _), outcome in zip(good, results, strict=True):
                outcomes[index] = outcome
        return outcomes  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Message building.


def _data_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def build_message(message: Message, platforms: dict[tuple, _PlatformConfigs]) -> messaging.Message | Outcome:
    """Our payload contract → a firebase `Message`; a local Outcome when it cannot be sent.
    ``platforms`` (one dict per batch) shares the Android/APNs/Web Push configs between messages
    with the same options: a batch's 500 messages usually differ only in token, copy and data.
    firebase-admin's encoder only reads them."""
    try:
        return _build_message(message, platforms)
    except (TypeError, ValueError, AttributeError) as exc:  # a payload that is not the contract's shape
        return Outcome.failed(ErrorCode.INVALID_MESSAGE, truncate(str(exc)))


@dataclass(frozen=True, slots=True)
class _PlatformConfigs:
    android: messaging.AndroidConfig
    apns: messaging.APNSConfig
    webpush: messaging.WebpushConfig


def _certainly_fits(notification_fields: dict[str, Any], data: dict[str, str]) -> bool:
    """Whether ``_payload_size`` is at most the limit without computing it: every field is ASCII
    text (one character is at most 6 bytes of JSON, an escape) and an upper bound of the document
    is under the limit. Anything else (non-ASCII text, which may not even encode) is measured."""
    bound = 40  # braces and the two keys
    for key, value in (*notification_fields.items(), *data.items()):
        if not (key.__class__ is str and value.__class__ is str and key.isascii() and value.isascii()):
            return False
        bound += 6 * (len(key) + len(value)) + 6  # quotes, colon, comma
    return bound <= MAX_PAYLOAD_BYTES


def _payload_size(notification_fields: dict[str, str], data: dict[str, str]) -> int:
    document = {"notification": notification_fields, "data": data}
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())


def _build_message(message: Message, platforms: dict[tuple, _PlatformConfigs]) -> messaging.Message | Outcome:
    targets = [t for t in (message.token, message.topic) if t]
    if len(targets) != 1:
        return Outcome.failed(ErrorCode.INVALID_MESSAGE, "an FCM message needs exactly one of token or topic")
    token = message.token
    if token is not None and (len(token) > 4096 or not token.isascii() or _WHITESPACE.search(token)):
        return Outcome.invalid(ErrorCode.INVALID_TOKEN, "malformed FCM registration token")
    payload = message.payload or {}
    title = payload.get("title")
    body = payload.get("body")
    image = payload.get("image") or None
    url = str(payload["url"]) if payload.get("url") else None
    data: dict[str, str] = {}
    for key, value in (payload.get("data") or {}).items():
        key = str(key)
        if key in _RESERVED_DATA_KEYS or key.startswith(("google.", "gcm.")):
            return Outcome.failed(ErrorCode.INVALID_MESSAGE, f"data key {key!r} is reserved by FCM")
        data[key] = _data_value(value)
    pp = payload.get("pp") or {}
    if pp.get("delivery"):
        data["pp_delivery"] = str(pp["delivery"])
    if pp.get("notification"):
        data["pp_notification"] = str(pp["notification"])
    if url:
        data["pp_url"] = url
    if payload.get("actions"):
        data["pp_actions"] = _data_value(payload["actions"])
    notification_fields = {k: v for k, v in (("title", title), ("body", body), ("image", image)) if v}
    if not _certainly_fits(notification_fields, data):
        size = _payload_size(notification_fields, data)
        if size > MAX_PAYLOAD_BYTES:
            return Outcome.failed(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"notification + data is {size} bytes; FCM accepts {MAX_PAYLOAD_BYTES}",
            )

    ttl = min(max(0, int(message.ttl)), MAX_TTL_SECONDS)
    urgency = message.urgency if message.urgency in URGENCIES else "normal"
    options = (
        ttl,
        urgency,
        message.collapse_key or None,
        image,
        message.click_action,
        url,
    )
    shared = platforms.get(options)
    if shared is None:
        shared = platforms[options] = _platform_configs(*options)
    try:
        return messaging.Message(
            token=token,
            topic=message.topic,
            notification=messaging.Notification(title=title, body=body, image=image)
            if notification_fields
            else None,
            data=data or None,
            android=shared.android,
            apns=shared.apns,
            webpush=shared.webpush,
        )
    except ValueError as exc:
        return Outcome.failed(ErrorCode.INVALID_MESSAGE, truncate(str(exc)))


def _platform_configs(
    ttl: int,
    urgency: str,
    collapse_key: str | None,
    image: str | None,
    click_action: str | None,
    url: str | None,
) -> _PlatformConfigs:
    high = urgency == "high"
    apns_headers = {
        "apns-priority": "10" if high else "5",
        "apns-expiration": str(int(time.time()) + ttl) if ttl else "0",
    }
    if collapse_key:
        apns_headers["apns-collapse-id"] = collapse_key[:64]
    return _PlatformConfigs(
        android=messaging.AndroidConfig(
            ttl=ttl,
            priority="high" if high else "normal",
            collapse_key=collapse_key,
            notification=(
                messaging.AndroidNotification(image=image, click_action=click_action, icon=None)
                if image or click_action
                else None
            ),
        ),
        apns=messaging.APNSConfig(
            headers=apns_headers,
            payload=messaging.APNSPayload(
                aps=messaging.Aps(mutable_content=True if image else None, category=click_action)
            ),
            fcm_options=messaging.APNSFCMOptions(image=image) if image else None,
        ),
        webpush=messaging.WebpushConfig(
            headers={"TTL": str(ttl), "Urgency": urgency},
            fcm_options=messaging.WebpushFCMOptions(link=url) if url and url.startswith("https://") else None,
        ),
    )


# ---------------------------------------------------------------------------------------------
# Outcome mapping (the error table in issue 4, item 8).


def map_response(response: messaging.SendResponse) -> Outcome:
    if response.success:
        return Outcome.sent(response.message_id, 200)
    return map_error(response.exception)


def _error_details(
    exc: firebase_exceptions.FirebaseError,
) -> tuple[int | None, str | None, dict, float | None]:
    http_response = getattr(exc, "http_response", None)
    if http_response is None:
        return None, None, {}, None
    status = getattr(http_response, "status_code", None)
    retry_after = parse_retry_after(http_response.headers.get("retry-after"))
    fcm_code = None
    error: dict = {}
    try:
        body = http_response.json()
        error = body.get("error") or {} if isinstance(body, dict) else {}
    except ValueError:
        error = {}
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("@type") == _FCM_ERROR_TYPE:
            fcm_code = detail.get("errorCode")
    return status, fcm_code, error, retry_after


def _about_the_token(error: dict, message: str) -> bool:
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("@type") == _BAD_REQUEST_TYPE:
            for violation in detail.get("fieldViolations") or []:
                if str(violation.get("field", "")).endswith("token"):
                    return True
    return "registration token" in message.lower()


def map_error(exc: BaseException | None) -> Outcome:
    if not isinstance(exc, firebase_exceptions.FirebaseError):
        return Outcome.retry(ErrorCode.PROVIDER_ERROR, truncate(repr(exc)))
    status, fcm_code, error, retry_after = _error_details(exc)
    text = truncate(str(exc))
    platform_code = exc.code
    cause = exc.cause

    if isinstance(exc, messaging.UnregisteredError) or fcm_code == "UNREGISTERED":
        return Outcome.invalid(ErrorCode.UNREGISTERED, text, status)
    if isinstance(exc, messaging.QuotaExceededError) or fcm_code == "QUOTA_EXCEEDED" or status == 429:
        return Outcome.retry(
            ErrorCode.RATE_LIMITED, text, status, retry_after=max(MIN_QUOTA_BACKOFF, retry_after or 0.0)
        )
    if (
        isinstance(exc, (messaging.SenderIdMismatchError, messaging.ThirdPartyAuthError))
        or fcm_code in _CREDENTIAL_ERRORS
        or platform_code in (firebase_exceptions.PERMISSION_DENIED, firebase_exceptions.UNAUTHENTICATED)
        or status in (401, 403)
    ):
        outcome = Outcome.failed(ErrorCode.CREDENTIALS_INVALID, text, status)
        outcome.details["fcm_error"] = fcm_code or platform_code
        return outcome
    if fcm_code == "INVALID_ARGUMENT" or platform_code == firebase_exceptions.INVALID_ARGUMENT:
        if _about_the_token(error, str(error.get("message") or text)):
            return Outcome.invalid(ErrorCode.INVALID_TOKEN, text, status)
        return Outcome.failed(ErrorCode.INVALID_ARGUMENT, text, status)
    if platform_code == firebase_exceptions.NOT_FOUND and status == 404:
        # FCM answers an unknown token with UNREGISTERED; a bare 404 is a wrong URL or project.
        return Outcome.failed(ErrorCode.PROVIDER_ERROR, text, status)
    if isinstance(exc, firebase_exceptions.DeadlineExceededError) or isinstance(
        cause, httpx.TimeoutException
    ):
        return Outcome.retry(ErrorCode.TIMEOUT, text, status, retry_after)
    if isinstance(cause, httpx.TransportError) and status is None:
        return Outcome.retry(ErrorCode.CONNECTION_ERROR, text, status, retry_after)
    if (
        fcm_code in ("UNAVAILABLE", "INTERNAL")
        or platform_code in (firebase_exceptions.UNAVAILABLE, firebase_exceptions.INTERNAL)
        or (status is not None and status >= 500)
    ):
        return Outcome.retry(ErrorCode.UNAVAILABLE, text, status, retry_after)
    outcome = Outcome.failed(ErrorCode.PROVIDER_ERROR, f"{fcm_code or platform_code}: {text}", status)
    outcome.details["fcm_error"] = fcm_code or platform_code
    return outcome


# ---------------------------------------------------------------------------------------------
# Cached firebase Apps and the HTTP client bound into them.


class _FcmHttpClient:
    """What firebase-admin's messaging service calls as its `_async_client`: `request(method, url,
    headers=…, json=…)` returning an `httpx.Response` and raising `httpx.HTTPStatusError` for
    4xx/5xx, exactly like its own `HttpxAsyncClient`, but over `Http2Client` with the App's access
    token (refreshed before a batch when close to expiry; a plain 401 refreshes once and retries)."""

    def __init__(self, entry: _AppEntry, client: Http2Client, transport: FcmTransport) -> None:
        self._entry = entry
        self._client = client
        self._loop = asyncio.get_running_loop()
        self._connect_timeout = transport.connect_timeout
        self._read_timeout = transport.timeout
        self._pool_timeout = max(30.0, transport.timeout * 3)
        self._targets: dict[tuple[str, str], tuple[Target, httpx.Request]] = {}
        self._static_headers = [(b"content-type", b"application/json"), (b"user-agent", _USER_AGENT)]
        self._static_headers += [(k.lower().encode(), v.encode()) for k, v in _METRICS_HEADERS.items()]

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        **unused: Any,
    ) -> httpx.Response:
        if unused.keys() - {"timeout"}:
            raise TypeError(f"unsupported request options: {sorted(unused)}")
        cached = self._targets.get((method, url))
        if cached is None:
            cached = self._targets[(method, url)] = (Target.parse(method, url), httpx.Request(method, url))
        target, stub_request = cached
        body = b"" if json is None else _json_dumps(json).encode()
        extra = [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
        extra += self._static_headers
        token = self._entry.credential.token
        status, response_headers, content = await self._send(target, extra, body, token)
        if status == 401 and b"google.firebase.fcm.v1.FcmError" not in content:
            # Our token was refused (revoked, clock skew): refresh once unless someone already did.
            # A 401 carrying an FcmError (THIRD_PARTY_AUTH_ERROR) is about APNs/web push
            # credentials in the Firebase project; a new token would not help.
            if self._entry.credential.token == token:
                await self._entry.refresh()
            status, response_headers, content = await self._send(
                target, extra, body, self._entry.credential.token
            )
        if 200 <= status < 300:
            # send_each_async only calls .json() on a success; a full httpx.Response costs ~25 µs
            # (header normalisation, stream plumbing), 10% of a message. Errors get the real thing.
            return _SuccessResponse(status, response_headers, content, stub_request)  # type: ignore[return-value]
        try:
            response = httpx.Response(status, headers=response_headers, content=content, request=stub_request)
        except Exception as exc:  # malformed headers from the peer
            raise httpx.RemoteProtocolError(f"bad response: {exc}", request=stub_request) from exc
        raise httpx.HTTPStatusError(f"HTTP {status} from FCM", request=stub_request, response=response)

    async def _send(
        self, target: Target, headers: list[tuple[bytes, bytes]], body: bytes, token: str | None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        all_headers = [
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        all_headers += headers
        return await self._client.request(
            target,
            all_headers,
            body,
            connect_timeout=self._connect_timeout,
            pool_timeout=self._pool_timeout,
            read_timeout=self._read_timeout,
        )

    async def aclose(self) -> None:
        # firebase_admin.delete_app() calls this through asyncio.run() on a throw-away loop; the
        # connections belong to the shared loop, so close them there.
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            await self._client.aclose()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._client.aclose()))


class _SuccessResponse:
    """The part of `httpx.Response` a 2xx from FCM needs; anything else builds the real one."""

    __slots__ = ("_headers", "_raw_headers", "content", "request", "status_code")

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]], content: bytes, request: httpx.Request
    ):
        self.status_code = status
        self._raw_headers = headers
        self._headers: httpx.Headers | None = None
        self.content = content
        self.request = request

    @property
    def headers(self) -> httpx.Headers:
        if self._headers is None:
            self._headers = httpx.Headers(self._raw_headers)
        return self._headers

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    @property
    def is_success(self) -> bool:
        return True

    def json(self, **kwargs: Any) -> Any:
        return json.loads(self.content, **kwargs)

    def raise_for_status(self) -> _SuccessResponse:
        return self


def _json_dumps(value: Any) -> str:
    # What httpx does for `json=`: compact, UTF-8, no NaN.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@dataclass(eq=False)
class _AppEntry:
    app: firebase_admin.App
    fingerprint: str
    credential: Any
    token_request: google.auth.transport.requests.Request
    refresh_lock: asyncio.Lock
    http_client: _FcmHttpClient | None = None

    def token_expires_soon(self) -> bool:
        expiry = self.credential.expiry  # google-auth keeps a naive datetime in UTC
        if not self.credential.token or expiry is None:
            return True
        return expiry.replace(tzinfo=dt.UTC).timestamp() - time.time() < _TOKEN_REFRESH_MARGIN

    async def refresh(self) -> None:
        """Fetch a new access token from the service account's token_uri (in a thread: it blocks)."""
        async with self.refresh_lock:
            await asyncio.get_running_loop().run_in_executor(
                None, self.credential.refresh, self.token_request
            )

    async def ensure_token(self) -> Outcome | None:
        if not self.token_expires_soon():
            return None
        async with self.refresh_lock:
            if not self.token_expires_soon():
                return None
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, self.credential.refresh, self.token_request)
            except google.auth.exceptions.RefreshError as exc:
                if getattr(exc, "retryable", False):
                    return Outcome.retry(ErrorCode.UNAVAILABLE, f"token endpoint: {truncate(str(exc))}")
                return Outcome.failed(
                    ErrorCode.CREDENTIALS_INVALID,
                    f"service account rejected by the token endpoint: {truncate(str(exc))}",
                )
            except google.auth.exceptions.TransportError as exc:
                return Outcome.retry(
                    ErrorCode.CONNECTION_ERROR, f"token endpoint unreachable: {truncate(str(exc))}"
                )
        return None


class _AppRegistry:
    """app_id → the firebase App for the current credentials. Used on the shared loop only."""

    def __init__(self) -> None:
        self.entries: dict[str, _AppEntry] = {}
        self._names = itertools.count(1)

    def reset_after_fork(self) -> None:
        keep_inherited(self.entries)
        self.entries = {}

    def cached_app(self, app_id: str) -> firebase_admin.App | None:
        entry = self.entries.get(str(app_id))
        return entry.app if entry else None

    async def get(self, transport: FcmTransport) -> _AppEntry:
        entry = self.entries.get(transport.app_id)
        if entry is not None and entry.fingerprint == transport.fingerprint:
            return entry
        if entry is not None:
            del self.entries[transport.app_id]
            await self._dispose(entry)
        entry = self._create(transport)
        self.entries[transport.app_id] = entry
        return entry

    def _create(self, transport: FcmTransport) -> _AppEntry:
        info = transport.service_account
        certificate = firebase_credentials.Certificate(info)
        name = f"pushpilot:{transport.app_id}:{transport.fingerprint[:12]}:{os.getpid()}:{next(self._names)}"
        app = firebase_admin.initialize_app(
            certificate,
            options={"projectId": info["project_id"], "httpTimeout": transport.timeout},
            name=name,
        )
        session = requests.Session()
        if transport.ca_bundle:
            session.verify = transport.ca_bundle
            # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify.
            session.trust_env = False
        entry = _AppEntry(
            app=app,
            fingerprint=transport.fingerprint,
            credential=app.credential.get_credential(),
            token_request=google.auth.transport.requests.Request(session),
            refresh_lock=asyncio.Lock(),
        )
        _bind_messaging_service(entry, transport)
        return entry

    async def _dispose(self, entry: _AppEntry) -> None:
        if entry.http_client is not None:
            await entry.http_client.aclose()
        # delete_app() closes services with asyncio.run(), which cannot run on this loop's thread.
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, firebase_admin.delete_app, entry.app)

    async def close_all(self) -> None:
        entries, self.entries = list(self.entries.values()), {}
        for entry in entries:
            await self._dispose(entry)


def _bind_messaging_service(entry: _AppEntry, transport: FcmTransport) -> None:
    """The one place that reaches into firebase-admin: its messaging service's send URL and async
    HTTP client. Checked so that a firebase-admin upgrade that moves them fails loudly."""
    service = messaging._get_messaging_service(entry.app)
    for attribute in ("_fcm_url", "_async_client"):
        if not hasattr(service, attribute):
            raise RuntimeError(
                f"firebase-admin's messaging service has no {attribute}; check the pinned version"
            )
    project_id = entry.app.project_id
    service._fcm_url = f"{transport.api_url}/v1/projects/{project_id}/messages:send"

    ssl_context = (
        ssl.create_default_context(cafile=transport.ca_bundle) if transport.ca_bundle else _default_ssl()
    )
    client = Http2Client(
        ssl_context=ssl_context,
        max_connections=transport.max_connections,
        max_streams_per_connection=transport.max_streams_per_connection,
    )
    entry.http_client = _FcmHttpClient(entry, client, transport)
    service._async_client = entry.http_client


def _default_ssl() -> ssl.SSLContext:
    # httpx's own default: SSL_CERT_FILE / SSL_CERT_DIR when set, else certifi's bundle.
    cafile = os.environ.get("SSL_CERT_FILE")
    capath = os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover
        return ssl.create_default_context()


_registry = _AppRegistry()
on_fork_in_child(_registry.reset_after_fork)


def cached_app(app_id: str) -> firebase_admin.App | None:
    """The firebase App currently cached for `app_id` (tests, diagnostics)."""
    return shared_loop().call(lambda: _registry.cached_app(app_id))


def close_all_apps() -> None:
    """Close every cached App and its connections (tests, worker shutdown)."""
    shared_loop().run(_registry.close_all(), timeout=30)
