"""Bench-only fast fill: the schema step of ``services.workspace_create`` replayed from ``pg_dump``'s DDL.

``PERF_FILL=replay``: when the product's clone is slow (django-tenants' ``clone_schema()`` gets slower
the more workspaces exist), the benchmark fills its "many" state through the same service with
only the schema step swapped: the base schema's DDL, dumped once with ``pg_dump --schema-only``,
is replayed under the new name, and the base's rows (``django_migrations``, content types) are
copied, as clone_schema's DATA mode does. The workspace row, owner membership, audit entry and
slug all still come from the service. ``shape()`` lets the caller check that a replayed schema has
as many tables, indexes, constraints, sequences and rows as one the product cloned; ``named()``
lists the index and constraint names, which differ (clone_schema renames unique constraints).
"""

from __future__ import annotations

import re
import subprocess

from django.db import connection


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class DdlReplay:
    def __init__(self, database_url: str, base_schema: str):
        dump = subprocess.run(
            ["pg_dump", "--schema-only", "--no-owner", "--no-privileges", "--no-comments",
             "--schema", base_schema, database_url],
            capture_output=True, text=True, check=True, timeout=120,
        ).stdout  # fmt: skip
        statements = []
        for line in dump.splitlines():
            # Session settings (search_path = '' among them) would outlive the replay.
            if line.startswith(("SET ", "SELECT pg_catalog.set_config", "\\")) or line.startswith("--"):
                continue
            statements.append(line)
        self.base = base_schema
        self._ddl = "\n".join(statements)
        self._pattern = re.compile(rf"(?<![\w\"]){re.escape(base_schema)}(?=\.|;|\s|$)")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.reltuples <> 0 ORDER BY c.relname",
                [base_schema],
            )
            candidates = [row[0] for row in cursor.fetchall()]
            self._tables_with_rows = []
            for table in candidates:
                cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {_quote(base_schema)}.{_quote(table)})")
                if cursor.fetchone()[0]:
                    self._tables_with_rows.append(table)

    def clone(self, new_schema: str) -> None:
        ddl = self._pattern.sub(_quote(new_schema), self._ddl)
        with connection.cursor() as cursor:
            cursor.execute(ddl)
            for table in self._tables_with_rows:
                cursor.execute(
                    f"INSERT INTO {_quote(new_schema)}.{_quote(table)} OVERRIDING SYSTEM VALUE"
                    f" SELECT * FROM {_quote(self.base)}.{_quote(table)}"
                )

    def install(self):
        """Swap the schema step of a creation (``tenants.schemas.create_workspace_schema``, which
        Workspace.create_schema looks up on each call) for the replay; returns the restorer."""
        import tenants.schemas as schemas

        original = schemas.create_workspace_schema
        replay = self

        def create_workspace_schema(workspace, *, check_if_exists, sync_schema, verbosity, fallback):
            if workspace.schema_name == replay.base or not sync_schema:
                return original(workspace, check_if_exists=check_if_exists, sync_schema=sync_schema,
                                verbosity=verbosity, fallback=fallback)  # fmt: skip
            connection.set_schema_to_public()
            replay.clone(workspace.schema_name)
            connection.set_schema_to_public()
            return True

        schemas.create_workspace_schema = create_workspace_schema

        def restore() -> None:
            schemas.create_workspace_schema = original

        return restore


def _rows(cursor, sql: str, params) -> list[tuple]:
    cursor.execute(sql, params)
    return [tuple(row) for row in cursor.fetchall()]


def shape(schema: str) -> dict:
    """What a schema holds, counted by kind: relations, indexes, constraints, identity columns, rows."""
    with connection.cursor() as cursor:
        relkinds = _rows(
            cursor,
            "SELECT c.relkind, count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s GROUP BY 1 ORDER BY 1",
            [schema],
        )
        constraints = _rows(
            cursor,
            "SELECT co.contype, count(*) FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace"
            " WHERE n.nspname = %s GROUP BY 1 ORDER BY 1",
            [schema],
        )
        identities = _rows(
            cursor,
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = %s AND is_identity = 'YES' ORDER BY 1, 2",
            [schema],
        )
        rows = {}
        for (table,) in _rows(
            cursor,
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY 1",
            [schema],
        ):
            cursor.execute(f"SELECT count(*) FROM {_quote(schema)}.{_quote(table)}")
            rows[table] = cursor.fetchone()[0]
    return {"relkinds": relkinds, "constraints": constraints, "identities": identities, "rows": rows}


def named(schema: str) -> set[str]:
    """The schema's index and constraint names."""
    with connection.cursor() as cursor:
        indexes = _rows(
            cursor,
            "SELECT i.relname FROM pg_class i JOIN pg_namespace n ON n.oid = i.relnamespace"
            " WHERE n.nspname = %s AND i.relkind IN ('i', 'I')",
            [schema],
        )
        constraints = _rows(
            cursor,
            "SELECT co.conname FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace"
            " WHERE n.nspname = %s",
            [schema],
        )
    return {name for (name,) in indexes + constraints}
