"""The Celery app. Tenant context travels in the ``_schema_name`` header (tenant-schemas-celery);
``WorkspaceTask`` refuses to run without one, and ``PublicTask`` always runs in public."""

from __future__ import annotations

import gc
import importlib
import os

from celery import Task, signals
from django.db import close_old_connections, connection
from tenant_schemas_celery.app import CeleryApp
from tenant_schemas_celery.task import TenantTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pushpilot.settings")

app = CeleryApp("pushpilot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _recycle_database_connections(sender=None, **_kwargs) -> None:
    """Between tasks, close only connections that are broken or past DB_CONN_MAX_AGE (what Django
    does between requests), instead of Celery's close-everything (see CELERY_DB_REUSE_MAX). Eager
    tasks run inside the caller's transaction and are left alone, as Celery's own fixup does."""
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()


# Young-generation collections every 20,000 net allocations instead of CPython's 700 (see below).
WORKER_GC_THRESHOLDS = (20_000, 20, 10)
# What a send batch runs, imported before the heap is frozen (see below).
_SEND_PATH_MODULES = (
    "campaigns.fanout",
    "integrations.services",
    "integrations.transports.fcm",
    "integrations.transports.webpush",
)


@signals.worker_init.connect  # the main process, after the task modules load and before a pool forks
@signals.worker_process_init.connect  # each prefork child (and the solo pool), once it is set up
def _freeze_long_lived_objects(**_kwargs) -> None:
    """Keep the cyclic garbage collector off the worker's startup heap (Django, Celery, firebase-admin,
    the task modules: objects that live as long as the process), and run it less often.

    A send batch allocates tens of thousands of short-lived containers (messages, firebase-admin's
    message objects, HTTP/2 frames). With CPython's defaults that triggered a full (generation 2)
    collection, which traverses every tracked object, about every third FCM batch: ~100 ms each,
    ~40 µs of worker CPU per message. ``gc.freeze()`` moves what exists now into the permanent
    generation, which collections skip; objects created later are collected as before. Freezing in
    the main process before the pool forks also keeps the children's collections off the pages they
    share with it (copy-on-write); running again in a child adds only what was created since. With the
    higher young threshold most of a batch's objects are freed by reference counting before a
    collection ever looks at them. Measured with ``tests.perf.bench_pipeline`` (50,000 FCM
    messages): worker CPU 306 → 244 µs per message with the freeze, 229 µs with the thresholds too,
    peak RSS unchanged (157 and 159 MB)."""
    for module in _SEND_PATH_MODULES:
        importlib.import_module(module)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*WORKER_GC_THRESHOLDS)


class TenantContextMissing(RuntimeError):
    """A workspace task arrived without a workspace schema; it is refused, not run in public."""


class WorkspaceTask(TenantTask):
    """Base for every task that touches tenant data.

    tenant-schemas-celery fails open twice: a message without a schema runs in public, and a
    ``delay()`` stamps whatever schema the connection happens to have. So tasks are published only
    through ``enqueue_for_workspace`` (explicit schema, after commit) and refuse public at run time.
    """

    abstract = True

    def __call__(self, *args, **kwargs):
        from django.conf import settings

        schema = connection.schema_name
        if not schema or schema in (settings.PUBLIC_SCHEMA_NAME, settings.TENANT_BASE_SCHEMA):
            raise TenantContextMissing(
                f"{self.name} needs a workspace schema; got {schema!r}. Nothing was run."
            )
        return super().__call__(*args, **kwargs)


class PublicTask(TenantTask):
    """Tasks over public data (housekeeping, fan-out over workspaces). Always run in public."""

    abstract = True

    def apply_async(self, args=None, kwargs=None, **options):
        from django.conf import settings

        options["headers"] = {**(options.get("headers") or {}), "_schema_name": settings.PUBLIC_SCHEMA_NAME}
        return super().apply_async(args, kwargs, **options)


def enqueue_for_workspace(
    task: Task, schema_name: str, *args, queue: str | None = None, countdown: float | None = None, **kwargs
) -> None:
    """Publish ``task`` for one workspace once the current transaction commits."""
    from django.db import transaction

    options: dict = {"headers": {"_schema_name": schema_name}}
    if queue:
        options["queue"] = queue
    if countdown:
        options["countdown"] = countdown
    transaction.on_commit(lambda: task.apply_async(args=args, kwargs=kwargs, **options))


def enqueue_for_every_workspace(task: Task) -> int:
    """Publish ``task`` once per real workspace (the hourly housekeeping fan-out); how many."""
    from tenants.models import Workspace

    count = 0
    for schema in Workspace.objects.visible().values_list("schema_name", flat=True).iterator():
        enqueue_for_workspace(task, schema)
        count += 1
    return count
