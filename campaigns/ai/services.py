"""Writes of the AI feature: the workspace's AI settings, the plan quota and ``generate-content``.

Quota: one ``generate-content`` request is one generation, whatever its number of variants and
whether a repair round was needed. It is reserved before the provider is called, under a row lock
on the month's ``AiUsage`` counter (so two concurrent requests cannot both take the last one), and
given back whenever no provider call produced an answer (rate limited, unreachable, timed out,
HTTP error, or anything failing between the reservation and the first answer): an answer we reject
still cost tokens and still counts. Months are calendar months in the workspace's timezone.

Time: the whole request (first call and repair round) has ``PUSHPILOT_AI_TIMEOUT_SECONDS`` in
total; the repair only gets what is left. gunicorn's worker timeout is set well above it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone as dj_timezone

from campaigns import services as campaign_services
from campaigns.ai import config as ai_config
from campaigns.ai import prompts, provider, validation
from campaigns.ai.error_codes import AiErrorCode as E
from campaigns.ai.selectors import (
    ai_quota_limit,
    ai_quota_status,
    ai_settings_get,
    next_period_start,
    quota_period,
    template_examples,
)
from campaigns.ai_models import AiGeneration, AiGenerationOutcome, AiSettings, AiUsage
from campaigns.error_codes import CampaignErrorCode
from campaigns.models import Campaign, CampaignContent, GeneratedBy
from integrations.crypto import SecretUnreadable, decrypt_secret, encrypt_secret, secret_purpose
from pushpilot.api.errors import ApiError

logger = logging.getLogger("pushpilot.ai")

SETTINGS_LABEL = "campaigns.AiSettings"
KEY_FIELD = "api_key_encrypted"


class RetryLater(ApiError):
    """An ApiError answered with a Retry-After header of exactly ``retry_after`` seconds."""

    def __init__(self, message: str, *, code: str, retry_after: int, details: dict | None = None):
        super().__init__(message, code=code, status_code=429, details=details)
        # pushpilot.api.errors writes Retry-After as int(wait) + 1 (it rounds a throttle's float up).
        self.wait = max(int(retry_after), 1) - 0.5


# -- settings ----------------------------------------------------------------------------------------
def _purpose() -> str:
    return secret_purpose(SETTINGS_LABEL, KEY_FIELD, AiSettings.SINGLETON_PK)


def _base_url_not_allowed(exc: ai_config.BaseUrlNotAllowed) -> ApiError:
    return ApiError(exc.reason, code=E.AI_BASE_URL_NOT_ALLOWED, details={"base_url": [exc.reason]})


def ai_settings_update(*, workspace, actor, data: dict, ip: str | None = None) -> AiSettings:
    """PATCH the workspace's AI settings. ``api_key``: a string sets it, "" or None clears it.

    A new ``base_url`` is checked (its host resolved) first, outside the transaction: no row stays
    locked while DNS answers."""
    data = dict(data)
    if data.get("base_url"):
        data["base_url"] = data["base_url"].strip().rstrip("/")
        if data["base_url"]:
            try:
                ai_config.check_base_url(data["base_url"])
            except ai_config.BaseUrlNotAllowed as exc:
                raise _base_url_not_allowed(exc) from None
    return _ai_settings_write(workspace=workspace, actor=actor, data=data, ip=ip)


@transaction.atomic
def _ai_settings_write(*, workspace, actor, data: dict, ip: str | None) -> AiSettings:
    from tenants.services import audit_record

    AiSettings.objects.get_or_create(pk=AiSettings.SINGLETON_PK)
    row = AiSettings.objects.select_for_update().get(pk=AiSettings.SINGLETON_PK)
    changed = []
    for name in ("base_url", "model", "brand_voice"):
        if name in data:
            value = (data[name] or "").strip()
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
    """The provider this workspace's generations use; 503 ``ai_not_configured`` when there is none.

    No DNS lookup here (``GET /ai/settings`` calls this on every read): a workspace's host is
    resolved and checked when the URL is saved and again, authoritatively, when connecting."""
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
            ai_config.check_base_url(resolved.base_url, resolve_host=False)
        except ai_config.BaseUrlNotAllowed as exc:
            raise ApiError(
                f"The workspace's AI base_url is not allowed: {exc.reason}",
                code=E.AI_NOT_CONFIGURED,
                status_code=503,
                details={"base_url": [exc.reason]},
            ) from None
    return resolved


# -- quota -------------------------------------------------------------------------------------------
@transaction.atomic
def _quota_reserve(*, workspace, now: datetime) -> date:
    period = quota_period(workspace, now)
    AiUsage.objects.get_or_create(period=period)
    usage = AiUsage.objects.select_for_update().get(period=period)
    limit = ai_quota_limit(workspace)
    if limit is not None and usage.generations >= limit:
        resets_at = next_period_start(workspace, period)
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


def _upstream_error(failure: provider.ProviderFailure) -> ApiError:
    if failure.kind == "rate_limited":
        return RetryLater(
            failure.reason,
            code=E.AI_RATE_LIMITED,
            retry_after=failure.retry_after or settings.PUSHPILOT_AI_RETRY_AFTER_DEFAULT_SECONDS,
            details={"retry_after": failure.retry_after},
        )
    if failure.kind == "address_not_allowed":
        return ApiError(
            f"The workspace's AI base_url is not allowed: {failure.reason}",
            code=E.AI_NOT_CONFIGURED,
            status_code=503,
            details={"base_url": [failure.reason], "reason": failure.kind},
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
    quota reservation, the provider call, our validation with one repair round, the drafts, and only
    then the generation marked succeeded. The provider call runs outside any transaction: no row
    stays locked while the model thinks. The whole request, repair included, has one time budget."""
    campaign_services.require_content_editable(campaign)
    existing = campaign.contents.count()
    if existing + request.variants > campaign_services.MAX_CONTENTS_PER_CAMPAIGN:
        raise ApiError(
            f"A campaign has at most {campaign_services.MAX_CONTENTS_PER_CAMPAIGN} contents; this one has "
            f"{existing}. Delete some drafts or ask for fewer variants.",
            code=CampaignErrorCode.TOO_MANY_CONTENTS,
        )
    row = ai_settings_get()
    config = ai_provider_config(workspace=workspace, row=row)
    started = time.monotonic()
    deadline = started + float(settings.PUSHPILOT_AI_TIMEOUT_SECONDS)
    period = _quota_reserve(workspace=workspace, now=dj_timezone.now())
    generation: AiGeneration | None = None
    try:
        generation = _generation(campaign=campaign, actor=actor, config=config, request=request)
        variants = _ask(
            generation=generation,
            config=config,
            row=row,
            campaign=campaign,
            request=request,
            started=started,
            deadline=deadline,
        )
    except BaseException as exc:
        # No answer arrived (a provider failure, or anything failing before the first call): the
        # generation was not spent. An answer we refused (attempts > 0) still cost tokens.
        if generation is None or generation.attempts == 0:
            _quota_release(period)
        if generation is not None and not generation.outcome:  # not a failure _ask recorded
            _finish(generation, started, AiGenerationOutcome.UPSTREAM_ERROR, exc.__class__.__name__)
        raise

    try:
        contents = _save_drafts(campaign=campaign, actor=actor, request=request, variants=variants)
    except BaseException as exc:
        reason = str(exc.detail) if isinstance(exc, ApiError) else exc.__class__.__name__
        _finish(generation, started, AiGenerationOutcome.SAVE_FAILED, f"The drafts were not saved: {reason}")
        raise
    generation.content_ids = [str(c.pk) for c in contents]
    _finish(generation, started, AiGenerationOutcome.SUCCEEDED, "")
    return GenerationResult(
        contents=contents, generation=generation, quota=ai_quota_status(workspace=workspace)
    )


