"""The one contract every push transport implements, and the event loop they share.

A transport takes plain data (credentials, a list of `Message`) and returns one `Outcome` per
message, in order. Provider errors are data: an invalid token, a 429 or a rejected credential is an
`Outcome`, never an exception the caller has to catch. Only programming errors raise.

`Outcome.kind` tells the pipeline what to do:
- `sent`: delivered to the provider (`provider_message_id` set);
- `invalid`: the token/subscription is gone, mark the subscriber invalid, never retry;
- `retry`: transient (429, 5xx, timeout, connection), retry later, at the earliest after
  `retry_after` seconds when the provider said so;
- `failed`: permanent for this message (`error_code` + `error_message` say why). Codes that
  concern the whole app rather than one message are in `APP_LEVEL_ERRORS`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import enum
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")

# pywebpush and FCM default to TTL 0 / "deliver now or drop": a phone that is off for a minute
# would never see the message. Four weeks is the longest TTL FCM accepts.
DEFAULT_TTL_SECONDS = 4 * 7 * 24 * 3600
MAX_TTL_SECONDS = DEFAULT_TTL_SECONDS
URGENCIES = ("very-low", "low", "normal", "high")


class OutcomeKind(enum.StrEnum):
    SENT = "sent"
    INVALID = "invalid"
    RETRY = "retry"
    FAILED = "failed"


class ErrorCode(enum.StrEnum):
    # invalid: the subscriber is gone
    UNREGISTERED = "unregistered"
    INVALID_TOKEN = "invalid_token"
    SUBSCRIPTION_GONE = "subscription_gone"
    # retry
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    # failed, the whole app is affected: stop the run, flag the app
    CREDENTIALS_INVALID = "credentials_invalid"
    VAPID_REJECTED = "vapid_rejected"
    # failed, this message only
    PAYLOAD_TOO_LARGE = "payload_too_large"
    ENDPOINT_NOT_ALLOWED = "endpoint_not_allowed"
    REDIRECT_REFUSED = "redirect_refused"
    INVALID_MESSAGE = "invalid_message"
    INVALID_ARGUMENT = "invalid_argument"
    PROVIDER_ERROR = "provider_error"


# Failures that say nothing about the recipient and everything about the app's configuration:
# the pipeline should flag the app and stop the run instead of burning the audience.
APP_LEVEL_ERRORS = frozenset({ErrorCode.CREDENTIALS_INVALID, ErrorCode.VAPID_REJECTED})


@dataclass(frozen=True, slots=True)
class WebPushSubscription:
    """A browser's PushSubscription: endpoint plus the p256dh public key and auth secret
    (both base64url, as `PushSubscription.toJSON()` gives them)."""

    endpoint: str
    p256dh: str
    auth: str

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | WebPushSubscription) -> WebPushSubscription:
        if isinstance(value, WebPushSubscription):
            return value
        keys = value.get("keys") or {}
        return cls(
            endpoint=str(value.get("endpoint") or ""),
            p256dh=str(keys.get("p256dh") or ""),
            auth=str(keys.get("auth") or ""),
        )


@dataclass(slots=True)
class Message:
    """One notification for one recipient.

    `payload` is the Web Push contract (DESIGN.md "Fixed contract"): JSON
    `{title, body, url?, icon?, image?, actions?, data?, pp: {delivery, notification}}`. Web Push
    sends it encrypted as is; FCM maps it to `notification` + string `data` (with `pp_delivery`).

    Target: `token` (FCM registration token), `topic` (FCM topic) or `subscription` (Web Push).
    `urgency` is Web Push's header (very-low | low | normal | high); FCM sends `high` as high
    priority and everything else as normal. `collapse_key` becomes FCM's collapse key / APNs
    collapse id and Web Push's `Topic` header. `click_action` is Android's intent action / APNs
    category.
    """

    payload: dict[str, Any]
    token: str | None = None
    topic: str | None = None
    subscription: WebPushSubscription | Mapping[str, Any] | None = None
    ttl: int = DEFAULT_TTL_SECONDS
    urgency: str = "normal"
    collapse_key: str | None = None
    click_action: str | None = None


@dataclass(slots=True)
class Outcome:
    kind: OutcomeKind
    provider_message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None
    status: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> Outcome:
        return dataclasses.replace(self, details=dict(self.details))

    def repeat(self, count: int) -> list[Outcome]:
        """`count` independent copies (one per message of a batch that failed as a whole)."""
        return [self.copy() for _ in range(count)]

    @property
    def ok(self) -> bool:
        return self.kind is OutcomeKind.SENT

    @property
    def app_level(self) -> bool:
        return self.error_code in APP_LEVEL_ERRORS

    @classmethod
    def sent(cls, provider_message_id: str | None, status: int | None = None) -> Outcome:
        return cls(OutcomeKind.SENT, provider_message_id=provider_message_id, status=status)

    @classmethod
    def invalid(cls, code: str, message: str = "", status: int | None = None) -> Outcome:
        return cls(OutcomeKind.INVALID, error_code=code, error_message=message, status=status)

    @classmethod
    def retry(
        cls, code: str, message: str = "", status: int | None = None, retry_after: float | None = None
    ) -> Outcome:
        return cls(
            OutcomeKind.RETRY, error_code=code, error_message=message, status=status, retry_after=retry_after
        )

    @classmethod
    def failed(cls, code: str, message: str = "", status: int | None = None, **details: Any) -> Outcome:
        return cls(OutcomeKind.FAILED, error_code=code, error_message=message, status=status, details=details)


@runtime_checkable
class Transport(Protocol):
    """`send_batch` from synchronous code (a Celery task); `send_batch_async` from a coroutine.
    Both return one Outcome per message, in the order given, and never raise for provider errors."""

    channel: str

    def send_batch(self, messages: Sequence[Message]) -> list[Outcome]: ...

    async def send_batch_async(self, messages: Sequence[Message]) -> list[Outcome]: ...


def run_batch(coro: Coroutine[Any, Any, list[Outcome]], count: int, timeout: float) -> list[Outcome]:
    """Run a transport's batch coroutine on the shared loop from synchronous code. A batch that
    does not finish within `timeout` is cancelled and reported as retryable, never raised."""
    try:
        return shared_loop().run(coro, timeout)
    except TimeoutError:
        return Outcome.retry(ErrorCode.TIMEOUT, f"the batch did not finish within {timeout:.0f}s").repeat(
            count
        )


async def run_batch_async(
    coro: Coroutine[Any, Any, list[Outcome]], count: int, timeout: float
) -> list[Outcome]:
    try:
        async with asyncio.timeout(timeout):
            return await shared_loop().run_async(coro)
    except TimeoutError:
        return Outcome.retry(ErrorCode.TIMEOUT, f"the batch did not finish within {timeout:.0f}s").repeat(
            count
        )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def truncate(text: str | bytes | None, limit: int = 300) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "…"


# ---------------------------------------------------------------------------------------------
# One long-lived event loop per process.
#
# firebase-admin's async client (httpx) and our aiohttp session bind their connections to the
# loop they were first used on. `asyncio.run()` per batch creates and closes a loop each time, so a
# cached client breaks on the second batch ("Event loop is closed"), and every batch would pay new
# TLS handshakes. Instead one loop runs for the life of the worker process in a daemon thread;
# synchronous callers submit coroutines to it.


class BackgroundLoop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="pushpilot-transports", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def thread_id(self) -> int | None:
        return self._thread.ident

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the loop and wait for it from a synchronous caller."""
        if threading.get_ident() == self._thread.ident:
            coro.close()
            raise RuntimeError("BackgroundLoop.run() called from the loop's own thread; await it instead")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` on the shared loop from any other running loop (an async view)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def call(self, fn: Callable[[], T], timeout: float | None = 30) -> T:
        """Run a plain function on the loop thread (state owned by the loop lives there)."""

        async def wrapper() -> T:
            return fn()

        return self.run(wrapper(), timeout)


_loop_lock = threading.Lock()
_loop: BackgroundLoop | None = None
_fork_hooks: list[Callable[[], None]] = []
# Objects inherited from the parent across fork(): never closed (closing a TLS connection would send
# close_notify on the parent's socket), never collected either.
_inherited: list[Any] = []


def shared_loop() -> BackgroundLoop:
    global _loop
    if _loop is None:
        with _loop_lock:
            if _loop is None:
                _loop = BackgroundLoop()
    return _loop


def on_fork_in_child(hook: Callable[[], None]) -> None:
    """Register a reset for per-process state (caches bound to the parent's loop)."""
    _fork_hooks.append(hook)


def keep_inherited(obj: Any) -> None:
    _inherited.append(obj)


def _after_fork_in_child() -> None:
    global _loop, _loop_lock
    # Celery's prefork pool forks after imports; the parent's loop thread does not exist here.
    if _loop is not None:
        keep_inherited(_loop)
    _loop = None
    _loop_lock = threading.Lock()
    for hook in _fork_hooks:
        hook()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


async def gather_limited(coros: Sequence[Awaitable[T]], limit: int) -> list[T]:
    """`asyncio.gather` with at most `limit` awaitables running at once."""
    semaphore = asyncio.Semaphore(limit)

    async def guarded(aw: Awaitable[T]) -> T:
        async with semaphore:
            return await aw

    return await asyncio.gather(*(guarded(c) for c in coros))
