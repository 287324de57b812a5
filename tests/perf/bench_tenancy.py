"""Tenancy benchmark: workspace creation at 1 vs 1,000 workspaces, routing overhead under gunicorn, and
SQL statements (``SET search_path`` in particular) per request counted on the wire.

    .venv/bin/python -m tests.perf.bench_tenancy          # from the repository root

It uses its own database (``pushpilot_perf``, dropped and re-created at start, dropped at the end),
Redis database 14 with the key prefix ``perf``, and throttles raised out of the way. Every figure is
printed next to the baseline measured in the same run. See tests/perf/README.md.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import logging
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_SERVER = os.environ.get("PERF_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
PG_HOST, PG_PORT = "127.0.0.1", 5432
DB_NAME = os.environ.get("PERF_DATABASE_NAME", "pushpilot_perf")
REDIS_DB_URL = os.environ.get("PERF_REDIS_URL", "redis://127.0.0.1:6379/14")
PREFIX = "perf"
WORKSPACES = int(os.environ.get("PERF_WORKSPACES", "1000"))  # the "many" state
CREATIONS = int(os.environ.get("PERF_CREATIONS", "10"))  # timed creations per state
REQUESTS = int(os.environ.get("PERF_REQUESTS", "2000"))  # timed requests per kind
WARMUP = int(os.environ.get("PERF_WARMUP", "200"))  # untimed requests per kind first
COUNTED = int(os.environ.get("PERF_COUNTED_REQUESTS", "200"))  # requests per kind on the wire
TIMEOUT = int(os.environ.get("PERF_TIMEOUT", "3600"))  # seconds for the whole run
SESSION_CYCLES = int(os.environ.get("PERF_SESSION_CYCLES", "20"))  # create+delete in one session
CREATE_CAP = int(os.environ.get("PERF_CREATE_CAP", "60"))  # statement_timeout of a timed creation, s
BULK_BUDGET = int(os.environ.get("PERF_BULK_BUDGET", "1800"))  # seconds for creating the many
FILL = os.environ.get("PERF_FILL", "service")  # service | replay: how the schema step of the bulk runs
BULK_SESSION = 10  # bulk creations per database session
PHASES = set(os.environ.get("PERF_PHASES", "creation,routing").split(","))  # which parts to run
LOCK_KEY = 7_210_077  # advisory lock: one benchmark run at a time on this server

CREATE_LIMIT_S = 1.0
CREATE_RATIO_LIMIT = 1.5
PASSWORD = "Perf-Correct-Horse-42"
NOTES: dict = {}  # findings printed with the results
PACKAGES = ("django", "django-tenants", "gunicorn", "psycopg")


def log(msg: str = "") -> None:
    print(msg, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def _pct_ms(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))] * 1000


def _is_set_search_path(sql: str) -> bool:
    return sql.lstrip().upper().startswith("SET SEARCH_PATH")


def _short(sql: str, width: int = 110) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


# -- environment ------------------------------------------------------------------------------------
def _environment(state_dir: str) -> dict[str, str]:
    """Set (in os.environ, before Django is imported) and return the environment every process of
    the run shares: the benchmark itself, ``manage.py migrate`` and the gunicorn servers."""
    from cryptography.fernet import Fernet

    throttle = "1000000/min"
    values = {
        "DJANGO_SETTINGS_MODULE": "pushpilot.settings",
        "DATABASE_URL": f"{PG_SERVER}/{DB_NAME}",
        "REDIS_URL": REDIS_DB_URL,
        "PUSHPILOT_QUEUE_PREFIX": PREFIX,
        "PUSHPILOT_STATE_DIR": state_dir,
        # Fixed for the run so the JWTs minted here verify in the gunicorn workers.
        "SECRET_KEY": os.urandom(32).hex(),
        "PUSHPILOT_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PUSHPILOT_THROTTLE_LOGIN": throttle,
        "PUSHPILOT_THROTTLE_ANON": throttle,
        "PUSHPILOT_THROTTLE_SDK": throttle,
        "PUSHPILOT_THROTTLE_API": throttle,
        "JWT_ACCESS_MINUTES": str(max(60, TIMEOUT // 60 + 5)),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(values)
    return dict(os.environ)


def _machine() -> list[str]:
    lines = [f"machine: {platform.platform()}"]
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    lines.append(f"cores: nproc={nproc} (os.cpu_count={os.cpu_count()})")
    free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.rstrip()
    lines += ["free -h:", *("  " + line for line in free.splitlines())]
    with contextlib.suppress(OSError):
        lines.append("load average at start: " + " ".join(Path("/proc/loadavg").read_text().split()[:3]))
    lines.append(f"python: {sys.version.split()[0]} ({sys.executable})")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
        changed = len(dirty.stdout.splitlines())
        lines.append(
            f"code: commit {head.stdout.strip()} + {changed} changed/untracked paths in the working tree"
        )
    return lines


# -- database and redis housekeeping ---------------------------------------------------------------
class Housekeeping:
    def __init__(self):
        import psycopg

        self.admin = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True)
        got = self.admin.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0]
        if not got:
            self.admin.close()
            raise SystemExit("another tenancy benchmark run holds the lock on this server; try again later")

    def server_version(self) -> str:
        return self.admin.execute("SHOW server_version").fetchone()[0]

    def create_database(self) -> None:
        self.drop_database()
        self.admin.execute(f'CREATE DATABASE "{DB_NAME}"')

    def drop_database(self) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    @staticmethod
    def clear_redis() -> int:
        import redis

        client = redis.Redis.from_url(REDIS_DB_URL)
        try:
            keys = list(client.scan_iter(match=f"{PREFIX}*", count=1000))
            if keys:
                client.delete(*keys)
            return len(keys)
        finally:
            client.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.admin.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
        self.admin.close()


# -- gunicorn ---------------------------------------------------------------------------------------
class Server:
    """``gunicorn pushpilot.wsgi`` with 2 workers on a free loopback port, in its own process group."""

    def __init__(self, label: str, env: dict[str, str], log_dir: str):
        self.label = label
        self.port = _free_port()
        self.log_path = Path(log_dir) / f"gunicorn-{label}.log"
        cmd = [
            sys.executable, "-m", "gunicorn", "pushpilot.wsgi",
            "--bind", f"127.0.0.1:{self.port}", "--workers", "2",
            "--log-level", "warning", "--graceful-timeout", "5",
        ]  # fmt: skip
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            time.sleep(0.2)
        tail = self.log_path.read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"gunicorn ({label}) did not answer /healthz:\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)  # the group this Popen created
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()


class Client:
    """One http.client connection per server. gunicorn's sync workers answer ``Connection: close``,
    so http.client reopens the TCP connection for each request (the same cost for every kind)."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, float]:
        start = time.perf_counter()
        self.conn.request("GET", path, headers=headers)
        response = self.conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - start
        return response.status, elapsed

    def close(self) -> None:
        self.conn.close()


