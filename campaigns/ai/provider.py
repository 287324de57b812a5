"""One Chat Completions call to an OpenAI-compatible server through the ``openai`` package.

A failure is data (``ProviderFailure`` with a kind and a client-safe reason), as with the push
transports. Every call ends by its ``deadline`` (the one budget of the whole generate request, see
``campaigns.ai.network``), there are no automatic retries (the user is waiting; a 429 is passed
back with its Retry-After instead), redirects are not followed and proxies from the environment are
not used (see ``campaigns.ai.config`` on SSRF). The API key is never part of a message we build.

What the ``openai`` package would take from the environment (``OPENAI_ORG_ID``,
``OPENAI_PROJECT_ID``, ``OPENAI_CUSTOM_HEADERS``) belongs to the platform's account: it is sent
only with the platform's key to the platform's URL, never to a workspace's server or with its key.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass

import httpx2
import openai
from django.conf import settings

from campaigns.ai.config import ProviderConfig, connect_check
from campaigns.ai.network import AddressNotAllowed, CheckedTransport
from integrations.transports.base import parse_retry_after

MAX_RETRY_AFTER_SECONDS = 3600
# A 401 from OpenAI quotes the key masked ("sk-abc1****…wxyz"): its ends are still the platform's key.
_MASKED_SECRET = re.compile(r"\S*\*{3,}\S*|\bsk-[\w-]+")


@dataclass(frozen=True)
class Completion:
    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None
    refusal: str | None = None


class ProviderFailure(Exception):
    """``kind``: rate_limited | provider_quota_exhausted | timeout | unreachable |
    address_not_allowed | upstream_status | bad_answer."""

    def __init__(
        self, kind: str, reason: str, *, status: int | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def chat_json(
    *, config: ProviderConfig, messages: list[dict], response_format: dict, deadline: float
) -> Completion:
    """Ask for a JSON answer in ``response_format``'s schema; ProviderFailure when none comes back
    by ``deadline`` (a ``time.monotonic()`` value)."""
    budget = float(settings.PUSHPILOT_AI_TIMEOUT_SECONDS)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ProviderFailure("timeout", f"The AI provider did not answer within {budget:g} seconds.")
    http_client = httpx2.Client(
        transport=CheckedTransport(deadline=deadline, is_allowed=connect_check(config)),
        timeout=remaining,
        follow_redirects=False,
        trust_env=False,
    )
    client = openai.OpenAI(
        api_key=config.client_key,
        base_url=config.base_url,
        timeout=remaining,
        max_retries=0,
        http_client=http_client,
        **_account_options(config),
    )
    try:
        response = client.chat.completions.create(
            model=config.model, messages=messages, response_format=response_format
        )
    except AddressNotAllowed as exc:
        raise ProviderFailure("address_not_allowed", exc.reason) from None
    except openai.RateLimitError as exc:
        if _error_code(exc) == "insufficient_quota":
            # Billing, not load: waiting does not help, so no Retry-After for clients to loop on.
            raise ProviderFailure(
                "provider_quota_exhausted",
                "The AI provider account has no credit left (insufficient_quota); "
                "its owner must check the provider's plan and billing.",
                status=429,
            ) from None
        raise ProviderFailure(
            "rate_limited",
            "The AI provider is rate limiting requests; try again later.",
            status=429,
            retry_after=_retry_after(exc.response.headers),
        ) from None
    except openai.APITimeoutError:
        raise ProviderFailure(
            "timeout", f"The AI provider did not answer within {budget:g} seconds."
        ) from None
    except openai.APIConnectionError:
        raise ProviderFailure("unreachable", "The AI provider could not be reached.") from None
    except openai.AuthenticationError as exc:
        raise ProviderFailure(
            "upstream_status",
            f"The AI provider refused the API key (HTTP {exc.status_code}).",
            status=exc.status_code,
        ) from None
    except openai.APIStatusError as exc:
        raise ProviderFailure(
            "upstream_status",
            f"The AI provider answered HTTP {exc.status_code}: {_upstream_message(exc, config)}",
            status=exc.status_code,
        ) from None
    except openai.OpenAIError as exc:
        raise ProviderFailure(
            "bad_answer", f"The AI provider's answer could not be read ({exc.__class__.__name__})."
        ) from None
    finally:
        client.close()
    choices = getattr(response, "choices", None) or []
    if not choices or getattr(choices[0], "message", None) is None:
        raise ProviderFailure("bad_answer", "The AI provider's answer has no message.")
    message = choices[0].message
    usage = getattr(response, "usage", None)
    return Completion(
        content=message.content or "",
        model=str(getattr(response, "model", "") or config.model)[:100],
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        finish_reason=getattr(choices[0], "finish_reason", None),
        refusal=getattr(message, "refusal", None),
    )


def _account_options(config: ProviderConfig) -> dict:
    """Explicit organization/project: the platform's (from the environment, as the package would)
    only with the platform's key and URL; otherwise none, and none of OPENAI_CUSTOM_HEADERS."""
    if config.platform_account:
        return {
            "organization": os.environ.get("OPENAI_ORG_ID") or None,
            "project": os.environ.get("OPENAI_PROJECT_ID") or None,
        }
    # Passing None would make the package read the environment; Omit() in our own headers (merged
    # last) removes the header instead. An explicit Authorization also drops one from the env.
    omitted = {"OpenAI-Organization", "OpenAI-Project"}
    for line in (os.environ.get("OPENAI_CUSTOM_HEADERS") or "").split("\n"):
        name = line.partition(":")[0].strip()
        if name and ":" in line and name.lower() != "authorization":
            omitted.add(name)
    headers: dict = {name: openai.Omit() for name in omitted}
    headers["Authorization"] = f"Bearer {config.client_key}"
    return {"default_headers": headers}


def _error_code(exc: openai.APIStatusError) -> str:
    body = exc.body
    error = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or error.get("type") or "")
    return str(getattr(exc, "code", "") or "")


def _retry_after(headers) -> int:
    """Seconds from the upstream's Retry-After (seconds or an HTTP date) or retry-after-ms."""
    default = settings.PUSHPILOT_AI_RETRY_AFTER_DEFAULT_SECONDS
    raw = (headers.get("retry-after") or "").strip()
    seconds: float | None = None
    if raw:
        try:
            seconds = float(raw)
        except ValueError:
            seconds = parse_retry_after(raw)  # an HTTP date
    elif headers.get("retry-after-ms"):
        try:
            seconds = float(headers["retry-after-ms"]) / 1000
        except ValueError:
            seconds = None
    if seconds is None or math.isnan(seconds):
        return default
    return int(min(max(math.ceil(seconds), 1), MAX_RETRY_AFTER_SECONDS))


def _upstream_message(exc: openai.APIStatusError, config: ProviderConfig) -> str:
    body = exc.body
    message = ""
    if isinstance(body, dict):
        error = body.get("error", body)
        message = str(error.get("message", "") if isinstance(error, dict) else error)
    message = message or (exc.response.reason_phrase if exc.response is not None else "") or "error"
    return redact(" ".join(message.split()), config)[:200]


def redact(text: str, config: ProviderConfig) -> str:
    """``text`` with the API key (should a server echo it, whole or masked) blanked out."""
    if config.api_key and len(config.api_key) >= 4:
        text = text.replace(config.api_key, "[redacted]")
    return _MASKED_SECRET.sub("[redacted]", text)
