"""Celery tasks of analytics: thin wrappers over ``analytics.services``."""

from __future__ import annotations

from pushpilot.celery import PublicTask, WorkspaceTask, app, enqueue_for_every_workspace


@app.task(base=PublicTask, name="analytics.housekeeping", ignore_result=True)
def housekeeping() -> int:
    """Hourly (beat): one retention task per workspace."""
    return enqueue_for_every_workspace(workspace_housekeeping)


@app.task(base=WorkspaceTask, name="analytics.workspace_housekeeping", ignore_result=True)
def workspace_housekeeping() -> dict:
    from analytics import services

    return vars(services.events_prune())
