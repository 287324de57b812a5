"""A local fake of Google's and Apple's token-verification endpoints, speaking their real protocols
over HTTP on a loopback port.

Endpoints (paths as at the real providers):
- ``GET|POST /tokeninfo?id_token=…`` (Google, oauth2.googleapis.com): verifies the RS256 signature and
  expiry of a Google ID token this fake issued and answers its claims, every value a string as Google
  does (``"email_verified": "true"``, ``"exp": "1712345678"``), plus ``alg``/``kid``/``typ``.
  ``?access_token=…``: ``{azp, aud, sub, scope, exp, expires_in, email, email_verified, access_type}``.
  A bad, forged or expired token: 400 ``{"error": "invalid_token", "error_description": "Invalid Value"}``.
- ``GET /v1/userinfo`` with ``Authorization: Bearer <access token>`` (Google, openidconnect.googleapis.com):
  ``{sub, name, given_name, family_name, picture, email, email_verified}`` (JSON booleans here);
  a bad token: 401 with ``WWW-Authenticate: Bearer … error="invalid_token"``.
- ``GET /oauth2/v3/certs``: Google's JWKS. ``GET /auth/keys``: Apple's JWKS (two keys, so a client must
  pick the one named by the token's ``kid``).

Minting tokens: in-process through ``FakeOAuthProvider.google_id_token()``, ``.google_access_token()``,
``.apple_id_token()``; over HTTP (for a browser or a standalone run) with
``POST /__fake__/google/id_token``, ``/__fake__/google/access_token`` and ``/__fake__/apple/id_token``, a JSON
body of claims (``aud`` required; ``exp_in`` seconds, default 3600, negative for an expired token)
→ ``{"token": …}``.

Run standalone: ``python -m tests.fakes.oauth_provider --port 8765``; in pytest use the ``oauth_provider``
fixture (a session-wide server on a free port in a thread; state is reset with ``.reset()``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

GOOGLE_ISSUER = "https://accounts.google.com"
APPLE_ISSUER = "https://appleid.apple.com"
_INVALID = {"error": "invalid_token", "error_description": "Invalid Value"}


class SigningKey:
    """An RSA key pair with a key id, as a provider publishes it in its JWKS."""

    def __init__(self, kid: str | None = None):
        self.kid = kid or secrets.token_hex(5)
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256", "n": jwk["n"], "e": jwk["e"]}

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": kid or self.kid})


class FakeOAuthProvider:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.google_key = SigningKey()
        self.apple_key = SigningKey()
        # Apple publishes several keys; the one that signs is not first, so `kid` must be honoured.
        self.apple_other_key = SigningKey()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.access_tokens: dict[str, dict[str, Any]] = {}
            self.requests: list[tuple[str, str]] = []  # (method, path) seen, for tests that need it
            # Google refuses expired tokens at tokeninfo. Tests switch this off to prove that we
            # check `exp` ourselves too.
            self.tokeninfo_checks_expiry = True

    def start(self) -> FakeOAuthProvider:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-oauth-provider", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the standalone command)."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOAuthProvider:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def google_tokeninfo_url(self) -> str:
        return f"{self.base_url}/tokeninfo"

    @property
    def google_userinfo_url(self) -> str:
        return f"{self.base_url}/v1/userinfo"

    @property
    def apple_keys_url(self) -> str:
        return f"{self.base_url}/auth/keys"

    # -- minting ------------------------------------------------------------------------------
    def google_id_token(
        self,
        *,
        aud: str,
        sub: str | None = None,
        email: str = "user@gmail.com",
        email_verified: bool = True,
        exp_in: int = 3600,
        name: str | None = "Test User",
        **extra: Any,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": GOOGLE_ISSUER,
            "azp": aud,
            "aud": aud,
            "sub": sub or _google_sub(),
            "email": email,
            "email_verified": email_verified,
            "iat": min(now, now + exp_in) - 60,
            "exp": now + exp_in,
            **_names(name),
            **extra,
        }
        return self.google_key.sign(_drop_none(claims))

    def google_access_token(
        self,
        *,
        aud: str,
        sub: str | None = None,
        email: str = "user@gmail.com",
        email_verified: bool = True,
        exp_in: int = 3599,
        name: str | None = "Test User",
        **extra: Any,
    ) -> str:
        token = f"ya29.{secrets.token_urlsafe(48)}"
        with self._lock:
            self.access_tokens[token] = _drop_none(
                {
                    "aud": aud,
                    "sub": sub or _google_sub(),
                    "email": email,
                    "email_verified": email_verified,
                    "exp": int(time.time()) + exp_in,
                    **_names(name),
                    **extra,
                }
            )
        return token

    def apple_id_token(
        self,
        *,
        aud: str,
        sub: str | None = None,
        email: str | None = "user@privaterelay.appleid.com",
        email_verified: bool | str = "true",
        exp_in: int = 3600,
        key: SigningKey | None = None,
        kid: str | None = None,
        **extra: Any,
    ) -> str:
        """An identity token as Apple issues it; ``key`` signs it instead of Apple's key (a forgery)."""
        now = int(time.time())
        claims = {
            "iss": APPLE_ISSUER,
            "aud": aud,
            "exp": now + exp_in,
            "iat": min(now, now + exp_in) - 60,
            "sub": sub or f"001234.{uuid.uuid4().hex}.1234",
            "email": email,
            "email_verified": email_verified,
            "is_private_email": "true" if email and email.endswith("privaterelay.appleid.com") else "false",
            "auth_time": now - 60,
            "nonce_supported": True,
            **extra,
        }
        signer = key or self.apple_key
        return signer.sign(_drop_none(claims), kid=kid or self.apple_key.kid)

    # -- protocol -----------------------------------------------------------------------------
    def tokeninfo(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if "id_token" in params:
            try:
                claims = jwt.decode(
                    params["id_token"],
                    self.google_key.private_key.public_key(),
                    algorithms=["RS256"],
                    options={
                        "verify_aud": False,
                        "verify_exp": self.tokeninfo_checks_expiry,
                        "require": ["exp", "iat", "sub"],
                    },
                )
                header = jwt.get_unverified_header(params["id_token"])
            except jwt.PyJWTError:
                return 400, _INVALID
            return 200, {
                **{k: _as_google_string(v) for k, v in claims.items()},
                "alg": header.get("alg", "RS256"),
                "kid": header.get("kid", ""),
                "typ": "JWT",
            }
        if "access_token" in params:
            grant = self._grant(params["access_token"])
            if grant is None:
                return 400, _INVALID
            expires_in = grant["exp"] - int(time.time())
            body = {
                "azp": grant["aud"],
                "aud": grant["aud"],
                "sub": grant["sub"],
                "scope": "openid https://www.googleapis.com/auth/userinfo.email "
                "https://www.googleapis.com/auth/userinfo.profile",
                "exp": grant["exp"],
                "expires_in": max(expires_in, 0),
                "email": grant.get("email"),
                "email_verified": grant.get("email_verified"),
                "access_type": "online",
            }
            return 200, {k: _as_google_string(v) for k, v in body.items() if v is not None}
        return 400, {
            "error": "invalid_request",
            "error_description": "Either access_token, id_token, or token_handle required",
        }

    def userinfo(self, authorization: str) -> tuple[int, dict[str, Any]]:
        scheme, _, token = authorization.partition(" ")
        grant = self._grant(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None:
            return 401, {"error": "invalid_request", "error_description": "Invalid Credentials"}
        keys = ("sub", "name", "given_name", "family_name", "picture", "email", "email_verified")
        return 200, {k: grant[k] for k in keys if k in grant}

    def _grant(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            grant = self.access_tokens.get(token)
        if grant is None or (self.tokeninfo_checks_expiry and grant["exp"] <= time.time()):
            return None
        return grant

    def mint(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        minters = {
            "/__fake__/google/id_token": self.google_id_token,
            "/__fake__/google/access_token": self.google_access_token,
            "/__fake__/apple/id_token": self.apple_id_token,
        }
        if path not in minters:
            return 404, {"error": "not_found"}
        if not isinstance(body, dict) or not body.get("aud"):
            return 400, {"error": "invalid_request", "error_description": "JSON object with `aud` required"}
        body.pop("key", None)
        try:
            return 200, {"token": minters[path](**body)}
        except TypeError as exc:
            return 400, {"error": "invalid_request", "error_description": str(exc)}


def _handler_for(fake: FakeOAuthProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeOAuthProvider/1.0"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._route(parse_qs(urlsplit(self.path).query))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if urlsplit(self.path).path.startswith("/__fake__/"):
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._send(400, {"error": "invalid_request", "error_description": "malformed JSON"})
                    return
                self._send(*fake.mint(urlsplit(self.path).path, body))
                return
            # tokeninfo also accepts a form-encoded POST body.
            params = parse_qs(urlsplit(self.path).query)
            params.update(parse_qs(raw.decode("utf-8", "replace")))
            self._route(params)

        def _route(self, query: dict[str, list[str]]) -> None:
            path = urlsplit(self.path).path
            fake.requests.append((self.command, path))
            params = {k: v[0] for k, v in query.items() if v}
            if path == "/tokeninfo":
                self._send(*fake.tokeninfo(params))
            elif path == "/v1/userinfo":
                status, body = fake.userinfo(self.headers.get("Authorization", ""))
                headers = {}
                if status == 401:
                    headers["WWW-Authenticate"] = (
                        'Bearer realm="https://accounts.google.com/", error="invalid_token"'
                    )
                self._send(status, body, headers)
            elif path == "/auth/keys" and self.command == "GET":
                self._send(200, {"keys": [fake.apple_other_key.jwk(), fake.apple_key.jwk()]})
            elif path == "/oauth2/v3/certs" and self.command == "GET":
                self._send(200, {"keys": [fake.google_key.jwk()]})
            else:
                self._send(404, {"error": "not_found"})

        def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status, HTTPStatus(status).phrase)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _google_sub() -> str:
    return str(10**20 + secrets.randbelow(9 * 10**20))


def _names(name: str | None) -> dict[str, Any]:
    if not name:
        return {}
    given, _, family = name.partition(" ")
    return {
        "name": name,
        "given_name": given,
        "family_name": family or None,
        "picture": "https://lh3.googleusercontent.com/a/default-user",
    }


def _drop_none(claims: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if v is not None}


def _as_google_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


try:  # the fixture, for tests: `from tests.fakes.oauth_provider import oauth_provider`
    import pytest
except ImportError:  # pragma: no cover - standalone use without pytest installed
    pytest = None

if pytest is not None:

    @pytest.fixture(scope="session")
    def oauth_provider():
        """The fake on a free loopback port for the whole session (RSA keys are slow to make)."""
        with FakeOAuthProvider() as fake:
            yield fake


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    fake = FakeOAuthProvider(args.host, args.port)
    print(f"PUSHPILOT_GOOGLE_TOKENINFO_URL={fake.google_tokeninfo_url}")
    print(f"PUSHPILOT_GOOGLE_USERINFO_URL={fake.google_userinfo_url}")
    print(f"PUSHPILOT_APPLE_KEYS_URL={fake.apple_keys_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake.serve_forever()


if __name__ == "__main__":
    main()
