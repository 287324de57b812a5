"""Serves the Web SDK (`frontend/sdk/pushpilot-sdk.js`, `pushpilot-sw.js`) under `/sdk/`.

Plain files, no build step. They are read from disk and kept in memory until their mtime changes,
with a strong ETag, so a deployment picks up a new SDK without a restart and browsers revalidate
cheaply (304)."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import condition, require_safe

SDK_DIR = Path(settings.BASE_DIR) / "frontend" / "sdk"

# Browsers may keep the page script for a while; a service worker script is always revalidated so a
# fixed worker reaches every subscriber on their next visit (browsers cap its HTTP caching at 24 h anyway).
CACHE_POLICY = {
    "pushpilot-sdk.js": {"public": True, "max_age": 600, "stale_while_revalidate": 86400},
    "pushpilot-sw.js": {"no_cache": True},
}


@dataclass(frozen=True)
class _SdkFile:
    mtime_ns: int
    content: bytes
    etag: str


_cache: dict[str, _SdkFile] = {}
_lock = threading.Lock()


def _load(name: str) -> _SdkFile:
    if name not in CACHE_POLICY:
        raise Http404("No such SDK file.")
    path = SDK_DIR / name
    try:
        mtime_ns = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise Http404("No such SDK file.") from None
    cached = _cache.get(name)
    if cached is not None and cached.mtime_ns == mtime_ns:
        return cached
    content = path.read_bytes()
    loaded = _SdkFile(mtime_ns, content, hashlib.sha256(content).hexdigest()[:32])
    with _lock:
        _cache[name] = loaded
    return loaded


@require_safe
@condition(etag_func=lambda request, name: f'"{_load(name).etag}"')
def serve(request: HttpRequest, name: str) -> HttpResponse:
    sdk_file = _load(name)
    response = HttpResponse(sdk_file.content, content_type="application/javascript; charset=utf-8")
    patch_cache_control(response, **CACHE_POLICY[name])
    response["X-Content-Type-Options"] = "nosniff"
    # Customers' pages load the SDK from our origin, possibly under Cross-Origin-Embedder-Policy.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    if name == "pushpilot-sw.js":
        # Lets a page on this origin register /sdk/pushpilot-sw.js with scope "/" (our demo and tests);
        # customers host the worker at their own site root instead.
        response["Service-Worker-Allowed"] = "/"
    return response
