"""Fan-out: from one run (a Notification) to messages on devices, each subscriber exactly once.

The producer (``fan_out``) resolves the audience with one query, streams subscriber ids in id
order and writes them as Delivery rows in chunks of ``PUSHPILOT_SEND_BATCH_SIZE`` (500, FCM's
``send_each`` limit), ``INSERT … ON CONFLICT (notification, subscriber) DO NOTHING``; each committed
chunk is one ``campaigns.send_batch`` task on the sends queue. The last chunk is sent by the
producer itself, so a run costs at most one Celery task per 500 messages (and a small audience is
sent without a second hop). The producer keeps a cursor: run again, it resumes where it stopped.

A batch task (``send_batch``) claims its queued rows by writing a lease (its task id and an
expiry) in one ``UPDATE … FOR UPDATE SKIP LOCKED``; builds one message per row (language, A/B
variant, personalization, the signed delivery token); applies suppression (the subscriber is no
longer active, quiet hours in the subscriber's timezone, the frequency cap); sends through the
app's transport; and writes every outcome in one ``UPDATE … FROM unnest(…)`` guarded by its lease,
then the Notification's counters with F() increments. So:

* a batch task that runs twice (redelivered, or published twice) finds its rows final or leased by
  the other run, and sends nothing twice;
* a worker killed mid-batch: Celery redelivers the message (acks_late, reject_on_worker_lost) with
  the same task id, which takes its own lease back at once; if the message is lost with the node,
  the lease expires and the dispatcher's watchdog hands the rows to a new task. Rows whose request
  was in flight at the moment of the kill are sent again (at-least-once inside that one window:
  push services have no idempotency key); everything recorded is never resent.

Retries (the provider error table, issue 4 item 8): ``retry`` outcomes go back to ``queued`` with
``next_attempt_at`` = exponential backoff with jitter, at least the provider's Retry-After, up to
``PUSHPILOT_SEND_MAX_ATTEMPTS``; then ``failed`` with the reason. A retry due within one scheduler
tick is re-published with that countdown; a later one stays in the database and the dispatcher
publishes it when it comes due (never a broker ETA beyond a tick). FCM QUOTA_EXCEEDED/429 backs
off the whole app (≥ 60 s or Retry-After), Web Push 429 the push-service origin. An app-level
failure (FCM credentials rejected, Web Push VAPID refused) in a batch where nothing got through
flags the app and stops the run: every message not yet sent is failed with that reason, not burned.
A user's cancel (``run_cancel``) stops a run the same way, except that what it leaves unsent is
``suppressed`` with reason ``cancelled`` and the producer writes no more of the audience.

Throttling (``throttle_per_minute``): batches of at most the throttle, each due ``size * 60 /
throttle`` seconds after the previous one from the run's start; a batch due later than a tick waits
in the database like a retry. Contents with a ``segment_filter`` go only to the subscribers they
match, evaluated in the query that reads a batch's subscribers (``_select_content``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import random
import time as time_module
import uuid
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Min, Q, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns import content as personalization
from campaigns.pipeline_models import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationStatus,
    SendingPolicy,
)

logger = logging.getLogger("pushpilot.pipeline")

DELIVERY_TOKEN_SALT = "pp.delivery"
# Suppression and stop reasons (Delivery.error_code).
REASON_UNSUBSCRIBED = "unsubscribed"
REASON_INVALID = "subscriber_invalid"
REASON_DELETED = "subscriber_deleted"
REASON_QUIET_HOURS = "quiet_hours"
REASON_FREQUENCY_CAP = "frequency_cap"
REASON_NO_CONTENT = "no_content"
REASON_NO_MATCHING_CONTENT = "no_matching_content"
REASON_CANCELLED = "cancelled"
REASON_APP_DELETED = "app_deleted"
REASON_CREDENTIALS_UNREADABLE = "credentials_unreadable"
REASON_MAX_ATTEMPTS = "max_attempts"
# Claims a little early so a countdown that fires a hair before next_attempt_at is not wasted.
CLAIM_TOLERANCE = timedelta(seconds=1)
# Called as f(notification=, rows=, written=, now=) inside the transaction that writes final outcomes
# (a batch's, rows suppressed when produced, a stopped run's), after the run's counters. Analytics
# registers its rollup writer here (AnalyticsConfig.ready), so campaigns never imports analytics and
# the counters commit or roll back with the outcomes they count.
OUTCOME_LISTENERS: list = []


# ---------------------------------------------------------------------------------------------
# Settings read at call time (tests and benchmarks change them).


def batch_size() -> int:
    return max(1, settings.PUSHPILOT_SEND_BATCH_SIZE)


def tick() -> timedelta:
    return timedelta(seconds=settings.PUSHPILOT_SCHEDULER_TICK_SECONDS)


def lease() -> timedelta:
    return timedelta(seconds=settings.PUSHPILOT_SEND_LEASE_SECONDS)


# ---------------------------------------------------------------------------------------------
# Delivery tokens: travel in every message so SDK events can be attributed (and not forged).


def delivery_token_make(*, workspace_id: uuid.UUID, delivery_id: uuid.UUID) -> str:
    """``<workspace hex>.<delivery hex>:<signature>``: exactly ``signing.Signer(salt="pp.delivery")
    .sign(value)``, which ``delivery_token_read`` checks, with the signing key derived once per
    SECRET_KEY instead of once per message (a run signs one token per recipient)."""
    return _DeliveryTokens(workspace_id).make(delivery_id)


class _DeliveryTokens:
    """``delivery_token_make`` for one workspace: a batch signs 500 tokens with the same key and prefix."""

    __slots__ = ("key", "prefix")

    def __init__(self, workspace_id: uuid.UUID) -> None:
        self.key = _delivery_token_key(settings.SECRET_KEY)
        self.prefix = f"{workspace_id.hex}."

    def make(self, delivery_id: uuid.UUID) -> str:
        value = self.prefix + delivery_id.hex
        digest = hmac.digest(self.key, value.encode(), "sha256")
        return f"{value}:{signing.b64_encode(digest).decode()}"


@lru_cache(maxsize=4)
def _delivery_token_key(secret: str) -> bytes:
    # django.utils.crypto.salted_hmac's key for Signer(salt=…, algorithm="sha256").signature().
    return hashlib.sha256(f"{DELIVERY_TOKEN_SALT}signer{secret}".encode()).digest()


def delivery_token_read(token: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(workspace id, delivery id) of a genuine token; None for anything else."""
    if not isinstance(token, str) or len(token) > 200:
        return None
    try:
        value = signing.Signer(salt=DELIVERY_TOKEN_SALT).unsign(token)
        workspace_hex, delivery_hex = value.split(".")
        return uuid.UUID(workspace_hex), uuid.UUID(delivery_hex)
    except (signing.BadSignature, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# The audience.


def audience_queryset(notification: Notification):
    """The run's recipients as one Subscriber query in the current workspace schema.

    Explicit recipients (subscriber ids, external user ids) are taken whatever their status, so an
    unsubscribed one shows up as a suppressed delivery; audiences (all, segment, filter) are the
    active subscribers only, like a segment count."""
    from integrations.models import Segment, Subscriber, SubscriberStatus
    from integrations.segments import subscribers_matching

    target = notification.target or {}
    base = Subscriber.objects.filter(app_id=notification.app_id)
    if "subscriber_ids" in target:
        return base.filter(pk__in=target["subscriber_ids"])
    if "external_user_ids" in target:
        return base.filter(external_user_id__in=target["external_user_ids"])
    if "segment_id" in target:
        segment = Segment.objects.filter(pk=target["segment_id"]).first()
        if segment is None:
            return base.none()
        return subscribers_matching(segment.filter, app_id=notification.app_id)
    if "filter" in target:
        return subscribers_matching(target["filter"], app_id=notification.app_id)
    return base.filter(status=SubscriberStatus.ACTIVE)


def _suppression_of_status(status: str) -> str | None:
    if status == "active":
        return None
    return REASON_UNSUBSCRIBED if status == "unsubscribed" else REASON_INVALID


# ---------------------------------------------------------------------------------------------
# The producer.


@dataclass
class FanOutReport:
    batches: int = 0
    targeted: int = 0
    published: int = 0
    inline_batch: int | None = None


def _batch_plan(notification: Notification) -> tuple[int, float]:
    """(messages per batch, seconds between batch starts) — throttling spreads batches evenly."""
    size = batch_size()
    throttle = notification.throttle_per_minute
    if not throttle:
        return size, 0.0
    size = max(1, min(size, throttle))
    return size, size * 60.0 / throttle


def fan_out(
    *, notification_id, owner: str, now: datetime | None = None, send_inline: bool = True
) -> FanOutReport:
    """Produce the Delivery rows of a run and hand them to batch tasks (see the module docstring).
    Safe to call again at any time: it resumes from its cursor, or returns if another producer's
    lease is live or the run is complete."""
    report = FanOutReport()
    started = _clock(now)
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if notification is None or notification.is_final:
            return report
        resume = notification.fanout_complete
        if not resume and (
            notification.fanout_owner
            and notification.fanout_owner != owner
            and notification.fanout_leased_until
            and notification.fanout_leased_until > started
        ):
            return report  # another producer is alive
        cancelled = not resume and notification.stop_reason == REASON_CANCELLED
        if cancelled:
            # Cancelled before it was produced (or while its producer was dead): nothing more is written.
            Notification.objects.filter(pk=notification_id).update(
                fanout_complete=True, fanout_owner="", fanout_leased_until=None, updated_at=started
            )
        elif resume:
            last = notification.batches_total - 1
        else:
            notification.fanout_owner = owner
            notification.fanout_leased_until = started + lease()
            notification.watchdog_at = started + lease()
            notification.status = NotificationStatus.SENDING
            notification.started_at = notification.started_at or started
            notification.save(
                update_fields=[
                    "fanout_owner",
                    "fanout_leased_until",
                    "watchdog_at",
                    "status",
                    "started_at",
                    "updated_at",
                ]
            )

    if cancelled:
        _fail_unsent(notification, now=started)
        notification_finalize_if_done(notification_id=notification_id, now=now)
        return report
    if resume:
        # A redelivered run task whose worker died during the inline batch (or after the fan-out):
        # take that batch, and any batch still leased to this task, back now, not after the lease.
        leased = set(
            Delivery.objects.filter(
                notification_id=notification_id, status=DeliveryStatus.QUEUED, lease_owner=owner
            ).values_list("batch_no", flat=True)
        )
        for batch_no in sorted(leased | ({last} if last >= 0 else set())):
            send_batch(notification_id=notification_id, batch_no=batch_no, owner=owner, now=now)
        notification_finalize_if_done(notification_id=notification_id, now=now)
        return report

    size, _interval = _batch_plan(notification)
    inline: int | None = None
    if (notification.target or {}).get("topic"):
        # One message to an FCM topic: one delivery row without a subscriber (NULLs never conflict,
        # so the row's existence is checked instead of relied on).
        existing = (
            Delivery.objects.filter(notification_id=notification_id)
            .values_list("batch_no", flat=True)
            .first()
        )
        if existing is None:
            existing, _queued, _due, _stop = _write_chunk(
                notification_id, [(None, "active")], now=now, publish=False
            )
            report.batches += 1
        inline = existing
    else:
        queryset = audience_queryset(notification).order_by("pk").values_list("pk", "status")
        if notification.fanout_cursor is not None:
            queryset = queryset.filter(pk__gt=notification.fanout_cursor)
        # The first chunk comes from a LIMIT query, so its batch is on its way before the streaming
        # cursor has materialized a large audience; the rest is one streamed query after it.
        head = list(queryset[: size + 1])
        if len(head) > size:
            chunks = itertools.chain(
                [(head[:size], False)],
                _chunks(queryset.filter(pk__gt=head[size - 1][0]).iterator(chunk_size=max(2000, size)), size),
            )
        else:
            chunks = iter([(head, True)] if head else [])
        for chunk, is_last in chunks:
            keep = send_inline and is_last
            batch_no, queued, due, stop_reason = _write_chunk(
                notification_id, chunk, now=now, publish=not keep
            )
            report.batches += 1
            report.targeted += len(chunk)
            if stop_reason == REASON_CANCELLED:
                break  # the rest of the audience is not written: a cancelled run targets no one more
            if keep and queued:
                if due <= _clock(now) + CLAIM_TOLERANCE:
                    inline = batch_no
                else:
                    _dispatch_batch(notification_id, batch_no, due, now=now)

    with transaction.atomic():
        Notification.objects.filter(pk=notification_id).update(
            fanout_complete=True, fanout_owner="", fanout_leased_until=None, updated_at=timezone.now()
        )
    if inline is not None:
        report.inline_batch = inline
        send_batch(notification_id=notification_id, batch_no=inline, owner=owner, now=now)
    notification_finalize_if_done(notification_id=notification_id, now=now)
    return report


def _chunks(rows: Iterable[Any], size: int) -> Iterator[tuple[list[Any], bool]]:
    """Chunks of ``size`` with a flag on the last one (one chunk of look-ahead)."""
    chunk: list[Any] = []
    pending: list[Any] | None = None
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            if pending is not None:
                yield pending, False
            pending, chunk = chunk, []
    if chunk:
        if pending is not None:
            yield pending, False
        yield chunk, True
    elif pending is not None:
        yield pending, True


_RESERVE_SQL = """
UPDATE {runs} SET batches_total = batches_total + 1, fanout_cursor = COALESCE(%(cursor)s, fanout_cursor),
       fanout_leased_until = %(lease)s, watchdog_at = %(lease)s, updated_at = %(now)s
WHERE id = %(run)s
RETURNING batches_total - 1, stop_reason, stop_message, throttle_per_minute, started_at, campaign_id
"""

# The chunk's rows and the run's counters in one statement: an active subscriber is queued (or
# failed, once the run was stopped), any other is suppressed with the reason.
# Delivery ids are UUIDv7 (RFC 9562: 48-bit Unix milliseconds, version 7, then a v4's random bits):
# time-ordered keys land on the right edge of the primary-key index instead of on random pages of an
# index that grows by millions of rows a day (claims ~20 % and outcome writes ~10 % faster on 100k).
_INSERT_SQL = """
WITH inserted AS (
    INSERT INTO {table} (id, notification_id, subscriber_id, batch_no, status, variant, language, attempts,
                         next_attempt_at, lease_owner, provider_message_id, error_code, error_message,
                         created_at, updated_at)
    SELECT (lpad(to_hex(floor(extract(epoch FROM %(now)s::timestamptz) * 1000)::bigint), 12, '0') || '7'
            || substr(replace(gen_random_uuid()::text, '-', ''), 14))::uuid,
           %(run)s, s.subscriber_id, %(batch)s,
           CASE WHEN s.state = 'active' THEN %(active_status)s ELSE 'suppressed' END,
           '', '', 0, %(due)s, '', '',
           CASE WHEN s.state = 'active' THEN %(active_code)s
                WHEN s.state = 'unsubscribed' THEN %(unsubscribed)s ELSE %(invalid)s END,
           CASE WHEN s.state = 'active' THEN %(active_message)s ELSE 'The subscriber is ' || s.state || '.' END,
           %(now)s, %(now)s
    FROM unnest(%(ids)s::uuid[], %(states)s::varchar[]) AS s(subscriber_id, state)
    ON CONFLICT (notification_id, subscriber_id) DO NOTHING
    RETURNING id, subscriber_id, status, error_code, error_message
)
UPDATE {runs} SET
    targeted = targeted + (SELECT count(*) FROM inserted),
    suppressed = suppressed + (SELECT count(*) FROM inserted WHERE status = 'suppressed'),
    failed = failed + (SELECT count(*) FROM inserted WHERE status = 'failed')
WHERE id = %(run)s
RETURNING (SELECT count(*) FROM inserted WHERE status = 'queued'),
          (SELECT json_agg(json_build_array(id, subscriber_id, status, error_code, error_message))
           FROM inserted WHERE status <> 'queued')
"""


def pg_array(values: Iterable[Any]) -> str:
    """A PostgreSQL array literal: one string parameter instead of one adapted value per element
    (psycopg's per-element dumping was a third of the producer's time). A batch's columns repeat
    their values (one sent time, one content, one status), so each distinct value is encoded once."""
    encoded: dict[tuple[type, Any], str] = {}  # keyed with the type: 1, 1.0 and True are equal
    parts = []
    for value in values:
        if value.__class__ is uuid.UUID:
            parts.append(value.hex)  # PostgreSQL reads uuids without hyphens; hex needs no quoting
            continue
        key = (value.__class__, value)
        text = encoded.get(key)
        if text is None:
            text = encoded[key] = _pg_array_element(value)
        parts.append(text)
    return "{" + ",".join(parts) + "}"


def _pg_array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_chunk(
    notification_id, chunk: list[tuple], *, now: datetime | None, publish: bool
) -> tuple[int, int, datetime, str]:
    """Insert one chunk's Delivery rows and count them; returns (batch_no, rows queued, when due,
    the run's stop reason). With ``publish`` the batch is handed on (a task after commit, or the
    dispatcher if due later). Once the run is stopped, active recipients get the stop's outcome
    (failed; suppressed when it was cancelled) instead of being queued."""
    at = _clock(now)
    runs = Notification._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # Reserving the batch number locks the run's row: chunks of two producers never interleave.
        cursor.execute(
            _RESERVE_SQL.format(runs=runs),
            {"cursor": chunk[-1][0], "lease": at + lease(), "now": at, "run": notification_id},
        )
        batch_no, stop_reason, stop_message, throttle, started_at, campaign_id = cursor.fetchone()
        plan = SimpleNamespace(throttle_per_minute=throttle)
        _size, interval = _batch_plan(plan)
        due = (started_at or at) + timedelta(seconds=batch_no * interval)
        stopped = SimpleNamespace(stop_reason=stop_reason, stop_message=stop_message)
        cursor.execute(
            _INSERT_SQL.format(table=Delivery._meta.db_table, runs=runs),
            {
                "run": notification_id,
                "batch": batch_no,
                "due": due,
                "now": at,
                "active_status": _stop_status(stop_reason) if stop_reason else DeliveryStatus.QUEUED,
                "active_code": stop_reason or "",
                "active_message": _stopped_message(stopped) if stop_reason else "",
                "unsubscribed": REASON_UNSUBSCRIBED,
                "invalid": REASON_INVALID,
                "ids": pg_array(row[0] for row in chunk),
                "states": pg_array(row[1] for row in chunk),
            },
        )
        queued, unsent = cursor.fetchone()
        if unsent:  # suppressed (or failed: a stopped run) without ever being queued
            run = SimpleNamespace(pk=notification_id, campaign_id=campaign_id)
            _tell_listeners(
                run, [(uuid.UUID(i), s and uuid.UUID(s), st, c, m) for i, s, st, c, m in unsent], now=at
            )
        if queued and publish:
            _dispatch_batch(notification_id, batch_no, due, now=at)
    return batch_no, queued, due, stop_reason or ""


def _dispatch_batch(notification_id, batch_no: int, due: datetime, *, now: datetime | None) -> None:
    """A task with a countdown when due within a tick (after commit); the database otherwise."""
    at = _clock(now)
    if due <= at + tick():
        _publish_batch(notification_id, batch_no, countdown=max(0.0, (due - at).total_seconds()))
    else:
        _remember_retry(notification_id, due)


def _publish_batch(notification_id, batch_no: int, *, countdown: float = 0.0) -> None:
    from campaigns import tasks

    tasks.publish(tasks.send_batch, str(notification_id), batch_no, countdown=countdown)


def _remember_retry(notification_id, due: datetime) -> None:
    """Work due later than a tick lives in the database: the dispatcher picks it up in time."""
    from campaigns import dispatch

    Notification.objects.filter(pk=notification_id).filter(
        Q(retry_at__isnull=True) | Q(retry_at__gt=due)
    ).update(retry_at=due)
    dispatch.workspace_index_lower(due)


# ---------------------------------------------------------------------------------------------
# Batches.


@dataclass
class BatchReport:
    claimed: int = 0
    counts: Counter = field(default_factory=Counter)  # final statuses written
    retried: int = 0
    deferred: int = 0
    stopped: bool = False


_CLAIM_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(%(notification)s), %(batch)s)"

