"""Which Web Push endpoints we are willing to POST to (SSRF guard).

A subscription endpoint comes from a browser, i.e. from anyone. Without a check, "subscribe" with
`http://169.254.169.254/…` or `https://intranet:8443/…` turns every campaign into requests from our
workers to wherever the attacker likes. So an endpoint must match an allowed origin:

- by default: https on port 443 of the real push services (Google FCM, Mozilla autopush, Apple,
  Windows WNS), see `DEFAULT_ALLOWED_ORIGINS`;
- `PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS` (comma-separated `scheme://host[:port]`, a host may start
  with `*.` to match any subdomain) replaces that list; that is how tests allow a loopback fake.

Always refused: more than 1,000 characters, userinfo (`user@`), fragments, whitespace/control
characters or backslashes, schemes other than http/https, ports other than the rule's, IP
literals (in any spelling inet_aton accepts: `127.1`, `0x7f000001`, `2130706433`) unless a rule
names that exact address, and host names that are not plain ASCII DNS names. The check runs when a
subscription is stored and again at send time (the list may have changed since).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_ENDPOINT_LENGTH = 1000
DEFAULT_ALLOWED_ORIGINS: tuple[str, ...] = (
    "https://*.googleapis.com",  # Chrome, Edge (fcm.googleapis.com; legacy android.googleapis.com)
    "https://*.push.services.mozilla.com",  # Firefox (updates.push.services.mozilla.com)
    "https://*.push.apple.com",  # Safari (web.push.apple.com)
    "https://*.notify.windows.com",  # legacy Edge / WNS
)
SETTING_NAME = "PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS"

_DEFAULT_PORTS = {"http": 80, "https": 443}
# One DNS label (lower case), and what no URL we call may contain: also the rules of campaigns.ai.config.
DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


class EndpointNotAllowed(ValueError):
    """The endpoint is not a URL we will send to; `reason` says why (safe to show to a client)."""

    code = "endpoint_not_allowed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OriginRule:
    scheme: str
    host: str  # lower-case DNS name, "*.suffix", or a normalised IP address
    port: int
    wildcard: bool
    ip: bool

    def matches(self, scheme: str, host: str, port: int, is_ip: bool) -> bool:
        if scheme != self.scheme or port != self.port:
            return False
        if is_ip or self.ip:
            return is_ip and self.ip and host == self.host
        if self.wildcard:
            suffix = self.host[1:]  # ".push.apple.com"
            return host.endswith(suffix) and len(host) > len(suffix)
        return host == self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if self.ip and ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(slots=True)
class Endpoint:
    url: str
    scheme: str
    host: str
    port: int
    is_ip: bool
    target: str  # path and query, what goes on the request line
    origin: str  # scheme://host[:port], default port omitted: what VAPID's `aud` must be


def _origin(scheme: str, host: str, port: int) -> str:
    host = f"[{host}]" if ":" in host else host
    if _DEFAULT_PORTS[scheme] == port:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def parse_allowed_origins(value: str | Iterable[str] | None) -> tuple[OriginRule, ...]:
    """Parse the setting; None or empty means the default list. Raises ValueError on a bad entry."""
    if value is None:
        items: list[str] = list(DEFAULT_ALLOWED_ORIGINS)
    elif isinstance(value, str):
        items = [part.strip() for part in value.split(",") if part.strip()]
    else:
        items = [str(part).strip() for part in value if str(part).strip()]
    if not items:
        items = list(DEFAULT_ALLOWED_ORIGINS)
    return tuple(_parse_rule(item) for item in items)


def _parse_rule(text: str) -> OriginRule:
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        raise ValueError(f"allowed origin {text!r}: must be http:// or https://")
    if any(c in rest for c in "/?#@") or not rest:
        raise ValueError(f"allowed origin {text!r}: only scheme://host[:port], no path or userinfo")
    host, port = _split_host_port(rest, scheme, text)
    wildcard = host.startswith("*.")
    if wildcard:
        labels = host[2:].split(".")
        if len(labels) < 2 or not all(DNS_LABEL.match(label) for label in labels):
            raise ValueError(f"allowed origin {text!r}: a wildcard needs a domain like *.example.com")
        return OriginRule(scheme, host, port, wildcard=True, ip=False)
    ip = ip_literal(host)
    if ip is not None:
        return OriginRule(scheme, ip, port, wildcard=False, ip=True)
    if not valid_dns_name(host):
        raise ValueError(f"allowed origin {text!r}: not a valid host name")
    return OriginRule(scheme, host, port, wildcard=False, ip=False)


def _split_host_port(rest: str, scheme: str, text: str) -> tuple[str, int]:
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ValueError(f"allowed origin {text!r}: bad IPv6 literal")
        host, tail = rest[1:end], rest[end + 1 :]
    else:
        host, _, port_text = rest.partition(":")
        tail = f":{port_text}" if port_text else ""
    if tail:
        if not tail.startswith(":") or not tail[1:].isdigit():
            raise ValueError(f"allowed origin {text!r}: bad port")
        port = int(tail[1:])
        if not 0 < port < 65536:
            raise ValueError(f"allowed origin {text!r}: bad port")
    else:
        port = _DEFAULT_PORTS[scheme]
    return host.lower(), port


def ip_literal(host: str) -> str | None:
    """The canonical IP for anything a resolver would treat as an address literal, else None."""
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        pass
    # inet_aton accepts the historic short forms: 127.1, 0x7f.1, 2130706433, 017700000001.
    if re.fullmatch(r"[0-9a-fx.]+", candidate):
        try:
            return socket.inet_ntoa(socket.inet_aton(candidate))
        except OSError:
            return None
    return None


def valid_dns_name(host: str) -> bool:
    """A plain lower-case ASCII DNS name of at most 253 characters (no trailing dot)."""
    if not host or len(host) > 253 or host.endswith("."):
        return False
    return all(DNS_LABEL.match(label) for label in host.split("."))


class EndpointChecker:
    """`check_endpoint` for many endpoints on few push services: the verdict on scheme + host +
    port is computed once per distinct origin and remembered (a bounded cache)."""

    def __init__(self, rules: Iterable[OriginRule], cache_size: int = 1024) -> None:
        self.rules = tuple(rules)
        self.cache_size = cache_size
        self._origins: dict[str, tuple[str, str, int, bool, str] | EndpointNotAllowed] = {}

    def check(self, endpoint: str) -> Endpoint:
        if not isinstance(endpoint, str) or not endpoint:
            raise EndpointNotAllowed("endpoint is empty")
        if len(endpoint) > MAX_ENDPOINT_LENGTH:
            raise EndpointNotAllowed(f"endpoint is longer than {MAX_ENDPOINT_LENGTH} characters")
        if not endpoint.isascii() or FORBIDDEN_CHARS.search(endpoint) or "#" in endpoint:
            # the slow path gives the precise reason
            return check_endpoint(endpoint, self.rules)
        scheme_end = endpoint.find("://")
        path_start = endpoint.find("/", scheme_end + 3) if scheme_end > 0 else -1
        if path_start < 0:
            return check_endpoint(endpoint, self.rules)
        prefix = endpoint[:path_start]  # scheme://netloc, as written
        verdict = self._origins.get(prefix)
        if verdict is None:
            try:
                parsed = check_endpoint(endpoint, self.rules)
                verdict = (parsed.scheme, parsed.host, parsed.port, parsed.is_ip, parsed.origin)
            except EndpointNotAllowed as exc:
                verdict = exc
            if len(self._origins) >= self.cache_size:
                self._origins.clear()
            self._origins[prefix] = verdict
        if isinstance(verdict, EndpointNotAllowed):
            raise EndpointNotAllowed(verdict.reason)
        scheme, host, port, is_ip, origin = verdict
        return Endpoint(endpoint, scheme, host, port, is_ip, endpoint[path_start:], origin)


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    scheme: str  # "http" or "https", lower case
    host: str  # a canonical IP address (see ip_literal) or a lower-case DNS name
    port: int  # as written, else the scheme's default
    is_ip: bool
    path: str
    query: str


def parse_url(
    url: object, *, name: str = "endpoint", max_length: int = MAX_ENDPOINT_LENGTH, require_path: bool = False
) -> ParsedUrl:
    """The parts of an http(s) URL we may call, or EndpointNotAllowed saying (with ``name``) why not:
    empty, too long, forbidden characters, credentials, a fragment, no host, a host that is neither
    an IP literal (any inet_aton spelling) nor a plain DNS name. Whether the origin is allowed is
    the caller's rule (``check_endpoint``; ``campaigns.ai.config.check_base_url``)."""
    if not isinstance(url, str) or not url:
        raise EndpointNotAllowed(f"{name} is empty")
    if len(url) > max_length:
        raise EndpointNotAllowed(f"{name} is longer than {max_length} characters")
    if not url.isascii() or FORBIDDEN_CHARS.search(url):
        raise EndpointNotAllowed(f"{name} contains characters that are not allowed")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EndpointNotAllowed(f"{name} is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise EndpointNotAllowed(f"{name} must be an https URL")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise EndpointNotAllowed(f"{name} must not contain credentials")
    if parts.fragment or url.endswith("#"):
        raise EndpointNotAllowed(f"{name} must not contain a fragment")
    if require_path and not parts.path.startswith("/"):
        raise EndpointNotAllowed(f"{name} has no path")
    raw_host = parts.hostname or ""
    if not raw_host:
        raise EndpointNotAllowed(f"{name} has no host")
    ip = ip_literal(raw_host)
    host = ip if ip is not None else raw_host.lower()
    if ip is None and not valid_dns_name(host):
        raise EndpointNotAllowed(f"{name} host is not a valid DNS name")
    effective_port = port if port is not None else _DEFAULT_PORTS[scheme]
    return ParsedUrl(scheme, host, effective_port, ip is not None, parts.path, parts.query)


def check_endpoint(endpoint: str, rules: Iterable[OriginRule]) -> Endpoint:
    """Return the parsed endpoint if it is allowed by `rules`, else raise EndpointNotAllowed."""
    parsed = parse_url(endpoint, require_path=True)
    for rule in rules:
        if rule.matches(parsed.scheme, parsed.host, parsed.port, parsed.is_ip):
            target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
            return Endpoint(
                url=endpoint,
                scheme=parsed.scheme,
                host=parsed.host,
                port=parsed.port,
                is_ip=parsed.is_ip,
                target=target,
                origin=_origin(parsed.scheme, parsed.host, parsed.port),
            )
    if parsed.is_ip:
        raise EndpointNotAllowed("endpoint host is an IP address that is not an allowed push service")
    raise EndpointNotAllowed("endpoint is not on an allowed push service origin")


def configured_allowed_origins() -> tuple[OriginRule, ...]:
    """The allowlist from Django settings (or the environment when Django is not configured)."""
    value: str | Iterable[str] | None = None
    try:
        from django.conf import settings

        if settings.configured:
            value = getattr(settings, SETTING_NAME, None)
    except ImportError:  # pragma: no cover - Django is always installed in this project
        pass
    if value is None:
        value = os.environ.get(SETTING_NAME) or None
    return parse_allowed_origins(value)
