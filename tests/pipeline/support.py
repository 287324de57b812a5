"""Helpers for the send-pipeline tests (not collected: no ``test_`` prefix).

``Pipeline`` runs what the pipeline publishes in this process, in due order, the way the worker
runs the tasks (same functions, schema from the message), with either the real clock (it sleeps
until a countdown is due) or a simulated one (``Pipeline(clock=t)``: each task runs at its due
time, so a 60-second backoff costs nothing). The real-worker tests use ``celery_worker_thread``
or a worker subprocess instead.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns import dispatch, fanout, tasks
from campaigns.pipeline_models import Notification
from integrations import services as integration_services
from integrations.models import App, Subscriber

SUBJECT = "mailto:ops@alpha.example"


@dataclass(order=True)
class Published:
    due: float
    seq: int
    name: str = field(compare=False)
    args: tuple = field(compare=False)
    schema: str = field(compare=False)
    countdown: float = field(compare=False, default=0.0)
    task_id: str = field(compare=False, default_factory=lambda: str(uuid.uuid4()))


class Pipeline:
    """Captures ``campaigns.tasks.publish`` (after commit, like the real one) and runs the tasks."""

    def __init__(self, monkeypatch, *, clock: datetime | None = None):
        self.clock = clock
        self.queue: list[Published] = []
        self.ran: list[Published] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._settled: list = []
        monkeypatch.setattr(tasks, "publish", self._publish)

    def settle(self) -> None:
        """In a test wrapped in one transaction (``django_db`` without ``transaction=True``) nothing
        ever commits: run the on-commit callbacks of what has been released so far, the way a
        commit would (callbacks of rolled-back savepoints are already gone from Django's list)."""
        if not connection.in_atomic_block:
            return
        while True:
            fresh = [
                cb
                for _sids, cb, _robust in connection.run_on_commit
                if not any(cb is done for done in self._settled)
            ]
            if not fresh:
                return
            for callback in fresh:
                self._settled.append(callback)
                callback()

    # -- publishing ---------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock or timezone.now()

    def _publish(self, task, *args, countdown=None, schema_name=None):
        schema = schema_name or connection.schema_name
        countdown = float(countdown or 0.0)

        def add():
            due = self.now().timestamp() + countdown
            with self._lock:
                heapq.heappush(
                    self.queue, Published(due, next(self._seq), task.name, args, schema, countdown)
                )

        transaction.on_commit(add)

    def names(self) -> Counter:
        self.settle()
        return Counter(item.name for item in self.queue)

    # -- running ------------------------------------------------------------------------------
    def run(self, *, until: datetime | None = None, limit: int = 10_000) -> list[Published]:
        """Run queued tasks in due order (and whatever they publish), up to ``until`` if given."""
        done = []
        for _ in range(limit):
            self.settle()
            with self._lock:
                if not self.queue or (until is not None and self.queue[0].due > until.timestamp()):
                    break
                item = heapq.heappop(self.queue)
            if self.clock is not None:
                self.clock = max(self.clock, datetime.fromtimestamp(item.due, tz=self.clock.tzinfo))
            else:
                time.sleep(max(0.0, item.due - time.time()))
            self.execute(item)
            self.settle()
            done.append(item)
        self.ran += done
        return done

    def execute(self, item: Published, *, owner: str | None = None) -> None:
        now = self.clock
        owner = owner or item.task_id
        with schema_context(item.schema):
            if item.name == "campaigns.run_job":
                run = dispatch.materialize_run(job_id=item.args[0], now=now)
                if run is not None:
                    fanout.fan_out(notification_id=run.pk, owner=owner, now=now)
            elif item.name == "campaigns.fan_out":
                fanout.fan_out(notification_id=item.args[0], owner=owner, now=now)
            elif item.name == "campaigns.send_batch":
                fanout.send_batch(
                    notification_id=item.args[0], batch_no=int(item.args[1]), owner=owner, now=now
                )
            elif item.name == "campaigns.settle_stopped_run":
                fanout.stopped_run_settle(notification_id=item.args[0], now=now)
            else:  # pragma: no cover
                raise AssertionError(f"unexpected task {item.name}")

    def tick(self, at: datetime | None = None):
        """One dispatcher tick at ``at`` (the simulated clock moves there)."""
        if at is not None:
            self.clock = at
        connection.set_schema_to_public()
        self.settle()
        report = dispatch.dispatch_due_jobs(now=self.now())
        self.settle()
        return report


# ---------------------------------------------------------------------------------------------
# Apps and subscribers, made the way their producers make them.


def make_web_app(workspace, name: str = "Shop website") -> App:
    with schema_context(workspace.schema_name):
        return integration_services.app_create(
            workspace=workspace, kind="web_push", name=name, subject=SUBJECT
        )


def make_fcm_app(workspace, fake_fcm, name: str = "Shop Android", project: str = "pushpilot-test") -> App:
    with schema_context(workspace.schema_name):
        return integration_services.app_create(
            workspace=workspace,
            kind="fcm",
            name=name,
            service_account=fake_fcm.create_service_account(project),
        )


def web_subscribers(
    workspace, app: App, fake_webpush, count: int, *, fault: str | None = None, **profile
) -> list[Subscriber]:
    made = []
    with schema_context(workspace.schema_name):
        for _ in range(count):
            browser = fake_webpush.subscribe(fault=fault)
            info = browser.json()
            subscriber, _ = integration_services.subscriber_upsert(
                app=app,
                subscription={"endpoint": info["endpoint"], "keys": info["keys"], "expires_at": None},
                profile=dict(profile),
            )
            made.append(subscriber)
    return made


def fcm_subscribers(workspace, app: App, count: int, *, prefix: str = "", **profile) -> list[Subscriber]:
    made = []
    with schema_context(workspace.schema_name):
        for _ in range(count):
            token = f"{prefix}{secrets.token_urlsafe(12)}:APA91b{secrets.token_urlsafe(40)}"
            subscriber, _ = integration_services.subscriber_upsert(
                app=app, fcm_token=token, profile=dict(profile)
            )
            made.append(subscriber)
    return made


def web_counts(fake_webpush) -> Counter:
    """Messages the Web Push fake accepted (and decrypted), per endpoint."""
    return Counter(received.endpoint for received in list(fake_webpush.received))


def fcm_counts(fake_fcm) -> Counter:
    return Counter(
        record["message"].get("token") or record["message"].get("topic") for record in list(fake_fcm.received)
    )


def run_of(workspace, notification_id) -> Notification:
    with schema_context(workspace.schema_name):
        return Notification.objects.get(pk=notification_id)


def wait_for(predicate, *, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def wait_until_final(workspace, notification_id, *, timeout: float = 20.0) -> Notification:
    def final():
        run = run_of(workspace, notification_id)
        return run if run.is_final else None

    return wait_for(final, timeout=timeout, message=f"notification {notification_id} to finish")


def send_now_run(
    workspace,
    app,
    *,
    target: dict,
    title: str = 'Hello {{ first_name|default:"there" }}',
    body: str = "Big weekend deals.",
    **options,
) -> Notification:
    """A send-now run created by the same service the API calls (published after commit)."""
    with schema_context(workspace.schema_name), transaction.atomic():
        return dispatch.notification_send_now(
            app=app,
            contents=[
                {
                    "id": None,
                    "language": "en",
                    "variant": "A",
                    "weight": 1,
                    "title": title,
                    "body": body,
                    "image_url": "",
                    "click_url": "",
                    "actions": [],
                }
            ],
            target=target,
            options=options,
            throttle_per_minute=options.pop("throttle_per_minute", None),
        )


def web_campaign(client, app, *, name: str = "Flash sale", **options) -> dict:
    """A ``send_now`` Web Push campaign without content, made through the API (``options``: the
    campaign's)."""
    campaign = client.post(
        "/api/v1/campaigns/",
        {
            "name": name,
            "channel_type": "web_push",
            "schedule_type": "send_now",
            "app_id": str(app.pk),
            "options": options,
        },
    )
    assert campaign.status_code == 201, campaign.content
    return campaign.json()


def send_now_campaign(client, app, **options) -> dict:
    """A ``send_now`` campaign with one content, made through the API (``options``: the campaign's)."""
    campaign = web_campaign(client, app, **options)
    made = client.post(f"/api/v1/campaigns/{campaign['id']}/contents/", {"title": "Flash", "body": "Now."})
    assert made.status_code == 201, made.content
    return campaign


def send_campaign_to_all(client, app, campaign: dict) -> str:
    """``POST /notifications/send-now`` with the campaign's contents to every subscriber of the app;
    the run's id."""
    response = client.post(
        "/api/v1/notifications/send-now",
        {"app_id": str(app.pk), "campaign_id": campaign["id"], "target": {"all": True}},
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def aware(value: str) -> datetime:
    return datetime.fromisoformat(value)


def at_offset(base: datetime, **delta) -> datetime:
    return base + timedelta(**delta)


def assert_adds_up(run) -> None:
    """A finished run's counters account for every targeted message, none left pending."""
    assert run.is_final
    assert run.targeted == run.sent + run.failed + run.invalid + run.suppressed, vars(run)
    assert run.pending == 0
