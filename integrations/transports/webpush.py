"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8188/8291).

Per message the work is: check the endpoint against the allowlist (SSRF, see `urls`), check the
payload size, encrypt, POST. Everything else is shared:
- the VAPID `Authorization` header is signed by py-vapid once per (VAPID key, subject,
  push-service origin) and reused until 10 minutes before its 12-hour expiry;
- one HTTP client per configuration lives on the process's background event loop
  (`base.shared_loop()`), so connections stay open across batches; up to `max_in_flight`
  requests of a batch are in flight at once. The client is `http1.Http1Client` (why: see there);
  `http_client="aiohttp"` uses one shared aiohttp session instead.

Encryption is RFC 8291 written directly on `cryptography` (one ephemeral P-256 key, ECDH, HKDF via
HMAC-SHA-256, one AES-128-GCM record). pywebpush's `WebPusher.encode()` produces the same bytes but
costs ~100-130 µs per message here (deep-copies the subscription, goes through http_ece's generic
multi-version code); this costs what the primitives cost. Checked against RFC 8291's test vector
and http_ece's decryption in the tests; the local fake decrypts with http_ece too.

Requests: TTL (default four weeks: pywebpush's 0 means "drop unless the device is online right
now"), Urgency, Topic (from the collapse key), redirects never followed, connect/read timeouts,
response bodies read up to `max_response_bytes`.

Status → Outcome: 201/200/202 sent (the `Location` header is the provider message id); 404/410
invalid; 413 failed `payload_too_large` (never retried); 429 retry honouring Retry-After (and the
rest of the batch for that origin is not sent); 5xx, timeouts and connection errors retry;
401/403 failed `vapid_rejected` (the app's VAPID key or subject is the problem); 3xx failed
`redirect_refused`; anything else failed with the status and the body's first bytes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import ssl
import struct
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from py_vapid import Vapid02
from yarl import URL

from . import http1
from .base import (
    URGENCIES,
    ErrorCode,
    Message,
    Outcome,
    WebPushSubscription,
    keep_inherited,
    on_fork_in_child,
    parse_retry_after,
    run_batch,
    run_batch_async,
    shared_loop,
    truncate,
)
from .http1 import Http1Client
from .urls import (
    EndpointChecker,
    EndpointNotAllowed,
    OriginRule,
    configured_allowed_origins,
    parse_allowed_origins,
)

# RFC 8291 §4: a push message body is at most 4096 bytes: 86 bytes of aes128gcm header (16 salt,
# 4 record size, 1 key id length, 65 key id), the plaintext, 1 padding delimiter, 16 tag.
MAX_RECORD_BYTES = 4096
_HEADER_BYTES = 86
MAX_PLAINTEXT_BYTES = MAX_RECORD_BYTES - _HEADER_BYTES - 1 - 16  # 3993

VAPID_LIFETIME = 12 * 3600  # the JWT's exp; push services accept at most 24 h
VAPID_RESIGN_BEFORE = 600  # re-sign 10 minutes before expiry

_CURVE = ec.SECP256R1()
_ECDH = ec.ECDH()
_X962 = serialization.Encoding.X962
_UNCOMPRESSED = serialization.PublicFormat.UncompressedPoint
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


# ---------------------------------------------------------------------------------------------
# Encryption.


def b64url_decode(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        value = value.decode("ascii")
    value = value.strip().rstrip("=")
    if "+" in value or "/" in value:  # tolerate standard base64 from old clients
        value = value.replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url_encode(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")


class BadSubscription(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ReceiverKeys:
    public_raw: bytes  # 65-byte uncompressed P-256 point (p256dh)
    public_key: ec.EllipticCurvePublicKey
    auth_secret: bytes  # 16 bytes

    @classmethod
    def from_subscription(cls, subscription: WebPushSubscription) -> ReceiverKeys:
        try:
            public_raw = b64url_decode(subscription.p256dh)
            auth_secret = b64url_decode(subscription.auth)
        except (ValueError, UnicodeEncodeError) as exc:
            raise BadSubscription("p256dh/auth are not base64url") from exc
        if len(public_raw) != 65 or public_raw[0] != 4:
            raise BadSubscription("p256dh is not an uncompressed P-256 point")
        if len(auth_secret) != 16:
            raise BadSubscription("auth must be 16 bytes")
        try:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, public_raw)
        except ValueError as exc:
            raise BadSubscription("p256dh is not a point on P-256") from exc
        return cls(public_raw, public_key, auth_secret)


def _hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


def encrypt_aes128gcm(
    plaintext: bytes,
    receiver: ReceiverKeys,
    *,
    salt: bytes | None = None,
    sender: ec.EllipticCurvePrivateKey | None = None,
) -> bytes:
    """RFC 8291 message encryption: one record, the sender's public key as key id. `salt` and
    `sender` are for test vectors only; a real message gets fresh ones."""
    sender = sender or ec.generate_private_key(_CURVE)
    sender_public = sender.public_key().public_bytes(_X962, _UNCOMPRESSED)
    shared_secret = sender.exchange(_ECDH, receiver.public_key)
    # HKDF with one-block outputs (≤ 32 bytes): extract = HMAC(salt, ikm); expand = HMAC(prk, info‖0x01).
    prk_key = _hmac_sha256(receiver.auth_secret, shared_secret)
    ikm = _hmac_sha256(prk_key, b"WebPush: info\x00" + receiver.public_raw + sender_public + b"\x01")
    salt = salt or os.urandom(16)
    prk = _hmac_sha256(salt, ikm)
    cek = _hmac_sha256(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
    nonce = _hmac_sha256(prk, b"Content-Encoding: nonce\x00\x01")[:12]
    ciphertext = AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)
    return salt + struct.pack("!IB", MAX_RECORD_BYTES, len(sender_public)) + sender_public + ciphertext


def encode_payload(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# ---------------------------------------------------------------------------------------------
# VAPID.


class VapidSigner:
    """Signs the VAPID JWT once per push-service origin and reuses it until near expiry.

    Shared by every transport of the process (keyed by the VAPID public key and subject), so a
    new transport per Celery task does not mean a new signature per task."""

    _lock = threading.Lock()
    _cache: dict[tuple[str, str, str], tuple[str, float]] = {}
    _keys: dict[str, Vapid02] = {}
    signatures = 0  # how many JWTs were signed in this process (tests, metrics)

    def __init__(self, private_key: str, subject: str) -> None:
        if not re.match(r"^(mailto:[^@\s]+@[^@\s]+|https://[^\s/]+.*)$", subject or ""):
            raise ValueError("VAPID subject must be a mailto: address or an https: URL")
        self.subject = subject
        self.vapid = self._load(private_key)
        public = self.vapid.public_key.public_bytes(_X962, _UNCOMPRESSED)
        self.public_key = b64url_encode(public)

    @classmethod
    def _load(cls, private_key: str) -> Vapid02:
        digest = hashlib.sha256(private_key.encode()).hexdigest()
        with cls._lock:
            vapid = cls._keys.get(digest)
        if vapid is None:
            text = private_key.strip()
            vapid = Vapid02.from_pem(text.encode()) if text.startswith("-----") else Vapid02.from_string(text)
            # py-vapid's own `sub` check refuses https: URLs with a path; RFC 8292 allows any
            # mailto: or https: URI, which __init__ checks.
            vapid.conf = {**(vapid.conf or {}), "no-strict": True}
            with cls._lock:
                cls._keys[digest] = vapid
        return vapid

    def header(self, origin: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        key = (self.public_key, self.subject, origin)
        cached = self._cache.get(key)
        if cached is not None and cached[1] - VAPID_RESIGN_BEFORE > now:
            return cached[0]
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[1] - VAPID_RESIGN_BEFORE > now:
                return cached[0]
            expires = int(now) + VAPID_LIFETIME
            header = self.vapid.sign({"aud": origin, "sub": self.subject, "exp": expires})["Authorization"]
            type(self).signatures += 1
            self._cache[key] = (header, float(expires))
            return header


# ---------------------------------------------------------------------------------------------
# The transport.


@dataclass(frozen=True)
class _ClientConfig:
    kind: str  # "native" (http1.Http1Client) or "aiohttp"
    ca_bundle: str | None
    connect_timeout: float
    read_timeout: float
    max_connections: int
    max_response_bytes: int


class _NativeClient:
    def __init__(self, config: _ClientConfig) -> None:
        ssl_context = ssl.create_default_context(cafile=config.ca_bundle) if config.ca_bundle else None
        self.client = Http1Client(
            ssl_context=ssl_context,
            max_connections=config.max_connections,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            max_response_bytes=config.max_response_bytes,
        )

    async def post(self, request: PreparedRequest) -> http1.Response:
        return await self.client.post(request.origin_key, request.target, request.headers, request.body)

    async def close(self) -> None:
        await self.client.aclose()


class _AiohttpClient:
    """The same requests through one shared aiohttp session (the measured alternative)."""

    def __init__(self, config: _ClientConfig) -> None:
        ssl_context: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=config.ca_bundle) if config.ca_bundle else True
        )
        self.max_response_bytes = config.max_response_bytes
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=config.max_connections,
                limit_per_host=config.max_connections,
                ttl_dns_cache=300,
                ssl=ssl_context,
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=config.connect_timeout,
                sock_connect=config.connect_timeout,
                sock_read=config.read_timeout,
            ),
            headers={"User-Agent": "PushPilot"},
        )

    async def post(self, request: PreparedRequest) -> http1.Response:
        async with self.session.post(
            URL(request.url, encoded=True), data=request.body, headers=request.headers, allow_redirects=False
        ) as response:
            body = await response.content.read(self.max_response_bytes)
            truncated = not response.content.at_eof()
            if truncated:
                response.close()  # drop the connection instead of reading an oversized body
            headers = {k.lower(): v for k, v in response.headers.items()}
            return http1.Response(response.status, headers, body, truncated)

    async def close(self) -> None:
        await self.session.close()


class _Clients:
    """One HTTP client per configuration, on the shared loop, reused across batches."""

    def __init__(self) -> None:
        self.clients: dict[_ClientConfig, _NativeClient | _AiohttpClient] = {}

    def get(self, config: _ClientConfig) -> _NativeClient | _AiohttpClient:
        client = self.clients.get(config)
        if client is None:
            client = _AiohttpClient(config) if config.kind == "aiohttp" else _NativeClient(config)
            self.clients[config] = client
        return client

    def reset_after_fork(self) -> None:
        keep_inherited(self.clients)
        self.clients = {}

    async def close_all(self) -> None:
        clients, self.clients = list(self.clients.values()), {}
        for client in clients:
            await client.close()


_clients = _Clients()
on_fork_in_child(_clients.reset_after_fork)


@dataclass(slots=True)
class PreparedRequest:
    url: str
    origin_key: http1.Origin
    target: str
    origin: str  # the VAPID audience
    body: bytes
    headers: dict[str, str]


class WebPushTransport:
    """Web Push for one app (one VAPID key pair and subject)."""

    channel = "web_push"

    def __init__(
        self,
        vapid_private_key: str,
        *,
        subject: str,
        allowed_origins: str | Iterable[str] | Sequence[OriginRule] | None = None,
        ca_bundle: str | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_in_flight: int = 128,
        max_response_bytes: int = 4096,
        http_client: str = "native",
        batch_timeout: float = 300.0,
    ) -> None:
        self.signer = VapidSigner(vapid_private_key, subject)
        if allowed_origins is None:
            rules = configured_allowed_origins()
        elif isinstance(allowed_origins, (list, tuple)) and all(
            isinstance(r, OriginRule) for r in allowed_origins
        ):
            rules = tuple(allowed_origins)
        else:
            rules = parse_allowed_origins(allowed_origins)  # type: ignore[arg-type]
        self.endpoints = EndpointChecker(rules)
        self._origin_keys: dict[str, http1.Origin] = {}
        if http_client not in ("native", "aiohttp"):
            raise ValueError("http_client must be 'native' or 'aiohttp'")
        self.max_in_flight = max(1, max_in_flight)
        self.batch_timeout = batch_timeout
        self.client_config = _ClientConfig(
            http_client, ca_bundle, connect_timeout, timeout, self.max_in_flight, max_response_bytes
        )

    @property
    def vapid_public_key(self) -> str:
        return self.signer.public_key

    # -- public API ------------------------------------------------------------------------------
    def send_batch(self, messages: Sequence[Message]) -> list[Outcome]:
        return run_batch(self._send(list(messages)), len(messages), self.batch_timeout)

    async def send_batch_async(self, messages: Sequence[Message]) -> list[Outcome]:
        return await run_batch_async(self._send(list(messages)), len(messages), self.batch_timeout)

    def prepare(self, message: Message) -> PreparedRequest | Outcome:
        """Everything but the network: allowlist, size, encryption, headers."""
        if not isinstance(message.subscription, (Mapping, WebPushSubscription)):
            return Outcome.failed(ErrorCode.INVALID_MESSAGE, "a Web Push message needs a subscription")
        subscription = WebPushSubscription.from_json(message.subscription)
        try:
            endpoint = self.endpoints.check(subscription.endpoint)
        except EndpointNotAllowed as exc:
            return Outcome.failed(ErrorCode.ENDPOINT_NOT_ALLOWED, exc.reason)
        try:
            plaintext = encode_payload(message.payload)
        except (TypeError, ValueError) as exc:
            return Outcome.failed(ErrorCode.INVALID_MESSAGE, f"payload is not JSON: {truncate(str(exc))}")
        if len(plaintext) > MAX_PLAINTEXT_BYTES:
            return Outcome.failed(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"payload is {len(plaintext)} bytes; at most {MAX_PLAINTEXT_BYTES} fit in a 4096-byte push message",
            )
        try:
            receiver = ReceiverKeys.from_subscription(subscription)
        except BadSubscription as exc:
            return Outcome.invalid(ErrorCode.INVALID_TOKEN, f"broken subscription keys: {exc}")
        origin = endpoint.origin
        try:
            authorization = self.signer.header(origin)
        except Exception as exc:  # py-vapid raises its own exception types  # noqa: BLE001
            return Outcome.failed(
                ErrorCode.VAPID_REJECTED, f"could not sign the VAPID token: {truncate(str(exc))}"
            )
        headers = {
            "Authorization": authorization,
            "TTL": str(max(0, int(message.ttl))),
            "Urgency": message.urgency if message.urgency in URGENCIES else "normal",
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        if message.collapse_key:
            headers["Topic"] = _topic(message.collapse_key)
        origin_key = self._origin_keys.get(origin)
        if origin_key is None:
            origin_key = self._origin_keys[origin] = http1.Origin(
                endpoint.scheme, endpoint.host, endpoint.port
            )
        body = encrypt_aes128gcm(plaintext, receiver)
        return PreparedRequest(endpoint.url, origin_key, endpoint.target, origin, body, headers)

    # -- implementation (runs on the shared loop) ------------------------------------------------
    async def _send(self, messages: list[Message]) -> list[Outcome]:
        client = _clients.get(self.client_config)
        outcomes: list[Outcome | None] = [None] * len(messages)
        backoff: dict[str, tuple[float, Outcome]] = {}  # origin → (until, outcome) after a 429
        work = iter(enumerate(messages))

        async def worker() -> None:
            # A fixed set of workers pulling from one iterator, rather than one task per message
            # behind a semaphore: asyncio.Semaphore wakes waiters in O(waiters) per release.
            for index, message in work:
                prepared = self.prepare(message)
                if isinstance(prepared, Outcome):
                    outcomes[index] = prepared
                    continue
                blocked = backoff.get(prepared.origin)
                if blocked is not None and blocked[0] > time.monotonic():
                    outcomes[index] = Outcome.retry(
                        ErrorCode.RATE_LIMITED,
                        f"{prepared.origin} asked us to slow down",
                        blocked[1].status,
                        retry_after=round(max(0.0, blocked[0] - time.monotonic()), 3),
                    )
                    continue
                outcome = await self._post(client, prepared)
                if outcome.error_code == ErrorCode.RATE_LIMITED:
                    backoff[prepared.origin] = (time.monotonic() + (outcome.retry_after or 60.0), outcome)
                outcomes[index] = outcome

        await asyncio.gather(*(worker() for _ in range(min(self.max_in_flight, len(messages)))))
        return outcomes  # type: ignore[return-value]

    async def _post(self, client: _NativeClient | _AiohttpClient, request: PreparedRequest) -> Outcome:
        try:
            response = await client.post(request)
        except (TimeoutError, http1.ReadTimeout, http1.ConnectTimeout) as exc:
            return Outcome.retry(ErrorCode.TIMEOUT, truncate(str(exc) or "timed out"))
        except (http1.TransportError, aiohttp.ClientError, OSError) as exc:
            return Outcome.retry(ErrorCode.CONNECTION_ERROR, truncate(str(exc) or repr(exc)))
        return map_status(response.status, response.headers, response.body)


def _topic(collapse_key: str) -> str:
    """RFC 8030 Topic: at most 32 base64url characters."""
    if _TOPIC.match(collapse_key):
        return collapse_key
    return b64url_encode(hashlib.sha256(collapse_key.encode()).digest())[:32]


def map_status(status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
    """`headers` with lower-case names."""
    if status in (200, 201, 202):
        return Outcome.sent(headers.get("location"), status)
    text = truncate(body, 200)
    if status in (404, 410):
        return Outcome.invalid(ErrorCode.SUBSCRIPTION_GONE, text or f"HTTP {status}", status)
    if status == 413:
        return Outcome.failed(
            ErrorCode.PAYLOAD_TOO_LARGE, text or "push service refused the payload size", status
        )
    if status == 429:
        retry_after = parse_retry_after(headers.get("retry-after"))
        return Outcome.retry(
            ErrorCode.RATE_LIMITED, text or "too many requests", status, retry_after=retry_after
        )
    if status in (401, 403):
        return Outcome.failed(ErrorCode.VAPID_REJECTED, text or f"HTTP {status}", status)
    if 300 <= status < 400:
        return Outcome.failed(
            ErrorCode.REDIRECT_REFUSED, f"HTTP {status} to {truncate(headers.get('location'), 100)}", status
        )
    if status >= 500:
        retry_after = parse_retry_after(headers.get("retry-after"))
        return Outcome.retry(ErrorCode.UNAVAILABLE, text or f"HTTP {status}", status, retry_after=retry_after)
    return Outcome.failed(ErrorCode.PROVIDER_ERROR, f"HTTP {status}: {text}", status)


def close_all_clients() -> None:
    """Close the shared HTTP clients and their connections (tests, worker shutdown)."""
    shared_loop().run(_clients.close_all(), timeout=30)


def generate_vapid_key_pair() -> tuple[str, str]:
    """(private key as base64url raw scalar, public key as base64url uncompressed point)."""
    key = ec.generate_private_key(_CURVE)
    private_raw = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url_encode(private_raw), b64url_encode(key.public_key().public_bytes(_X962, _UNCOMPRESSED))
