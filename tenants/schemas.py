"""Workspace schemas: created by cloning the migrated base schema, never by replaying migrations.

django-tenants' own clone path still runs ``migrate_schemas --fake`` for every new schema, which
loads the whole migration graph each time. We copy the base schema's ``django_migrations`` rows
instead.

The clone itself: the base schema's DDL, taken once with ``pg_dump --schema-only`` and kept per
process keyed by the base's migration state, is replayed under the new name — a few milliseconds
of plain DDL. django-tenants' plpgsql ``clone_schema`` (hundreds of catalog queries per table, about
0.1 s per table here) remains the fallback when pg_dump is missing or cannot see the base.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django_tenants.clone import CLONE_SCHEMA_FUNCTION, CloneSchema
from django_tenants.utils import schema_exists

logger = logging.getLogger(__name__)

# Serialises creation of the base schema (and of the clone function) across processes.
_BASE_SCHEMA_LOCK = 7_210_001
# django-tenants' CloneSchema re-creates its ~1,000-line plpgsql clone function (DROP TYPE … CASCADE
# included) on every clone. We install it once per database, tagged with a hash of its source so a
# django-tenants upgrade re-installs it, and call it directly.
_CLONE_FUNCTION_VERSION = hashlib.sha256(CLONE_SCHEMA_FUNCTION.encode()).hexdigest()[:16]


def _ensure_clone_function() -> None:
    query = (
        "SELECT obj_description(p.oid, 'pg_proc') FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND p.proname = 'clone_schema'"
    )
    with connection.cursor() as cursor:
        cursor.execute(query)
        row = cursor.fetchone()
        if row and row[0] == _CLONE_FUNCTION_VERSION:
            return
        with transaction.atomic():
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_BASE_SCHEMA_LOCK])
            cursor.execute(query)
            row = cursor.fetchone()
            if row and row[0] == _CLONE_FUNCTION_VERSION:
                return
            CloneSchema()._create_clone_schema_function()
            cursor.execute(
                "COMMENT ON FUNCTION public.clone_schema(text, text, public.cloneparms[]) "
                f"IS '{_CLONE_FUNCTION_VERSION}'"
            )


def ensure_base_schema(verbosity: int = 0) -> None:
    """Create (and migrate) the hidden base tenant if it does not exist yet."""
    from tenants.models import Workspace

    base = settings.TENANT_BASE_SCHEMA
    if schema_exists(base):
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_BASE_SCHEMA_LOCK])
        if schema_exists(base):
            return
        ws = Workspace(schema_name=base, name="base schema", slug=base, is_template=True)
        ws.save(verbosity=verbosity)
    connection.set_schema_to_public()


_SCHEMA_TOKEN = "__pushpilot_schema__"
_ddl_cache: dict[str, str | None] = {}


def _pg_dump_binary() -> str | None:
    found = shutil.which("pg_dump")
    if found:
        return found
    try:  # the embedded server of `make run` ships its own
        import pgserver

        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
        return str(bundled) if bundled.exists() else None
    except ImportError:
        return None


def _base_ddl(base: str) -> str | None:
    """The base schema's DDL with its name replaced by a token, or None when it cannot be had."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT md5(string_agg(app || '.' || name, ',' ORDER BY app, name)) FROM \"{base}\".django_migrations"
        )
        fingerprint = cursor.fetchone()[0]
    if fingerprint in _ddl_cache:
        return _ddl_cache[fingerprint]
    binary = _pg_dump_binary()
    if binary is None:
        _ddl_cache[fingerprint] = None
        return None
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": str(db.get("PASSWORD") or "")}
    cmd = [
        binary,
        "--schema-only",
        "--no-owner",
        "--no-privileges",
        "--no-comments",
        f"--schema={base}",
        "--dbname",
        db["NAME"],
        "--username",
        db.get("USER") or "postgres",
    ]
    if db.get("HOST"):
        cmd += ["--host", db["HOST"]]
    if db.get("PORT"):
        cmd += ["--port", str(db["PORT"])]
    try:
        dump = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        # e.g. the base was created in a transaction that has not committed: pg_dump cannot see it.
        logger.info("pg_dump of the base schema failed, cloning with clone_schema() instead: %s", exc)
        return None
    ddl = _rename_schema(dump, base)
    if "CREATE TABLE" not in ddl:
        return None
    _ddl_cache[fingerprint] = ddl
    return ddl


def _rename_schema(dump: str, base: str) -> str:
    statements = []
    for line in dump.splitlines():
        if line.startswith(("--", "\\", "SET ", "SELECT pg_catalog.set_config")) or line.startswith(
            f"CREATE SCHEMA {base};"
        ):
            continue
        statements.append(line)
    return re.sub(rf"\b{re.escape(base)}\.", f"{_SCHEMA_TOKEN}.", "\n".join(statements))


def _clone_from_ddl(ddl: str, base: str, schema: str) -> None:
    quoted = f'"{schema}"'
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {quoted}")
        cursor.execute(ddl.replace(f"{_SCHEMA_TOKEN}.", f"{quoted}."))
        cursor.execute(
            f"INSERT INTO {quoted}.django_migrations (app, name, applied) "
            f'SELECT app, name, applied FROM "{base}".django_migrations'
        )


def create_workspace_schema(workspace, *, check_if_exists, sync_schema, verbosity, fallback) -> bool:
    base = settings.TENANT_BASE_SCHEMA
    if workspace.schema_name == base or not sync_schema:
        return fallback(check_if_exists=check_if_exists, sync_schema=sync_schema, verbosity=verbosity)
    if check_if_exists and schema_exists(workspace.schema_name):
        return False
    ensure_base_schema(verbosity=verbosity)
    connection.set_schema_to_public()
    ddl = _base_ddl(base)
    if ddl is not None:
        _clone_from_ddl(ddl, base, workspace.schema_name)
        connection.set_schema_to_public()
        return True
    # DATA mode copies the base's rows too: its django_migrations (the recorded migration state,
    # which is what the fake migrate would have written) and content types. The base holds no
    # other data.
    _ensure_clone_function()
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute("SELECT public.clone_schema(%s, %s, 'DATA')", [base, workspace.schema_name])
        # clone_schema() does not copy storage parameters (the delivery table's fillfactor).
        cursor.execute(
            "SELECT c.relkind, c.relname, array_to_string(c.reloptions, ', ') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.reloptions IS NOT NULL AND c.relkind IN ('r', 'i')",
            [base],
        )
        for kind, name, options in cursor.fetchall():
            what = "TABLE" if kind == "r" else "INDEX"
            cursor.execute(f'ALTER {what} "{workspace.schema_name}"."{name}" SET ({options})')
    # The function may move the session's search_path; make django-tenants set it again.
    connection.set_schema_to_public()
    return True