# -- 1. workspace creation ---------------------------------------------------------------------------
CUSTOM_PLANS = "SET plan_cache_mode = force_custom_plan"


def _fresh_session(*setup: str) -> None:
    """Start a new PostgreSQL session (what a gunicorn worker gets when CONN_MAX_AGE recycles its
    connection), then run ``setup`` statements in it. Creation slows down within one long session
    (see _session_growth), so every timed creation starts from a fresh one."""
    from django.db import connection

    connection.close()
    connection.ensure_connection()
    if setup:
        with connection.cursor() as cursor:
            for statement in setup:
                cursor.execute(statement)


def _backend_memory() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(total_bytes) FROM pg_backend_memory_contexts")
        return int(cursor.fetchone()[0])


def _session_growth(owner, label: str, cycles: int) -> dict:
    """``cycles`` create + delete in ONE database session: the workspace count stays constant, so a
    slowdown here comes from the session, not from the number of workspaces."""
    from tenants import services

    _fresh_session()
    before = _backend_memory()
    times = []
    for i in range(cycles):
        t0 = time.perf_counter()
        ws = services.workspace_create(owner=owner, name=f"Perf session {label} {i}")
        times.append(time.perf_counter() - t0)
        services.workspace_delete(workspace=ws, actor=owner, confirm=ws.slug)
    after = _backend_memory()
    _fresh_session()
    return {"cycles": cycles, "times": times, "before": before, "after": after}


