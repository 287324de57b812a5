"""Error codes of the AI endpoints, surfaced as ``{"error": {"code": …}}`` (pushpilot.api.errors)."""

from __future__ import annotations

from enum import StrEnum


class AiErrorCode(StrEnum):
    AI_NOT_CONFIGURED = "ai_not_configured"  # 503: no provider (model + key or base URL), or a refused URL
    AI_RATE_LIMITED = "ai_rate_limited"  # 429: the provider said 429; Retry-After passed on
    AI_QUOTA_EXCEEDED = "ai_quota_exceeded"  # 429: the plan's generations this month are used up
    AI_UPSTREAM_ERROR = "ai_upstream_error"  # 502: provider 4xx/5xx, unreachable or too slow
    AI_INVALID_OUTPUT = "ai_invalid_output"  # 502: the copy failed our checks, also after one repair
    AI_BASE_URL_NOT_ALLOWED = "ai_base_url_not_allowed"  # 400: PATCH /ai/settings base_url (SSRF rules)