def _generation(
    *, campaign: Campaign, actor, config: ai_config.ProviderConfig, request: prompts.GenerationRequest
) -> AiGeneration:
    return AiGeneration(
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


def _ask(
    *,
    generation: AiGeneration,
    config: ai_config.ProviderConfig,
    row: AiSettings,
    campaign: Campaign,
    request: prompts.GenerationRequest,
    started: float,
    deadline: float,
) -> list[validation.Variant]:
    """The validated variants: the first call and, when our checks fail, one repair round in the
    time left. Records the generation's outcome when it raises."""
    context = prompts.PromptContext(
        campaign_name=campaign.name,
        campaign_description=campaign.description,
        brand_voice=row.brand_voice,
        examples=template_examples(language=request.language, tone=request.tone),
    )
    messages = prompts.messages(request, context)
    response_format = prompts.response_format(request.variants)
    variants: list[validation.Variant] = []
    problems: list[dict] = []
    try:
        for attempt in (1, 2):
            completion = provider.chat_json(
                config=config, messages=messages, response_format=response_format, deadline=deadline
            )
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
    return variants


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
    # Labels no content of this language uses, so activating a draft rarely meets an active twin.
    taken = set(campaign.contents.filter(language=request.language).values_list("variant", flat=True))
    labels = campaign_services.free_variant_labels(taken=taken, count=len(variants))
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
