"""Writes of the AI feature: the workspace's AI settings, the plan quota and ``generate-content``.

Quota: one ``generate-content`` request is one generation, whatever its number of variants and
whether a repair round was needed. It is reserved before the provider is called, under a row lock
on the month's ``AiUsage`` counter (so two concurrent requests cannot both take the last one), and
given back only when no provider call produced an answer (rate limited, unreachable, timed out,
HTTP error): an answer we reject still cost tokens and still counts. Months are calendar months in
the workspace's timezone.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone as dj_timezone

from campaigns import selectors as campaign_selectors
from campaigns import services as campaign_services
from campaigns.ai import config as ai_config
from campaigns.ai import prompts, provider, validation
from campaigns.ai.error_codes import AiErrorCode as E
from campaigns.ai_models import AiGeneration, AiGenerationOutcome, AiSettings, AiUsage
from campaigns.error_codes import CampaignErrorCode
from campaigns.models import Campaign, CampaignContent, GeneratedBy
from integrations.crypto import SecretUnreadable, decrypt_secret, encrypt_secret, secret_purpose
from pushpilot.api.errors import ApiError

logger = logging.getLogger("pushpilot.ai")

SETTINGS_LABEL = "campaigns.AiSettings"
KEY_FIELD = "api_key_encrypted"
MAX_EXAMPLES = 3


class RetryLater(ApiError):
    """An ApiError answered with a Retry-After header of exactly ``retry_after`` seconds."""

    def __init__(self, message: str, *, code: str, retry_after: int, details: dict | None = None):
        super().__init__(message, code=code, status_code=429, details=details)
        # pushpilot.api.errors writes Retry-After as int(wait) + 1 (it rounds a throttle's float up).
        self.wait = max(int(retry_after), 1) - 0.5


# -- settings ----------------------------------------------------------------------------------------
def ai_settings_get() -> AiSettings:
    """The workspace's AI settings (an unsaved blank row when it never set any)."""
    return AiSettings.objects.filter(pk=AiSettings.SINGLETON_PK).first() or AiSettings()


def _purpose() -> str:
    return secret_purpose(SETTINGS_LABEL, KEY_FIELD, AiSettings.SINGLETON_PK)


@transaction.atomic
def ai_settings_update(*, workspace, actor, data: dict, ip: str | None = None) -> AiSettings:
    """PATCH the workspace's AI settings. ``api_key``: a string sets it, "" or None clears it."""
    from tenants.services import audit_record

    AiSettings.objects.get_or_create(pk=AiSettings.SINGLETON_PK)
    row = AiSettings.objects.select_for_update().get(pk=AiSettings.SINGLETON_PK)
    changed = []
    for name in ("base_url", "model", "brand_voice"):
        if name in data:
            value = (data[name] or "").strip()
            if name == "base_url" and value:
                value = value.rstrip("/")
                try:
                    ai_config.check_base_url(value)
                except ai_config.BaseUrlNotAllowed as exc:
                    raise ApiError(
                        exc.reason, code=E.AI_BASE_URL_NOT_ALLOWED, details={"base_url": [exc.reason]}
                    ) from None
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed.append(name)
    if "api_key" in data:
        key = (data["api_key"] or "").strip()
        row.api_key_encrypted = (
            encrypt_secret(workspace_id=workspace.pk, purpose=_purpose(), plaintext=key.encode())
            if key
            else ""
        )
        row.api_key_hint = key[-4:] if len(key) >= 12 else ""
        changed.append("api_key")
    row.updated_by = getattr(actor, "pk", None)
    row.save()
    if changed:
        # Field names only: never a value (the key above all).
        audit_record(
            workspace=workspace,
            action="ai_settings.updated",
            actor=actor,
            metadata={"fields": changed},
            ip=ip,
        )
    return row


def _workspace_key(workspace, row: AiSettings) -> str:
    if not row.api_key_encrypted:
        return ""
    try:
        return decrypt_secret(
            workspace_id=workspace.pk, purpose=_purpose(), token=row.api_key_encrypted
        ).decode()
    except SecretUnreadable:
        raise ApiError(
            "The workspace's AI API key cannot be decrypted with the configured keys; set it again.",
            code=E.AI_NOT_CONFIGURED,
            status_code=503,
        ) from None


def ai_provider_config(*, workspace, row: AiSettings | None = None) -> ai_config.ProviderConfig:
    """The provider this workspace's generations use; 503 ``ai_not_configured`` when there is none."""
    row = row or ai_settings_get()
    resolved = ai_config.provider_config(
        api_key=_workspace_key(workspace, row), base_url=row.base_url, model=row.model
    )
    if resolved is None:
        raise ApiError(
            "No AI provider is configured: set OPENAI_API_KEY (or OPENAI_BASE_URL) and OPENAI_MODEL, "
            "or the workspace's own provider in /api/v1/ai/settings.",
            code=E.AI_NOT_CONFIGURED,
            status_code=503,
        )
    if resolved.workspace_base_url:
        try:
            ai_config.check_base_url(resolved.base_url)
        except ai_config.BaseUrlNotAllowed as exc:
            raise ApiError(
                f"The workspace's AI base_url is not allowed: {exc.reason}",
                code=E.AI_NOT_CONFIGURED,
                status_code=503,
                details={"base_url": [exc.reason]},
            ) from None
    return resolved


