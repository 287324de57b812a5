"""Segment counts on a million subscribers (issue 3: under 300 ms each).

    .venv/bin/python -m tests.perf.bench_segments                      # 1,000,000 subscribers
    PERF_SUBSCRIBERS=100000 .venv/bin/python -m tests.perf.bench_segments   # quick look

Not part of `make test`. Uses its own database (``pushpilot_perf_segments``: dropped if left over,
created, migrated, dropped at the end, also on failure or Ctrl-C) and Redis database 11 with key
prefix ``perfseg`` (nothing is queued). Runs in-process: what is timed is
``integrations.segments.segment_count`` — the exact function behind ``GET /segments/{id}/count``
and ``POST /segments/preview`` — inside the workspace's schema.

Fill (untimed): one workspace, two Web Push apps, ``PERF_SUBSCRIBERS`` subscribers written by one
``INSERT … SELECT generate_series`` (95 % active; tags from a pool of 12 with skewed frequencies;
attributes plan/country/age; 4 platforms; 6 locales; last seen spread over 90 days), then
``VACUUM ANALYZE`` — what ``import_subscribers`` does after a bulk import, and what lets counts read
the covering index without the table.

Baseline, same run: ``SELECT count(*)`` over the whole subscriber table (no filter at all). Each
figure is the median of ``PERF_REPEATS`` (7) timed counts after one warm-up, with its ratio to the
baseline.
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.perf._harness import PerfDatabase, perf_environment  # noqa: E402 - after the path fix

DB_NAME = os.environ.get("PERF_SEGMENTS_DATABASE_NAME", "pushpilot_perf_segments")
SUBSCRIBERS = int(os.environ.get("PERF_SUBSCRIBERS", "1000000"))
REPEATS = int(os.environ.get("PERF_REPEATS", "7"))
TARGET_MS = 300.0

_FILL_SQL = """
INSERT INTO {table} (id, app_id, kind, fcm_token, endpoint, endpoint_hash, p256dh, auth, platform,
                     external_user_id, tags, attributes, locale, timezone, status, status_reason,
                     last_seen_at, expires_at, created_at, updated_at)
SELECT gen_random_uuid(),
       CASE WHEN i %% 7 = 0 THEN %(app_b)s::uuid ELSE %(app_a)s::uuid END,
       'web_push', NULL,
       'https://fcm.googleapis.com/fcm/send/perf-' || i,
       encode(sha256(('perf-' || i)::bytea), 'hex'),
       'BPerfP256dhKeyPlaceholderXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
       'perfAuthSecret16Bytes0',
       (ARRAY['web', 'android', 'ios', 'other'])[1 + ((i / 3) %% 4)],
       CASE WHEN i %% 3 = 0 THEN 'user-' || i END,
       ARRAY_REMOVE(ARRAY[
           CASE WHEN i %% 2 = 0 THEN 'newsletter' END,
           CASE WHEN i %% 5 = 0 THEN 'deals' END,
           CASE WHEN i %% 10 = 0 THEN 'vip' END,
           CASE WHEN i %% 50 = 0 THEN 'beta' END,
           CASE WHEN i %% 1000 = 0 THEN 'churned' END,
           'cohort-' || (i %% 7)
       ], NULL)::varchar(64)[],
       jsonb_build_object(
           'plan', (ARRAY['free', 'free', 'free', 'pro', 'enterprise'])[1 + ((i / 11) %% 5)],
           'country', (ARRAY['IN', 'US', 'DE', 'MX', 'BR', 'GB', 'FR', 'JP'])[1 + (i %% 8)],
           'age', 16 + (i %% 60)
       ),
       (ARRAY['en-IN', 'hi-IN', 'en-US', 'es-MX', 'de-DE', 'pt-BR'])[1 + (i %% 6)],
       'Asia/Kolkata',
       CASE WHEN i %% 20 = 0 THEN 'unsubscribed' ELSE 'active' END,
       '',
       now() - ((i %% 129600) * interval '1 minute'),
       NULL, now(), now()
