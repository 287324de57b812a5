"""Which OpenAI-compatible provider a workspace's generations go to, and which URLs we accept for it.

The platform provider comes from ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` / ``OPENAI_MODEL``; a
workspace may override any of them in its ``AiSettings``. One rule protects the platform's key: when a
workspace names its own ``base_url``, only the workspace's own key is ever sent there.

A workspace's ``base_url`` is a URL our web workers will POST to, so it is checked like every other
outbound URL a customer gives us (SSRF): https only, no credentials or fragment, and a host that
is not — and does not resolve to — a loopback, private, link-local or otherwise non-public address
(IPv4 inside IPv6 spellings included); a host that does not resolve is refused too.
``PUSHPILOT_AI_ALLOWED_ORIGINS`` lists exact origins accepted besides (http and private addresses
included), parsed by the same rules as ``PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS``. The check runs when
the URL is saved and again before every call (the allowlist or DNS may have changed since).
Known limit: a host whose DNS answer changes between our check and the client's own lookup (DNS
rebinding) is not caught; redirects are not followed, so an answer cannot bounce the call elsewhere.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from integrations.transports.urls import EndpointNotAllowed, check_endpoint, parse_allowed_origins

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_BASE_URL_LENGTH = 500
# What the client sends as the key to a provider that needs none (a local vLLM or Ollama).
NO_KEY = "not-needed"

_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp")


class BaseUrlNotAllowed(ValueError):
    """The URL is not one we call; ``reason`` is safe to show to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProviderConfig:
    base_url: str
    model: str
    api_key: str = field(repr=False)  # never in a repr, a log line or a traceback's locals
    source: str = "platform"  # "platform" (OPENAI_*) or "workspace" (its own key and/or URL)
    workspace_base_url: bool = False  # the URL is the workspace's: check it before each call

    @property
    def client_key(self) -> str:
        return self.api_key or NO_KEY


def provider_config(*, api_key: str, base_url: str, model: str) -> ProviderConfig | None:
    """The effective provider from a workspace's overrides (blank = not overridden), or None when
    neither the workspace nor the platform configures a complete one."""
    if base_url:
        # The workspace's own server: never the platform's key.
        resolved = ProviderConfig(
            base_url=base_url.rstrip("/"),
            model=model or settings.OPENAI_MODEL,
            api_key=api_key,
            source="workspace",
            workspace_base_url=True,
        )
    else:
        key = api_key or settings.OPENAI_API_KEY
        platform_url = settings.OPENAI_BASE_URL
        resolved = ProviderConfig(
            base_url=(platform_url or (OPENAI_DEFAULT_BASE_URL if key else "")).rstrip("/"),
            model=model or settings.OPENAI_MODEL,
            api_key=key,
            source="workspace" if (api_key or model) else "platform",
        )
    if not resolved.model or not resolved.base_url:
        return None
    return resolved


def check_base_url(url: object, *, resolve: bool = True) -> str:
    """``url`` if a workspace may point its AI provider there; BaseUrlNotAllowed says why not."""
    if not isinstance(url, str) or not url:
        raise BaseUrlNotAllowed("base_url is empty.")
    if len(url) > MAX_BASE_URL_LENGTH:
        raise BaseUrlNotAllowed(f"base_url is longer than {MAX_BASE_URL_LENGTH} characters.")
    if not url.isascii() or _FORBIDDEN_CHARS.search(url):
        raise BaseUrlNotAllowed("base_url contains characters that are not allowed.")
    extra = tuple(settings.PUSHPILOT_AI_ALLOWED_ORIGINS or ())
    if extra:
        try:
            parts = urlsplit(url)
            with_path = url if parts.path.startswith("/") else url + "/"
            check_endpoint(with_path, parse_allowed_origins(extra))
            return url
        except (EndpointNotAllowed, ValueError):
            pass  # not an explicitly allowed origin: the public-https rules below decide
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BaseUrlNotAllowed("base_url is not a valid URL.") from None
    if parts.scheme.lower() != "https":
        raise BaseUrlNotAllowed("base_url must be an https URL.")
    if "@" in parts.netloc:
        raise BaseUrlNotAllowed("base_url must not contain credentials.")
    if parts.fragment or url.endswith("#") or parts.query:
        raise BaseUrlNotAllowed("base_url must not have a query or fragment.")
    host = (parts.hostname or "").lower()
    if not host:
        raise BaseUrlNotAllowed("base_url has no host.")
    literal = _ip_literal(host)
    if literal is not None:
        if not _is_public(literal):
            raise BaseUrlNotAllowed("base_url points at a private, loopback or reserved address.")
        return url
    if (
        host == "localhost"
        or host.endswith(_PRIVATE_SUFFIXES)
        or "." not in host
        or len(host) > 253
        or not all(_LABEL.match(label) for label in host.split("."))
    ):
        raise BaseUrlNotAllowed("base_url must name a public host (a DNS name with a public address).")
    if resolve:
        addresses = _resolve(host, port or 443)
        if not addresses:
            # Fail closed: a lookup that fails here may succeed (with a private answer) in the client's own.
            raise BaseUrlNotAllowed(f"base_url's host {host} does not resolve.")
        for address in addresses:
            if not _is_public(address):
                raise BaseUrlNotAllowed(f"base_url's host {host} resolves to a non-public address.")
    return url


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """``is_global``, also for IPv6 spellings that carry an IPv4 address (``is_global`` calls
    ``::127.0.0.1``, ``64:ff9b::7f00:1`` and ``2002:7f00:1::`` public)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour]
        if address in _NAT64 or int(address) >> 32 == 0:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(ip is not None and not ip.is_global for ip in embedded):
            return False
    return address.is_global


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    # The historic short forms a resolver accepts as addresses: 127.1, 0x7f.1, 2130706433.
    if re.fullmatch(r"[0-9a-fx.]+", host):
        try:
            return ipaddress.ip_address(socket.inet_ntoa(socket.inet_aton(host)))
        except OSError:
            return None
    return None


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    addresses = []
    for info in infos:
        try:
            addresses.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        except ValueError:
            continue
    return addresses
