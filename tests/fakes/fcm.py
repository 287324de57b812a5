"""A local FCM HTTP v1 peer with its OAuth2 token endpoint, speaking HTTP/2 over TLS like Google.

What it checks, like the real service:
- `POST /token`: the service-account JWT-bearer grant. The assertion must be an RS256 JWT signed
  by a service account this fake knows (`create_service_account()`), with `aud` equal to this
  token URL; the answer is a bearer access token valid for an hour.
- `POST /v1/projects/{project}/messages:send`: `Authorization: Bearer <token>` issued by this fake
  for a service account of that project (another project's → 403 PERMISSION_DENIED), and the
  message JSON: exactly one of token/topic/condition, `data` values strings, `notification`,
  `android`, `apns` and `webpush` blocks well-formed, at most 4,096 bytes of notification + data.
  A good message gets `{"name": "projects/{project}/messages/<id>"}`.

Faults, injected by the registration token's prefix (or for every message with `fault_all`), each
answered with FCM's real error shape (a `google.rpc.Status` whose details carry
`type.googleapis.com/google.firebase.fcm.v1.FcmError` with an `errorCode`):

| token prefix     | HTTP | status             | errorCode               |
|------------------|------|--------------------|-------------------------|
| `unregistered-`  | 404  | NOT_FOUND          | UNREGISTERED            |
| `invalid-`       | 400  | INVALID_ARGUMENT   | INVALID_ARGUMENT (token)|
| `quota-`         | 429  | RESOURCE_EXHAUSTED | QUOTA_EXCEEDED + Retry-After |
| `unavailable-`   | 503  | UNAVAILABLE        | UNAVAILABLE             |
| `internal-`      | 500  | INTERNAL           | INTERNAL                |
| `mismatch-`      | 403  | PERMISSION_DENIED  | SENDER_ID_MISMATCH      |
| `thirdparty-`    | 401  | UNAUTHENTICATED    | THIRD_PARTY_AUTH_ERROR  |
| `slow-`          | 200 after `slow_seconds` |  |                         |

Sink mode (`sink=True`, for load tests) counts every message, checks the bearer token on each and
fully validates one in `spot_check_every`; it injects no faults and records only spot-checked
messages.

The server is a small asyncio protocol on top of the `h2` library: HTTP/2 when the client offers
it through ALPN (httpx in firebase-admin's `send_each_async`), HTTP/1.1 otherwise (requests in
`send_each` and in google-auth's token refresh). Clients trust the test CA from
`tests.fakes.tls` (see that module for `SSL_CERT_FILE` / `REQUESTS_CA_BUNDLE`).

From pytest: `FakeFcm().start()` runs it on a free loopback port in a background thread;
`FakeFcm.spawn()` runs `python -m tests.fakes.fcm` in a subprocess (its own CPU, for benchmarks).
Standalone: `python -m tests.fakes.fcm --port 8441 [--sink] --service-account-out sa.json`; then
`GET /_fake/stats` and `POST /_fake/reset` report and clear the counters.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import inspect
import itertools
import json
import os
import re
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.tls import TestCA, ensure_test_ca

# ---------------------------------------------------------------------------------------------
# HTTP plumbing: HTTP/2 (ALPN "h2") and HTTP/1.1 on one port.


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    scheme: str
    authority: str
    http_version: str = "1.1"


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], "Response | Awaitable[Response]"]

_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    411: "Length Required",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}
_MAX_HEAD = 64 * 1024
_MAX_BODY = 1024 * 1024


class HttpProtocol(asyncio.Protocol):
    """One client connection. Responses are written once per `data_received` call, so a burst of
    HTTP/2 streams costs one socket write, not one per frame."""

    def __init__(
        self, handler: Handler, *, scheme: str, max_concurrent_streams: int, goaway_after: int | None = None
    ) -> None:
        self.handler = handler
        self.scheme = scheme
        self.max_concurrent_streams = max_concurrent_streams
        self.goaway_after = goaway_after  # retire the connection after this many requests, as GFE does
        self.requests = 0
        self.highest_dispatched = 0
        self.retired = False
        self.transport: asyncio.Transport | None = None
        self.h2: h2.connection.H2Connection | None = None
        self.streams: dict[int, tuple[list[tuple[bytes, bytes]], bytearray]] = {}
        self.pending: dict[int, bytes] = {}
        self.buffer = bytearray()
        self.h1_busy = False
        self.closed = False

    # -- connection ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        if alpn == "h2":
            config = h2.config.H2Configuration(client_side=False, header_encoding=None)
            conn = h2.connection.H2Connection(config=config)
            conn.local_settings = h2.settings.Settings(
                client=False,
                initial_values={
                    h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.max_concurrent_streams,
                    h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20,
                },
            )
            conn.initiate_connection()
            conn.increment_flow_control_window(1 << 24)
            self.h2 = conn
            self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        if self.h2 is not None:
            self._h2_received(data)
        else:
            self.buffer += data
            self._h1_process()

    # -- HTTP/2 ----------------------------------------------------------------------------
    def _h2_received(self, data: bytes) -> None:
        conn = self.h2
        assert conn is not None
        if self.retired or self.transport.is_closing():
            return
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._flush()
            self.transport.close()
            return
        for event in events:
            if self.retired:
                break  # after GOAWAY nothing more is processed
            if isinstance(event, h2.events.RequestReceived):
                self.streams[event.stream_id] = (event.headers, bytearray())
            elif isinstance(event, h2.events.DataReceived):
                stream = self.streams.get(event.stream_id)
                if stream is not None:
                    stream[1].extend(event.data)
                    if len(stream[1]) > _MAX_BODY:
                        self.streams.pop(event.stream_id, None)
                        self._h2_respond(event.stream_id, Response(413))
                        continue
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                stream = self.streams.pop(event.stream_id, None)
                if stream is not None:
                    self._h2_dispatch(event.stream_id, stream[0], bytes(stream[1]))
            elif isinstance(event, h2.events.StreamReset):
                self.streams.pop(event.stream_id, None)
                self.pending.pop(event.stream_id, None)
            elif isinstance(event, h2.events.WindowUpdated):
                self._h2_send_pending()
            elif isinstance(event, h2.events.ConnectionTerminated):
                self._flush()
                self.transport.close()
                return
        self._flush()

    def _h2_dispatch(self, stream_id: int, raw_headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        headers: dict[str, str] = {}
        for name, value in raw_headers:
            headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        request = Request(
            method=headers.get(":method", ""),
            path=headers.get(":path", ""),
            headers=headers,
            body=body,
            scheme=self.scheme,
            authority=headers.get(":authority", ""),
            http_version="2",
        )
        self.requests += 1
        self.highest_dispatched = max(self.highest_dispatched, stream_id)
        retire = self.goaway_after is not None and self.requests == self.goaway_after
        self._run(request, lambda response: self._h2_respond(stream_id, response, flush=True, retire=retire))

    def _h2_respond(
        self, stream_id: int, response: Response, flush: bool = False, retire: bool = False
    ) -> None:
        conn = self.h2
        if self.closed or conn is None or self.retired or self.transport.is_closing():
            return
        headers = [(":status", str(response.status)), ("content-length", str(len(response.body)))]
        headers.extend((k.lower(), v) for k, v in response.headers)
        try:
            conn.send_headers(stream_id, headers, end_stream=not response.body)
            if response.body:
                self.pending[stream_id] = response.body
                self._h2_send_pending()
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            self.pending.pop(stream_id, None)
        if retire:
            # GOAWAY: streams above this one were not processed and will not be answered. Keep
            # reading (and dropping) for a moment before closing, as servers do: closing with unread
            # data would reset the connection before the client reads the GOAWAY.
            conn.close_connection(last_stream_id=self.highest_dispatched)
            self._flush()
            self.retired = True
            asyncio.get_running_loop().call_later(1.0, self.transport.close)
            return
        if flush:
            self._flush()

    def _h2_send_pending(self) -> None:
        conn = self.h2
        assert conn is not None
        for stream_id in list(self.pending):
            body = self.pending[stream_id]
            try:
                window = conn.local_flow_control_window(stream_id)
            except h2.exceptions.StreamClosedError:
                del self.pending[stream_id]
                continue
            size = min(window, conn.max_outbound_frame_size, len(body))
            if size <= 0:
                continue
            last = size == len(body)
            conn.send_data(stream_id, body[:size], end_stream=last)
            if last:
                del self.pending[stream_id]
            else:
                self.pending[stream_id] = body[size:]

    def _flush(self) -> None:
        if self.h2 is not None and not self.closed:
            data = self.h2.data_to_send()
            if data:
                self.transport.write(data)

    # -- HTTP/1.1 --------------------------------------------------------------------------
    def _h1_process(self) -> None:
        while not self.h1_busy and not self.closed:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    self.transport.close()
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            lines = head.split("\r\n")
            try:
                method, target, _version = lines[0].split(" ", 2)
            except ValueError:
                self.transport.close()
                return
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._h1_write(Response(411), close=True)
                return
            length = int(headers.get("content-length") or 0)
            if length > _MAX_BODY:
                self._h1_write(Response(413), close=True)
                return
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            request = Request(
                method=method,
                path=target,
                headers=headers,
                body=body,
                scheme=self.scheme,
                authority=headers.get("host", ""),
            )
            close = headers.get("connection", "").lower() == "close"
            self.h1_busy = True
            self._run(request, lambda response, close=close: self._h1_done(response, close))

    def _h1_done(self, response: Response, close: bool) -> None:
        self._h1_write(response, close=close)
        self.h1_busy = False
        if not close:
            self._h1_process()

    def _h1_write(self, response: Response, close: bool) -> None:
        if self.closed:
            return
        reason = _REASONS.get(response.status, "Status")
        lines = [f"HTTP/1.1 {response.status} {reason}", f"Content-Length: {len(response.body)}"]
        lines.extend(f"{k}: {v}" for k, v in response.headers)
        if close:
            lines.append("Connection: close")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body)
        if close:
            self.transport.close()

    # -- handler ---------------------------------------------------------------------------
    def _run(self, request: Request, reply: Callable[[Response], None]) -> None:
        try:
            result = self.handler(request)
        except Exception as exc:  # noqa: BLE001 - a bug in the fake must show up as a 500, not a hang
            reply(_json_response(500, {"error": {"code": 500, "message": repr(exc), "status": "INTERNAL"}}))
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)

            def done(t: asyncio.Future) -> None:
                if t.cancelled():
                    return
                exc = t.exception()
                if exc is not None:
                    reply(_json_response(500, {"error": {"code": 500, "message": repr(exc)}}))
                else:
                    reply(t.result())

            task.add_done_callback(done)
        else:
            reply(result)


def _json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(
        status,
        json.dumps(payload, separators=(",", ":")).encode(),
        [("content-type", "application/json; charset=UTF-8"), *(headers or [])],
    )


class BackgroundServer:
    """Runs an asyncio server on its own event loop in a daemon thread. `make_factory` is called on
    that loop and returns the protocol factory (aiohttp's `web.Server` must be built on its loop)."""

    def __init__(self, host: str, port: int, ssl_context: Any, make_factory: Callable[[], Callable[[], Any]]):
        self.host = host
        self.requested_port = port
        self.ssl_context = ssl_context
        self.make_factory = make_factory
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: asyncio.base_events.Server | None = None
        self.thread: threading.Thread | None = None
        self.port = port

    def start(self) -> None:
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            asyncio.set_event_loop(loop)
            try:
                self.server = loop.run_until_complete(self._listen())
                self.port = self.server.sockets[0].getsockname()[1]
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread and raised there
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            # Close the listener and every open connection's task before the loop goes away.
            self.server.close()
            if hasattr(self.server, "close_clients"):
                self.server.close_clients()
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

        self.thread = threading.Thread(target=run, name=f"fake-{self.requested_port}", daemon=True)
        self.thread.start()
        started.wait(10)
        if failure:
            raise failure[0]

    async def _listen(self) -> asyncio.base_events.Server:
        factory = self.make_factory()
        return await asyncio.get_running_loop().create_server(
            factory, self.host, self.requested_port, ssl=self.ssl_context, backlog=1024
        )

    def stop(self) -> None:
        if self.loop is not None and self.thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the server's loop and return its result (state lives on that loop)."""
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(fn), self.loop)
        return future.result(10)


