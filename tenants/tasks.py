from __future__ import annotations

from pushpilot.celery import PublicTask, app
from tenants import services


@app.task(base=PublicTask, name="tenants.expire_invitations")
def expire_invitations() -> int:
    return services.invitations_expire()