class _SchemaStepTimer:
    """Times ``tenants.schemas.create_workspace_schema`` (the schema step of a creation, which
    Workspace.create_schema looks up on each call) from outside, so a creation's time splits into
    the schema clone and everything else."""

    def __init__(self):
        import tenants.schemas as schemas

        self.times: list[float] = []
        self._module = schemas
        self._original = schemas.create_workspace_schema
        timer = self

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return timer._original(*args, **kwargs)
            finally:
                timer.times.append(time.perf_counter() - t0)

        schemas.create_workspace_schema = timed

    def restore(self) -> None:
        self._module.create_workspace_schema = self._original


def _analyze_catalogs() -> float:
    """ANALYZE the system catalogs, as autovacuum would after this many schema changes (autovacuum
    is off on the CI PostgreSQL, see README)."""
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT format('%I.%I', schemaname, relname) FROM pg_stat_sys_tables"
                       " WHERE schemaname = 'pg_catalog'")  # fmt: skip
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute("ANALYZE " + ", ".join(tables))
    return time.perf_counter() - t0


def _timed_creations(
    owner, label: str, step_timer: _SchemaStepTimer, *, custom_plans: bool, stale=False
) -> dict:
    """CREATIONS timed ``services.workspace_create`` calls, each in a fresh session and deleted
    (untimed) afterwards so the number present stays the same. Each is capped at CREATE_CAP seconds
    by statement_timeout; after two capped attempts the rest are skipped."""
    from django.db import DatabaseError

    from tenants import services
    from tenants.models import Workspace

    setup = [f"SET statement_timeout = '{CREATE_CAP}s'"] + ([CUSTOM_PLANS] if custom_plans else [])
    present = Workspace.objects.visible().count()
    times, clones, rests, capped = [], [], [], 0
    for i in range(-1, CREATIONS):  # -1: warm-up, untimed
        _fresh_session(*setup)
        step_timer.times.clear()
        t0 = time.perf_counter()
        try:
            ws = services.workspace_create(owner=owner, name=f"Perf timed {label} {i + 1}")
        except DatabaseError:
            elapsed = time.perf_counter() - t0
            capped += 1
            log(f"    creation cancelled by statement_timeout after {elapsed:.0f} s")
            if i >= 0:
                times.append(elapsed)
            if capped >= 2:
                break
            continue
        elapsed = time.perf_counter() - t0
        if i >= 0:
            times.append(elapsed)
            clones.append(sum(step_timer.times))
            rests.append(elapsed - clones[-1])
        services.workspace_delete(workspace=ws, actor=owner, confirm=ws.slug)
    _fresh_session()
    mode = ("custom plans" if custom_plans else "as is") + (", stale stats" if stale else "")
    shown = f"{_median_ms(times):.1f} ms" if times else "n/a"
    log(f"  {present} present, {mode}: median {shown} over {len(times)} creations ({capped} capped)")
    return {
        "present": present,
        "times": times,
        "clones": clones,
        "rests": rests,
        "capped": capped,
        "mode": mode,
    }


def _structure(shape: dict) -> dict:
    return {key: value for key, value in shape.items() if key != "rows"}


def _clone_check(cloned_schema: str) -> None:
    """Compare a schema the product cloned with the base: structure, index/constraint names, rows;
    and note which clone path the product took (django-tenants' clone_schema() installs a function)."""
    from django.conf import settings
    from django.db import connection

    from tests.perf._fastfill import named, shape

    base = settings.TENANT_BASE_SCHEMA
    base_shape, cloned_shape = shape(base), shape(cloned_schema)
    base_names, cloned_names = named(base), named(cloned_schema)
    NOTES["same_structure"] = _structure(base_shape) == _structure(cloned_shape)
    NOTES["renamed"] = sorted(base_names - cloned_names)
    NOTES["new_names"] = sorted(cloned_names - base_names)
    NOTES["rows_differ"] = {
        table: (base_shape["rows"].get(table), cloned_shape["rows"].get(table))
        for table in sorted(set(base_shape["rows"]) | set(cloned_shape["rows"]))
        if base_shape["rows"].get(table) != cloned_shape["rows"].get(table)
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'public' AND p.proname = 'clone_schema')"
        )
        NOTES["clone_schema_used"] = cursor.fetchone()[0]


