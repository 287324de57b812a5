"""Analytics benchmark: SDK event ingestion over HTTP, and one campaign's statistics at scale.

    .venv/bin/python -m tests.perf.bench_analytics                                   # 1,000,000 / 300,000
    PERF_DELIVERIES=100000 PERF_EVENTS=30000 .venv/bin/python -m tests.perf.bench_analytics  # quick look

Not part of `make test`. It uses its own database (``pushpilot_perf_analytics``: dropped if left
over, created, migrated, dropped at the end), Redis database 12 with the key/queue prefix
``perfana`` (cleared before and after), a temporary state directory, and one gunicorn
(``pushpilot.wsgi``, 2 sync workers, ``DEBUG=false``, throttles raised) on a free loopback port.

Fill (untimed): one workspace with a web app, ``PERF_DELIVERIES / 10`` subscribers and a recurring
campaign with 10 runs of one message per subscriber (``PERF_DELIVERIES`` Delivery rows, inserted
with ``INSERT … SELECT generate_series`` in PostgreSQL: 90 % sent, 4 % failed, 3 % invalid, 3 %
suppressed; variants A/B, languages en/de/hi). The runs' counters, the hourly rollup and the sent
tally are then written from those rows with the same grouping the pipeline's hook uses.

What it prints, each next to a baseline measured in the same run:

1. Ingestion: ``PERF_EVENTS`` SDK events (delivered for half the deliveries of the first runs,
   opened for 30 %, clicked for 20 % of those: each event a distinct (delivery, type), signed
   tokens made with ``campaigns.fanout.delivery_token_make``) posted to ``POST /sdk/v1/events`` in
   batches of 100 by ``PERF_CLIENTS`` (4) client threads. Figure: events/s (target ≥ 5,000), next
   to ``GET /healthz`` requests/s with the same clients. Then the rollups are checked against the
   raw events, group by group (run x hour x variant x language x platform x type): they must match.
2. ``GET /api/v1/analytics/campaign/{id}`` on that campaign (the deliveries plus the events from
   1.): median and p90 of ``PERF_READS`` (50) sequential requests after 5 warm-ups, default range
   (30 days, daily) and a 7-day hourly range; target: median under 100 ms. Baseline: ``/healthz``.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.perf._harness import PerfDatabase, perf_environment  # noqa: E402 - after the path fix

DB_NAME = os.environ.get("PERF_ANALYTICS_DATABASE_NAME", "pushpilot_perf_analytics")
REDIS_DB_URL = os.environ.get("PERF_ANALYTICS_REDIS_URL", "redis://127.0.0.1:6379/12")
PREFIX = "perfana"
DELIVERIES = int(os.environ.get("PERF_DELIVERIES", "1000000"))
EVENTS = int(os.environ.get("PERF_EVENTS", "300000"))
CLIENTS = int(os.environ.get("PERF_CLIENTS", "4"))
READS = int(os.environ.get("PERF_READS", "50"))
RUNS = 10
BATCH = 100


from tests.perf.bench_tenancy import Server  # noqa: E402 - gunicorn with 2 workers on a free port


def log(message: str = "") -> None:
    print(message, flush=True)


def verdict(label: str, ok: bool, figure: str) -> str:
    return f"  [{'PASS' if ok else 'FAIL'}] {label}: {figure}"


def environment(state_dir: str) -> dict[str, str]:
    throttle = "100000000/min"
    return perf_environment(
        database=DB_NAME,
        redis_url=REDIS_DB_URL,
        prefix=PREFIX,
        state_dir=state_dir,
        PUSHPILOT_THROTTLE_LOGIN=throttle,
        PUSHPILOT_THROTTLE_ANON=throttle,
        PUSHPILOT_THROTTLE_SDK=throttle,
        PUSHPILOT_THROTTLE_API=throttle,
    )


def Database() -> PerfDatabase:
    return PerfDatabase(DB_NAME, redis_url=REDIS_DB_URL, prefix=PREFIX)


def request(
    port: int, method: str, path: str, *, body: bytes | None = None, headers=None
) -> tuple[int, bytes]:
    # gunicorn's sync workers answer `Connection: close`: one TCP connection per request.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def hammer(port: int, jobs: list[tuple[str, str, bytes | None, dict]], clients: int) -> tuple[float, list]:
    """Run ``jobs`` with ``clients`` threads; (wall seconds, [(status, body)…])."""
    results: list = [None] * len(jobs)
    cursor = iter(range(len(jobs)))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                return
            method, path, body, headers = jobs[index]
            results[index] = request(port, method, path, body=body, headers=headers)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, results


# ---------------------------------------------------------------------------------------------
# Fill.


def fill(workspace, app) -> dict:
    """The campaign, its runs, subscribers and deliveries, and what the pipeline would have rolled up."""
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from campaigns import services as campaign_services
    from campaigns.pipeline_models import Notification

    per_run = max(1, DELIVERIES // RUNS)
    now = timezone.now()
    with schema_context(workspace.schema_name):
        campaign = campaign_services.campaign_create(
            workspace=workspace,
            actor=workspace.owner,
            data={
                "name": "Perf weekly",
                "channel_type": "web_push",
                "app_id": app.pk,
                "schedule_type": "scheduled",
            },
        )
        runs = []
        for n in range(RUNS):
            started = now - timezone.timedelta(days=RUNS - n, hours=2)
            runs.append(
                Notification.objects.create(
                    source="campaign",
                    campaign=campaign,
                    app_id=app.pk,
                    status="sent",
                    target={"all": True},
                    scheduled_for=started,
                    started_at=started,
                    finished_at=started + timezone.timedelta(minutes=50),
                    fanout_complete=True,
                )
            )
        with connection.cursor() as cursor:
            t0 = time.perf_counter()
            cursor.execute(
                """
                INSERT INTO integrations_subscriber (id, app_id, kind, endpoint, endpoint_hash, p256dh, auth, platform,
                    external_user_id, tags, attributes, locale, timezone, status, status_reason, created_at,
                    updated_at, last_seen_at)
                SELECT gen_random_uuid(), %s, 'web_push', 'https://push.example/' || g, md5('e' || g), 'p', 'a',
                       (ARRAY['web', 'android', 'ios'])[1 + g %% 3], 'user-' || g, '{}', '{}',
                       (ARRAY['en-GB', 'de-DE', 'hi-IN'])[1 + g %% 3], 'Europe/London', 'active', '', now(), now(),
                       now()
                FROM generate_series(1, %s) AS g
                """,
                [app.pk, per_run],
            )
            log(f"   {per_run:,} subscribers in {time.perf_counter() - t0:.1f} s")
            t0 = time.perf_counter()
            for run in runs:
                cursor.execute(
                    """
                    INSERT INTO campaigns_delivery (id, notification_id, subscriber_id, batch_no, status, variant,
                        language, attempts, next_attempt_at, lease_owner, provider_message_id, error_code,
                        error_message, sent_at, created_at, updated_at)
                    SELECT gen_random_uuid(), %(run)s, s.id, (row_number() OVER ()) / 500,
                           CASE WHEN r < 0.90 THEN 'sent' WHEN r < 0.94 THEN 'failed'
                                WHEN r < 0.97 THEN 'invalid' ELSE 'suppressed' END,
                           CASE WHEN r >= 0.97 THEN '' WHEN hashtext(s.id::text) & 1 = 0 THEN 'A' ELSE 'B' END,
                           CASE WHEN r >= 0.97 THEN '' ELSE left(s.locale, 2) END,
                           1, %(at)s, '', '', '', '',
                           CASE WHEN r < 0.90 THEN %(at)s + (r * interval '50 minutes') END, %(at)s, %(at)s
                    FROM (SELECT id, locale, random() AS r FROM integrations_subscriber) AS s
                    """,
                    {"run": run.pk, "at": run.started_at},
                )
            log(f"   {per_run * RUNS:,} deliveries in {time.perf_counter() - t0:.1f} s")
            t0 = time.perf_counter()
            # What the pipeline's hook writes as batches finish, in one pass over the rows.
            cursor.execute(
                """
                UPDATE campaigns_notification n SET
                    targeted = c.total, sent = c.sent, failed = c.failed, invalid = c.invalid,
                    suppressed = c.suppressed, batches_total = c.batches
                FROM (SELECT notification_id, count(*) AS total, count(*) FILTER (WHERE status = 'sent') AS sent,
                             count(*) FILTER (WHERE status = 'failed') AS failed,
                             count(*) FILTER (WHERE status = 'invalid') AS invalid,
                             count(*) FILTER (WHERE status = 'suppressed') AS suppressed,
                             max(batch_no) + 1 AS batches
                      FROM campaigns_delivery GROUP BY 1) AS c
                WHERE n.id = c.notification_id
                """
            )
            cursor.execute(
                """
                INSERT INTO analytics_hourlyrollup (hour, notification_id, campaign_id, variant, language, platform,
                                                    metric, count)
                SELECT date_trunc('hour', COALESCE(d.sent_at, d.created_at), 'UTC'), d.notification_id, %s,
                       d.variant, d.language, s.platform, d.status, count(*)
                FROM campaigns_delivery d JOIN integrations_subscriber s ON s.id = d.subscriber_id
                GROUP BY 1, 2, 4, 5, 6, 7
                """,
                [campaign.pk],
            )
            cursor.execute(
                """
                INSERT INTO analytics_senttally (bucket, count)
                SELECT date_bin('15 minutes', sent_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), count(*)
                FROM campaigns_delivery WHERE status = 'sent' GROUP BY 1
                """
            )
            cursor.execute("ANALYZE")
            log(f"   counters and rollups in {time.perf_counter() - t0:.1f} s")
            cursor.execute(
                "SELECT id, sent_at FROM campaigns_delivery WHERE status = 'sent' ORDER BY notification_id, id"
            )
            sent = cursor.fetchall()
    return {"campaign": campaign, "sent": sent}


def event_bodies(workspace, sent: list) -> list[list[bytes]]:
    """``EVENTS`` distinct (delivery, type) events in batches of 100: delivered first, then opened,
    then clicked (so no event is implied before it is posted: exactly ``EVENTS`` raw rows)."""
    from campaigns.fanout import delivery_token_make

    rng = random.Random(7)
    n_delivered = round(EVENTS / 1.9)  # delivered : opened : clicked = 1 : 0.5 : 0.4
    n_opened = round(n_delivered * 0.5)
    n_clicked = EVENTS - n_delivered - n_opened
    chosen = rng.sample(sent, min(len(sent), n_delivered))
    phases = [("delivered", chosen), ("opened", chosen[:n_opened]), ("clicked", chosen[:n_clicked])]
    bodies: list[list[bytes]] = []
    for kind, rows in phases:
        rows = list(rows)
        rng.shuffle(rows)
        bodies.append([])
        for start in range(0, len(rows), BATCH):
            events = [
                {
                    "delivery": delivery_token_make(workspace_id=workspace.pk, delivery_id=delivery_id),
                    "type": kind,
                    "occurred_at": (sent_at + timedelta(seconds=rng.random() * 3 * 3600)).isoformat(),
                    "metadata": {"os": "Android 15", "app_version": "4.2.0"},
                }
                for delivery_id, sent_at in rows[start : start + BATCH]
            ]
            bodies[-1].append(json.dumps({"events": events}).encode())
    return bodies


def rollups_match_events() -> tuple[bool, int, int]:
    """(every group equal, groups compared, events counted)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH raw AS (
                SELECT notification_id, date_trunc('hour', occurred_at, 'UTC') AS hour, variant, language, platform,
                       event_type AS metric, count(*) AS n
                FROM analytics_analyticsevent WHERE counted GROUP BY 1, 2, 3, 4, 5, 6
            ), rolled AS (
                SELECT notification_id, hour, variant, language, platform, metric, count AS n
                FROM analytics_hourlyrollup WHERE metric IN ('delivered', 'opened', 'clicked', 'unsubscribed')
            )
            SELECT (SELECT count(*) FROM (SELECT * FROM raw EXCEPT SELECT * FROM rolled) a)
                 + (SELECT count(*) FROM (SELECT * FROM rolled EXCEPT SELECT * FROM raw) b),
                   (SELECT count(*) FROM raw), (SELECT coalesce(sum(n), 0) FROM raw)
            """
        )
        mismatched, groups, events = cursor.fetchone()
    return mismatched == 0, groups, events


def cpu_seconds(server: Server) -> tuple[float, float]:
    """CPU time (user + system) so far of the gunicorn processes and of this database's PostgreSQL
    backends (their process titles name the database): steadier than wall time on a shared machine."""
    import psutil

    def used(process) -> float:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            return times.user + times.system
        return 0.0

    main = psutil.Process(server.proc.pid)
    web = used(main) + sum(used(child) for child in main.children(recursive=True))
    database = 0.0
    for process in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            title = " ".join(process.info["cmdline"] or [])
            if title.startswith("postgres:") and f" {DB_NAME} " in f"{title} ":
                database += used(process)
    return web, database


def timed_gets(port: int, path: str, headers: dict, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        status, body = request(port, "GET", path, headers=headers)
        times.append(time.perf_counter() - start)
        if status != 200:
            raise RuntimeError(f"GET {path} -> {status}: {body[:300]!r}")
    return times


def main() -> int:
    log(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {DELIVERIES:,} deliveries, "
        f"{EVENTS:,} events, {CLIENTS} client threads"
    )
    tmp = tempfile.mkdtemp(prefix="pushpilot-perf-analytics-")
    database = server = None
    summary: list[str] = []
    try:
        env = environment(tmp)
        database = Database()
        database.create()
        database.clear_redis()
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, timeout=900,
        )  # fmt: skip
        import django

        django.setup()
        from django.db import connection
        from django_tenants.utils import schema_context
        from rest_framework_simplejwt.tokens import RefreshToken

        from integrations import services as integration_services
        from tenants import services
        from tenants.models import User
        from tenants.schemas import ensure_base_schema

        with contextlib.redirect_stdout(io.StringIO()):
            ensure_base_schema()
        log(f"database {DB_NAME} migrated in {time.perf_counter() - start:.1f} s")

        owner = User.objects.create_user("owner@perf.example", "Perf-Correct-Horse-42")
        workspace = services.workspace_create(owner=owner, name="Perf analytics")
        with schema_context(workspace.schema_name):
            app = integration_services.app_create(
                workspace=workspace,
                kind="web_push",
                name="Perf site",
                subject="mailto:perf@pushpilot.example",
            )
        log("\nfill (untimed)")
        filled = fill(workspace, app)
        campaign = filled["campaign"]
        bodies = event_bodies(workspace, filled["sent"])
        log(f"   {sum(map(len, bodies)):,} request bodies of {BATCH} events prepared")
        connection.set_schema_to_public()

        server = Server("analytics", env, tmp)
        # -- 1. ingestion --------------------------------------------------------------------
        log(f"\n== 1. SDK event ingestion: POST /sdk/v1/events, {BATCH} per call, {CLIENTS} clients")
        hz_jobs = [("GET", "/healthz", None, {})] * 2000
        hammer(server.port, hz_jobs[:200], CLIENTS)  # warm-up
        hz_seconds, _ = hammer(server.port, hz_jobs, CLIENTS)
        healthz_rps = len(hz_jobs) / hz_seconds
        log(f"   baseline GET /healthz: {healthz_rps:,.0f} requests/s")
        headers = {"Content-Type": "application/json", "X-SDK-Key": app.sdk_key}
        # One phase (delivered, opened, clicked) after the other: a click posted before its open
        # would imply the open, and the open would then be a duplicate.
        jobs, results, seconds = [], [], 0.0
        cpu_before = cpu_seconds(server)
        for phase in bodies:
            phase_jobs = [("POST", "/sdk/v1/events", body, headers) for body in phase]
            phase_seconds, phase_results = hammer(server.port, phase_jobs, CLIENTS)
            jobs += phase_jobs
            results += phase_results
            seconds += phase_seconds
        cpu_after = cpu_seconds(server)
        web_ms = (cpu_after[0] - cpu_before[0]) * 1000 / len(jobs)
        db_ms = (cpu_after[1] - cpu_before[1]) * 1000 / len(jobs)
        statuses = [status for status, _body in results]
        accepted = duplicates = rejected = 0
        for status, body in results:
            if status == 202:
                parsed = json.loads(body)
                accepted += parsed["accepted"]
                duplicates += parsed["duplicates"]
                rejected += parsed["rejected"]
        bad = [s for s in statuses if s != 202]
        rate = accepted / seconds
        log(
            f"   {accepted:,} accepted, {duplicates:,} duplicates, {rejected:,} rejected, {len(bad)} non-202 "
            f"in {seconds:.1f} s = {rate:,.0f} events/s ({len(jobs) / seconds:,.0f} requests/s = "
            f"{len(jobs) / seconds / healthz_rps:.2f}x healthz requests/s)"
        )
        log(
            f"   CPU per request of {BATCH} events: gunicorn {web_ms:.1f} ms + PostgreSQL {db_ms:.1f} ms "
            f"= {web_ms + db_ms:.1f} ms; what 2 idle cores would allow: "
            f"{2 * 1000 / (web_ms + db_ms) * BATCH:,.0f} events/s"
        )
        with schema_context(workspace.schema_name):
            consistent, groups, counted = rollups_match_events()
        log(
            f"   rollups vs raw events: {groups:,} groups, {counted:,} events, {'equal' if consistent else 'DIFFERENT'}"
        )
        summary.append(
            verdict(
                "ingestion ≥ 5,000 events/s, rollups equal to the raw events",
                rate >= 5000 and consistent and not bad and accepted == EVENTS,
                f"{rate:,.0f} events/s; {accepted:,}/{EVENTS:,} accepted; rollups "
                f"{'consistent' if consistent else 'INCONSISTENT'}",
            )
        )

        # -- 2. reads ------------------------------------------------------------------------
        log(f"\n== 2. GET /api/v1/analytics/campaign/{{id}}: {DELIVERIES:,} deliveries, {counted:,} events")
        auth = {
            "Authorization": f"Bearer {RefreshToken.for_user(owner).access_token}",
            "X-Workspace-ID": str(workspace.pk),
        }
        healthz = timed_gets(server.port, "/healthz", {}, READS)
        base_ms = statistics.median(healthz) * 1000
        log(f"   baseline GET /healthz: median {base_ms:.1f} ms")
        figures = {}
        from django.utils import timezone

        now = timezone.now()
        for label, query in (
            ("default range (30 days, daily)", ""),
            (
                "7 days, hourly",
                f"?from={(now - timezone.timedelta(days=7)).strftime('%Y-%m-%dT%H:%M:%SZ')}"
                f"&to={now.strftime('%Y-%m-%dT%H:%M:%SZ')}",
            ),
        ):
            path = f"/api/v1/analytics/campaign/{campaign.pk}{query}"
            timed_gets(server.port, path, auth, 5)
            times = timed_gets(server.port, path, auth, READS)
            median = statistics.median(times) * 1000
            p90 = sorted(times)[int(0.9 * (len(times) - 1))] * 1000
            figures[label] = median
            log(f"   {label}: median {median:.1f} ms, p90 {p90:.1f} ms ({median / base_ms:.1f}x healthz)")
        status, body = request(server.port, "GET", f"/api/v1/analytics/campaign/{campaign.pk}", headers=auth)
        stats = json.loads(body)
        log(
            "   figures: targeted {targeted:,}, sent {sent:,}, delivered {delivered:,}, opened {opened:,}, "
            "clicked {clicked:,}, failed {failed:,} ({failed_pct}%), CTR {click_through_rate}%".format(
                **stats
            )
        )
        adds_up = (
            stats["targeted"] == stats["sent"] + stats["failed"] + stats["invalid"] + stats["suppressed"]
        )
        worst = max(figures.values())
        summary.append(
            verdict(
                "campaign stats median < 100 ms",
                worst < 100 and adds_up,
                ", ".join(f"{k}: {v:.1f} ms" for k, v in figures.items()) + f"; numbers add up: {adds_up}",
            )
        )
    finally:
        if server is not None:
            server.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if database is not None:
            with contextlib.suppress(Exception):
                database.drop()
            Database().clear_redis()
            database.close()
    log(f"\nsummary (load average now {os.getloadavg()[0]:.2f}):")
    for line in summary:
        log(line)
    return 0 if summary and all("[PASS]" in line for line in summary) else 1


if __name__ == "__main__":
    from tests.perf._signals import cleanup_on_sigterm

    cleanup_on_sigterm()
    sys.exit(main())
