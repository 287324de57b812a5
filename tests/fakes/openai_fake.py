"""A local OpenAI-compatible Chat Completions server, reached by the real ``openai`` client over HTTP.

`POST /v1/chat/completions` checks what a strict structured-output server checks: a bearer
`Authorization` header (401 otherwise; with `required_key` set it must be that key), `model`, a
non-empty `messages` list of {role, content}, and `response_format` = {"type": "json_schema",
"json_schema": {"name", "strict": true, "schema": {…object…}}} (400 in OpenAI's error shape
otherwise). It answers `chat.completion` objects with `usage` (whitespace-separated word counts of
the prompt and of the answer, or scripted numbers).

Answers come from a script, one per request, in order (`fake.reply_*`); with an empty script it
writes valid variants itself from the schema (`minItems` of them). Like a server that enforces the
schema, it refuses (500) to send scripted JSON that does not match the request's schema — a bug in
the test; `reply_raw` sends text as is (a server without grammar support: invalid JSON).

- `reply_variants([(title, body), …], language="en")`, `reply_json(obj)`, `reply_raw(text)`
- `reply_error(status, message, headers=…, code=…)` — e.g. 429 with `Retry-After`, 500; OpenAI's
  billing 429 is `reply_error(429, …, code="insufficient_quota")` (type and code as OpenAI sends them)
- `reply_slow(seconds)` — a valid answer after a delay (for the client's timeout)
- `reply_drip(seconds)` — a valid answer whose headers come at once and whose body trickles out a
  few bytes at a time over `seconds`: no single read waits long, the whole answer does
- `on_request=callable` (any `reply_*`): run in the server's thread when that request arrives
- `requests`: every request as `Recorded` (headers, JSON body; `.system`, `.user_messages`)

The HTTP plumbing (asyncio server in a thread, HTTP/1.1) and the lifecycle are `tests.fakes.fcm`'s.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from tests.fakes.fcm import (
    _REASONS,
    BackgroundServer,
    HttpProtocol,
    Request,
    Response,
    ServedFake,
    _json_response,
)

COMPLETIONS_PATH = "/v1/chat/completions"


@dataclass
class Reply:
    content: str | None = None  # the assistant message's text
    json_value: Any = None  # checked against the request's schema, then sent as content
    status: int = 200
    error_message: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0
    drip_seconds: float = 0.0  # send the body in small pieces spread over this long
    error_code: str | None = None
    on_request: Callable[[], None] | None = None  # run (in the server's thread) when it arrives
    usage: tuple[int, int] | None = None
    refusal: str | None = None


@dataclass
class DripResponse(Response):
    """A response whose body is written in ``pieces`` parts, ``interval`` seconds apart."""

    pieces: int = 1
    interval: float = 0.0


class _DripProtocol(HttpProtocol):
    def _h1_write(self, response: Response, close: bool) -> None:
        if not isinstance(response, DripResponse) or self.closed:
            return super()._h1_write(response, close)
        lines = [
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Status')}",
            f"Content-Length: {len(response.body)}",
            *(f"{k}: {v}" for k, v in response.headers),
        ]
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        size = max(1, math.ceil(len(response.body) / response.pieces))
        chunks = [response.body[i : i + size] for i in range(0, len(response.body), size)]
        loop = asyncio.get_running_loop()
        for n, chunk in enumerate(chunks, start=1):
            loop.call_later(n * response.interval, self._drip, chunk)
        return None

    def _drip(self, chunk: bytes) -> None:
        if not self.closed and not self.transport.is_closing():
            self.transport.write(chunk)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def messages(self) -> list[dict]:
        return list(self.body.get("messages") or []) if isinstance(self.body, dict) else []

    @property
    def system(self) -> str:
        return "\n".join(str(m.get("content")) for m in self.messages if m.get("role") == "system")

    @property
    def user_messages(self) -> list[str]:
        return [str(m.get("content")) for m in self.messages if m.get("role") == "user"]

    @property
    def schema(self) -> dict:
        return self.body["response_format"]["json_schema"]["schema"]


def _error(
    status: int,
    message: str,
    kind: str,
    headers: list[tuple[str, str]] | None = None,
    code: str | None = None,
) -> Response:
    return _json_response(
        status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, headers
    )


class FakeOpenAI(ServedFake):
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, required_key: str | None = None) -> None:
        self.host = host
        self.required_key = required_key
        self.requests: list[Recorded] = []
        self.script: collections.deque[Reply] = collections.deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server = BackgroundServer(
            host,
            port,
            None,
            lambda: lambda: _DripProtocol(self.handle, scheme="http", max_concurrent_streams=100),
        )

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.script.clear()
            self.required_key = None

    # -- scripting ---------------------------------------------------------------------------
    def _push(self, reply: Reply) -> Reply:
        with self._lock:
            self.script.append(reply)
        return reply

    def reply_json(self, value: Any, **kw: Any) -> Reply:
        return self._push(Reply(json_value=value, **kw))

    def reply_variants(self, pairs: list[tuple[str, str]], language: str = "en", **kw: Any) -> Reply:
        return self.reply_json(
            {"variants": [{"title": t, "body": b, "language": language} for t, b in pairs]}, **kw
        )

    def reply_raw(self, text: str, **kw: Any) -> Reply:
        return self._push(Reply(content=text, **kw))

    def reply_error(
        self,
        status: int,
        message: str = "upstream failure",
        headers: list[tuple[str, str]] | None = None,
        code: str | None = None,
    ) -> Reply:
        return self._push(
            Reply(status=status, error_message=message, headers=list(headers or []), error_code=code)
        )

    def reply_slow(self, seconds: float) -> Reply:
        """A valid answer, after ``seconds``."""
        return self._push(Reply(delay=seconds))

    def reply_drip(self, seconds: float, **kw: Any) -> Reply:
        """A valid answer (or ``reply_json``'s ``json_value=…``) trickling out over ``seconds``."""
        return self._push(Reply(drip_seconds=seconds, **kw))

    # -- serving -----------------------------------------------------------------------------
    def handle(self, request: Request):
        path = request.path.split("?", 1)[0]
        if request.method != "POST" or path != COMPLETIONS_PATH:
            return _error(404, f"Unknown request URL: {request.method} {path}", "invalid_request_error")
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(Recorded(path, dict(request.headers), body))
            reply = self.script.popleft() if self.script else None
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or (
            self.required_key is not None and auth != f"Bearer {self.required_key}"
        ):
            return _error(401, "Incorrect API key provided.", "invalid_request_error")
        problem = _check_request(body)
        if problem:
            return _error(400, problem, "invalid_request_error")
        reply = reply or Reply()
        if reply.on_request is not None:
            reply.on_request()
        if reply.delay:
            return self._later(reply, body)
        return self._answer(reply, body)

    async def _later(self, reply: Reply, body: dict) -> Response:
        await asyncio.sleep(reply.delay)
        return self._answer(reply, body)

    def _answer(self, reply: Reply, body: dict) -> Response:
        if reply.status != 200:
            if reply.error_code == "insufficient_quota":
                kind = "insufficient_quota"  # what OpenAI sends when the account's credit is gone
            else:
                kind = "rate_limit_exceeded" if reply.status == 429 else "server_error"
            return _error(reply.status, reply.error_message, kind, reply.headers, reply.error_code)
        schema = body["response_format"]["json_schema"]["schema"]
        if reply.content is not None:
            content = reply.content
        else:
            value = reply.json_value if reply.json_value is not None else _default_answer(schema)
            try:
                jsonschema.validate(value, schema)
            except jsonschema.ValidationError as exc:
                return _error(
                    500, f"fake: scripted answer violates the schema: {exc.message}", "server_error"
                )
            content = json.dumps(value, ensure_ascii=False)
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        usage = reply.usage or (prompt_words, len(content.split()))
        response = _json_response(
            200,
            {
                "id": f"chatcmpl-fake{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": None if reply.refusal else content,
                            "refusal": reply.refusal,
                        },
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": usage[0],
                    "completion_tokens": usage[1],
                    "total_tokens": usage[0] + usage[1],
                },
            },
        )
        if reply.drip_seconds:
            pieces = max(2, int(reply.drip_seconds / 0.05))
            return DripResponse(
                response.status,
                response.body,
                response.headers,
                pieces=pieces,
                interval=reply.drip_seconds / pieces,
            )
        return response


