"""Schema plumbing: tasks carry their workspace, refuse to run without one, are published only
after commit; the cache is schema-scoped; requests leave the connection in public."""

from __future__ import annotations

import os
import threading

import pytest
import redis
from celery.signals import task_failure, task_postrun
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django_tenants.utils import schema_context

from pushpilot.celery import TenantContextMissing, enqueue_for_workspace
from tests.tenantapp.models import Note
from tests.tenantapp.tasks import where_am_i, write_note


class TaskEvents:
    """Collects what the worker thread reports through Celery's own signals."""

    def __init__(self):
        self.done = threading.Event()
        self.failures: list[BaseException] = []
        self.results: list = []

    def __enter__(self):
        task_failure.connect(self._on_failure, weak=False)
        task_postrun.connect(self._on_postrun, weak=False)
        return self

    def __exit__(self, *exc):
        task_failure.disconnect(self._on_failure)
        task_postrun.disconnect(self._on_postrun)

    def _on_failure(self, exception=None, **kw):
        self.failures.append(exception)

    def _on_postrun(self, retval=None, **kw):
        self.results.append(retval)
        self.done.set()

    def wait(self, timeout=15):
        assert self.done.wait(timeout), "the worker did not run the task"


def _queue_key(name: str) -> str:
    return settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] + name


def _queue_length(name: str) -> int:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL).llen(_queue_key(name))


@pytest.mark.usefixtures("celery_worker_thread")
def test_task_runs_in_the_schema_it_was_published_for(ws_a, ws_b):
    with TaskEvents() as events:
        with transaction.atomic():
            enqueue_for_workspace(write_note, ws_a.schema_name, "for A")
        events.wait()
    assert events.failures == []
    assert events.results == [ws_a.schema_name]
    with schema_context(ws_a.schema_name):
        assert list(Note.objects.values_list("text", flat=True)) == ["for A"]
    with schema_context(ws_b.schema_name):
        assert Note.objects.count() == 0


@pytest.mark.usefixtures("celery_worker_thread")
def test_worker_keeps_its_connection_and_switches_schema_between_workspaces(ws_a, ws_b):
    """Celery's Django fixup would open a new PostgreSQL backend for every task; the worker keeps
    its connection (CONN_MAX_AGE) and still resolves every task's tables in that task's schema."""
    seen = []
    for workspace in (ws_a, ws_b, ws_a, ws_b):
        with TaskEvents() as events:
            with transaction.atomic():
                enqueue_for_workspace(where_am_i, workspace.schema_name)
            events.wait()
        assert events.failures == []
        seen.append(events.results[0])
    expected = [w.schema_name for w in (ws_a, ws_b, ws_a, ws_b)]
    assert [given for given, _current, _pid in seen] == expected
    assert [current for _given, current, _pid in seen] == expected
    assert len({pid for _given, _current, pid in seen}) == 1, seen


@pytest.mark.usefixtures("celery_worker_thread")
@pytest.mark.parametrize("schema", [None, "public", "tenant_base"])
def test_workspace_task_without_a_workspace_fails_closed(ws_a, schema):
    headers = {} if schema is None else {"_schema_name": schema}
    with TaskEvents() as events:
        # A bare publish from public context: tenant-schemas-celery would stamp "public" and run it.
        write_note.apply_async(args=["leak"], headers=headers)
        events.wait()
    assert len(events.failures) == 1
    assert isinstance(events.failures[0], TenantContextMissing)
    with schema_context(settings.TENANT_BASE_SCHEMA):
        assert Note.objects.count() == 0
    with schema_context(ws_a.schema_name):
        assert Note.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_tasks_are_published_only_after_commit(ws_a):
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(_queue_key(settings.PUSHPILOT_QUEUE_DEFAULT))
    with transaction.atomic():
        enqueue_for_workspace(write_note, ws_a.schema_name, "later")
        assert _queue_length(settings.PUSHPILOT_QUEUE_DEFAULT) == 0
    assert _queue_length(settings.PUSHPILOT_QUEUE_DEFAULT) == 1

    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_for_workspace(write_note, ws_a.schema_name, "never")
        raise RuntimeError("rolled back")
    assert _queue_length(settings.PUSHPILOT_QUEUE_DEFAULT) == 1
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(_queue_key(settings.PUSHPILOT_QUEUE_DEFAULT))


