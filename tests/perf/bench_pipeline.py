"""Send-pipeline benchmark: the beat tick, PostgreSQL claims, and campaigns end to end.

    .venv/bin/python -m tests.perf.bench_pipeline                    # 100,000 recipients per channel
    PERF_AUDIENCE=20000 .venv/bin/python -m tests.perf.bench_pipeline  # a quicker look

Not part of `make test`. It uses its own database (``pushpilot_perf_pipeline``: dropped if left
over, created, migrated, dropped at the end), Redis database 13 with the key/queue prefix
``perfpipe`` (cleared before and after), a temporary state directory, and spawns every process it
needs: the two fakes in sink mode (``tests.fakes.webpush``, ``tests.fakes.fcm``: they count every
message, check every VAPID header / bearer token, fully verify one in 100), two Celery worker
processes (``--concurrency=1`` each; ``PERF_WORKER_POOL="--pool=threads --concurrency=2"`` tries
another pool) and one Celery beat.

What it prints, with the target from issue 4 next to each figure:

1. Beat tick — ``dispatch_due_jobs`` with 20 due workspaces (one due job each: claimed, handed
   to a worker with a countdown) when those 20 are all the workspaces, and when 1,980 more exist
   that have nothing due (median of 7 ticks each). The extra workspaces are rows only: a tick
   reads the public ``Workspace.next_run_at`` index and enters only due schemas, so a schema
   behind a row it never reads changes nothing. Target: the 2,000 tick ≤ 1.5x the 20 tick.
2. PostgreSQL only, no network: the producer (stream the audience, insert Delivery rows in
   chunks of 500 with ON CONFLICT DO NOTHING), the batch claims (UPDATE … FOR UPDATE SKIP
   LOCKED) and the outcome writes (UPDATE … FROM unnest) for the whole audience, in recipients/s.
   This process freezes its heap (the whole benchmark's data) first, as a worker freezes its
   startup heap, so the garbage collector's full passes over it are not timed.
   Target: ≥ 20,000 recipients/s (each step, and all three together).
3. Bare transport throughput in this run: ``tests.perf.bench_transports``' "ours" variants (one
   process, 500 messages per call) against the same fakes. Each full-audience run of section 4 is
   compared with the mean of two more such measurements, one right before it and one right after
   it: a host whose speed drifts over the minutes between section 3 and that run (seen here on
   shared machines) moves both sides of the ratio alike.
4. End to end, per channel: a campaign scheduled 20 s ahead; beat's tick finds it and hands it to
   a worker with a countdown; the workers materialize the run, fan out and send. Reported: first
   send after the due time (target ≤ 2 s), whole campaign from due time to the run's end (target ≤
   30 s, ≥ 3,300 deliveries/s), deliveries/s next to the bare transport measured around the run
   (target ≥ 0.8x), Celery
   tasks per 500 messages (target ≤ 1), peak RSS of the worker processes (target < 300 MB) for a
   run of a tenth of the audience and for the full one (flat in audience size), and the CPU time
   per message of the workers, of PostgreSQL and of the fake, beside the bare transport's (section
   3): on 2 busy cores, throughput follows total CPU per message.

On a machine that is busy with other work the wall-clock figures understate an idle machine's;
the load average is printed at the start and the end.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.perf._harness import PerfDatabase, perf_environment  # noqa: E402 - after the path fix

DB_NAME = os.environ.get("PERF_PIPELINE_DATABASE_NAME", "pushpilot_perf_pipeline")
REDIS_DB_URL = os.environ.get("PERF_PIPELINE_REDIS_URL", "redis://127.0.0.1:6379/13")
PREFIX = "perfpipe"
AUDIENCE = int(os.environ.get("PERF_AUDIENCE", "100000"))
TICK_WORKSPACES = int(os.environ.get("PERF_TICK_WORKSPACES", "2000"))
TICK_DUE = 20
TICK_REPEATS = 9
BARE_MESSAGES = int(os.environ.get("PERF_BARE_MESSAGES", "20000"))
RUN_TIMEOUT = float(os.environ.get("PERF_RUN_TIMEOUT", "600"))
WORKER_POOL_ARGS = os.environ.get("PERF_WORKER_POOL", "--pool=prefork --concurrency=1").split()
LEAD_SECONDS = 20  # a campaign is scheduled this far ahead, so beat's tick (15 s) finds it early


def log(message: str = "") -> None:
    print(message, flush=True)


def verdict(label: str, ok: bool, figure: str) -> str:
    return f"  [{'PASS' if ok else 'FAIL'}] {label}: {figure}"


# ---------------------------------------------------------------------------------------------
# Environment, database, processes.


def environment(state_dir: str, webpush, fcm) -> dict[str, str]:
    return perf_environment(
        database=DB_NAME,
        redis_url=REDIS_DB_URL,
        prefix=PREFIX,
        state_dir=state_dir,
        PUSHPILOT_WEBPUSH_ALLOWED_ORIGINS=webpush.base_url,
        PUSHPILOT_FCM_API_URL=fcm.base_url,
        PUSHPILOT_PUSH_CA_BUNDLE=fcm.info["ca_file"],
        PUSHPILOT_SCHEDULER_TICK_SECONDS="15",
    )


def Database() -> PerfDatabase:
    return PerfDatabase(DB_NAME, redis_url=REDIS_DB_URL, prefix=PREFIX)


class Process:
    """A child process in its own process group, with its peak RSS (itself and its children)."""

    def __init__(self, label: str, cmd: list[str], env: dict, log_dir: str):
        self.label = label
        self._log = open(Path(log_dir) / f"{label}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.peak_rss: dict[int, int] = {}

    def sample(self) -> None:
        import psutil

        with contextlib.suppress(psutil.Error):
            main = psutil.Process(self.proc.pid)
            for process in [main, *main.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    rss = process.memory_info().rss
                    self.peak_rss[process.pid] = max(self.peak_rss.get(process.pid, 0), rss)

    def reset_peaks(self) -> None:
        self.peak_rss.clear()

    def cpu_seconds(self) -> float:
        """User + system CPU of the process and its children so far."""
        import psutil

        with contextlib.suppress(psutil.Error):
            main = psutil.Process(self.proc.pid)
            return cpu_seconds_of([main, *main.children(recursive=True)])
        return 0.0

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self._log.close()


class RssSampler(threading.Thread):
    def __init__(self, processes: list[Process]):
        super().__init__(daemon=True)
        self.processes = processes
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(0.2):
            for process in self.processes:
                process.sample()

    def stop(self) -> None:
        self._stop.set()


# ---------------------------------------------------------------------------------------------
# Fixtures in the database.


def make_workspace(name: str):
    from tenants import services
    from tenants.models import User

    owner = User.objects.create_user(f"{uuid.uuid4().hex[:12]}@perf.example", "Perf-Correct-Horse-42")
    return services.workspace_create(owner=owner, name=name)


def make_apps(workspace, fcm_info: dict):
    from django_tenants.utils import schema_context

    from integrations import services

    with schema_context(workspace.schema_name):
        web = services.app_create(
            workspace=workspace, kind="web_push", name="Perf site", subject="mailto:perf@pushpilot.example"
        )
        fcm = services.app_create(
            workspace=workspace, kind="fcm", name="Perf Android", service_account=fcm_info["service_account"]
        )
    return web, fcm


def add_subscribers(
    workspace, app, *, subscriptions: list[dict] | None = None, tokens: int = 0, tag: str
) -> None:
    from django_tenants.utils import schema_context

    from integrations.models import Subscriber
    from integrations.services import endpoint_hash

    rows = []
    if subscriptions:
        for sub in subscriptions:
            rows.append(
                Subscriber(
                    app=app,
                    kind="web_push",
                    endpoint=sub["endpoint"],
                    endpoint_hash=endpoint_hash(sub["endpoint"]),
                    p256dh=sub["keys"]["p256dh"],
                    auth=sub["keys"]["auth"],
                    platform="web",
                    tags=[tag],
                    attributes={"first_name": "Ada"},
                    locale="en-GB",
                    timezone="Europe/London",
                )
            )
    for _ in range(tokens):
        rows.append(
            Subscriber(
                app=app,
                kind="fcm",
                fcm_token=f"{secrets.token_urlsafe(16)}:APA91b{secrets.token_urlsafe(100)}",
                platform="android",
                tags=[tag],
                attributes={"first_name": "Ada"},
                locale="en-GB",
            )
        )
    with schema_context(workspace.schema_name):
        Subscriber.objects.bulk_create(rows, batch_size=5000)


def make_campaign(workspace, app, *, channel: str, tag: str):
    from django_tenants.utils import schema_context

    from campaigns import services

    with schema_context(workspace.schema_name):
        campaign = services.campaign_create(
            workspace=workspace,
            actor=workspace.owner,
            data={
                "name": f"Perf {channel} {tag}",
                "channel_type": channel,
                "app_id": app.pk,
                "schedule_type": "scheduled",
                "audience": {"filter": {"tags": {"any": [tag]}}},
            },
        )
        services.content_create(
            campaign=campaign,
            actor=workspace.owner,
            data={
                "title": 'Weekend sale, {{ first_name|default:"friend" }}',
                "body": "Our biggest sale of the season ends Sunday night. Tap to see what's new.",
            },
        )
    return campaign


# ---------------------------------------------------------------------------------------------
# 1. The beat tick.


def bench_tick() -> dict:
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from campaigns import dispatch
    from campaigns.pipeline_models import ScheduledJob
    from tenants.models import Workspace

    log(f"\n== 1. beat tick: {TICK_DUE} due workspaces, alone and among {TICK_WORKSPACES:,}")
    due = []
    for n in range(TICK_DUE):
        workspace = make_workspace(f"Tick {n}")
        web = make_web_app_only(workspace)
        campaign = make_campaign(workspace, web, channel="web_push", tag="tick")
        with schema_context(workspace.schema_name):
            ScheduledJob.objects.create(campaign=campaign, run_at=timezone.now() + timedelta(days=1))
        due.append(workspace)
    log(f"   {TICK_DUE} workspaces with a campaign and a job created")

    def arm() -> None:
        now = timezone.now()
        for workspace in due:
            with schema_context(workspace.schema_name):
                ScheduledJob.objects.update(status="pending", run_at=now, claimed_at=None, attempts=0)
        Workspace.objects.filter(pk__in=[w.pk for w in due]).update(next_run_at=now)

    def ticks() -> tuple[list[float], int]:
        """Wall times of TICK_REPEATS ticks (after one warm-up) and the SQL statements of one."""
        times, statements = [], []

        def count(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        for _ in range(TICK_REPEATS + 1):
            arm()
            connection.set_schema_to_public()
            statements.clear()
            with connection.execute_wrapper(count):
                start = time.perf_counter()
                report = dispatch.dispatch_due_jobs()
                times.append(time.perf_counter() - start)
            assert report.claimed == TICK_DUE, report
        Database().clear_redis()  # the published run tasks: no worker runs in this section
        return times[1:], len(statements)

    def analyze() -> None:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE tenants_workspace")

    # Alone, among many, alone again: the machine's load drifts; the sandwich shows how much.
    analyze()
    alone, alone_sql = ticks()
    visible = Workspace.objects.visible().count()
    extra = max(0, TICK_WORKSPACES - visible)
    now = timezone.now()

    def add_idle() -> None:
        Workspace.objects.bulk_create(
            [
                Workspace(
                    name=f"Idle {n}",
                    slug=f"idle-{n}",
                    schema_name=f"idle_{n}",
                    next_run_at=(now + timedelta(hours=1 + n % 48)) if n % 2 else None,
                )
                for n in range(extra)
            ],
            batch_size=1000,
        )
        analyze()

    add_idle()
    many, many_sql = ticks()
    workspaces = Workspace.objects.visible().count()
    with connection.cursor() as cursor:  # rows only: there is no schema behind them to drop
        cursor.execute("DELETE FROM tenants_workspace WHERE slug LIKE 'idle-%%'")
    analyze()
    alone_again, _sql = ticks()
    add_idle()  # the rest of the run has 2,000 workspaces too
    baseline = statistics.median(alone + alone_again)
    result = {
        "alone_ms": baseline * 1000,
        "many_ms": statistics.median(many) * 1000,
        "workspaces": workspaces,
        "alone_sql": alone_sql,
        "many_sql": many_sql,
    }
    result["ratio"] = result["many_ms"] / result["alone_ms"]
    log(
        f"   tick with {TICK_DUE} workspaces: {statistics.median(alone) * 1000:.1f} ms before and "
        f"{statistics.median(alone_again) * 1000:.1f} ms after (median of {TICK_REPEATS} each), "
        f"{alone_sql} SQL statements; with {workspaces:,}: {result['many_ms']:.1f} ms, {many_sql} statements; "
        f"ratio {result['ratio']:.2f}"
    )
    # The due workspaces stay, idle, for the rest of the run (as do the 1,980 rows).
    Workspace.objects.filter(pk__in=[w.pk for w in due]).update(next_run_at=None)
    return result


def make_web_app_only(workspace):
    from django_tenants.utils import schema_context

    from integrations import services

    with schema_context(workspace.schema_name):
        return services.app_create(
            workspace=workspace, kind="web_push", name="Tick site", subject="mailto:perf@pushpilot.example"
        )


# ---------------------------------------------------------------------------------------------
# 2. PostgreSQL: produce, claim, write.


def bench_database(workspace, app, tag: str) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from campaigns import dispatch, fanout, tasks
    from campaigns.pipeline_models import Delivery, Notification
    from pushpilot.celery import WORKER_GC_THRESHOLDS

    log(f"\n== 2. PostgreSQL only: produce, claim and write {AUDIENCE:,} deliveries in batches of 500")
    original_publish = tasks.publish
    tasks.publish = lambda *args, **kwargs: None  # measure the database, not the broker
    # This process holds the whole benchmark's data (every subscription); freeze it, as a worker
    # freezes its startup heap (pushpilot/celery.py), so full collections over it are not timed here.
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*WORKER_GC_THRESHOLDS)
    try:
        with schema_context(workspace.schema_name):
            with transaction.atomic():
                run = dispatch.notification_send_now(
                    app=app,
                    contents=[
                        {
                            "id": None,
                            "language": "en",
                            "variant": "A",
                            "weight": 1,
                            "title": "T",
                            "body": "B",
                            "image_url": "",
                            "click_url": "",
                            "actions": [],
                        }
                    ],
                    target={"filter": {"tags": {"any": [tag]}}},
                    options={},
                )
            start = time.perf_counter()
            report = fanout.fan_out(notification_id=run.pk, owner="bench", send_inline=False)
            produce = time.perf_counter() - start
            rows = Notification.objects.get(pk=run.pk).targeted
            table = Delivery._meta.db_table
            claim_total, write_total, claimed = 0.0, 0.0, 0
            now = timezone.now()
            for batch in range(report.batches):
                start = time.perf_counter()
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        fanout._CLAIM_SQL.format(table=table),
                        {
                            "owner": f"bench-{batch}",
                            "until": now + timedelta(minutes=5),
                            "now": now,
                            "notification": run.pk,
                            "batch": batch,
                            "due": now + timedelta(seconds=1),
                        },
                    )
                    got = cursor.fetchall()
                claim_total += time.perf_counter() - start
                claimed += len(got)
                ids = [r[0] for r in got]
                n = len(ids)
                start = time.perf_counter()
                with transaction.atomic(), connection.cursor() as cursor:
                    columns = [
                        ids,
                        ["sent"] * n,
                        [1] * n,
                        [None] * n,
                        ["projects/x/messages/1"] * n,
                        [""] * n,
                    ]
                    columns += [[""] * n, [now] * n, [None] * n, ["A"] * n, ["en"] * n]
                    cursor.execute(
                        fanout._OUTCOME_SQL.format(table=table),
                        [now, *(fanout.pg_array(c) for c in columns), run.pk, batch, f"bench-{batch}"],
                    )
                    cursor.fetchall()
                write_total += time.perf_counter() - start
            Delivery.objects.filter(notification_id=run.pk).delete()
            Notification.objects.filter(pk=run.pk).delete()
    finally:
        tasks.publish = original_publish
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    result = {
        "rows": rows,
        "produce": rows / produce,
        "claim": claimed / claim_total,
        "write": claimed / write_total,
        "all": rows / (produce + claim_total + write_total),
    }
    log(
        f"   produce (stream + INSERT … ON CONFLICT): {result['produce']:,.0f} recipients/s "
        f"({rows:,} rows in {produce:.2f} s, {report.batches} batches)"
    )
    log(
        f"   claim (UPDATE … SKIP LOCKED): {result['claim']:,.0f} recipients/s; "
        f"outcome write (UPDATE … FROM unnest): {result['write']:,.0f} recipients/s"
    )
    log(f"   all three: {result['all']:,.0f} recipients/s")
    return result


# ---------------------------------------------------------------------------------------------
# 3. Bare transports (the integrations benchmark's own variants, same fakes, same run).


class BareTransports:
    """The integrations benchmark's "ours" variants against the same fakes, on demand: section 3
    measures both channels, and each full-audience run is bracketed by one measurement right before
    and one right after it, so a host whose speed drifts during the run moves both sides alike."""

    def __init__(self, tmp: str, webpush, fcm, subscriptions: list[dict]) -> None:
        from integrations.transports.webpush import generate_vapid_key_pair
        from tests.perf.bench_transports import fcm_context

        sub_file = Path(tmp, "bare-subscriptions.json")
        sub_file.write_text(json.dumps(subscriptions[:BARE_MESSAGES]))
        web_ctx = Path(tmp, "bare-webpush.json")
        web_ctx.write_text(
            json.dumps({"subscriptions": str(sub_file), "vapid_private_key": generate_vapid_key_pair()[0]})
        )
        fcm_ctx = Path(tmp, "bare-fcm.json")
        fcm_ctx.write_text(json.dumps(fcm_context(fcm, BARE_MESSAGES)))
        self.variants = {
            "web_push": ("Web Push", "webpush-ours", str(web_ctx), webpush),
            "app_push": ("FCM", "fcm-ours", str(fcm_ctx), fcm),
        }

    def measure(self, channel: str, when: str = "") -> float:
        from tests.perf.bench_transports import run_variant

        label, variant, ctx_file, fake = self.variants[channel]
        row = run_variant(variant, ctx_file, fake)
        log(
            f"   {label} bare transport{when}: {row['rate']:,.0f} msg/s; CPU per message: transport "
            f"{row['cpu_us']:.0f} µs, fake {row['fake_cpu_us']:.0f} µs"
        )
        return row["rate"]


# ---------------------------------------------------------------------------------------------
# 4. End to end.


def worker_stats(app) -> dict:
    totals: dict[str, int] = {}
    stats = app.control.inspect(timeout=3).stats() or {}
    for info in stats.values():
        for name, count in (info.get("total") or {}).items():
            totals[name] = totals.get(name, 0) + count
    return totals


def cpu_seconds_of(processes) -> float:
    """User + system CPU of these processes, and of their children that have exited (counted in the
    parent's children times once it reaps them: PostgreSQL backends of closed connections)."""
    import psutil

    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def postgres_cpu_seconds() -> float:
    """CPU of every PostgreSQL process on the machine (so run the benchmark alone)."""
    import psutil

    return cpu_seconds_of(
        p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")
    )


def cpu_snapshot(workers: list[Process], fake) -> dict[str, float]:
    return {
        "workers": sum(worker.cpu_seconds() for worker in workers),
        "postgres": postgres_cpu_seconds(),
        "fake": fake.cpu_seconds(),
    }


def run_campaign(workspace, app, *, channel: str, tag: str, workers: list[Process], celery_app, fake) -> dict:
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from campaigns import services
    from campaigns.pipeline_models import Notification

    campaign = make_campaign(workspace, app, channel=channel, tag=tag)
    before = worker_stats(celery_app)
    for worker in workers:
        worker.reset_peaks()
    cpu_before = cpu_snapshot(workers, fake)
    due = (timezone.now() + timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
    with schema_context(workspace.schema_name):
        campaign = services.campaign_schedule(
            campaign=campaign, workspace=workspace, actor=workspace.owner, at=due.isoformat(), timezone="UTC"
        )
    deadline = time.monotonic() + RUN_TIMEOUT + LEAD_SECONDS
    run = None
    while time.monotonic() < deadline:
        with schema_context(workspace.schema_name):
            run = Notification.objects.filter(campaign_id=campaign.pk).first()
        if run is not None and run.is_final:
            break
        time.sleep(0.5)
    if run is None or not run.is_final:
        raise RuntimeError(f"the {channel} campaign did not finish in time: {run and vars(run)}")
    cpu_after = cpu_snapshot(workers, fake)
    after = worker_stats(celery_app)
    tasks = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    pipeline_tasks = sum(
        v for k, v in tasks.items() if k in ("campaigns.run_job", "campaigns.fan_out", "campaigns.send_batch")
    )
    whole = (run.finished_at - run.scheduled_for).total_seconds()
    peak = max((rss for worker in workers for rss in worker.peak_rss.values()), default=0) / 2**20
    return {
        "channel": channel,
        "targeted": run.targeted,
        "sent": run.sent,
        "failed": run.failed,
        "first_send_s": (run.first_sent_at - run.scheduled_for).total_seconds(),
        "started_s": (run.started_at - run.scheduled_for).total_seconds(),
        "whole_s": whole,
        "rate": run.sent / whole if whole > 0 else 0.0,
        "tasks": tasks,
        "tasks_per_500": pipeline_tasks / max(1.0, run.targeted / 500),
        "peak_rss_mb": peak,
        # CPU per message sent, from the due time's lead-in to the run's end (the lead-in is idle).
        "cpu_us": {k: (cpu_after[k] - cpu_before[k]) / max(1, run.sent) * 1e6 for k in cpu_after},
    }


def describe(result: dict) -> None:
    log(
        f"   {result['channel']}: {result['sent']:,}/{result['targeted']:,} sent ({result['failed']} failed); "
        f"run started {result['started_s']:+.2f} s and first send {result['first_send_s']:+.2f} s after the due "
        f"time; whole campaign {result['whole_s']:.1f} s = {result['rate']:,.0f} deliveries/s; "
        f"{result['tasks_per_500']:.2f} tasks per 500 messages {result['tasks']}; "
        f"worker peak RSS {result['peak_rss_mb']:.0f} MB; CPU per message: "
        + ", ".join(f"{k} {v:.0f} µs" for k, v in result["cpu_us"].items())
    )


# ---------------------------------------------------------------------------------------------


def main() -> int:
    from tests.fakes.fcm import FakeFcm
    from tests.fakes.webpush import FakeWebPush

    log(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; audience {AUDIENCE:,} per channel")
    tmp = tempfile.mkdtemp(prefix="pushpilot-perf-pipeline-")
    webpush = FakeWebPush.spawn("--sink")
    fcm = FakeFcm.spawn("--sink")
    processes: list[Process] = []
    sampler = None
    database = None
    summary: list[str] = []
    try:
        env = environment(tmp, webpush, fcm)
        database = Database()
        database.create()
        database.clear_redis()
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=900,
        )
        import django

        django.setup()
        from django.conf import settings

        from pushpilot.celery import app as celery_app
        from tenants.schemas import ensure_base_schema

        with contextlib.redirect_stdout(open(os.devnull, "w")):
            ensure_base_schema()
        log(f"database {DB_NAME} migrated in {time.perf_counter() - start:.1f} s")

        tick = bench_tick()
        summary.append(
            verdict(
                f"tick with {tick['workspaces']:,} workspaces ≤ 1.5x the tick with {TICK_DUE}",
                tick["ratio"] <= 1.5 and tick["many_sql"] == tick["alone_sql"],
                f"{tick['many_ms']:.1f} ms vs {tick['alone_ms']:.1f} ms = {tick['ratio']:.2f}x; SQL statements "
                f"per tick {tick['many_sql']} vs {tick['alone_sql']}",
            )
        )

        import requests

        log(
            f"\nsubscribers: {AUDIENCE:,} Web Push subscriptions (the fake makes the browser keys), "
            f"{AUDIENCE:,} FCM tokens, plus a tenth of each for the small runs"
        )
        small = max(500, AUDIENCE // 10)
        subscriptions = requests.post(
            f"{webpush.base_url}/_fake/subscriptions", json={"count": AUDIENCE + small}, timeout=1800
        ).json()["subscriptions"]
        workspace = make_workspace("Perf shop")
        web_app, fcm_app = make_apps(workspace, fcm.info)
        add_subscribers(workspace, web_app, subscriptions=subscriptions[:AUDIENCE], tag="big")
        add_subscribers(workspace, web_app, subscriptions=subscriptions[AUDIENCE:], tag="small")
        add_subscribers(workspace, fcm_app, tokens=AUDIENCE, tag="big")
        add_subscribers(workspace, fcm_app, tokens=small, tag="small")
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f'ANALYZE "{workspace.schema_name}".integrations_subscriber')

        db = bench_database(workspace, web_app, "big")
        summary.append(
            verdict(
                "PostgreSQL claims ≥ 20,000 recipients/s, each step and all three together",
                min(db["produce"], db["claim"], db["write"], db["all"]) >= 20_000,
                f"produce {db['produce']:,.0f}, claim {db['claim']:,.0f}, write {db['write']:,.0f}, "
                f"all three {db['all']:,.0f} recipients/s",
            )
        )

        bare = BareTransports(tmp, webpush, fcm, subscriptions)
        log(f"\n== 3. bare transport throughput: {BARE_MESSAGES:,} messages, one process, 500 per call")
        for channel in ("web_push", "app_push"):
            bare.measure(channel)

        log("\n== 4. end to end: 2 worker processes + beat; a tenth of the audience, then all of it")
        queues = f"{settings.PUSHPILOT_QUEUE_DEFAULT},{settings.PUSHPILOT_QUEUE_SENDS}"
        for n in range(2):
            processes.append(
                Process(
                    f"worker-{n}",
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "pushpilot.celery",
                        "worker",
                        *WORKER_POOL_ARGS,
                        "-Q",
                        queues,
                        "-n",
                        f"perf{n}@localhost",
                        "--without-gossip",
                        "--without-mingle",
                        "--loglevel=WARNING",
                    ],
                    env,
                    tmp,
                )
            )
        processes.append(
            Process(
                "beat",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "pushpilot.celery",
                    "beat",
                    "-s",
                    str(Path(tmp, "beat-schedule")),
                    "--loglevel=WARNING",
                ],
                env,
                tmp,
            )
        )
        sampler = RssSampler(processes[:2])
        sampler.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(celery_app.control.inspect(timeout=1).ping() or {}) < 2:
            time.sleep(0.5)

        results = {}
        bare_around: dict[str, tuple[float, float]] = {}
        for channel, app_row in (("web_push", web_app), ("app_push", fcm_app)):
            for tag in ("small", "big"):
                if tag == "big":
                    before = bare.measure(channel, " right before")
                result = run_campaign(
                    workspace,
                    app_row,
                    channel=channel,
                    tag=tag,
                    workers=processes[:2],
                    celery_app=celery_app,
                    fake=webpush if channel == "web_push" else fcm,
                )
                describe(result)
                results[(channel, tag)] = result
                if tag == "big":
                    bare_around[channel] = (before, bare.measure(channel, " right after"))
        for channel, label in (("web_push", "Web Push"), ("app_push", "FCM")):
            big, little = results[(channel, "big")], results[(channel, "small")]
            before, after = bare_around[channel]
            bare_rate = (before + after) / 2
            summary += [
                verdict(
                    f"{label}: first send ≤ 2 s after the due time",
                    big["first_send_s"] <= 2.0,
                    f"{big['first_send_s']:.2f} s",
                ),
                verdict(
                    f"{label}: whole campaign ≤ 30 s (≥ 3,300 deliveries/s)",
                    big["rate"] >= 3300 and (big["targeted"] < 100_000 or big["whole_s"] <= 30.0),
                    f"{big['whole_s']:.1f} s, {big['rate']:,.0f}/s for {big['targeted']:,}",
                ),
                verdict(
                    f"{label}: ≥ 0.8x the bare transport",
                    big["rate"] >= 0.8 * bare_rate,
                    f"{big['rate']:,.0f} vs {bare_rate:,.0f} msg/s = {big['rate'] / bare_rate:.2f}x "
                    f"(bare {before:,.0f} right before the run, {after:,.0f} right after)",
                ),
                verdict(
                    f"{label}: ≤ 1 Celery task per 500 messages",
                    big["tasks_per_500"] <= 1.0,
                    f"{big['tasks_per_500']:.2f}",
                ),
                verdict(
                    f"{label}: worker peak RSS < 300 MB and flat",
                    big["peak_rss_mb"] < 300 and big["peak_rss_mb"] <= little["peak_rss_mb"] * 1.15 + 10,
                    f"{little['peak_rss_mb']:.0f} MB for {little['targeted']:,}, "
                    f"{big['peak_rss_mb']:.0f} MB for {big['targeted']:,}",
                ),
            ]
    finally:
        if sampler is not None:
            sampler.stop()
        for process in processes:
            process.stop()
        webpush.stop()
        fcm.stop()
        if database is not None:
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
            database.drop()
            database.clear_redis()
            database.close()
    log(f"\nload average after the run {os.getloadavg()[0]:.2f}")
    log("\n".join(summary))
    return 0 if all("[PASS]" in line for line in summary) else 1


if __name__ == "__main__":
    from tests.perf._signals import cleanup_on_sigterm

    cleanup_on_sigterm()
    sys.exit(main())
