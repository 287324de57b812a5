"""Resolve a workspace reference (id, slug or API-key prefix) to its schema without touching the
database on the hot path. The map is a hint only: membership, key and role are verified from the
database on every request, so a stale entry can never grant access."""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass

from cachetools import TTLCache
from django.conf import settings

API_KEY_RE = re.compile(r"^pp_live_(?P<prefix>[a-z0-9]{12})_(?P<secret>[A-Za-z0-9_-]{32,64})$")


@dataclass(frozen=True)
class Route:
    workspace_id: uuid.UUID
    schema_name: str


_cache: TTLCache = TTLCache(maxsize=50_000, ttl=60)
_lock = threading.Lock()
_MISSING = Route(uuid.UUID(int=0), "")


def is_reserved(ref: str) -> bool:
    lowered = ref.lower()
    return lowered in settings.PUSHPILOT_RESERVED_SLUGS or lowered.startswith("pg_")


def _parse_uuid(ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


# What a slug can look like; anything else (NUL bytes, spaces, 5 kB of junk) is not looked up at all.
_SLUG_SHAPE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def resolve_workspace_ref(ref: str, *, fresh: bool = False) -> Route | None:
    ref = ref.strip()
    if not ref or len(ref) > 64 or is_reserved(ref):
        return None
    ws_id = _parse_uuid(ref)
    if ws_id is None and not _SLUG_SHAPE.fullmatch(ref.lower()):
        return None
    key = ("ws", ref.lower())
    with _lock:
        hit = None if fresh else _cache.get(key)
    if hit is None:
        from tenants.models import Workspace

        qs = Workspace.objects.visible()
        qs = qs.filter(pk=ws_id) if ws_id else qs.filter(slug=ref.lower())
        row = qs.values_list("id", "schema_name").first()
        hit = Route(*row) if row else _MISSING
        with _lock:
            _cache[key] = hit
    return None if hit is _MISSING else hit


def resolve_api_key_prefix(prefix: str) -> Route | None:
    key = ("key", prefix)
    with _lock:
        hit = _cache.get(key)
    if hit is None:
        from tenants.models import ApiKey

        row = (
            ApiKey.objects.filter(prefix=prefix, workspace__is_template=False)
            .values_list("workspace_id", "workspace__schema_name")
            .first()
        )
        hit = Route(*row) if row else _MISSING
        with _lock:
            _cache[key] = hit
    return None if hit is _MISSING else hit


def forget(*refs: str) -> None:
    """Drop entries after a slug change or deletion so this process stops routing to them."""
    with _lock:
        for ref in refs:
            _cache.pop(("ws", str(ref).lower()), None)


def clear() -> None:
    with _lock:
        _cache.clear()


def api_key_from_request(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.startswith("Bearer pp_live_"):
        return header[len("Bearer ") :].strip()
    return request.META.get("HTTP_X_API_KEY") or None
