"""Celery tasks of analytics: thin wrappers over ``analytics.services``."""

from __future__ import annotations

from pushpilot.celery import PublicTask, WorkspaceTask, app


@app.task(base=PublicTask, name="analytics.housekeeping", ignore_result=True)
def housekeeping() -> int:
    """Hourly (beat): one retention task per workspace."""
    from tenants.models import Workspace

    count = 0
    for schema in Workspace.objects.visible().values_list("schema_name", flat=True).iterator():
        workspace_housekeeping.apply_async(headers={"_schema_name": schema})
        count += 1
    return count


@app.task(base=WorkspaceTask, name="analytics.workspace_housekeeping", ignore_result=True)
def workspace_housekeeping() -> dict:
    from analytics import services

    return vars(services.events_prune())
