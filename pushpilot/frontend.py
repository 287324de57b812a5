from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, HttpResponse


def spa_index(request, path: str = ""):
    """The dashboard's index.html for every non-API path, so client-side routes survive a reload."""
    index = settings.FRONTEND_DIST / "index.html"
    if not index.exists():
        return HttpResponse(
            "<h1>PushPilot</h1><p>The dashboard is not built. Run <code>make run</code> (it builds it), "
            "or see the API at <a href='/api/docs/'>/api/docs/</a>.</p>",
            content_type="text/html",
        )
    return FileResponse(index.open("rb"), content_type="text/html")