_CLAIM_SQL = """
UPDATE {table} AS d SET lease_owner = %(owner)s, leased_until = %(until)s, updated_at = %(now)s
FROM (
    SELECT id FROM {table}
    WHERE notification_id = %(notification)s AND batch_no = %(batch)s AND status = 'queued'
      AND next_attempt_at <= %(due)s
      AND (lease_owner = '' OR lease_owner = %(owner)s OR leased_until IS NULL OR leased_until < %(now)s)
    FOR UPDATE SKIP LOCKED
) AS claimable
WHERE d.id = claimable.id
RETURNING d.id, d.subscriber_id, d.attempts
"""

_OUTCOME_SQL = """
UPDATE {table} AS d SET
    status = v.status, attempts = d.attempts + v.tried, next_attempt_at = COALESCE(v.next_at, d.next_attempt_at),
    lease_owner = '', leased_until = NULL, provider_message_id = v.message_id, error_code = v.code,
    error_message = v.message, sent_at = v.sent_at, content_id = v.content_id, variant = v.variant,
    language = v.language, updated_at = %s
FROM unnest(%s::uuid[], %s::varchar[], %s::int[], %s::timestamptz[], %s::varchar[], %s::varchar[], %s::varchar[],
            %s::timestamptz[], %s::uuid[], %s::varchar[], %s::varchar[])
     AS v(id, status, tried, next_at, message_id, code, message, sent_at, content_id, variant, language)
WHERE d.notification_id = %s AND d.status = 'queued' AND d.batch_no = %s AND d.lease_owner = %s AND d.id = v.id
RETURNING d.status, d.subscriber_id
"""
# (notification, status, batch) are redundant with the ids for correctness, but they are what makes
# PostgreSQL read the batch's 500 rows from its index instead of scanning the run's whole table.