def test_test_run_uses_its_own_queues_and_redis_database():
    run = settings.PUSHPILOT_QUEUE_PREFIX
    assert run.startswith("test") and run != "pp"
    assert settings.PUSHPILOT_QUEUE_DEFAULT == f"{run}.default"
    assert settings.PUSHPILOT_QUEUE_SENDS == f"{run}.sends"
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] == f"{run}:"
    assert settings.REDIS_URL.endswith("/15")
    assert settings.DATABASES["default"]["TEST"]["NAME"].startswith("pushpilot_test")


@pytest.mark.django_db
def test_cache_entries_are_scoped_to_the_schema(ws_a, ws_b):
    with schema_context(ws_a.schema_name):
        cache.set("greeting", "hello from A", 30)
        assert cache.get("greeting") == "hello from A"
    with schema_context(ws_b.schema_name):
        assert cache.get("greeting") is None
    with schema_context(ws_a.schema_name):
        cache.delete("greeting")


@pytest.mark.django_db
def test_a_request_leaves_the_connection_in_public(api, alice, ws_a):
    response = api(user=alice, workspace=ws_a).get("/api/v1/api-keys")
    assert response.status_code == 200
    assert connection.schema_name == "public"


@pytest.mark.django_db
def test_new_workspace_schema_is_a_clone_with_recorded_migrations(ws_a):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM tenant_base.django_migrations), "
            f'(SELECT count(*) FROM "{ws_a.schema_name}".django_migrations)'
        )
        base_count, ws_count = cursor.fetchone()
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1",
            [ws_a.schema_name],
        )
        tables = [row[0] for row in cursor.fetchall()]
    assert ws_count == base_count > 0
    assert "tenantapp_note" in tables
    assert "tenants_workspace" not in tables  # public apps never land in a workspace schema


def _storage_options(schema: str) -> set:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.reloptions IS NOT NULL",
            [schema],
        )
        return {(name, tuple(opts)) for name, opts in cursor.fetchall()}


@pytest.mark.django_db
def test_a_workspace_cloned_without_pg_dump_keeps_the_base_storage_parameters(charlie, monkeypatch, tmp_path):
    """A machine whose pg_dump fails (or that has none) clones with django-tenants' clone_schema(),
    which copies no storage parameters; the clone gets the base's afterwards."""
    from tenants import schemas, services

    fake = tmp_path / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump: error: connection refused' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setattr(schemas, "_ddl_cache", {})  # this process may have dumped the base already

    workspace = services.workspace_create(owner=charlie, name="No Dump Ltd")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            [workspace.schema_name, "campaigns_delivery"],
        )
        assert cursor.fetchone()[0] == 1
    assert _storage_options(workspace.schema_name) == _storage_options(settings.TENANT_BASE_SCHEMA)
    assert ("campaigns_delivery", ("fillfactor=50",)) in _storage_options(workspace.schema_name)


@pytest.mark.django_db
def test_new_workspace_schema_keeps_the_base_indexes_and_storage_parameters(ws_a):
    """The clone is the base under another name: the same indexes, by name (migrations drop them by
    name), and the same storage parameters (the delivery table's half-empty pages, for HOT claims)."""

    def shape(schema: str) -> tuple[set, set]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tablename, indexname FROM pg_indexes WHERE schemaname = %s", [schema])
            indexes = set(cursor.fetchall())
        return indexes, _storage_options(schema)

    base_indexes, base_options = shape(settings.TENANT_BASE_SCHEMA)
    indexes, options = shape(ws_a.schema_name)
    assert indexes == base_indexes
    assert options == base_options
    assert ("campaigns_delivery", ("fillfactor=50",)) in options
    delivery = {name for table, name in indexes if table == "campaigns_delivery"}
    assert delivery == {
        "campaigns_delivery_pkey",
        "delivery_one_per_subscriber",
        "delivery_status_idx",
        "delivery_sent_idx",
    }
