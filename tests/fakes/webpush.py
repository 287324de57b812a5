"""A local Web Push service (RFC 8030) that checks what a real one checks, and reads the payload.

Each `POST` to a subscription endpoint is checked like a push service does:
- `Authorization: vapid t=<JWT>, k=<public key>` (RFC 8292): ES256 signature valid for `k`, `aud`
  equal to this service's origin (scheme://host[:port] as the client addressed it), `exp` in the
  future and at most 24 h away, `sub` a mailto: or https: URI; when the subscription was made with an
  applicationServerKey, `k` must be that key (403 otherwise). Missing or bad → 401.
- `TTL` present (400 otherwise), `Urgency` one of very-low|low|normal|high, `Topic` ≤ 32 base64url
  characters, `Content-Encoding: aes128gcm`, body ≤ 4096 bytes (413 otherwise).
- the body decrypts (RFC 8291, with http_ece and the subscriber's private key) — 400 otherwise;
  the plaintext is recorded in `received`.
A good message gets `201 Created` with a `Location`.

The test plays the browser: `fake.subscribe()` generates a P-256 key pair and a 16-byte auth secret
as `PushManager.subscribe()` would, keeps the private half for decryption, and returns the
`PushSubscription` JSON ({endpoint, keys: {p256dh, auth}}).

Faults by endpoint path, `fake.subscribe(fault="410")` → `/push/410/<id>`: `404`, `410`, `413`,
`429` (with `Retry-After`), `500`, `503`, `401`, `403`, `redirect` (307 to `/landing`, which
counts hits, so a followed redirect shows), `slow` (answers after `slow_seconds`), `bigbody` (a
400 with a 200 kB body, for the client's response cap).

Sink mode (`sink=True`, load tests): counts every message and checks its VAPID header (verified
once per distinct JWT, as a real service caches), decrypts one in `spot_check_every`; no faults.
Standalone: `python -m tests.fakes.webpush --port 8450 [--sink]`; `POST /_fake/subscriptions`
{"count": N} creates N subscriptions (the fake keeps their keys) for a load generator;
`GET /_fake/stats`, `POST /_fake/reset`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.fcm import BackgroundServer, ServedFake, SpawnedFake, spawn, wait_for_signal
from tests.fakes.tls import TestCA, ensure_test_ca

MAX_BODY = 4096
MAX_VAPID_LIFETIME = 24 * 3600
FAULTS = ("404", "410", "413", "429", "500", "503", "401", "403", "redirect", "slow", "bigbody")
_URGENCIES = {"very-low", "low", "normal", "high"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class FakeSubscription:
    """What a browser holds after `PushManager.subscribe()`."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    application_server_key: str | None = None

    @property
    def p256dh(self) -> str:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return _b64(public)

    def json(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": _b64(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        return http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )


@dataclass
class Received:
    endpoint: str
    plaintext: bytes
    headers: dict[str, str]
    claims: dict
    vapid_key: str

    @property
    def payload(self) -> Any:
        return json.loads(self.plaintext)


@dataclass
class _Stats:
    counters: collections.Counter = field(default_factory=collections.Counter)
    tokens_by_origin: dict[str, set[str]] = field(default_factory=lambda: collections.defaultdict(set))


class FakeWebPush(ServedFake):
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        sink: bool = False,
        spot_check_every: int = 100,
        retry_after: int = 30,
        slow_seconds: float = 2.0,
        ca: TestCA | None = None,
    ) -> None:
        self.host = host
        self.tls = tls
        self.sink = sink
        self.spot_check_every = max(1, spot_check_every)
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.ca = ca or (ensure_test_ca() if tls else None)
        self.subscriptions: dict[str, FakeSubscription] = {}
        self.received: list[Received] = []
        self.spot_checked: collections.deque[Received] = collections.deque(maxlen=100)
        self.stats = _Stats()
        self._verified_tokens: dict[str, tuple[dict, str]] = {}
        self._ids = itertools.count(1)
        self._server = BackgroundServer(
            host,
            port,
            self.ca.server_context(("http/1.1",)) if tls and self.ca else None,
            lambda: web.Server(self.handle, access_log=None),
        )

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def counters(self) -> collections.Counter:
        return self.stats.counters

    def reset(self) -> None:
        self.received.clear()
        self.spot_checked.clear()
        self.stats = _Stats()
        self._verified_tokens.clear()

    def tokens_for(self, origin: str) -> set[str]:
        """Distinct VAPID JWTs seen for an audience (how often the sender signed)."""
        return set(self.stats.tokens_by_origin.get(origin, set()))

    # -- the browser's side ----------------------------------------------------------------
    def subscribe(
        self, *, fault: str | None = None, application_server_key: str | None = None, host: str | None = None
    ) -> FakeSubscription:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        sub_id = secrets.token_urlsafe(24)
        path = f"/push/{fault}/{sub_id}" if fault else f"/push/{sub_id}"
        origin = f"{'https' if self.tls else 'http'}://{host or self.host}:{self.port}"
        subscription = FakeSubscription(
            endpoint=origin + path,
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=secrets.token_bytes(16),
            application_server_key=application_server_key,
        )
        self.subscriptions[path] = subscription
        return subscription

    # -- the push service ------------------------------------------------------------------
    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if path.startswith("/push/") and request.method == "POST":
            return await self._push(request, path)
        if path == "/landing":
            self.counters["redirect_followed"] += 1
            return web.Response(status=201)
        if path == "/_fake/stats":
            return web.json_response(
                {
                    "counters": dict(self.counters),
                    "distinct_vapid_tokens": {o: len(t) for o, t in self.stats.tokens_by_origin.items()},
                }
            )
        if path == "/_fake/reset" and request.method == "POST":
            self.reset()
            return web.json_response({"ok": True})
        if path == "/_fake/subscriptions" and request.method == "POST":
            count = int((await request.json()).get("count", 1))
            subs = [self.subscribe().json() for _ in range(min(count, 200_000))]
            return web.json_response({"subscriptions": subs})
        return web.Response(status=404)

    async def _push(self, request: web.BaseRequest, path: str) -> web.StreamResponse:
        counters = self.counters
        number = counters["messages"] = counters["messages"] + 1
        body = await request.content.read(MAX_BODY + 1)
        fault = None if self.sink else path.split("/")[2] if path.count("/") >= 3 else None
        if fault is not None and fault in FAULTS:
            counters[f"fault_{fault}"] += 1
            return await self._fault(fault)
        subscription = self.subscriptions.get(path)
        if subscription is None and not self.sink:
            counters["unknown_subscription"] += 1
            return web.Response(status=404, text="No such subscription")
        if len(body) > MAX_BODY:
            counters["too_large"] += 1
            return web.Response(status=413, text="Payload too large")
        origin = f"{request.scheme}://{request.host}"
        checked = self._check_vapid(request.headers.get("Authorization", ""), origin)
        if isinstance(checked, web.Response):
            return checked
        claims, vapid_key = checked
        if subscription is not None and subscription.application_server_key not in (None, vapid_key):
            counters["vapid_key_mismatch"] += 1
            return web.Response(
                status=403, text="VAPID key does not match the subscription's applicationServerKey"
            )
        headers = request.headers
        problem = self._check_headers(headers)
        if problem:
            counters["bad_headers"] += 1
            return web.Response(status=400, text=problem)
        if self.sink and (number % self.spot_check_every or subscription is None):
            counters["accepted"] += 1
            return web.Response(status=201, headers={"Location": f"{origin}/m/{number}"})
        assert subscription is not None
        try:
            plaintext = subscription.decrypt(body)
        except Exception as exc:  # noqa: BLE001 - whatever http_ece raises, the body did not decrypt
            counters["undecryptable"] += 1
            return web.Response(status=400, text=f"Decryption failed: {exc!r}")
        record = Received(
            endpoint=subscription.endpoint,
            plaintext=plaintext,
            headers={k: headers[k] for k in ("TTL", "Urgency", "Topic") if k in headers},
            claims=claims,
            vapid_key=vapid_key,
        )
        if self.sink:
            self.spot_checked.append(record)
            counters["spot_checked"] += 1
        else:
            self.received.append(record)
        counters["accepted"] += 1
        return web.Response(status=201, headers={"Location": f"{origin}/m/{next(self._ids)}"})

    async def _fault(self, fault: str) -> web.StreamResponse:
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
            return web.Response(status=201)
        if fault == "redirect":
            return web.Response(status=307, headers={"Location": f"{self.origin}/landing"})
        if fault == "bigbody":
            return web.Response(status=400, body=b"x" * 200_000)
        if fault == "429":
            return web.Response(
                status=429, headers={"Retry-After": str(self.retry_after)}, text="Too many requests"
            )
        texts = {
            "404": "Subscription not found",
            "410": "push subscription has unsubscribed or expired.",
            "413": "Payload too large",
            "500": "Internal error",
            "503": "Service unavailable",
            "401": "Invalid VAPID credentials",
            "403": "VAPID key mismatch",
        }
        return web.Response(status=int(fault), text=texts[fault])

    def _check_vapid(self, header: str, origin: str) -> tuple[dict, str] | web.Response:
        cached = self._verified_tokens.get(header)
        if cached is not None:
            claims, key = cached
            if claims["exp"] > time.time():
                self.stats.tokens_by_origin[origin].add(header)
                return cached
        scheme, _, params = header.partition(" ")
        if scheme.lower() != "vapid":
            return self._unauthorized("Authorization must use the vapid scheme")
        parts: dict[str, str] = {}
        for item in params.split(","):
            name, _, value = item.strip().partition("=")
            parts[name.strip()] = value.strip()
        token, key = parts.get("t"), parts.get("k")
        if not token or not key:
            return self._unauthorized("vapid t= and k= are both required")
        try:
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(key))
            claims = jwt.decode(
                token,
                public,
                algorithms=["ES256"],
                audience=origin,
                options={"require": ["aud", "exp", "sub"]},
            )
        except (ValueError, InvalidSignature, jwt.PyJWTError) as exc:
            return self._unauthorized(f"invalid VAPID JWT: {exc}")
        if claims["exp"] > time.time() + MAX_VAPID_LIFETIME:
            return self._unauthorized("VAPID exp is more than 24 hours in the future")
        sub = str(claims.get("sub", ""))
        if not (sub.startswith("mailto:") or sub.startswith("https:")):
            return self._unauthorized("VAPID sub must be a mailto: or https: URI")
        self.counters["vapid_verified"] += 1
        self._verified_tokens[header] = (claims, key)
        self.stats.tokens_by_origin[origin].add(header)
        return claims, key

    def _unauthorized(self, text: str) -> web.Response:
        self.counters["unauthorized"] += 1
        return web.Response(status=401, text=text)

    @staticmethod
    def _check_headers(headers: Any) -> str | None:
        ttl = headers.get("TTL")
        if ttl is None or not ttl.isdigit():
            return "TTL header is required (non-negative integer)"
        urgency = headers.get("Urgency")
        if urgency is not None and urgency not in _URGENCIES:
            return "Urgency must be very-low, low, normal or high"
        topic = headers.get("Topic")
        if topic is not None and (len(topic) > 32 or not all(c.isalnum() or c in "-_" for c in topic)):
            return "Topic must be at most 32 base64url characters"
        if headers.get("Content-Encoding", "").lower() != "aes128gcm":
            return "Content-Encoding must be aes128gcm"
        return None

    @classmethod
    def spawn(cls, *args: str) -> SpawnedFake:
        """Run the fake in its own process (benchmarks)."""
        return spawn("tests.fakes.webpush", list(args))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Web Push service (RFC 8030 + VAPID + aes128gcm).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8450)
    parser.add_argument("--tls", action="store_true", help="https with the test CA (tests.fakes.tls)")
    parser.add_argument("--sink", action="store_true", help="count and spot-check only (load tests)")
    parser.add_argument("--spot-check-every", type=int, default=100)
    parser.add_argument("--retry-after", type=int, default=30)
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    parser.add_argument("--ready-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    fake = FakeWebPush(
        host=args.host,
        port=args.port,
        tls=args.tls,
        sink=args.sink,
        spot_check_every=args.spot_check_every,
        retry_after=args.retry_after,
        slow_seconds=args.slow_seconds,
    )
    fake.start()
    ready = {"base_url": fake.origin, "origin": fake.origin, "ca_file": fake.ca.ca_file if fake.ca else None}
    wait_for_signal(ready, args.ready_json)
    fake.stop()


if __name__ == "__main__":
    main()