@dataclass
class _Row:
    id: uuid.UUID
    subscriber_id: uuid.UUID | None
    attempts: int
    # the decision
    status: str = DeliveryStatus.QUEUED
    tried: int = 0
    next_at: datetime | None = None
    message_id: str = ""
    code: str = ""
    message: str = ""
    sent_at: datetime | None = None
    content_id: uuid.UUID | None = None
    variant: str = ""
    language: str = ""
    origin: str = ""

    def final(self, status: str, code: str = "", message: str = "") -> None:
        self.status, self.code, self.message = status, code, message[:300]

    def defer(self, until: datetime, code: str, message: str = "") -> None:
        self.status, self.next_at, self.code, self.message = DeliveryStatus.QUEUED, until, code, message[:300]


def send_batch(*, notification_id, batch_no: int, owner: str, now: datetime | None = None) -> BatchReport:
    """Send one batch of a run (see the module docstring). Idempotent and safe to run concurrently."""
    report = BatchReport()
    at = _clock(now)
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None or notification.is_final:
        return report
    if notification.stop_reason:
        _fail_unsent(notification, now=at)
        notification_finalize_if_done(notification_id=notification_id, now=now)
        report.stopped = True
        return report
    with transaction.atomic(), connection.cursor() as cursor:
        # All or nothing: two workers given the same batch at once must not split its rows
        # between them (both would then wait on the provider for half a batch). The lock is
        # held only while claiming; the second worker then finds every row leased.
        cursor.execute(_CLAIM_LOCK_SQL, {"notification": str(notification.pk), "batch": batch_no})
        cursor.execute(
            _CLAIM_SQL.format(table=Delivery._meta.db_table),
            {
                "owner": owner,
                "until": at + lease(),
                "now": at,
                "notification": notification.pk,
                "batch": batch_no,
                "due": at + CLAIM_TOLERANCE,
            },
        )
        rows = [_Row(id=r[0], subscriber_id=r[1], attempts=r[2]) for r in cursor.fetchall()]
    report.claimed = len(rows)
    if not rows:
        return report
    _decide_and_send(notification, rows, now=at, report=report, clock=now)
    _record(notification, rows, batch_no=batch_no, owner=owner, now=at, report=report)
    return report


