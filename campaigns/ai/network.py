"""The HTTP transport the ``openai`` client uses: it connects only to addresses we checked, and
never past the request's deadline.

Two holes of a plain ``httpx2.Client`` closed here, through public extension points only (an
``httpx2.BaseTransport`` over an ``httpcore2.ConnectionPool`` with our own ``network_backend``):

- DNS rebinding. ``check_base_url`` resolving a workspace's host and the client resolving it again
  to connect are two lookups; a name can answer a public address to the first and 127.0.0.1 to the
  second. ``CheckedBackend.connect_tcp`` does the one lookup, refuses the connection unless every
  address is public (or the origin is in ``PUSHPILOT_AI_ALLOWED_ORIGINS``), and connects to the
  address it checked. TLS still verifies the certificate against the host name (SNI) and the
  request still carries it in ``Host``: httpcore takes both from the URL, not from the socket.
- Slow drips. httpx's read timeout applies to each read, so a server sending a byte every second
  holds a worker forever. Every connect, read, write and TLS handshake here is given at most the
  time left until ``deadline`` (a ``time.monotonic()`` value), and fails once it has passed.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpcore2
import httpx2

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses to try; tests answer their own names through socket.getaddrinfo.
Resolver = Callable[[str, int], list[IpAddress]]
AddressCheck = Callable[[IpAddress], bool]


class AddressNotAllowed(Exception):
    """The host resolved (now, at connect time) to an address we do not call. Deliberately not an
    httpx error: the ``openai`` client lets it through unwrapped, so the caller can tell it apart
    from a host that is merely down."""

    def __init__(self, host: str) -> None:
        super().__init__(f"base_url's host {host} resolves to a non-public address.")
        self.host = host
        self.reason = str(self)


def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address ``host`` resolves to (scope ids dropped); [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    addresses: list[IpAddress] = []
    for info in infos:
        try:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        except ValueError:
            continue
        if address not in addresses:
            addresses.append(address)
    return addresses


def _left(deadline: float, timeout: float | None, error: type[Exception]) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error("the request's time budget is spent")
    return remaining if timeout is None else min(timeout, remaining)


class DeadlineStream(httpcore2.NetworkStream):
    def __init__(self, stream: httpcore2.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(self._deadline, timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(self._deadline, timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):
        wrapped = self._stream.start_tls(
            ssl_context, server_hostname, _left(self._deadline, timeout, httpcore2.ConnectTimeout)
        )
        return DeadlineStream(wrapped, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class CheckedBackend(httpcore2.NetworkBackend):
    """Resolves once, checks every address with ``is_allowed`` (None: any address, for the
    platform's own URL and allowlisted origins), connects to a checked address."""

    def __init__(
        self, *, deadline: float, is_allowed: AddressCheck | None, resolver: Resolver = resolve
    ) -> None:
        self._deadline = deadline
        self._is_allowed = is_allowed
        self._resolve = resolver
        self._sync = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        _left(self._deadline, timeout, httpcore2.ConnectTimeout)
        addresses = self._resolve(host, port)
        if not addresses:
            raise httpcore2.ConnectError(f"{host} does not resolve")
        if self._is_allowed is not None and not all(self._is_allowed(a) for a in addresses):
            raise AddressNotAllowed(host)
        last_error: Exception | None = None
        for address in addresses:
            try:
                stream = self._sync.connect_tcp(
                    str(address),
                    port,
                    timeout=_left(self._deadline, timeout, httpcore2.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore2.ConnectError as exc:  # the next address may answer (happy eyeballs, slowly)
                last_error = exc
                continue
            return DeadlineStream(stream, self._deadline)
        assert last_error is not None
        raise last_error

    def connect_unix_socket(self, path: str, timeout=None, socket_options=None):  # pragma: no cover
        raise httpcore2.ConnectError("unix sockets are not used for AI providers")

    def sleep(self, seconds: float) -> None:  # pragma: no cover - only the pool's retries sleep
        time.sleep(seconds)


# httpcore's exceptions as the httpx ones the openai client sorts into timeout / connection errors.
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx2.HTTPError]], ...] = (
    (httpcore2.ConnectTimeout, httpx2.ConnectTimeout),
    (httpcore2.ReadTimeout, httpx2.ReadTimeout),
    (httpcore2.WriteTimeout, httpx2.WriteTimeout),
    (httpcore2.PoolTimeout, httpx2.PoolTimeout),
    (httpcore2.TimeoutException, httpx2.TimeoutException),
    (httpcore2.ConnectError, httpx2.ConnectError),
    (httpcore2.ReadError, httpx2.ReadError),
    (httpcore2.WriteError, httpx2.WriteError),
    (httpcore2.NetworkError, httpx2.NetworkError),
    (httpcore2.RemoteProtocolError, httpx2.RemoteProtocolError),
    (httpcore2.LocalProtocolError, httpx2.LocalProtocolError),
    (httpcore2.ProtocolError, httpx2.ProtocolError),
    (httpcore2.UnsupportedProtocol, httpx2.UnsupportedProtocol),
)


def _as_httpx(exc: Exception, request: httpx2.Request) -> Exception:
    for core, mapped in _EXCEPTIONS:
        if isinstance(exc, core):
            return mapped(str(exc), request=request)
    return exc


class _BodyStream(httpx2.SyncByteStream):
    def __init__(self, stream: Iterable[bytes], request: httpx2.Request) -> None:
        self._stream = stream
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except (httpcore2.TimeoutException, httpcore2.NetworkError, httpcore2.ProtocolError) as exc:
            raise _as_httpx(exc, self._request) from exc

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class CheckedTransport(httpx2.BaseTransport):
    """An ``httpx2`` transport over ``CheckedBackend``: no proxies, HTTP/1.1, the system CAs."""

    def __init__(self, *, deadline: float, is_allowed: AddressCheck | None) -> None:
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            network_backend=CheckedBackend(deadline=deadline, is_allowed=is_allowed),
            max_connections=4,
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        core_request = httpcore2.Request(
            method=request.method,
            url=httpcore2.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool.handle_request(core_request)
        except (
            httpcore2.TimeoutException,
            httpcore2.NetworkError,
            httpcore2.ProtocolError,
            httpcore2.UnsupportedProtocol,
        ) as exc:
            raise _as_httpx(exc, request) from exc
        return httpx2.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_BodyStream(response.stream, request),  # type: ignore[arg-type]
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()