async def _as_coroutine(fn: Callable[[], Any]) -> Any:
    return fn()


# ---------------------------------------------------------------------------------------------
# The FCM service.

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ALLOWED_SCOPES = {
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/firebase.messaging",
}
_SEND_PATH = re.compile(r"^/v1/projects/([^/]+)/messages:send$")
_TOPIC = re.compile(r"^[a-zA-Z0-9\-_.~%]{1,900}$")
_DURATION = re.compile(r"^\d{1,12}(\.\d{1,9})?s$")
MAX_PAYLOAD_BYTES = 4096


def _fcm_error(
    http_status: int,
    status: str,
    message: str,
    error_code: str | None = None,
    extra_details: list[dict] | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    details: list[dict] = []
    if error_code:
        details.append({"@type": FCM_ERROR_TYPE, "errorCode": error_code})
    details.extend(extra_details or [])
    body: dict[str, Any] = {"error": {"code": http_status, "message": message, "status": status}}
    if details:
        body["error"]["details"] = details
    return _json_response(http_status, body, headers)


class _Invalid(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass
class ServiceAccount:
    project_id: str
    client_email: str
    private_key_id: str
    public_key: Any
    info: dict


class ServedFake:
    """Lifecycle shared by the fakes: a ``BackgroundServer`` in ``self._server``, usable as a context
    manager; ``start()`` returns the fake so ``fake = FakeX().start()`` reads naturally."""

    _server: BackgroundServer

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port


class FakeFcm(ServedFake):
    """FCM HTTP v1 + OAuth2 token endpoint. See the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = True,
        sink: bool = False,
        spot_check_every: int = 100,
        slow_seconds: float = 2.0,
        retry_after: int = 120,
        max_concurrent_streams: int = 100,
        goaway_after: int | None = None,
        token_lifetime: int = 3600,
        ca: TestCA | None = None,
    ) -> None:
        self.host = host
        self.tls = tls
        self.sink = sink
        self.spot_check_every = max(1, spot_check_every)
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.token_lifetime = token_lifetime
        self.fault_all: str | None = None
        self.ca = ca or (ensure_test_ca() if tls else None)
        self.accounts: dict[str, ServiceAccount] = {}
        self.access_tokens: dict[str, tuple[ServiceAccount, float]] = {}
        self.received: list[dict] = []
        self.spot_checked: collections.deque[dict] = collections.deque(maxlen=100)
        self.counters: collections.Counter[str] = collections.Counter()
        self._ids = itertools.count(1)
        self._generation = 0
        ssl_context = self.ca.server_context() if tls and self.ca else None
        self._server = BackgroundServer(
            host,
            port,
            ssl_context,
            lambda: (
                lambda: HttpProtocol(
                    self.handle,
                    scheme="https" if tls else "http",
                    max_concurrent_streams=max_concurrent_streams,
                    goaway_after=goaway_after,
                )
            ),
        )

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    @property
    def ca_file(self) -> str | None:
        return self.ca.ca_file if self.ca else None

    @classmethod
    def spawn(cls, *args: str) -> SpawnedFake:
        """Run the fake in its own process (benchmarks); `.info["service_account"]` is trusted by it."""
        return spawn("tests.fakes.fcm", list(args))

    def reset(self) -> None:
        def clear() -> None:
            self._generation += 1
            self.received.clear()
            self.spot_checked.clear()
            self.counters.clear()
            self.fault_all = None

        if self._server.loop is not None:
            self._server.call(clear)
        else:
            clear()

    # -- service accounts ------------------------------------------------------------------
    def create_service_account(self, project_id: str = "pushpilot-test", name: str = "pushpilot") -> dict:
        """A service-account JSON (as Firebase's console would give) that this fake trusts."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_id = secrets.token_hex(20)
        client_email = f"{name}-{secrets.token_hex(3)}@{project_id}.iam.gserviceaccount.com"
        info = {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": key_id,
            "private_key": key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            "client_email": client_email,
            "client_id": str(secrets.randbelow(10**20)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{client_email}",
            "universe_domain": "googleapis.com",
        }
        self.accounts[client_email] = ServiceAccount(project_id, client_email, key_id, key.public_key(), info)
        return info

    def revoke_service_account(self, client_email: str) -> None:
        self.accounts.pop(client_email, None)

    # -- request handling ------------------------------------------------------------------
    def handle(self, request: Request) -> Response | Awaitable[Response]:
        path = request.path.split("?", 1)[0]
        if request.method == "POST" and path.endswith(":send"):
            return self._send(request, path)
        if request.method == "POST" and path == "/token":
            return self._token(request)
        if path == "/_fake/stats":
            return _json_response(200, self.stats())
        if request.method == "POST" and path == "/_fake/reset":
            self._generation += 1
            self.received.clear()
            self.spot_checked.clear()
            self.counters.clear()
            return _json_response(200, {"ok": True})
        return _fcm_error(404, "NOT_FOUND", f"Not found: {request.method} {path}")

    def stats(self) -> dict:
        return {"counters": dict(self.counters), "received": len(self.received)}

    def _token(self, request: Request) -> Response:
        self.counters["token_requests"] += 1
        form = urllib.parse.parse_qs(request.body.decode("utf-8", "replace"))
        if form.get("grant_type", [""])[0] != JWT_BEARER:
            return _json_response(
                400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
            )
        assertion = form.get("assertion", [""])[0]
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return _json_response(400, {"error": "invalid_grant", "error_description": "Invalid JWT."})
        account = self.accounts.get(claims.get("iss", ""))
        if account is None or header.get("kid") not in (None, account.private_key_id):
            return _json_response(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
        # google-auth always addresses the assertion to Google's token endpoint, whatever the
        # token_uri; Google accepts that audience and so does this fake (or its own URL).
        audience = [GOOGLE_TOKEN_AUDIENCE, f"{request.scheme}://{request.authority}/token"]
        try:
            claims = jwt.decode(
                assertion,
                account.public_key,
                algorithms=["RS256"],
                audience=audience,
                options={"require": ["exp", "iat", "iss", "aud"]},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            return _json_response(400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {exc}"})
        if claims["exp"] - claims["iat"] > 3600 + 60:
            return _json_response(
                400, {"error": "invalid_grant", "error_description": "JWT lifetime too long"}
            )
        scopes = set(str(claims.get("scope", "")).split())
        if not scopes & _ALLOWED_SCOPES:
            return _json_response(400, {"error": "invalid_scope", "error_description": "No usable scope"})
        token = "ya29.fake-" + secrets.token_urlsafe(32)
        self.access_tokens[token] = (account, time.time() + self.token_lifetime)
        self.counters["tokens_issued"] += 1
        return _json_response(
            200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    def _send(self, request: Request, path: str) -> Response | Awaitable[Response]:
        match = _SEND_PATH.match(path)
        if not match:
            return _fcm_error(404, "NOT_FOUND", "Requested entity was not found.")
        project = match.group(1)
        auth = request.headers.get("authorization", "")
        entry = self.access_tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if entry is None or entry[1] < time.time():
            self.counters["unauthenticated"] += 1
            return _fcm_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
                "cookie or other valid authentication credential.",
            )
        account = entry[0]
        if account.project_id != project:
            self.counters["permission_denied"] += 1
            return _fcm_error(
                403,
                "PERMISSION_DENIED",
                f"Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager."
                f"googleapis.com/projects/{project}' (or it may not exist).",
            )
        number = self.counters["messages"] = self.counters["messages"] + 1
        self.counters[f"http/{request.http_version}"] += 1
        if self.sink and number % self.spot_check_every:
            self.counters["sent"] += 1
            return self._ok(project, validate_only=False)
        try:
            payload = json.loads(request.body)
            message = self._validate(payload)
        except (ValueError, _Invalid) as exc:
            self.counters["invalid_argument"] += 1
            field_name = exc.field if isinstance(exc, _Invalid) else None
            details = (
                [
                    {
                        "@type": BAD_REQUEST_TYPE,
                        "fieldViolations": [{"field": field_name, "description": str(exc)}],
                    }
                ]
                if field_name
                else []
            )
            return _fcm_error(400, "INVALID_ARGUMENT", str(exc), "INVALID_ARGUMENT", details)
        validate_only = bool(payload.get("validate_only"))
        record = {"project": project, "message": message, "validate_only": validate_only}
        if self.sink:
            self.spot_checked.append(record)
            self.counters["spot_checked"] += 1
            self.counters["sent"] += 1
            return self._ok(project, validate_only)
        fault = self.fault_all or _fault_of(message.get("token", ""))
        if fault:
            self.counters[f"fault_{fault}"] += 1
            if fault == "slow":
                return self._slow(project, record)
            return self._fault(fault)
        self.received.append(record)
        self.counters["sent"] += 1
        return self._ok(project, validate_only)

    async def _slow(self, project: str, record: dict) -> Response:
        generation = self._generation
        await asyncio.sleep(self.slow_seconds)
        if generation == self._generation:  # not after a reset(): the next test must not see it
            self.received.append(record)
            self.counters["sent"] += 1
        return self._ok(project, False)

    def _ok(self, project: str, validate_only: bool) -> Response:
        message_id = (
            "fake_message_id" if validate_only else f"0:{time.time_ns() // 1000}%{next(self._ids):016x}"
        )
        return Response(
            200,
            b'{"name":"projects/' + project.encode() + b"/messages/" + message_id.encode() + b'"}',
            [("content-type", "application/json; charset=UTF-8")],
        )

    def _fault(self, fault: str) -> Response:
        if fault == "unregistered":
            return _fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        if fault == "invalid":
            return _fcm_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
                [
                    {
                        "@type": BAD_REQUEST_TYPE,
                        "fieldViolations": [
                            {"field": "message.token", "description": "Invalid registration token"}
                        ],
                    }
                ],
            )
        if fault == "quota":
            return _fcm_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute'.",
                "QUOTA_EXCEEDED",
                headers=[("retry-after", str(self.retry_after))],
            )
        if fault == "unavailable":
            return _fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE")
        if fault == "internal":
            return _fcm_error(500, "INTERNAL", "Internal error encountered.", "INTERNAL")
        if fault == "mismatch":
            return _fcm_error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")
        if fault == "thirdparty":
            return _fcm_error(
                401,
                "UNAUTHENTICATED",
                "Auth error from APNS or Web Push Service",
                "THIRD_PARTY_AUTH_ERROR",
            )
        return _fcm_error(500, "INTERNAL", f"unknown fault {fault}", "INTERNAL")

    # -- validation, as FCM does it ----------------------------------------------------------
    def _validate(self, payload: Any) -> dict:
        if not isinstance(payload, dict):
            raise _Invalid("Invalid JSON payload received. Expected an object.")
        unknown = set(payload) - {"message", "validate_only"}
        if unknown:
            raise _Invalid(
                f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}": Cannot find field.'
            )
        message = payload.get("message")
        if not isinstance(message, dict):
            raise _Invalid("Request contains an invalid argument.", "message")
        known = {
            "name",
            "data",
            "notification",
            "android",
            "webpush",
            "apns",
            "fcm_options",
            "token",
            "topic",
            "condition",
            "fid",
        }
        unknown = set(message) - known
        if unknown:
            raise _Invalid(
                f"Invalid JSON payload received. Unknown name \"{sorted(unknown)[0]}\" at 'message': Cannot find field."
            )
        targets = [k for k in ("token", "topic", "condition", "fid") if message.get(k)]
        if len(targets) != 1:
            raise _Invalid("Exactly one of token, topic, condition or fid must be specified.", "message")
        if "token" in targets:
            token = message["token"]
            if not isinstance(token, str) or len(token) > 4096 or any(c.isspace() for c in token):
                raise _Invalid(
                    "The registration token is not a valid FCM registration token", "message.token"
                )
        if "topic" in targets and (
            not isinstance(message["topic"], str) or not _TOPIC.match(message["topic"])
        ):
            raise _Invalid("Invalid topic name", "message.topic")
        data = message.get("data")
        if data is not None:
            _string_map(data, "message.data")
            for key in data:
                if key in ("from", "notification", "message_type") or key.startswith(("google.", "gcm.")):
                    raise _Invalid(f"Invalid data payload key: {key}", "message.data")
        notification = message.get("notification")
        if notification is not None:
            _string_fields(notification, "message.notification", {"title", "body", "image"})
        android = message.get("android")
        if android is not None:
            self._validate_android(android)
        apns = message.get("apns")
        if apns is not None:
            if not isinstance(apns, dict):
                raise _Invalid("Invalid value", "message.apns")
            if "headers" in apns:
                _string_map(apns["headers"], "message.apns.headers")
            if "payload" in apns and not isinstance(apns["payload"], dict):
                raise _Invalid("Invalid value", "message.apns.payload")
        webpush = message.get("webpush")
        if webpush is not None:
            if not isinstance(webpush, dict):
                raise _Invalid("Invalid value", "message.webpush")
            for key in ("headers", "data"):
                if key in webpush:
                    _string_map(webpush[key], f"message.webpush.{key}")
            link = (webpush.get("fcm_options") or {}).get("link")
            if link is not None and not str(link).startswith("https://"):
                raise _Invalid("The link must be an https URL", "message.webpush.fcm_options.link")
        # Bytes of compact UTF-8 JSON, as the client sends it (non-ASCII is not \u-escaped on the wire).
        # FCM documents a 4,096-byte limit without saying how it counts; this is our reading of it.
        document = {"notification": notification or {}, "data": data or {}}
        size = len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_PAYLOAD_BYTES:
            raise _Invalid(f"Message is too big: {size} bytes > {MAX_PAYLOAD_BYTES}", "message")
        return message

    def _validate_android(self, android: Any) -> None:
        if not isinstance(android, dict):
            raise _Invalid("Invalid value", "message.android")
        if "ttl" in android and (not isinstance(android["ttl"], str) or not _DURATION.match(android["ttl"])):
            raise _Invalid(
                "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration)"
            )
        if "priority" in android and str(android["priority"]).upper() not in ("NORMAL", "HIGH"):
            raise _Invalid("Invalid value at 'message.android.priority'", "message.android.priority")
        if "collapse_key" in android and not isinstance(android["collapse_key"], str):
            raise _Invalid("Invalid value", "message.android.collapse_key")
        if "data" in android:
            _string_map(android["data"], "message.android.data")
        notification = android.get("notification")
        if notification is not None and not isinstance(notification, dict):
            raise _Invalid("Invalid value", "message.android.notification")


def _string_map(value: Any, field_name: str) -> None:
    if not isinstance(value, dict):
        raise _Invalid(f"Invalid value at '{field_name}'", field_name)
    for index, (key, item) in enumerate(value.items()):
        if not isinstance(key, str) or not isinstance(item, str):
            raise _Invalid(f"Invalid value at '{field_name}[{index}].value' (TYPE_STRING)", field_name)


def _string_fields(value: Any, field_name: str, names: set[str]) -> None:
    if not isinstance(value, dict):
        raise _Invalid(f"Invalid value at '{field_name}'", field_name)
    for key, item in value.items():
        if key not in names:
            raise _Invalid(f"Invalid JSON payload received. Unknown name \"{key}\" at '{field_name}'")
        if not isinstance(item, str):
            raise _Invalid(f"Invalid value at '{field_name}.{key}' (TYPE_STRING)", field_name)


_FAULT_PREFIXES = (
    "unregistered",
    "invalid",
    "quota",
    "unavailable",
    "internal",
    "mismatch",
    "thirdparty",
    "slow",
)


def _fault_of(token: str) -> str | None:
    prefix, dash, _ = token.partition("-")
    if dash and prefix in _FAULT_PREFIXES:
        return prefix
    return None


# ---------------------------------------------------------------------------------------------
# Subprocess mode (benchmarks: the fake gets its own process and CPU).


class SpawnedFake:
    """A fake running as `python -m <module>` in a child process."""

    def __init__(self, process: subprocess.Popen, base_url: str, info: dict):
        self.process = process
        self.base_url = base_url
        self.info = info

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def cpu_seconds(self) -> float:
        """User + system CPU the child has used so far (Linux /proc)."""
        with open(f"/proc/{self.process.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks


def spawn(module: str, args: list[str], timeout: float = 20) -> SpawnedFake:
    """Start `python -m module --port 0 …`; the child prints one JSON line with its address."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", "--ready-json", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line:
        process.kill()
        process.wait(5)
        raise RuntimeError(f"{module} did not start within {timeout}s")
    info = json.loads(line)
    return SpawnedFake(process, info["base_url"], info)


def wait_for_signal(ready: dict, ready_json: bool) -> None:
    """Print where the fake listens (one JSON line for `spawn()`), then serve until SIGTERM/SIGINT."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if ready_json:
        print(json.dumps(ready), flush=True)
    else:
        for key, value in ready.items():
            print(f"{key}: {value}", flush=True)
    while not stop.wait(0.2):
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local FCM HTTP v1 + OAuth2 token peer (HTTP/2 over TLS).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8441)
    parser.add_argument("--no-tls", action="store_true", help="plain HTTP/1.1 (no HTTP/2)")
    parser.add_argument("--sink", action="store_true", help="count and spot-check only (load tests)")
    parser.add_argument("--spot-check-every", type=int, default=100)
    parser.add_argument("--project", default="pushpilot-load")
    parser.add_argument("--service-account-out", help="write a service-account JSON this fake trusts")
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    parser.add_argument("--retry-after", type=int, default=120)
    parser.add_argument("--max-streams", type=int, default=100)
    parser.add_argument(
        "--fault", choices=[p for p in _FAULT_PREFIXES], help="inject this fault for every message"
    )
    parser.add_argument("--ready-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    fake = FakeFcm(
        host=args.host,
        port=args.port,
        tls=not args.no_tls,
        sink=args.sink,
        spot_check_every=args.spot_check_every,
        slow_seconds=args.slow_seconds,
        retry_after=args.retry_after,
        max_concurrent_streams=args.max_streams,
    )
    fake.fault_all = args.fault
    fake.start()
    account = fake.create_service_account(args.project)
    if args.service_account_out:
        with open(args.service_account_out, "w") as fh:
            json.dump(account, fh)
        os.chmod(args.service_account_out, 0o600)
    ready = {
        "base_url": fake.base_url,
        "token_uri": fake.token_uri,
        "ca_file": fake.ca_file,
        "service_account": account if args.ready_json else args.service_account_out,
    }
    wait_for_signal(ready, args.ready_json)
    fake.stop()


if __name__ == "__main__":
    main()