FROM generate_series(1, %(count)s) AS i
"""


def log(message: str = "") -> None:
    print(message, flush=True)


def filters(app_a: str) -> list[tuple[str, dict]]:
    return [
        ("all active", {}),
        ("one app", {"app_id": app_a}),
        ("tags any [vip]", {"tags": {"any": ["vip"]}}),
        ("tags none [churned]", {"tags": {"none": ["churned"]}}),
        ("platform [android, ios]", {"platform": ["android", "ios"]}),
        ("locale en (en-IN, en-US)", {"locale": "en"}),
        ("last seen within 7 days", {"last_seen_within_days": 7}),
        ("attribute plan equals pro", {"attributes": {"plan": {"equals": "pro"}}}),
        ("attribute country in [DE, FR]", {"attributes": {"country": {"in": ["DE", "FR"]}}}),
        ("attribute age range 18..30", {"attributes": {"age": {"range": {"gte": 18, "lt": 30}}}}),
        (
            "combined (app, tag, platform, seen 30 d, plan)",
            {
                "app_id": app_a,
                "tags": {"any": ["newsletter"]},
                "platform": ["web", "android"],
                "last_seen_within_days": 30,
                "attributes": {"plan": {"in": ["pro", "enterprise"]}},
            },
        ),
    ]


def timed(fn) -> tuple[float, object]:
    fn()  # warm-up
    times, result = [], None
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main() -> int:
    state = tempfile.mkdtemp(prefix="perfseg-")
    perf_environment(
        database=DB_NAME, redis_url="redis://127.0.0.1:6379/11", prefix="perfseg", state_dir=state
    )
    database = PerfDatabase(DB_NAME, redis_url="redis://127.0.0.1:6379/11", prefix="perfseg")
    database.create()
    try:
        return run()
    finally:
        from django.db import connections

        connections.close_all()
        database.drop()
        database.close()
        log(f"cleaned up: database {DB_NAME} dropped")


def run() -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import schema_context

    from integrations import services as integration_services
    from integrations.models import Subscriber
    from integrations.segments import segment_count, validate_filter
    from tenants import services as tenant_services
    from tenants.models import User
    from tenants.schemas import ensure_base_schema

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    ensure_base_schema()
    owner = User.objects.create_user("perf@example.com", secrets.token_hex(8))
    workspace = tenant_services.workspace_create(owner=owner, name="Perf Segments")
    with schema_context(workspace.schema_name):
        app_a = integration_services.app_create(
            workspace=workspace,
            kind="web_push",
            name="Site A",
            subject="mailto:perf@example.com",
            actor=owner,
        )
        app_b = integration_services.app_create(
            workspace=workspace,
            kind="web_push",
            name="Site B",
            subject="mailto:perf@example.com",
            actor=owner,
        )
        table = f'"{workspace.schema_name}"."{Subscriber._meta.db_table}"'
        with connection.cursor() as cursor:
            cursor.execute(
                _FILL_SQL.format(table=table),
                {"app_a": str(app_a.pk), "app_b": str(app_b.pk), "count": SUBSCRIBERS},
            )
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {table}")
    log(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"{SUBSCRIBERS:,} subscribers filled in {time.perf_counter() - started:.0f} s"
    )

    with schema_context(workspace.schema_name):

        def count_all() -> int:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM {table}")
                return cursor.fetchone()[0]

        baseline_ms, total = timed(count_all)
        log(f"\nbaseline: SELECT count(*) of the whole table ({total:,} rows): median {baseline_ms:.1f} ms\n")
        log(f"  {'segment filter':<48} {'count':>10} {'median ms':>10} {'vs baseline':>12}")
        worst = 0.0
        for label, filter_ in filters(str(app_a.pk)):
            validated = validate_filter(filter_)
            ms, count = timed(lambda f=validated: segment_count(f))
            worst = max(worst, ms)
            log(f"  {label:<48} {count:>10,} {ms:>10.1f} {ms / baseline_ms:>11.2f}x")
    ok = worst < TARGET_MS
    log(
        f"\n  [{'PASS' if ok else 'FAIL'}] every segment count under {TARGET_MS:.0f} ms: slowest {worst:.1f} ms"
    )
    log(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    from tests.perf._signals import cleanup_on_sigterm

    cleanup_on_sigterm()
    sys.exit(main())
