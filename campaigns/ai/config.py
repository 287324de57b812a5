"""Which OpenAI-compatible provider a workspace's generations go to, and which URLs we accept for it.

The platform provider comes from ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` / ``OPENAI_MODEL``; a
workspace may override any of them in its ``AiSettings``. One rule protects the platform's key: when a
workspace names its own ``base_url``, only the workspace's own key is ever sent there.

A workspace's ``base_url`` is a URL our web workers will POST to, so it is checked like every other
outbound URL a customer gives us (SSRF): https only, no credentials or fragment, and a host that
is not — and does not resolve to — a loopback, private, link-local or otherwise non-public address
(IPv4 inside IPv6 spellings included); a host that does not resolve is refused too.
``PUSHPILOT_AI_ALLOWED_ORIGINS`` lists exact origins accepted besides (http and private addresses
included), parsed by the same rules as ``PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS``. The check runs when the URL is saved (resolving the host) and, without DNS, before every call;
at connect time ``campaigns.ai.network`` resolves the host once more, refuses unless every
address is public, and connects to the address it checked (so a DNS answer that changes after the
first check, DNS rebinding, cannot move the call to an internal address). Redirects are not
followed, so an answer cannot bounce the call elsewhere either.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from campaigns.ai.network import IpAddress, resolve
from integrations.transports.urls import (
    EndpointNotAllowed,
    OriginRule,
    ParsedUrl,
    parse_allowed_origins,
    parse_url,
)

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_BASE_URL_LENGTH = 500
# What the client sends as the key to a provider that needs none (a local vLLM or Ollama).
NO_KEY = "not-needed"

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
    # The platform's key and URL: only then may the platform's OpenAI organization/project go along.
    platform_account: bool = True

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
            platform_account=False,
        )
    else:
        key = api_key or settings.OPENAI_API_KEY
        platform_url = settings.OPENAI_BASE_URL
        resolved = ProviderConfig(
            base_url=(platform_url or (OPENAI_DEFAULT_BASE_URL if key else "")).rstrip("/"),
            model=model or settings.OPENAI_MODEL,
            api_key=key,
            source="workspace" if (api_key or model) else "platform",
            platform_account=not api_key,
        )
    if not resolved.model or not resolved.base_url:
        return None
    return resolved


def allowed_origin_rules() -> tuple[OriginRule, ...]:
    """``PUSHPILOT_AI_ALLOWED_ORIGINS`` parsed (empty: none; unlike the Web Push setting, whose
    empty value means the push services). A malformed entry is ImproperlyConfigured, never ignored
    (``pushpilot.settings`` already refuses one at startup)."""
    raw = settings.PUSHPILOT_AI_ALLOWED_ORIGINS
    if isinstance(raw, str):
        raw = raw.split(",")
    items = [str(item).strip() for item in (raw or ()) if str(item).strip()]
    if not items:
        return ()
    try:
        return parse_allowed_origins(items)
    except ValueError as exc:
        raise ImproperlyConfigured(f"PUSHPILOT_AI_ALLOWED_ORIGINS: {exc}") from None


def is_allowed_origin(parsed: ParsedUrl) -> bool:
    """Whether the operator listed this exact origin (then http and private addresses are fine)."""
    return any(
        rule.matches(parsed.scheme, parsed.host, parsed.port, parsed.is_ip) for rule in allowed_origin_rules()
    )


def parse_base_url(url: object) -> ParsedUrl:
    try:
        return parse_url(url, name="base_url", max_length=MAX_BASE_URL_LENGTH)
    except EndpointNotAllowed as exc:
        raise BaseUrlNotAllowed(exc.reason + ".") from None


def check_base_url(url: object, *, resolve_host: bool = True) -> str:
    """``url`` if a workspace may point its AI provider there; BaseUrlNotAllowed says why not.
    ``resolve_host=False`` skips the DNS lookup (the connection checks the addresses anyway)."""
    parsed = parse_base_url(url)
    assert isinstance(url, str)
    if is_allowed_origin(parsed):
        return url
    if parsed.scheme != "https":
        raise BaseUrlNotAllowed("base_url must be an https URL.")
    if parsed.query:
        raise BaseUrlNotAllowed("base_url must not have a query or fragment.")
    host = parsed.host
    if parsed.is_ip:
        if not is_public(ipaddress.ip_address(host)):
            raise BaseUrlNotAllowed("base_url points at a private, loopback or reserved address.")
        return url
    if host == "localhost" or host.endswith(_PRIVATE_SUFFIXES) or "." not in host:
        raise BaseUrlNotAllowed("base_url must name a public host (a DNS name with a public address).")
    if resolve_host:
        addresses = resolve(host, parsed.port)
        if not addresses:
            # Fail closed: a lookup that fails here may succeed (with a private answer) later.
            raise BaseUrlNotAllowed(f"base_url's host {host} does not resolve.")
        if not all(is_public(address) for address in addresses):
            raise BaseUrlNotAllowed(f"base_url's host {host} resolves to a non-public address.")
    return url


def connect_check(config: ProviderConfig):
    """What ``campaigns.ai.network`` checks each address against when connecting for ``config``:
    ``is_public`` for a workspace's own URL, nothing for the platform's (the operator's) URL or an
    origin the operator allowlisted."""
    if not config.workspace_base_url or is_allowed_origin(parse_base_url(config.base_url)):
        return None
    return is_public


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public(address: IpAddress) -> bool:
    """``is_global``, also for IPv6 spellings that carry an IPv4 address (``is_global`` calls
    ``::127.0.0.1``, ``64:ff9b::7f00:1`` and ``2002:7f00:1::`` public)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour]
        if address in _NAT64 or int(address) >> 32 == 0:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(ip is not None and not ip.is_global for ip in embedded):
            return False
    return address.is_global
