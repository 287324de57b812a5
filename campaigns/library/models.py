"""The global template library (public schema): read-only copy every workspace can start from.

Rows come from this app's data migrations; the API never writes them."""

from __future__ import annotations

import uuid

from django.db import models


class GlobalTemplate(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Stable across installs: the seed migration derives ``id`` from it (uuid5).
    key = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=20)
    title = models.CharField(max_length=200)
    body = models.TextField()  # the seed's "subtitle"
    tone = models.CharField(max_length=40, blank=True)
    language = models.CharField(max_length=35, default="en")
    image_url = models.URLField(max_length=1024, blank=True)
    click_url = models.URLField(max_length=1024, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "name"]

    def __str__(self) -> str:
        return self.name

    is_global = True