def _check_request(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "The request body is not a JSON object."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty array"
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in (
            "system",
            "user",
            "assistant",
            "developer",
        ):
            return "each message needs a valid role"
        if not isinstance(message.get("content"), str):
            return "each message needs string content"
    response_format = body.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return "this fake serves structured output only: response_format.type must be json_schema"
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or spec.get("strict") is not True:
        return "response_format.json_schema needs a name and strict: true"
    schema = spec.get("schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return "response_format.json_schema.schema must be an object schema"
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return f"invalid schema: {exc.message}"
    if not _strict_ok(schema):
        return "strict schemas need additionalProperties: false and every property required"
    return None


def _strict_ok(schema: Any) -> bool:
    """OpenAI's strict-mode rules: objects close their properties and require all of them."""
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            props = schema.get("properties") or {}
            if schema.get("additionalProperties") is not False or set(schema.get("required") or []) != set(
                props
            ):
                return False
        return all(_strict_ok(v) for v in schema.values())
    if isinstance(schema, list):
        return all(_strict_ok(v) for v in schema)
    return True


def _default_answer(schema: dict) -> dict:
    count = schema["properties"]["variants"].get("minItems", 1)
    return {
        "variants": [
            {
                "title": f"Fresh deals, round {n}",
                "body": f"Take a look at offer number {n} today.",
                "language": "en",
            }
            for n in range(1, count + 1)
        ]
    }
