"""A loopback HTTP peer that stands in for PushPilot's SDK endpoints and records what the browser sends.

It answers CORS preflights like the real API (any origin, `Content-Type` and `X-SDK-Key` headers), so
the SDK and the service worker talk to it cross-origin exactly as they talk to a PushPilot API on
another host. Responses are canned per path and can be changed by a test."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: object = None

    @property
    def sdk_key(self) -> str | None:
        return self.headers.get("x-sdk-key")


@dataclass
class Recorder:
    url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    responses: dict[tuple[str, str], tuple[int, object]] = field(default_factory=dict)
    condition: threading.Condition = field(default_factory=threading.Condition)

    def respond(self, method: str, path: str, status: int, body: object) -> None:
        self.responses[(method, path)] = (status, body)

    def record(self, request: RecordedRequest) -> None:
        with self.condition:
            self.requests.append(request)
            self.condition.notify_all()

    def matching(self, method: str, path: str) -> list[RecordedRequest]:
        with self.condition:
            return [r for r in self.requests if r.method == method and r.path == path]

    def wait_for(
        self, method: str, path: str, count: int = 1, timeout: float = 10.0
    ) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                found = [r for r in self.requests if r.method == method and r.path == path]
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    break
                self.condition.wait(remaining)
        assert len(found) >= count, (
            f"expected {count} {method} {path}, got {len(found)}; everything received: "
            f"{[(r.method, r.path) for r in self.requests]}"
        )
        return found


def _handler_for(recorder: Recorder):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep pytest output clean
            pass

        def _cors(self):
            self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
            self.send_header("Vary", "Origin")

        def _reply(self, status: int, body: object) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self._cors()
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_OPTIONS(self):  # CORS preflight: what django-cors-headers answers for /sdk/
            self.send_response(204)
            self._cors()
            self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "content-type, x-sdk-key")
            self.send_header("Access-Control-Max-Age", "0")
            if self.headers.get("Access-Control-Request-Private-Network"):
                self.send_header("Access-Control-Allow-Private-Network", "true")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            path = self.path.split("?", 1)[0]
            recorder.record(
                RecordedRequest(method, path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            status, reply = recorder.responses.get((method, path), (404, {"error": {"code": "not_found"}}))
            self._reply(status, reply() if callable(reply) else reply)

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

    return Handler


def start_recorder() -> tuple[Recorder, ThreadingHTTPServer]:
    recorder = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(recorder))
    server.daemon_threads = True
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    # What the real SDK API answers, in the shapes of DESIGN.md's fixed contract.
    recorder.respond("POST", "/sdk/v1/events", 202, {"accepted": 1, "duplicates": 0, "rejected": 0})
    recorder.respond("POST", "/sdk/v1/subscribe", 201, lambda: {"subscriber_id": str(uuid.uuid4())})
    recorder.respond("POST", "/sdk/v1/identify", 200, {"ok": True})
    recorder.respond("POST", "/sdk/v1/unsubscribe", 200, {"ok": True})
    threading.Thread(target=server.serve_forever, name="sdk-recorder", daemon=True).start()
    return recorder, server