def _fill_schema_step():
    """PERF_FILL=replay: install the pg_dump replay (tests/perf/_fastfill.py) as the bulk's schema step
    after checking that it builds the base's structure. Returns the restorer, or None (with a note)."""
    from django.conf import settings
    from django.db import DatabaseError, connection

    from tests.perf._fastfill import DdlReplay, shape

    probe = "perf_fill_probe"
    try:
        replay = DdlReplay(os.environ["DATABASE_URL"], settings.TENANT_BASE_SCHEMA)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {probe} CASCADE")
        replay.clone(probe)
        same = _structure(shape(probe)) == _structure(shape(settings.TENANT_BASE_SCHEMA))
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {probe} CASCADE")
    except (OSError, subprocess.SubprocessError, DatabaseError) as exc:
        log(f"    pg_dump replay unavailable ({exc}); filling through the product's clone")
        return None
    if not same:
        log("    the pg_dump replay differs from the base schema; filling through the product's clone")
        return None
    return replay.install()


def bench_creation() -> dict:
    from tenants import services
    from tenants.models import User, Workspace
    from tenants.schemas import ensure_base_schema

    owner = User.objects.create_user("perf-owner@example.com", PASSWORD, full_name="Perf Owner")
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the base schema's migrate output
        ensure_base_schema()
    log(f"  base schema created and migrated in {time.perf_counter() - start:.2f} s (once, untimed)")
    first = services.workspace_create(owner=owner, name="Perf First")
    _clone_check(first.schema_name)
    # plan_cache_mode only matters to django-tenants' plpgsql clone_schema() (the product's fallback).
    modes = (False, True) if NOTES["clone_schema_used"] else (False,)
    step_timer = _SchemaStepTimer()
    result: dict = {"tables": _base_tables()}

    def timed_states(label: str, **kwargs) -> None:
        for custom in modes:
            key = label + ("_custom" if custom else "")
            result[key] = _timed_creations(owner, key, step_timer, custom_plans=custom, **kwargs)

    try:
        _analyze_catalogs()
        timed_states("few")
        growth = result["growth"] = _session_growth(owner, "few", SESSION_CYCLES)
        log(f"  one session, {SESSION_CYCLES} create+delete: first 5 median"
            f" {_median_ms(growth['times'][:5]):.1f} ms, last 5 median {_median_ms(growth['times'][-5:]):.1f} ms")  # fmt: skip

        to_make = WORKSPACES - Workspace.objects.visible().count()
        restore_clone = _fill_schema_step() if FILL == "replay" else None
        how = (
            "schema step replayed from pg_dump by the benchmark"
            if restore_clone
            else "the product's own path"
        )
        log(f"  creating {to_make} workspaces through services.workspace_create ({how}, new session"
            f" every {BULK_SESSION}, budget {BULK_BUDGET} s) …")  # fmt: skip
        start = time.perf_counter()
        made = 0
        try:
            for i in range(to_make):
                if time.perf_counter() - start > BULK_BUDGET:
                    log(f"    bulk budget of {BULK_BUDGET} s spent: stopping at {made} created")
                    break
                if i % BULK_SESSION == 0:
                    _fresh_session()
                services.workspace_create(owner=owner, name=f"Perf bulk {i}")
                made += 1
                if made % 100 == 0 or made == to_make:
                    elapsed = time.perf_counter() - start
                    log(f"    {made}/{to_make} in {elapsed:.0f} s ({made / elapsed:.1f}/s)")
        finally:
            if restore_clone:
                restore_clone()
        result["fill"] = how
        result.update(bulk_count=made, bulk_s=time.perf_counter() - start)
        # First with catalog statistics as of the 1-present state (what a server without autovacuum,
        # like the CI PostgreSQL, has after growing), then freshly analyzed.
        timed_states("stale", stale=True)
        _fresh_session()
        _analyze_catalogs()
        timed_states("many")
    finally:
        step_timer.restore()
    result["schemas"] = _count_schemas()
    return result


def _base_tables() -> int:
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
            [settings.TENANT_BASE_SCHEMA],
        )
        return cursor.fetchone()[0]


def _pg_setting(name: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setting, coalesce(sourcefile, source) FROM pg_settings WHERE name = %s", [name]
        )
        setting, source = cursor.fetchone()
        return f"{setting} ({source})"


def _count_schemas() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'ws\\_%'")
        return cursor.fetchone()[0]