def _decide_and_send(
    notification: Notification,
    rows: list[_Row],
    *,
    now: datetime,
    report: BatchReport,
    clock: datetime | None = None,
) -> None:
    from integrations.models import App, AppKind, Subscriber, SubscriberStatus

    app = App.objects.filter(pk=notification.app_id).first()
    if app is None:
        for row in rows:
            row.final(
                DeliveryStatus.FAILED, REASON_APP_DELETED, "The app was deleted before this message was sent."
            )
        return
    contents = [SimpleNamespace(**c) for c in notification.contents or []]
    # Contents with a segment filter: whether each subscriber of the batch matches each distinct
    # filter comes from the same one query that reads the subscribers.
    matches = _content_filter_columns(contents)
    # Copy without a placeholder is the same for every subscriber: rendered once per batch
    # (``fixed_copy``). Attributes are read (and their JSON decoded) only when some copy needs them.
    for content in contents:
        content.fixed_copy = (
            None if personalization.is_personalized(content) else personalization.render(content, {})
        )
        content.uuid = uuid.UUID(content.id) if getattr(content, "id", None) else None
    personalized = any(content.fixed_copy is None for content in contents)
    subscribers = {
        s.id: s
        # One array parameter, not 500 placeholders psycopg would split, adapt and quote one by one.
        for s in Subscriber.objects.filter(
            pk__in=RawSQL(
                "SELECT unnest(%s::uuid[])", (pg_array(r.subscriber_id for r in rows if r.subscriber_id),)
            )
        )
        .annotate(**matches)
        .values_list(
            "id",
            "fcm_token",
            "endpoint",
            "p256dh",
            "auth",
            *(["attributes"] if personalized else []),
            "locale",
            "timezone",
            "status",
            *matches,
            named=True,
        )
    }
    jitter = random.uniform(0.0, 2.0)  # one per batch: deferred rows come back together
    backoff_until = app_backoff_until(app.pk)
    if backoff_until and backoff_until > now.timestamp():
        until = _from_timestamp(backoff_until)
        for row in rows:
            row.defer(
                until + timedelta(seconds=jitter), "rate_limited", "The provider asked this app to slow down."
            )
        report.deferred += len(rows)
        return

    policy = sending_policy()
    capped = _over_frequency_cap(policy, [r.subscriber_id for r in rows if r.subscriber_id], now=now)
    workspace_id = _workspace_id()
    tokens = _DeliveryTokens(workspace_id)
    messages = _MessageBuilder(notification, app.kind)
    variant_scope = notification.campaign_id or notification.pk

    to_send: list[tuple[_Row, Any]] = []
    origins_seen: set[str] = set()
    language_groups: dict = {}
    for row in rows:
        subscriber = subscribers.get(row.subscriber_id) if row.subscriber_id else None
        if row.subscriber_id is not None:
            if subscriber is None:
                row.final(DeliveryStatus.SUPPRESSED, REASON_DELETED, "The subscriber was deleted.")
                continue
            if subscriber.status != SubscriberStatus.ACTIVE:
                row.final(
                    DeliveryStatus.SUPPRESSED,
                    _suppression_of_status(subscriber.status) or REASON_INVALID,
                    f"The subscriber is {subscriber.status}.",
                )
                continue
            if policy and _in_quiet_hours(policy, subscriber.timezone or notification.timezone, now):
                row.final(
                    DeliveryStatus.SUPPRESSED, REASON_QUIET_HOURS, "Quiet hours in the subscriber's timezone."
                )
                continue
            if row.subscriber_id in capped:
                row.final(
                    DeliveryStatus.SUPPRESSED,
                    REASON_FREQUENCY_CAP,
                    f"The subscriber already got {policy.frequency_cap_per_day} messages in 24 hours.",
                )
                continue
        chosen = _select_content(
            contents,
            subscriber,
            locale=getattr(subscriber, "locale", None) or None,
            default_language=notification.default_language,
            key=lambda row=row: f"{variant_scope}:{row.subscriber_id or 'topic'}",
            groups=language_groups,
        )
        if chosen is None:
            if contents:
                row.final(
                    DeliveryStatus.SUPPRESSED,
                    REASON_NO_MATCHING_CONTENT,
                    "No content is meant for this subscriber (segment filters) and none has no filter.",
                )
            else:
                row.final(DeliveryStatus.FAILED, REASON_NO_CONTENT, "The run has no active content.")
            continue
        row.content_id, row.variant, row.language = chosen.uuid, chosen.variant or "", chosen.language or ""
        message = messages.make(chosen, subscriber, tokens.make(row.id))
        if app.kind == AppKind.WEB_PUSH and subscriber is not None:
            row.origin = _origin(subscriber.endpoint or "")
            origins_seen.add(row.origin)
        to_send.append((row, message))

    # Web Push 429 backs off one push-service origin for this app; other origins keep going.
    if origins_seen:
        blocked = origin_backoffs(app.pk, origins_seen, now=now)
        if blocked:
            kept = []
            for row, message in to_send:
                if row.origin in blocked:
                    row.defer(
                        blocked[row.origin] + timedelta(seconds=jitter),
                        "rate_limited",
                        f"{row.origin} asked us to slow down.",
                    )
                    report.deferred += 1
                else:
                    kept.append((row, message))
            to_send = kept
    if not to_send:
        return

    try:
        transport = _transport_for(app, workspace_id)
    except Exception as exc:  # SecretUnreadable, TransportUnavailable: nothing can be sent with this app  # noqa: BLE001
        logger.warning("app %s cannot send: %s", app.pk, exc)
        _stop_run(
            notification,
            REASON_CREDENTIALS_UNREADABLE,
            "The app's credentials cannot be read with the server's encryption keys; upload them again.",
        )
        for row, _unsent in to_send:
            row.final(
                DeliveryStatus.FAILED,
                REASON_CREDENTIALS_UNREADABLE,
                "Not sent: the app's credentials are unreadable.",
            )
        report.stopped = True
        return
    stop_reason, stop_message = Notification.objects.filter(pk=notification.pk).values_list(
        "stop_reason", "stop_message"
    ).first() or ("", "")
    if stop_reason:
        # Stopped (cancelled, or another batch found the credentials rejected) while this batch was
        # being prepared: send nothing; the rows get the stop's outcome.
        notification.stop_reason, notification.stop_message = stop_reason, stop_message
        for row, _unsent in to_send:
            row.final(_stop_status(stop_reason), stop_reason, _stopped_message(notification))
        return
    outcomes = _transport_send(transport, [m for _r, m in to_send])
    # A message counts as sent when the provider has accepted it, not when the batch started.
    _apply_outcomes(notification, app, to_send, outcomes, now=now, sent_at=_clock(clock), report=report)