# -- quota -------------------------------------------------------------------------------------------
def _period(workspace, now: datetime) -> date:
    local = now.astimezone(ZoneInfo(workspace.timezone or "UTC"))
    return local.date().replace(day=1)


def _next_period_start(workspace, period: date) -> datetime:
    first = (period.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime(first.year, first.month, 1, tzinfo=ZoneInfo(workspace.timezone or "UTC"))


def ai_quota_limit(workspace) -> int | None:
    return settings.PUSHPILOT_PLAN_AI_GENERATIONS.get(workspace.plan_type)


def ai_quota_status(*, workspace, now: datetime | None = None) -> dict:
    """{used, limit, period, resets_at} for the current month (a read: nothing is locked)."""
    now = now or dj_timezone.now()
    period = _period(workspace, now)
    used = AiUsage.objects.filter(period=period).values_list("generations", flat=True).first() or 0
    return {
        "used": used,
        "limit": ai_quota_limit(workspace),
        "period": period.strftime("%Y-%m"),
        "resets_at": _next_period_start(workspace, period).isoformat(),
    }


@transaction.atomic
def _quota_reserve(*, workspace, now: datetime) -> date:
    period = _period(workspace, now)
    AiUsage.objects.get_or_create(period=period)
    usage = AiUsage.objects.select_for_update().get(period=period)
    limit = ai_quota_limit(workspace)
    if limit is not None and usage.generations >= limit:
        resets_at = _next_period_start(workspace, period)
        raise RetryLater(
            f"This workspace has used its {limit} AI generations for {period:%B %Y} "
            f"({workspace.plan_type} plan); the quota resets on {resets_at.date().isoformat()}.",
            code=E.AI_QUOTA_EXCEEDED,
            retry_after=max(int((resets_at - now).total_seconds()), 1),
            details={
                "limit": limit,
                "used": usage.generations,
                "period": period.strftime("%Y-%m"),
                "resets_at": resets_at.isoformat(),
                "plan": workspace.plan_type,
            },
        )
    usage.generations = F("generations") + 1
    usage.save(update_fields=["generations", "updated_at"])
    return period


def _quota_release(period: date) -> None:
    AiUsage.objects.filter(period=period, generations__gt=0).update(generations=F("generations") - 1)


# -- generate ----------------------------------------------------------------------------------------
@dataclass
class GenerationResult:
    contents: list[CampaignContent]
    generation: AiGeneration
    quota: dict


def template_examples(*, language: str, tone: str, limit: int = MAX_EXAMPLES) -> list[dict]:
    """A few templates to show the model the house style: the workspace's own before the global
    library's, the same language first, then the same tone. Read from this tenant's schema and the
    public library only."""
    rows: dict[Any, dict] = {}
    for row in list(campaign_selectors.template_listing(language=language)[:20]) + list(
        campaign_selectors.template_listing()[:50]
    ):
        rows.setdefault(row["id"], row)
    primary = language.split("-")[0].lower()

    def rank(row: dict) -> tuple:
        tag = (row.get("language") or "").lower()
        return (
            0 if tag == language.lower() else 1 if tag.split("-")[0] == primary else 2,
            0 if tone and (row.get("tone") or "").lower() == tone.lower() else 1,
            1 if row.get("is_global") else 0,
        )

    return sorted(rows.values(), key=rank)[:limit]


def _free_variant_labels(campaign: Campaign, language: str, count: int) -> list[str]:
    """Labels no content of this language uses, so activating a draft rarely meets an active twin."""
    taken = set(campaign.contents.filter(language=language).values_list("variant", flat=True))
    labels = []
    index = 0
    while len(labels) < count and index < 26 * 27:
        label = chr(65 + index % 26) if index < 26 else chr(64 + index // 26) + chr(65 + index % 26)
        if label not in taken:
            labels.append(label)
        index += 1
    while len(labels) < count:
        labels.append("AI" + uuid.uuid4().hex[:6].upper())
    return labels


def _upstream_error(failure: provider.ProviderFailure) -> ApiError:
    if failure.kind == "rate_limited":
        return RetryLater(
            failure.reason,
            code=E.AI_RATE_LIMITED,
            retry_after=failure.retry_after or settings.PUSHPILOT_AI_RETRY_AFTER_DEFAULT_SECONDS,
            details={"retry_after": failure.retry_after},
        )
    details: dict[str, Any] = {"reason": failure.kind}
    if failure.status is not None:
        details["upstream_status"] = failure.status
    return ApiError(failure.reason, code=E.AI_UPSTREAM_ERROR, status_code=502, details=details)


def ai_content_generate(
    *, workspace, campaign: Campaign, actor, request: prompts.GenerationRequest
) -> GenerationResult:
    """Ask the workspace's model for ``request.variants`` variants and save them as inactive AI drafts.

    Order: campaign checks and provider config (no quota spent on a request that cannot work), the
    quota reservation, the provider call, our validation with one repair round, then the drafts.
    The provider call runs outside any transaction: no row stays locked while the model thinks."""
    campaign_services._require_content_editable(campaign)
    existing = campaign.contents.count()
    if existing + request.variants > campaign_services.MAX_CONTENTS_PER_CAMPAIGN:
        raise ApiError(
            f"A campaign has at most {campaign_services.MAX_CONTENTS_PER_CAMPAIGN} contents; this one has "
            f"{existing}. Delete some drafts or ask for fewer variants.",
            code=CampaignErrorCode.TOO_MANY_CONTENTS,
        )
    row = ai_settings_get()
    config = ai_provider_config(workspace=workspace, row=row)
    now = dj_timezone.now()
    period = _quota_reserve(workspace=workspace, now=now)

    context = prompts.PromptContext(
        campaign_name=campaign.name,
        campaign_description=campaign.description,
        brand_voice=row.brand_voice,
        examples=template_examples(language=request.language, tone=request.tone),
    )
    generation = AiGeneration(
        campaign=campaign,
        created_by=getattr(actor, "pk", None),
        model=config.model[:100],
        provider=config.source,
        prompt=request.prompt,
        tone=request.tone,
        language=request.language,
        variants_requested=request.variants,
        include_emoji=request.include_emoji,
        max_title=request.max_title,
        max_body=request.max_body,
    )
    started = time.monotonic()
    messages = prompts.messages(request, context)
    response_format = prompts.response_format(request.variants)
    variants: list[validation.Variant] = []
    problems: list[dict] = []
    try:
        for attempt in (1, 2):
            completion = provider.chat_json(config=config, messages=messages, response_format=response_format)
            generation.attempts = attempt
            generation.model = completion.model or generation.model
            generation.prompt_tokens += completion.prompt_tokens
            generation.completion_tokens += completion.completion_tokens
            if completion.refusal and not completion.content:
                variants, problems = [], [{"code": "refused", "message": completion.refusal[:300]}]
            else:
                variants, problems = validation.check_answer(completion.content, request)
            if not problems:
                break
            if attempt == 1:
                messages = prompts.repair_messages(messages, completion.content, problems)
    except provider.ProviderFailure as failure:
        if generation.attempts == 0:
            _quota_release(period)
        _finish(
            generation,
            started,
            AiGenerationOutcome.RATE_LIMITED
            if failure.kind == "rate_limited"
            else AiGenerationOutcome.UPSTREAM_ERROR,
            provider.redact(failure.reason, config),
        )
        raise _upstream_error(failure) from None

    if problems:
        _finish(generation, started, AiGenerationOutcome.INVALID_OUTPUT, problems[0]["message"])
        raise ApiError(
            "The model's copy failed validation twice: " + problems[0]["message"],
            code=E.AI_INVALID_OUTPUT,
            status_code=502,
            details={"problems": problems[:20], "attempts": generation.attempts},
        )

    _finish(generation, started, AiGenerationOutcome.SUCCEEDED, "")
    contents = _save_drafts(campaign=campaign, actor=actor, request=request, variants=variants)
    generation.content_ids = [str(c.pk) for c in contents]
    generation.save(update_fields=["content_ids"])
    return GenerationResult(
        contents=contents, generation=generation, quota=ai_quota_status(workspace=workspace)
    )


def _finish(generation: AiGeneration, started: float, outcome: str, error: str) -> None:
    generation.outcome = outcome
    generation.error = error[:500]
    generation.duration_ms = int((time.monotonic() - started) * 1000)
    generation.save()
    logger.info(
        "ai generation %s outcome=%s model=%s provider=%s attempts=%d tokens=%d+%d duration_ms=%d",
        generation.pk,
        outcome,
        generation.model,
        generation.provider,
        generation.attempts,
        generation.prompt_tokens,
        generation.completion_tokens,
        generation.duration_ms,
    )


@transaction.atomic
def _save_drafts(
    *, campaign: Campaign, actor, request: prompts.GenerationRequest, variants: list[validation.Variant]
) -> list[CampaignContent]:
    labels = _free_variant_labels(campaign, request.language, len(variants))
    return [
        campaign_services.content_create(
            campaign=campaign,
            actor=actor,
            generated_by=GeneratedBy.AI,
            data={
                "title": variant.title,
                "body": variant.body,
                "language": request.language,
                "tone": request.tone,
                "variant": label,
                "is_active": False,
            },
        )
        for variant, label in zip(variants, labels, strict=True)
    ]
