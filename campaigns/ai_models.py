"""AI copy (tenant schema): the workspace's provider override and brand voice, every generation with
its model and token usage, and the monthly counter the plan quota is checked against.

Workflows live in ``campaigns.ai.services``; imported by ``campaigns.models``.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

__all__ = ["AiGeneration", "AiGenerationOutcome", "AiSettings", "AiUsage"]


class AiSettings(models.Model):
    """One row per workspace (pk 1). Blank fields fall back to the OPENAI_* settings.

    ``api_key_encrypted`` holds ``integrations.crypto.encrypt_secret`` output with purpose
    ``secret_purpose("campaigns.AiSettings", "api_key_encrypted", 1)``; it is never serialized."""

    SINGLETON_PK = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_PK, editable=False)
    base_url = models.CharField(max_length=500, blank=True)
    model = models.CharField(max_length=100, blank=True)
    api_key_encrypted = models.TextField(blank=True)
    # The key's last four characters, kept apart so reads never decrypt (shown as "…abcd").
    api_key_hint = models.CharField(max_length=4, blank=True)
    brand_voice = models.TextField(blank=True)
    updated_by = models.UUIDField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="ai_settings_singleton")]

    def __str__(self) -> str:
        return "AI settings"


class AiGenerationOutcome(models.TextChoices):
    SUCCEEDED = "succeeded"
    INVALID_OUTPUT = "invalid_output"  # the model answered, twice, with copy we refuse
    UPSTREAM_ERROR = "upstream_error"  # 5xx, 4xx, a connection error or a timeout
    RATE_LIMITED = "rate_limited"  # upstream 429
    SAVE_FAILED = "save_failed"  # the copy was fine but the drafts could not be saved


class AiGeneration(models.Model):
    """One call of ``generate-content``: what was asked, of which model, what it cost, how it ended."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # SET_NULL: deleting a draft campaign must not erase usage (nor give quota back).
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.SET_NULL, null=True, blank=True, related_name="ai_generations"
    )
    created_by = models.UUIDField(null=True, blank=True)
    model = models.CharField(max_length=100)
    # Where the call went: "workspace" (the workspace's own provider) or "platform" (OPENAI_*).
    provider = models.CharField(max_length=12)
    prompt = models.TextField()
    tone = models.CharField(max_length=40)
    language = models.CharField(max_length=35)
    variants_requested = models.PositiveSmallIntegerField()
    include_emoji = models.BooleanField(default=False)
    max_title = models.PositiveSmallIntegerField()
    max_body = models.PositiveSmallIntegerField()
    attempts = models.PositiveSmallIntegerField(default=0)  # provider calls: 1, or 2 with the repair
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=AiGenerationOutcome.choices)
    error = models.CharField(max_length=500, blank=True)
    content_ids = models.JSONField(default=list, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["campaign", "-created_at"], name="ai_generation_campaign_idx")]

    def __str__(self) -> str:
        return f"{self.model} x {self.variants_requested} ({self.outcome})"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class AiUsage(models.Model):
    """Generations counted against the plan in one calendar month (``period`` = its first day, in
    the workspace's timezone). The quota check locks this row, so concurrent requests queue on it
    for a moment instead of both slipping under the limit."""

    period = models.DateField(unique=True)
    generations = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period"]

    def __str__(self) -> str:
        return f"{self.period:%Y-%m}: {self.generations}"