def _apply_outcomes(
    notification: Notification,
    app,
    to_send: list[tuple[_Row, Any]],
    outcomes: list,
    *,
    now: datetime,
    sent_at: datetime,
    report: BatchReport,
) -> None:
    from integrations import services as integration_services
    from integrations.models import AppKind, AppStatus
    from integrations.transports.base import ErrorCode, OutcomeKind

    max_attempts = max(1, settings.PUSHPILOT_SEND_MAX_ATTEMPTS)
    any_sent = any(o.kind == OutcomeKind.SENT for o in outcomes)
    app_level = [o for o in outcomes if o.app_level]
    stop = bool(app_level) and not any_sent
    app_backoff: float | None = None
    origin_backoff: dict[str, float] = {}
    retrying: list[tuple[_Row, int, float | None]] = []
    for (row, _message), outcome in zip(to_send, outcomes, strict=True):
        row.tried = 1
        code, text = str(outcome.error_code or ""), (outcome.error_message or "")
        if outcome.kind == OutcomeKind.SENT:
            row.final(DeliveryStatus.SENT)
            row.message_id = (outcome.provider_message_id or "")[:255]
            row.sent_at = sent_at
        elif outcome.kind == OutcomeKind.INVALID:
            row.final(DeliveryStatus.INVALID, code, text)
        elif outcome.kind == OutcomeKind.RETRY:
            if stop:
                continue  # failed with the stop reason below: not burned by a retry either
            attempt = row.attempts + 1
            if code == ErrorCode.RATE_LIMITED:
                wait = float(outcome.retry_after or 60.0)
                if app.kind == AppKind.FCM:
                    app_backoff = max(app_backoff or 0.0, wait)
                else:
                    origin_backoff[row.origin] = max(origin_backoff.get(row.origin, 0.0), wait)
            if attempt >= max_attempts:
                row.final(
                    DeliveryStatus.FAILED,
                    code or REASON_MAX_ATTEMPTS,
                    f"Gave up after {attempt} attempts: {text}",
                )
            else:
                row.defer(now, code, text)
                retrying.append((row, attempt, outcome.retry_after))
        else:
            row.final(DeliveryStatus.FAILED, code or "provider_error", text)
    if retrying:
        # One delay (with its jitter) for the batch: its retryable messages go back together, as one
        # task, after the longest Retry-After any of them was given.
        delay = retry_delay(
            max(a for _r, a, _w in retrying), max((w or 0.0) for _r, _a, w in retrying) or None
        )
        for row, _attempt, _wait in retrying:
            row.next_at = now + timedelta(seconds=delay)
        report.retried += len(retrying)
    if app_backoff:
        app_backoff_set(app.pk, now.timestamp() + app_backoff)
    for origin, wait in origin_backoff.items():
        origin_backoff_set(app.pk, origin, now.timestamp() + wait)
    if any_sent and app.status != AppStatus.OK:
        integration_services.app_set_status(app=app, status=AppStatus.OK)
    if stop:
        first = app_level[0]
        code = str(first.error_code)
        integration_services.app_set_status(app=app, status=code, reason=first.error_message or "")
        _stop_run(notification, code, first.error_message or "The provider rejected the app's credentials.")
        for row, _message in to_send:
            if row.status == DeliveryStatus.QUEUED:  # retryable ones in this batch: not burned either
                row.final(
                    DeliveryStatus.FAILED,
                    code,
                    "Not sent: the run stopped because the provider rejected the app's credentials.",
                )
        report.stopped = True


