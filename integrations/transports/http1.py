"""A small keep-alive HTTP/1.1 client for Web Push requests.

Web Push is one POST per message to a handful of push-service origins, so the work per message
should be the encryption, not the HTTP client. aiohttp costs ~150-200 µs of CPU per request here
(request/response objects, multidicts, tracing hooks, cookie handling we do not want); this client
writes the whole request with one `transport.write()` and parses the status line, the headers and a
Content-Length or chunked body (~20-30 µs). The benchmark (`tests/perf/bench_transports.py`)
measures both; `WebPushTransport(http_client="aiohttp")` switches back.

What it does, and deliberately does not:
- per origin a pool of at most `max_connections` connections, reused while the server keeps them
  alive (`Connection: close`, a body of unknown length or an over-long body end a connection);
- connect timeout (TCP + TLS) and read timeout (the whole response);
- response bodies are read up to `max_response_bytes`; anything longer is cut and the connection
  dropped, so a hostile endpoint cannot make us buffer megabytes;
- no redirects (a 3xx is returned like any status), no cookies, no proxies, no compression, no
  retries (a retry decision belongs to the pipeline).
Transport failures raise `TransportError` subclasses.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from dataclasses import dataclass

MAX_HEAD_BYTES = 16 * 1024
IDLE_SECONDS = 30.0


class TransportError(Exception):
    pass


class ConnectError(TransportError):
    pass


class ConnectTimeout(ConnectError):
    pass


class ReadTimeout(TransportError):
    pass


class ProtocolError(TransportError):
    pass


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    truncated: bool = False


class _Connection(asyncio.Protocol):
    def __init__(self, pool: _OriginPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self.reusable = True
        self.idle_since = 0.0
        # response state
        self.status = 0
        self.headers: dict[str, str] = {}
        self.head_done = False
        self.length: int | None = None  # remaining body bytes when Content-Length is known
        self.chunked = False
        self.until_close = False
        self.body = bytearray()
        self.truncated = False
        self._chunk_left = -1  # -1: expecting a size line

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.discard(self)
        if self.waiter is not None and not self.waiter.done():
            if self.until_close and self.head_done:
                self._finish()
            else:
                self.waiter.set_exception(
                    ProtocolError(f"connection closed before the response ended ({exc})")
                )

    def send(self, data: bytes) -> asyncio.Future:
        self.status, self.headers, self.head_done = 0, {}, False
        self.length, self.chunked, self.until_close = None, False, False
        self.body, self.truncated, self._chunk_left = bytearray(), False, -1
        self.buffer.clear()
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(data)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            # Bytes nobody asked for (a response after a timeout, garbage): this connection is done.
            self.reusable = False
            self.transport.close()
            return
        self.buffer += data
        try:
            self._parse()
        except ProtocolError as exc:
            self.reusable = False
            self.waiter.set_exception(exc)
            self.transport.close()

    def _parse(self) -> None:
        if not self.head_done:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD_BYTES:
                    raise ProtocolError("response head too large")
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            lines = head.split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise ProtocolError(f"bad status line {lines[0][:80]!r}")
            status = int(parts[1])
            if 100 <= status < 200:  # interim response: wait for the real one
                self._parse()
                return
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    raise ProtocolError("bad header line")
                name = name.strip().lower()
                value = value.strip()
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            self.status, self.headers, self.head_done = status, headers, True
            if parts[0] == "HTTP/1.0" or "close" in headers.get("connection", "").lower():
                self.reusable = False
            if status in (204, 304):
                self.length = 0
            elif "chunked" in headers.get("transfer-encoding", "").lower():
                self.chunked = True
            elif "content-length" in headers:
                try:
                    self.length = int(headers["content-length"])
                except ValueError:
                    raise ProtocolError("bad Content-Length") from None
            else:
                self.until_close = True
                self.reusable = False
        if self.chunked:
            self._parse_chunked()
        elif self.until_close:
            self._take(len(self.buffer))
        else:
            assert self.length is not None
            take = min(self.length, len(self.buffer))
            self._take(take)
            self.length -= take
            if self.length == 0:
                self._finish()

    def _parse_chunked(self) -> None:
        while True:
            if self._chunk_left == -1:
                end = self.buffer.find(b"\r\n")
                if end < 0:
                    return
                size_text = bytes(self.buffer[:end]).split(b";", 1)[0].strip()
                del self.buffer[: end + 2]
                try:
                    self._chunk_left = int(size_text, 16)
                except ValueError:
                    raise ProtocolError("bad chunk size") from None
                if self._chunk_left == 0:
                    self._chunk_left = -2  # trailers
            if self._chunk_left == -2:
                end = self.buffer.find(b"\r\n")
                if end < 0:
                    return
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 2]
                if not line:
                    self._finish()
                    return
                continue
            if len(self.buffer) < self._chunk_left + 2:
                take = min(len(self.buffer), self._chunk_left)
                self._take(take)
                self._chunk_left -= take
                return
            self._take(self._chunk_left)
            del self.buffer[:2]  # CRLF after the chunk
            self._chunk_left = -1

    def _take(self, count: int) -> None:
        if count <= 0:
            return
        room = self.pool.owner.max_response_bytes - len(self.body)
        if room > 0:
            self.body += self.buffer[: min(count, room)]
        if count > room:
            self.truncated = True
        del self.buffer[:count]
        if self.truncated:
            # Stop reading: keep what fits, drop the connection.
            self.reusable = False
            self._finish()
            self.transport.close()

    def _finish(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(Response(self.status, self.headers, bytes(self.body), self.truncated))


class _OriginPool:
    def __init__(self, owner: Http1Client, origin: Origin) -> None:
        self.owner = owner
        self.origin = origin
        self.idle: deque[_Connection] = deque()
        self.count = 0  # open + opening connections
        self.waiters: deque[asyncio.Future] = deque()

    async def acquire(self) -> _Connection:
        while True:
            while self.idle:
                conn = self.idle.pop()  # most recently used: least likely to have been closed
                if conn.closed:
                    continue
                if time.monotonic() - conn.idle_since > IDLE_SECONDS:
                    # Servers drop idle connections (often at 60 s or more); retire ours first, so
                    # a request never races the server's FIN on a connection it is closing.
                    conn.reusable = False
                    conn.transport.close()
                    continue
                return conn
            if self.count < self.owner.max_connections:
                self.count += 1
                try:
                    return await self._connect()
                except BaseException:
                    self.count -= 1
                    self._wake()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self.waiters:
                    self.waiters.remove(waiter)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        origin = self.origin
        ssl_context = self.owner.ssl_context if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(self.owner.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self),
                    origin.host,
                    origin.port,
                    ssl=ssl_context,
                    server_hostname=origin.host if ssl_context else None,
                )
        except TimeoutError:
            raise ConnectTimeout(f"connecting to {origin.authority} timed out") from None
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(f"connecting to {origin.authority} failed: {exc}") from exc
        return conn

    def release(self, conn: _Connection) -> None:
        if conn.closed:
            return  # connection_lost already discounted it
        if conn.reusable:
            conn.idle_since = time.monotonic()
            self.idle.append(conn)
            self._wake()
        else:
            conn.transport.close()

    def discard(self, conn: _Connection) -> None:
        self.count -= 1
        if conn in self.idle:
            self.idle.remove(conn)
        self._wake()

    def _wake(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        while self.idle:
            conn = self.idle.pop()
            if conn.transport is not None:
                conn.transport.close()


class Http1Client:
    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 64,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        max_response_bytes: int = 4096,
        user_agent: str = "PushPilot",
    ) -> None:
        if ssl_context is None:
            ssl_context = ssl.create_default_context()
        ssl_context.set_alpn_protocols(["http/1.1"])
        self.ssl_context = ssl_context
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_response_bytes = max_response_bytes
        self.user_agent = user_agent
        self._pools: dict[Origin, _OriginPool] = {}

    async def post(self, origin: Origin, path: str, headers: dict[str, str], body: bytes) -> Response:
        if "\r" in path or "\n" in path or " " in path:
            raise ProtocolError("bad request target")
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _OriginPool(self, origin)
        lines = [f"POST {path} HTTP/1.1", f"Host: {origin.authority}", f"User-Agent: {self.user_agent}"]
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise ProtocolError(f"bad header value for {name}")
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        conn = await pool.acquire()
        try:
            async with asyncio.timeout(self.read_timeout):
                response = await conn.send(data)
        except TimeoutError:
            conn.reusable = False
            raise ReadTimeout(f"no response from {origin.authority} in {self.read_timeout}s") from None
        except BaseException:
            conn.reusable = False
            raise
        finally:
            pool.release(conn)
        return response

    async def aclose(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
