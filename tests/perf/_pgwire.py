"""A loopback TCP proxy in front of PostgreSQL that records every statement the server is asked to run.

Counting on the wire sees what Django's cursor wrapper may not: django-tenants' ``SET search_path``,
Django's ``SELECT 1`` connection health check (run on a raw psycopg cursor), transaction control.
It reads the frontend -> backend stream of the PostgreSQL protocol (v3):

- ``Q`` (simple query) is one statement;
- ``P`` (parse) names a statement text, ``B`` (bind) a portal for it, ``E`` (execute) runs it.

A statement is recorded before its bytes are forwarded, so once the client has an answer that
depended on it, the statement is already in the list. The connection must not use TLS
(``sslmode=disable``), or the stream could not be read.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 65536))
        if not chunk:
            raise ConnectionError("peer closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _cstrings(payload: bytes, count: int) -> list[str]:
    parts = payload.split(b"\x00", count)
    return [p.decode("utf-8", "replace") for p in parts[:count]]


class StatementCounter:
    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)):
        self.upstream = upstream
        self._lock = threading.Lock()
        self._statements: list[str] = []
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._stopped = threading.Event()
        self.port = 0

    # -- public --------------------------------------------------------------------------------
    def start(self) -> int:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept_loop, name="pgwire-accept", daemon=True).start()
        return self.port

    def take(self) -> list[str]:
        """The statements recorded since the last call, in order."""
        with self._lock:
            taken, self._statements = self._statements, []
        return taken

    def stop(self) -> None:
        self._stopped.set()
        for sock in [self._listener, *self._sockets]:
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                sock.close()

    # -- machinery -----------------------------------------------------------------------------
    def _record(self, sql: str) -> None:
        with self._lock:
            self._statements.append(sql)

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets += [client, server]
            threading.Thread(target=self._client_to_server, args=(client, server), daemon=True).start()
            threading.Thread(target=self._server_to_client, args=(server, client), daemon=True).start()

    @staticmethod
    def _close(*socks: socket.socket) -> None:
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def _server_to_client(self, server: socket.socket, client: socket.socket) -> None:
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            self._close(server, client)

    def _client_to_server(self, client: socket.socket, server: socket.socket) -> None:
        prepared: dict[str, str] = {}
        portals: dict[str, str] = {}
        try:
            # Untyped start-up packets: SSL/GSS negotiation requests (answered 'N' when refused),
            # then the StartupMessage or a CancelRequest.
            while True:
                header = _recv_exact(client, 4)
                (length,) = struct.unpack("!i", header)
                body = _recv_exact(client, length - 4)
                server.sendall(header + body)
                (code,) = struct.unpack("!i", body[:4])
                if code not in (_SSL_REQUEST, _GSSENC_REQUEST):
                    break
            while True:
                header = _recv_exact(client, 5)
                kind = header[:1]
                (length,) = struct.unpack("!i", header[1:])
                payload = _recv_exact(client, length - 4)
                if kind == b"Q":
                    self._record(payload[:-1].decode("utf-8", "replace"))
                elif kind == b"P":
                    name, query = _cstrings(payload, 2)
                    prepared[name] = query
                elif kind == b"B":
                    portal, statement = _cstrings(payload, 2)
                    portals[portal] = prepared.get(statement, "?")
                elif kind == b"E":
                    (portal,) = _cstrings(payload, 1)
                    self._record(portals.get(portal, "?"))
                server.sendall(header + payload)
        except (OSError, ConnectionError, struct.error):
            pass
        finally:
            self._close(client, server)