def _record(
    notification: Notification,
    rows: list[_Row],
    *,
    batch_no: int,
    owner: str,
    now: datetime,
    report: BatchReport,
) -> None:
    """Write every row's outcome (guarded by our lease), the counters, and what follows from them."""
    from integrations import services as integration_services

    columns = zip(
        *(
            (
                row.id,
                row.status,
                row.tried,
                row.next_at,
                row.message_id,
                row.code,
                row.message,
                row.sent_at,
                row.content_id,
                row.variant,
                row.language,
            )
            for row in rows
        ),
        strict=True,
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                _OUTCOME_SQL.format(table=Delivery._meta.db_table),
                [now, *(pg_array(column) for column in columns), notification.pk, batch_no, owner],
            )
            written = cursor.fetchall()
        counts = Counter(status for status, _s in written)
        invalid_ids = [
            subscriber
            for status, subscriber in written
            if status == DeliveryStatus.INVALID and subscriber is not None
        ]
        if invalid_ids:
            integration_services.subscribers_mark_invalid(subscriber_ids=invalid_ids, reason="provider: gone")
        final = {k: counts[k] for k in ("sent", "failed", "invalid", "suppressed") if counts[k]}
        if final:
            update: dict[str, Any] = {name: F(name) + value for name, value in final.items()}
            update.update(watchdog_at=now + lease(), updated_at=now)
            Notification.objects.filter(pk=notification.pk).update(**update)
            if counts["sent"]:
                first = min(row.sent_at for row in rows if row.sent_at is not None)
                Notification.objects.filter(pk=notification.pk).filter(
                    Q(first_sent_at__isnull=True) | Q(first_sent_at__gt=first)
                ).update(first_sent_at=first)
        # After the run's counters: every writer locks the run's row before the listeners' locks.
        for listener in OUTCOME_LISTENERS:
            listener(notification=notification, rows=rows, written=written, now=now)
        # What is left of this batch (retries, deferrals, rows not yet due) comes back as one task.
        later = Delivery.objects.filter(
            notification_id=notification.pk, batch_no=batch_no, status=DeliveryStatus.QUEUED, lease_owner=""
        ).aggregate(at=Min("next_attempt_at"))["at"]
        if later is not None:
            _dispatch_batch(notification.pk, batch_no, later, now=now)
    report.counts.update(counts)
    if report.stopped:
        _fail_unsent(notification, now=now)
    notification_finalize_if_done(notification_id=notification.pk, now=now)


# ---------------------------------------------------------------------------------------------
# Messages.


class _MessageBuilder:
    """One batch's messages. What only the content or the run decides (options, click URL, image,
    actions, data, the run id) is worked out once per batch, not once per subscriber."""

    def __init__(self, notification: Notification, kind: str) -> None:
        from integrations.models import AppKind
        from integrations.transports.base import DEFAULT_TTL_SECONDS, Message, WebPushSubscription

        self._message, self._subscription = Message, WebPushSubscription
        self.options = options = notification.options or {}
        self.topic = (notification.target or {}).get("topic")
        self.fcm = kind == AppKind.FCM
        self.run_id = str(notification.pk)
        self.common = {
            "ttl": int(options["ttl"]) if options.get("ttl") is not None else DEFAULT_TTL_SECONDS,
            "urgency": "high" if options.get("priority") == "high" else "normal",
            "collapse_key": options.get("collapse_key") or None,
        }
        self._extras: dict[int, dict[str, Any]] = {}

    def _extras_of(self, content) -> dict[str, Any]:
        """The payload's fields after title and body, in the contract's order."""
        extras = self._extras.get(id(content))
        if extras is None:
            options = self.options
            extras = {}
            url = getattr(content, "click_url", "") or options.get("url")
            if url:
                extras["url"] = url
            if options.get("icon"):
                extras["icon"] = options["icon"]
            image = getattr(content, "image_url", "") or options.get("image_url")
            if image:
                extras["image"] = image
            actions = getattr(content, "actions", None)
            if actions:
                extras["actions"] = actions
            if options.get("data"):
                extras["data"] = options["data"]
            self._extras[id(content)] = extras
        return extras

    def make(self, content, subscriber, token: str):
        """One subscriber's message: the content's ``fixed_copy`` when it has no placeholder, else
        its copy rendered with the subscriber's attributes."""
        copy = content.fixed_copy or personalization.render(
            content, getattr(subscriber, "attributes", None) or {}
        )
        payload: dict[str, Any] = {
            "title": copy["title"],
            "body": copy["body"],
            **self._extras_of(content),
            "pp": {"delivery": token, "notification": self.run_id},
        }
        if self.topic:
            return self._message(payload=payload, topic=self.topic, **self.common)
        if self.fcm:
            return self._message(payload=payload, token=subscriber.fcm_token, **self.common)
        subscription = self._subscription(
            endpoint=subscriber.endpoint or "", p256dh=subscriber.p256dh, auth=subscriber.auth
        )
        return self._message(payload=payload, subscription=subscription, **self.common)


def _content_filter_columns(contents: list) -> dict[str, Any]:
    """One boolean column per distinct content segment filter (``pp_match_<n>``), and each content's
    ``match_column`` set to its filter's column (None: no filter, every subscriber is eligible)."""
    from integrations.segments import filter_q

    columns: dict[str, Any] = {}
    by_filter: dict[str, str] = {}
    for content in contents:
        flt = getattr(content, "segment_filter", None)
        content.match_column = None
        if not flt:
            continue
        canonical = json.dumps(flt, sort_keys=True)
        if canonical not in by_filter:
            name = f"pp_match_{len(by_filter)}"
            try:
                condition: Any = ExpressionWrapper(filter_q(flt), output_field=BooleanField())
            except (KeyError, TypeError, AttributeError, ValueError):
                # Validated when saved; a filter that cannot be read matches no one rather than everyone.
                condition = Value(False, output_field=BooleanField())
            by_filter[canonical], columns[name] = name, condition
        content.match_column = by_filter[canonical]
    return columns


