"""One Chat Completions call to an OpenAI-compatible server through the ``openai`` package.

A failure is data (``ProviderFailure`` with a kind and a client-safe reason), as with the push
transports. Every call has a timeout and no automatic retries (the user is waiting; a 429 is passed
back with its Retry-After instead), redirects are not followed and proxies from the environment are
not used (see ``campaigns.ai.config`` on SSRF). The API key is never part of a message we build.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from dataclasses import dataclass

import openai
from django.conf import settings

from campaigns.ai.config import ProviderConfig

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
    """``kind``: rate_limited | timeout | unreachable | upstream_status | bad_answer."""

    def __init__(
        self, kind: str, reason: str, *, status: int | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def chat_json(*, config: ProviderConfig, messages: list[dict], response_format: dict) -> Completion:
    """Ask for a JSON answer in ``response_format``'s schema; ProviderFailure when none comes back."""
    timeout = float(settings.PUSHPILOT_AI_TIMEOUT_SECONDS)
    http_client = openai.DefaultHttpxClient(timeout=timeout, follow_redirects=False, trust_env=False)
    client = openai.OpenAI(
        api_key=config.client_key,
        base_url=config.base_url,
        timeout=timeout,
        max_retries=0,
        http_client=http_client,
    )
    try:
        response = client.chat.completions.create(
            model=config.model, messages=messages, response_format=response_format
        )
    except openai.RateLimitError as exc:
        raise ProviderFailure(
            "rate_limited",
            "The AI provider is rate limiting requests; try again later.",
            status=429,
            retry_after=_retry_after(exc.response.headers),
        ) from None
    except openai.APITimeoutError:
        raise ProviderFailure(
            "timeout", f"The AI provider did not answer within {timeout:g} seconds."
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


def _retry_after(headers) -> int:
    """Seconds from the upstream's Retry-After (seconds or an HTTP date) or retry-after-ms."""
    default = settings.PUSHPILOT_AI_RETRY_AFTER_DEFAULT_SECONDS
    raw = (headers.get("retry-after") or "").strip()
    seconds: float | None = None
    if raw:
        try:
            seconds = float(raw)
        except ValueError:
            try:
                seconds = email.utils.parsedate_to_datetime(raw).timestamp() - time.time()
            except (TypeError, ValueError, IndexError):
                seconds = None
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