# -- 2 and 3. routing ---------------------------------------------------------------------------------
def routing_fixture() -> dict:
    from rest_framework_simplejwt.tokens import AccessToken

    from tenants import services
    from tenants.models import User

    user = User.objects.create_user("perf-router@example.com", PASSWORD, full_name="Perf Router")
    ws = services.workspace_create(owner=user, name="Perf Routing")
    keys = [
        services.api_key_create(workspace=ws, name=f"perf key {i}", scopes=["read", "send"], actor=user)[1]
        for i in range(3)
    ]
    jwt = str(AccessToken.for_user(user))
    path = "/api/v1/api-keys"
    return {
        "workspace": ws,
        "kinds": {
            "healthz": ("/healthz", {}),
            "jwt": (path, {"Authorization": f"Bearer {jwt}", "X-Workspace-ID": str(ws.pk)}),
            "api_key": (path, {"X-Api-Key": keys[0]}),
        },
    }


def measure_latency(servers: dict[str, Server], kinds: dict) -> dict:
    """Sequential requests, interleaved in a shuffled order each round so that drift in the
    machine's load falls on every kind alike."""
    clients = {name: Client(server.port) for name, server in servers.items()}
    plan = [(name, kind) for name in servers for kind in kinds]
    times: dict[tuple[str, str], list[float]] = {key: [] for key in plan}
    statuses: dict[tuple[str, str], Counter] = {key: Counter() for key in plan}
    rng = random.Random(20240601)
    for round_no in range(WARMUP + REQUESTS):
        rng.shuffle(plan)
        for name, kind in plan:
            path, headers = kinds[kind]
            status, elapsed = clients[name].get(path, headers)
            statuses[(name, kind)][status] += 1
            if round_no >= WARMUP:
                times[(name, kind)].append(elapsed)
    for client in clients.values():
        client.close()
    return {"times": times, "statuses": statuses}