def _select_content(
    contents: list,
    subscriber,
    *,
    locale: str | None,
    default_language: str,
    key: Callable[[], str],
    groups: dict,
):
    """The content a subscriber gets. A content with a segment filter is eligible only for the
    subscribers it matches; the language is chosen among the eligible contents (locale, then the
    default language), and within it a matching filtered content wins over the unfiltered ones — a
    subscriber that matches none gets an unfiltered content. None: nothing is eligible. ``key``
    makes the subscriber's A/B key, called only when there are variants to choose from."""
    if subscriber is None:  # a topic: no subscriber to match
        eligible = [c for c in contents if c.match_column is None] or contents
    else:
        eligible = [c for c in contents if c.match_column is None or getattr(subscriber, c.match_column)]
    if not eligible:
        return None
    # A batch asks the same question for most of its subscribers: remember the language group per
    # (eligible contents, locale) in ``groups`` (one dict per batch).
    memo = (tuple(map(id, eligible)), locale)
    group = groups.get(memo)
    if group is None:
        group = groups[memo] = personalization.contents_for_locale(
            eligible, locale=locale, default_language=default_language
        )
    candidates = [c for c in group if c.match_column is not None] or group
    if len(candidates) == 1:
        return candidates[0]  # no A/B test here: the variant key is not even needed
    return personalization.pick_variant(candidates, key=key())


def _transport_for(app, workspace_id):
    from integrations.services import app_transport

    return app_transport(app=app, workspace_id=workspace_id)


def _transport_send(transport, messages: list) -> list:
    """The one call that reaches the provider (a seam: tests make a worker stop exactly here)."""
    return transport.send_batch(messages)


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}".lower()


# ---------------------------------------------------------------------------------------------
# Suppression: quiet hours and the frequency cap (workspace settings).


def sending_policy() -> SendingPolicy | None:
    policy = SendingPolicy.objects.filter(pk=1).first()
    if policy is None or (policy.quiet_hours_start is None and not policy.frequency_cap_per_day):
        return None
    return policy


@lru_cache(maxsize=512)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def in_window(local: time, start: time, end: time) -> bool:
    """Whether ``local`` falls in [start, end); a window whose end is before its start wraps midnight."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def _in_quiet_hours(policy: SendingPolicy, zone_name: str, now: datetime) -> bool:
    if policy.quiet_hours_start is None or policy.quiet_hours_end is None:
        return False
    zone = _zone(zone_name) or _zone("UTC")
    local = now.astimezone(zone).time().replace(tzinfo=None)
    return in_window(local, policy.quiet_hours_start, policy.quiet_hours_end)


def _over_frequency_cap(policy: SendingPolicy | None, subscriber_ids: list, *, now: datetime) -> set:
    """Subscribers that already got the cap's number of messages in the last 24 hours (a rolling
    window, counted from sent deliveries: one indexed query per batch)."""
    if policy is None or not policy.frequency_cap_per_day or not subscriber_ids:
        return set()
    recent = (
        Delivery.objects.filter(
            subscriber_id__in=subscriber_ids,
            status=DeliveryStatus.SENT,
            sent_at__gte=now - timedelta(hours=24),
        )
        .values("subscriber_id")
        .annotate(n=Count("id"))
        .filter(n__gte=policy.frequency_cap_per_day)
    )
    return {row["subscriber_id"] for row in recent}


# ---------------------------------------------------------------------------------------------
# Backoff: per app (FCM quota) and per push-service origin (Web Push 429), in the shared cache
# (keys carry the workspace schema), as absolute times.


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before attempt ``attempt + 1``: exponential with equal jitter, at least Retry-After."""
    base = settings.PUSHPILOT_SEND_RETRY_BASE_MS / 1000.0
    ceiling = float(settings.PUSHPILOT_SEND_RETRY_MAX_SECONDS)
    exponential = min(ceiling, base * (2 ** max(0, attempt - 1)))
    delay = exponential / 2 + random.uniform(0, exponential / 2)
    if retry_after:
        # Everyone told "come back in 60 s" should not come back in the same millisecond.
        delay = max(delay, float(retry_after) + random.uniform(0, min(5.0, float(retry_after) * 0.1)))
    return delay


def _backoff_key(app_id, origin: str | None = None) -> str:
    return f"pp:backoff:{app_id}" + (f":{origin}" if origin else "")


def app_backoff_until(app_id) -> float | None:
    return cache.get(_backoff_key(app_id))


def app_backoff_set(app_id, until: float) -> None:
    current = cache.get(_backoff_key(app_id)) or 0.0
    if until > current:
        cache.set(_backoff_key(app_id), until, timeout=max(1, int(until - time_module.time())) + 60)


def origin_backoffs(app_id, origins: Iterable[str], *, now: datetime) -> dict[str, datetime]:
    keys = {_backoff_key(app_id, origin): origin for origin in origins}
    found = cache.get_many(list(keys))
    return {keys[k]: _from_timestamp(v) for k, v in found.items() if v and v > now.timestamp()}


def origin_backoff_set(app_id, origin: str, until: float) -> None:
    key = _backoff_key(app_id, origin)
    if until > (cache.get(key) or 0.0):
        cache.set(key, until, timeout=max(1, int(until - time_module.time())) + 60)


# ---------------------------------------------------------------------------------------------
# Stopping and finishing a run.


def _stopped_message(notification: Notification) -> str:
    return f"Not sent: the run stopped ({notification.stop_reason}). {notification.stop_message}"[:300]


def _stop_run(notification: Notification, code: str, message: str) -> None:
    Notification.objects.filter(pk=notification.pk, stop_reason="").update(
        stop_reason=code[:64], stop_message=(message or "")[:500], updated_at=timezone.now()
    )
    notification.refresh_from_db(fields=["stop_reason", "stop_message"])


def _stop_status(reason: str) -> str:
    """What a message that a stopped run will not send becomes: ``suppressed`` when a user cancelled
    the run (nothing went wrong), ``failed`` when the provider refused the app."""
    return DeliveryStatus.SUPPRESSED if reason == REASON_CANCELLED else DeliveryStatus.FAILED


# The chunk is picked once (a materialized CTE): as an ``IN (… LIMIT … FOR UPDATE)`` subquery the
# planner may run it again per row and settle more than the chunk. SKIP LOCKED: several settlers of
# one stopped run (the cancel's task, batch tasks still in the broker) share its rows out instead
# of queueing on each other's locks; whoever holds a row settles it.
_STOP_SQL = """
WITH picked AS MATERIALIZED (
    SELECT id FROM {table}
    WHERE notification_id = %(run)s AND status = 'queued' AND (leased_until IS NULL OR leased_until < %(now)s)
    LIMIT %(chunk)s FOR UPDATE SKIP LOCKED
)
UPDATE {table} AS d SET status = %(outcome)s, error_code = %(code)s, error_message = %(message)s,
       lease_owner = '', leased_until = NULL, updated_at = %(now)s
FROM picked
WHERE d.id = picked.id AND d.status = 'queued'
RETURNING d.id, d.subscriber_id
"""


def _fail_unsent(
    notification: Notification, *, now: datetime, chunk: int = 5000, limit: int | None = None
) -> int:
    """A stopped run: every queued row nobody is sending right now gets the stop's outcome (failed,
    or suppressed when cancelled) with the stop reason. Rows leased by a batch in flight are left to
    that batch, which records what the provider answered. In chunks, each with its counters and its
    outcome listeners, so a stopped run of a million messages is neither one huge transaction nor a
    million rows in memory. With ``limit``, stops after that many rows; returns how many it settled."""
    notification.refresh_from_db(fields=["stop_reason", "stop_message"])
    outcome = _stop_status(notification.stop_reason)
    counter = "suppressed" if outcome == DeliveryStatus.SUPPRESSED else "failed"
    message = _stopped_message(notification)
    total = 0
    while True:
        size = chunk if limit is None else min(chunk, limit - total)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    _STOP_SQL.format(table=Delivery._meta.db_table),
                    {
                        "outcome": outcome,
                        "code": notification.stop_reason,
                        "message": message,
                        "now": now,
                        "run": notification.pk,
                        "chunk": size,
                    },
                )
                stopped = cursor.fetchall()
            if stopped:
                Notification.objects.filter(pk=notification.pk).update(
                    **{counter: F(counter) + len(stopped)}, updated_at=now
                )
                _tell_listeners(
                    notification,
                    [(d, s, outcome, notification.stop_reason, message) for d, s in stopped],
                    now=now,
                )
        total += len(stopped)
        if len(stopped) < size or (limit is not None and total >= limit):
            return total


def _tell_listeners(notification, outcomes: list[tuple], *, now: datetime) -> None:
    """Outcomes written outside a batch ((delivery id, subscriber id, status, code, message): rows
    suppressed when produced, rows of a stopped run) reach the listeners like a batch's."""
    if not OUTCOME_LISTENERS:
        return
    rows = []
    for delivery_id, subscriber_id, status, code, message in outcomes:
        row = _Row(id=delivery_id, subscriber_id=subscriber_id, attempts=0)
        row.final(status, code, message)
        rows.append(row)
    written = [(row.status, row.subscriber_id) for row in rows]
    for listener in OUTCOME_LISTENERS:
        listener(notification=notification, rows=rows, written=written, now=now)


def run_cancel(*, notification_id, message: str = "", now: datetime | None = None) -> bool:
    """Stop a run that has not finished: nothing more is produced or sent. Queued messages not in
    flight become ``suppressed`` with reason ``cancelled``: up to PUSHPILOT_CANCEL_INLINE_ROWS of
    them at once (the caller is a request), the rest by a ``settle_stopped_run`` task; a batch
    already talking to the provider records what it sent; a live producer stops at its next chunk.
    The run ends ``cancelled`` once its counters add up. False when the run was already final or
    stopped."""
    at = _clock(now)
    won = Notification.objects.filter(
        pk=notification_id,
        stop_reason="",
        status__in=[NotificationStatus.QUEUED, NotificationStatus.SENDING],
    ).update(
        stop_reason=REASON_CANCELLED,
        stop_message=(message or "Cancelled.")[:500],
        retry_at=None,
        updated_at=at,
    )
    if not won:
        return False
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification_id)
        producer_alive = (
            notification.fanout_owner
            and notification.fanout_leased_until
            and notification.fanout_leased_until > at
        )
        if not notification.fanout_complete and not producer_alive:
            # Never produced (its fan-out task still waits in the broker) or its producer died.
            Notification.objects.filter(pk=notification_id).update(
                fanout_complete=True, fanout_owner="", fanout_leased_until=None, updated_at=at
            )
    inline = max(1, settings.PUSHPILOT_CANCEL_INLINE_ROWS)
    if _fail_unsent(notification, now=at, limit=inline) >= inline:
        from campaigns import tasks

        tasks.publish(tasks.settle_stopped_run, str(notification_id))
    notification_finalize_if_done(notification_id=notification_id, now=now)
    return True


def stopped_run_settle(*, notification_id, now: datetime | None = None) -> int:
    """The rest of a stopped run's unsent messages get the stop's outcome, and the run ends; how
    many were settled (see ``run_cancel``). Nothing to do for a run that is not stopped."""
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None or not notification.stop_reason:
        return 0
    settled = _fail_unsent(notification, now=_clock(now))
    notification_finalize_if_done(notification_id=notification_id, now=now)
    return settled


def notification_finalize_if_done(*, notification_id, now: datetime | None = None) -> bool:
    """Close a run whose every delivery is final: ``sent``, or ``failed`` when it was stopped or
    nothing could be sent. Exactly one caller wins (a conditional UPDATE)."""
    at = _clock(now)
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None or notification.is_final or not notification.fanout_complete:
        return False
    if notification.done < notification.targeted:
        return False
    failed = bool(notification.stop_reason) or (notification.sent == 0 and notification.failed > 0)
    status = NotificationStatus.FAILED if failed else NotificationStatus.SENT
    if notification.stop_reason == REASON_CANCELLED:
        status = NotificationStatus.CANCELLED
    won = (
        Notification.objects.filter(
            pk=notification_id,
            fanout_complete=True,
            status__in=[NotificationStatus.QUEUED, NotificationStatus.SENDING],
        )
        .filter(targeted=F("sent") + F("failed") + F("invalid") + F("suppressed"))
        .update(status=status, finished_at=at, watchdog_at=None, retry_at=None, updated_at=at)
    )
    if won and notification.campaign_id:
        from campaigns import dispatch

        dispatch.campaign_after_run(campaign_id=notification.campaign_id)
    return bool(won)


# ---------------------------------------------------------------------------------------------


def on_commit_in_schema(callback) -> None:
    """``transaction.on_commit`` for work on tenant tables: the commit may happen after the caller
    left the workspace schema (the dispatcher's transaction spans the public workspace row)."""
    schema = connection.schema_name

    def run() -> None:
        with schema_context(schema):
            callback()

    transaction.on_commit(run)


def _clock(now: datetime | None) -> datetime:
    return now or timezone.now()


def _from_timestamp(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def _workspace_id() -> uuid.UUID:
    from integrations.selectors import current_workspace_id

    return current_workspace_id()