def count_statements(server: Server, counter, kinds: dict) -> dict:
    client = Client(server.port)
    for _ in range(max(50, WARMUP // 2)):
        for path, headers in kinds.values():
            client.get(path, headers)
    counter.take()
    result = {}
    for kind, (path, headers) in kinds.items():
        per_request, sets, statuses, example = [], [], Counter(), []
        for _ in range(COUNTED):
            status, _elapsed = client.get(path, headers)
            statements = counter.take()
            statuses[status] += 1
            per_request.append(len(statements))
            sets.append(sum(_is_set_search_path(s) for s in statements))
            example = statements
        result[kind] = {"statements": per_request, "sets": sets, "statuses": statuses, "example": example}
    client.close()
    return result


def django_visible_queries(kinds: dict) -> dict:
    """The same requests in-process through Django's test client, counted by CaptureQueriesContext:
    what Django's own cursor wrapper sees (for comparison with the wire)."""
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    client = DjangoClient()
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the API key's expected 403s
    result = {}
    for kind, (path, headers) in kinds.items():
        for _ in range(5):
            client.get(path, headers=headers)
        counts, sets = [], []
        for _ in range(20):
            with CaptureQueriesContext(connection) as ctx:
                client.get(path, headers=headers)
            counts.append(len(ctx.captured_queries))
            sets.append(sum(_is_set_search_path(q["sql"]) for q in ctx.captured_queries))
        result[kind] = {"queries": statistics.median(counts), "sets": statistics.median(sets)}
    return result


# -- report -------------------------------------------------------------------------------------------
def _creation_line(state: dict) -> str:
    t, cl = state["times"], state["clones"]
    if not t:
        return f"   with {state['present']:>4} present, {state['mode']:<25}: no timing"
    capped = (
        f"; {state['capped']} cancelled at the {CREATE_CAP} s cap, median is a lower bound"
        if state["capped"]
        else ""
    )
    clone = (
        f"; schema step median {_median_ms(cl):.1f} ms, rest {_median_ms(state['rests']):.1f} ms"
        if cl
        else ""
    )
    return (
        f"   with {state['present']:>4} present, {state['mode']:<25}: median {_median_ms(t):9.1f} ms"
        f"  (min {min(t) * 1000:.1f}, max {max(t) * 1000:.1f}; n={len(t)}{clone}{capped})"
    )


def _verdict(few: dict, many: dict) -> str:
    if not few["times"] or not many["times"]:
        return "   no verdict: a state has no timing"
    few_ms, many_ms = _median_ms(few["times"]), _median_ms(many["times"])
    ratio = many_ms / few_ms
    ok_abs, ok_ratio = many_ms / 1000 < CREATE_LIMIT_S, ratio <= CREATE_RATIO_LIMIT
    return (
        f"   {many['mode']}: ratio {many['present']}/{few['present']} present = {ratio:.2f}x"
        f" (target <= {CREATE_RATIO_LIMIT}x: {'PASS' if ok_ratio else 'FAIL'});"
        f" median with {many['present']} present < {CREATE_LIMIT_S:.0f} s: {'PASS' if ok_abs else 'FAIL'}"
    )


def report_creation(c: dict) -> list[str]:
    g = c["growth"]
    path = "django-tenants' clone_schema()" if NOTES.get("clone_schema_used") else "pg_dump DDL replay"
    lines = [
        "1. Workspace creation (services.workspace_create: row + membership + audit + schema clone)",
        f"   {c['tables']} tables per workspace schema; the product cloned with: {path}.",
        "   Each timed creation in a fresh database session; system catalogs ANALYZEd just before, except",
        "   'stale stats' (last ANALYZEd with 1 present, as on a server without autovacuum).",
    ]
    if "few_custom" in c:
        lines.append("   'custom plans' = the same with plan_cache_mode = force_custom_plan on the session.")
    order = ("few", "few_custom", "stale", "stale_custom", "many", "many_custom")
    states = [c[k] for k in order if k in c]
    lines += [_creation_line(state) for state in states]
    for state in states:
        lines.append(
            f"   all timings, {state['present']} present, {state['mode']}, ms: "
            + ", ".join(f"{t * 1000:.0f}" for t in state["times"])
        )
    for few, many in (
        ("few", "many"),
        ("few_custom", "many_custom"),
        ("few", "stale"),
        ("few_custom", "stale_custom"),
    ):
        if few in c and many in c:
            lines.append(_verdict(c[few], c[many]))
    lines.append(
        f"   (bulk, {c['fill']}: {c['bulk_count']} created in {c['bulk_s']:.0f} s, "
        f"{c['bulk_count'] / max(c['bulk_s'], 1e-9):.1f}/s; workspace schemas in the database: {c['schemas']})"
    )
    first, last = _median_ms(g["times"][:5]), _median_ms(g["times"][-5:])
    lines += [
        f"   same session, {g['cycles']} create+delete cycles with {c['few']['present']} present, as is (diagnostic):",
        f"     median of cycles 1-5 {first:.1f} ms, of the last 5 {last:.1f} ms ({last / first:.2f}x);"
        f" backend memory {g['before'] / 2**20:.1f} -> {g['after'] / 2**20:.1f} MiB"
        f" (+{(g['after'] - g['before']) / g['cycles'] / 2**20:.2f} MiB per cycle)",
        f"   cloned schema vs base: same tables/indexes/constraints/identities: {NOTES.get('same_structure')};"
        f" index and constraint names kept: {not NOTES.get('renamed')}",
    ]
    if NOTES.get("renamed"):
        lines += [
            "     base names missing in the clone: " + ", ".join(NOTES["renamed"]),
            "     names the clone has instead: " + ", ".join(NOTES["new_names"]),
        ]
    if NOTES.get("rows_differ"):
        lines.append(
            "     rows (base, clone) where they differ: "
            + ", ".join(f"{table} {pair}" for table, pair in NOTES["rows_differ"].items())
        )
    return lines


def report_latency(lat: dict, server: str, title: str) -> list[str]:
    times, statuses = lat["times"], lat["statuses"]
    base = _median_ms(times[(server, "healthz")])
    lines = [title]
    for kind, label in (
        ("healthz", "GET /healthz (baseline)"),
        ("jwt", "GET /api/v1/api-keys  JWT + X-Workspace-ID"),
        ("api_key", "GET /api/v1/api-keys  X-Api-Key"),
    ):
        t = times[(server, kind)]
        med = _median_ms(t)
        codes = ",".join(f"{code}x{n}" for code, n in sorted(statuses[(server, kind)].items()))
        extra = "" if kind == "healthz" else f"  = {med / base:.2f}x healthz, +{med - base:.3f} ms"
        lines.append(
            f"   {label:<44} median {med:7.3f} ms  p90 {_pct_ms(t, 90):7.3f}  p99 {_pct_ms(t, 99):7.3f}"
            f"  [HTTP {codes}]{extra}"
        )
    return lines


def report_counts(counts: dict, title: str) -> list[str]:
    lines = [title]
    for kind, data in counts.items():
        stmts, sets = data["statements"], data["sets"]
        codes = ",".join(f"{code}x{n}" for code, n in sorted(data["statuses"].items()))
        lines.append(
            f"   {kind:<8} statements/request median {statistics.median(stmts):g} "
            f"(min {min(stmts)}, max {max(stmts)}, mean {statistics.mean(stmts):.2f}); "
            f"SET search_path/request median {statistics.median(sets):g} "
            f"(min {min(sets)}, max {max(sets)}, mean {statistics.mean(sets):.2f})  [HTTP {codes}; n={len(stmts)}]"
        )
    for kind, data in counts.items():
        if data["example"]:
            lines.append(f"   last {kind} request on the wire:")
            lines += [f"     {i + 1:>2}. {_short(sql)}" for i, sql in enumerate(data["example"])]
    return lines


# -- main ---------------------------------------------------------------------------------------------
class Watchdog:
    """Bounds the run. Python runs signal handlers only between bytecodes, so a handler cannot stop
    a query the main thread is waiting on. This thread wakes on SIGTERM/SIGINT/SIGALRM (through the
    wakeup fd) or at the deadline, cancels this run's queries, and the handler then stops the run."""

    def __init__(self, timeout: int):
        self.reason = ""
        self._read, write = os.pipe()
        os.set_blocking(write, False)
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
            signal.signal(signum, self._handler)
        self._deadline = time.monotonic() + timeout
        self._stopped = threading.Event()
        threading.Thread(target=self._run, name="perf-watchdog", daemon=True).start()

    def _handler(self, signum, frame):
        if self.reason:  # already stopping: let the clean-up finish
            return
        if signum == signal.SIGALRM:
            self.reason = f"the benchmark exceeded PERF_TIMEOUT={TIMEOUT} s"
        else:
            self.reason = f"stopped by signal {signum}"
        # SystemExit, not TimeoutError (an OSError): psycopg and other I/O code may swallow or
        # translate OSErrors, while psycopg cancels the running query on SystemExit and re-raises it.
        raise SystemExit(self.reason)

    def _run(self) -> None:
        import select

        while not self._stopped.is_set():
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                os.kill(os.getpid(), signal.SIGALRM)  # handled in the main thread
                self._deadline = time.monotonic() + 3600
            ready, _, _ = select.select([self._read], [], [], max(0.0, min(remaining, 1.0)))
            if ready:
                os.read(self._read, 64)
            if ready and not self._stopped.is_set():
                self._cancel_queries()

    def _cancel_queries(self) -> None:
        import psycopg

        with (
            contextlib.suppress(Exception),
            psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn,
        ):
            conn.execute(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = %s AND state = 'active'"
                " AND pid <> pg_backend_pid()",
                [DB_NAME],
            )

    def stop(self) -> None:
        self._stopped.set()
        signal.set_wakeup_fd(-1)


def main() -> int:
    watchdog = Watchdog(TIMEOUT)
    started = time.perf_counter()
    state_dir = tempfile.mkdtemp(prefix="pushpilot-perf-")
    env = _environment(state_dir)
    house = Housekeeping()
    servers: list[Server] = []
    counter = None
    out: list[str] = []
    try:
        out += _machine()
        out.append(f"postgresql: {house.server_version()}  (database {DB_NAME})")
        log("\n".join(out))
        house.create_database()
        house.clear_redis()
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, timeout=600,
        )  # fmt: skip
        log(f"migrated {DB_NAME} in {time.perf_counter() - t0:.1f} s")

        import django

        django.setup()
        from django.conf import settings

        out.append("packages: " + ", ".join(f"{name} {version(name)}" for name in PACKAGES))
        out.append(f"postgresql autovacuum = {_pg_setting('autovacuum')}")
        out.append(
            f"TENANT_LIMIT_SET_CALLS = {getattr(settings, 'TENANT_LIMIT_SET_CALLS', False)!r}"
            f"; CONN_MAX_AGE = {settings.DATABASES['default'].get('CONN_MAX_AGE')!r}"
            f"; CONN_HEALTH_CHECKS = {settings.DATABASES['default'].get('CONN_HEALTH_CHECKS')!r}"
        )

        creation = routing_lines = None
        if "creation" in PHASES:
            log(
                f"\n== 1. workspace creation: {CREATIONS} timed with 1 present, then with {WORKSPACES} present"
            )
            creation = bench_creation()

        if "routing" in PHASES:
            log("\n== 3. SQL statements per request, counted on the wire (gunicorn -> proxy -> PostgreSQL)")
            from tests.perf._pgwire import StatementCounter

            fixture = routing_fixture()
            kinds = fixture["kinds"]
            counter = StatementCounter((PG_HOST, PG_PORT))
            proxy_port = counter.start()
            proxied = dict(env)
            proxied["DATABASE_URL"] = (
                f"postgres://postgres@127.0.0.1:{proxy_port}/{DB_NAME}?sslmode=disable&gssencmode=disable"
            )
            server = Server("counted", proxied, state_dir)
            servers.append(server)
            counts = count_statements(server, counter, kinds)
            server.stop()
            servers.remove(server)
            product_sets = statistics.median(counts["jwt"]["sets"])

            fix_counts = None
            compare_fix = product_sets > 1
            if compare_fix:
                log(
                    "   more than one SET search_path per request: also measuring TENANT_LIMIT_SET_CALLS=True"
                )
                fixed_env = dict(proxied, DJANGO_SETTINGS_MODULE="tests.perf._settings_limit_set_calls")
                server = Server("counted-fix", fixed_env, state_dir)
                servers.append(server)
                fix_counts = count_statements(server, counter, kinds)
                server.stop()
                servers.remove(server)
            counter.stop()
            counter = None
            visible = django_visible_queries(kinds)

            log(f"\n== 2. routing latency: {REQUESTS} sequential requests per kind after {WARMUP} warm-up")
            running = {"product": Server("product", env, state_dir)}
            servers.append(running["product"])
            if compare_fix:
                running["fix"] = Server(
                    "fix", dict(env, DJANGO_SETTINGS_MODULE="tests.perf._settings_limit_set_calls"), state_dir
                )
                servers.append(running["fix"])
            t0 = time.perf_counter()
            latency = measure_latency(running, kinds)
            log(f"   done in {time.perf_counter() - t0:.0f} s")
            for server in running.values():
                server.stop()
                servers.remove(server)

            lines: list[str] = []
            lines += report_latency(
                latency,
                "product",
                "2. Routing overhead under gunicorn (2 sync workers, DEBUG off), same run:",
            )
            if compare_fix:
                lines += report_latency(
                    latency, "fix", "   comparison, same rounds: settings + TENANT_LIMIT_SET_CALLS = True"
                )
            lines.append("")
            lines += report_counts(counts, "3. SQL statements per request on the wire (product settings):")
            lines.append("   Django-visible (CaptureQueriesContext, in-process test client): " + "; ".join(
                f"{k} {v['queries']:g} queries incl. {v['sets']:g} SET" for k, v in visible.items()
            ))  # fmt: skip
            if fix_counts is not None:
                lines += report_counts(fix_counts, "   comparison: settings + TENANT_LIMIT_SET_CALLS = True:")
            jwt_sets = statistics.median(counts["jwt"]["sets"])
            key_sets = statistics.median(counts["api_key"]["sets"])
            verdict = "PASS" if max(jwt_sets, key_sets) <= 1 else "FAIL"
            lines.append(f"   SET search_path per workspace request <= 1 at steady state: {verdict}")
            routing_lines = lines
        lines = ["", "=" * 100, "RESULTS", "=" * 100, *out, ""]
        if creation is not None:
            lines += [*report_creation(creation), ""]
        if routing_lines is not None:
            lines += routing_lines
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        lines.append(
            f"\ntotal run time {time.perf_counter() - started:.0f} s; load average at the end: {load}"
        )
        log("\n".join(lines))
        return 0
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                server.stop()
        if counter is not None:
            counter.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        with contextlib.suppress(Exception):
            house.drop_database()
        with contextlib.suppress(Exception):
            house.clear_redis()
        house.close()
        shutil.rmtree(state_dir, ignore_errors=True)
        watchdog.stop()
        log(f"cleaned up: database {DB_NAME} dropped, redis keys {PREFIX}* in {REDIS_DB_URL} deleted")


if __name__ == "__main__":
    sys.exit(main())
