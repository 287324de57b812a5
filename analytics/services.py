"""Analytics writes: SDK events, the pipeline's outcomes, and retention.

Every counter lives in a rollup that is updated in the same statement (and transaction) as the rows
it counts, with ``INSERT … ON CONFLICT DO UPDATE SET count = count + EXCLUDED.count`` fed only by
what was actually inserted (``RETURNING``), so duplicates, replays and concurrent requests can
never count an event twice or lose one. Rows are always written in key order, so two concurrent
batches wait for each other instead of deadlocking.

Attribution: an SDK event is counted against its delivery's run, variant, language and platform.
A browser can show a push (and report ``delivered``) before the worker has recorded the batch as
sent; such an event is stored with ``counted=false`` and counted by the pipeline's hook when the
outcome is written. A transaction-level advisory lock per run orders the two writers, so the event
is counted exactly once by one of them. Events of deliveries that end failed, invalid or suppressed
are never counted (``delivered`` never exceeds ``sent``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from analytics.models import SDK_EVENT_TYPES, AnalyticsEvent, EventType, HourlyRollup, SentTally
from campaigns.fanout import delivery_token_read, pg_array
from campaigns.pipeline_models import FINAL_DELIVERY_STATUSES, Delivery, Notification
from integrations.models import Subscriber, SubscriberStatus

MAX_EVENTS_PER_CALL = 100
MAX_METADATA_BYTES = 2048
# A client clock a little ahead of ours is normal; an event from further in the future is clamped.
CLOCK_SKEW = timedelta(minutes=5)
# An earlier event in the funnel is implied by a later one, so a lost `delivered` (the browser went
# offline) never makes clicks exceed deliveries. On the web a click on the notification is the open.
IMPLIED = {
    EventType.CLICKED: (EventType.OPENED, EventType.DELIVERED),
    EventType.OPENED: (EventType.DELIVERED,),
}
COUNTABLE_STATUS = "sent"
WAITING_STATUS = "queued"


class Reason:
    """Why one event of a batch was rejected (per-event ``reason`` in the response)."""

    INVALID_TOKEN = "invalid_token"  # forged, tampered, truncated, or another workspace's
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_DELIVERY = "unknown_delivery"  # never existed here, or pruned after retention
    WRONG_APP = "wrong_app"  # a delivery of another app of this workspace
    NOT_SENT = "not_sent"  # the delivery failed, was invalid or suppressed
    INVALID_OCCURRED_AT = "invalid_occurred_at"
    TOO_OLD = "too_old"  # occurred, or its message was sent, before the retention window
    INVALID_METADATA = "invalid_metadata"


@dataclass
class EventResult:
    index: int
    status: str  # accepted | duplicate | rejected
    type: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"index": self.index, "status": self.status, "type": self.type}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class _Candidate:
    index: int
    type: str
    delivery_id: uuid.UUID
    occurred_at: datetime
    metadata: dict


def retention_days() -> int:
    return max(1, settings.PUSHPILOT_ANALYTICS_RETENTION_DAYS)


# The tables the SQL below names, filled in once (unqualified: the search_path picks the workspace).
_TABLES = {
    "events": AnalyticsEvent._meta.db_table,
    "rollup": HourlyRollup._meta.db_table,
    "tally": SentTally._meta.db_table,
    "deliveries": Delivery._meta.db_table,
    "runs": Notification._meta.db_table,
    "subscribers": Subscriber._meta.db_table,
}


def _lock_runs(cursor, notification_ids) -> None:
    """Orders SDK ingestion and the pipeline's outcome hook for the same run (see the docstring)."""
    for notification_id in sorted({str(n) for n in notification_ids}):
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"pp.analytics:{notification_id}"])


# ---------------------------------------------------------------------------------------------
# SDK events.


_INGEST_SQL = """
WITH v AS (
    -- One JSON document for the whole batch: cheaper to build than a dozen escaped array literals.
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb)
        AS v(event_type varchar, delivery_id uuid, occurred_at timestamptz, metadata_json jsonb)
),
found AS (
    -- `recent`: a message older than the retention may have had its events pruned already; a replay
    -- of its token would then be inserted and counted again.
    SELECT d.id, d.notification_id, n.campaign_id, n.app_id, d.subscriber_id, d.status, d.variant, d.language,
           COALESCE(s.platform, '') AS platform, left(COALESCE(s.external_user_id, ''), 255) AS external_user_id,
           d.created_at, d.created_at >= %(oldest)s AS recent
    FROM {deliveries} d JOIN {runs} n ON n.id = d.notification_id LEFT JOIN {subscribers} s ON s.id = d.subscriber_id
    WHERE d.id IN (SELECT delivery_id FROM v)
),
inserted AS (
    INSERT INTO {events} (event_type, delivery_id, notification_id, campaign_id, subscriber_id, variant, language,
                          platform, external_user_id, occurred_at, received_at, metadata_json, counted)
    SELECT v.event_type, v.delivery_id, f.notification_id, f.campaign_id, f.subscriber_id, f.variant, f.language,
           -- Nothing happens to a message before it exists (a device clock far behind).
           f.platform, f.external_user_id, GREATEST(v.occurred_at, f.created_at), %(now)s, v.metadata_json,
           f.status = 'sent'
    FROM v JOIN found f ON f.id = v.delivery_id
    WHERE f.app_id = %(app)s AND f.recent AND f.status = ANY(%(insertable)s::varchar[])
    ORDER BY v.delivery_id, v.event_type
    ON CONFLICT (delivery_id, event_type) DO NOTHING
    RETURNING delivery_id, event_type, notification_id, campaign_id, variant, language, platform, occurred_at,
              counted
),
rolled AS (
    INSERT INTO {rollup} (hour, notification_id, campaign_id, variant, language, platform, metric, count)
    SELECT date_trunc('hour', occurred_at, 'UTC'), notification_id, campaign_id, variant, language, platform,
           event_type, count(*)
    FROM inserted WHERE counted
    GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 2, 1, 4, 5, 6, 7
    ON CONFLICT (notification_id, hour, variant, language, platform, metric)
    DO UPDATE SET count = {rollup}.count + EXCLUDED.count
)
SELECT true, id, status, app_id, subscriber_id, notification_id, recent FROM found
UNION ALL
SELECT false, delivery_id, event_type, NULL, NULL, NULL, NULL FROM inserted
""".format(**_TABLES)


def _parse_occurred_at(value: Any, *, now: datetime) -> datetime | str:
    if value in (None, ""):
        return now
    if not isinstance(value, str) or len(value) > 40:
        return Reason.INVALID_OCCURRED_AT
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return Reason.INVALID_OCCURRED_AT
    if parsed.tzinfo is None:
        return Reason.INVALID_OCCURRED_AT
    if parsed > now + CLOCK_SKEW:
        return now
    if parsed < now - timedelta(days=retention_days()):
        return Reason.TOO_OLD
    return parsed


def _metadata(value: Any) -> dict | None:
    if value is None:
        return {}
    if not isinstance(value, dict):
        return None
    dumped = json.dumps(value, default=str)
    if len(dumped) > MAX_METADATA_BYTES:
        return None
    # PostgreSQL's jsonb refuses NUL and unpaired surrogates (both valid JSON): reject the event, not
    # the whole batch with a DataError.
    if "\\u0000" in dumped:
        return None
    # Any surrogate, paired or not, is escaped as \udXXX above: only then is a second look needed.
    if "\\ud" in dumped:
        try:
            json.dumps(value, default=str, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return None
    return value


def events_ingest(
    *, app, workspace_id: uuid.UUID, events: list[dict], now: datetime | None = None
) -> list[EventResult]:
    """Record a batch of SDK events (``{delivery | token, type, occurred_at?, metadata?}``) for
    ``app`` in the current workspace schema; one result per event, in order. A bad event is
    rejected alone; a replay is a ``duplicate`` and counts nothing."""
    at = now or timezone.now()
    results: list[EventResult | None] = [None] * len(events)
    candidates: list[_Candidate] = []
    seen: set[tuple[uuid.UUID, str]] = set()
    for index, event in enumerate(events):
        kind = event.get("type")
        kind = kind if isinstance(kind, str) else None
        if kind not in SDK_EVENT_TYPES:
            results[index] = EventResult(index, "rejected", kind, Reason.UNKNOWN_TYPE)
            continue
        token = event.get("delivery", event.get("token"))
        parsed = delivery_token_read(token)
        # Another workspace's token is indistinguishable from a forged one: nothing is revealed.
        if parsed is None or parsed[0] != workspace_id:
            results[index] = EventResult(index, "rejected", kind, Reason.INVALID_TOKEN)
            continue
        occurred = _parse_occurred_at(event.get("occurred_at"), now=at)
        if isinstance(occurred, str):
            results[index] = EventResult(index, "rejected", kind, occurred)
            continue
        metadata = _metadata(event.get("metadata"))
        if metadata is None:
            results[index] = EventResult(index, "rejected", kind, Reason.INVALID_METADATA)
            continue
        if (parsed[1], kind) in seen:
            results[index] = EventResult(index, "duplicate", kind)
            continue
        seen.add((parsed[1], kind))
        candidates.append(_Candidate(index, kind, parsed[1], occurred, metadata))

    if candidates:
        _ingest(app=app, candidates=candidates, results=results, now=at)
    return [r for r in results if r is not None]


@dataclass
class _Found:
    status: str
    app_id: uuid.UUID
    subscriber_id: uuid.UUID | None
    notification_id: uuid.UUID
    recent: bool


def _insert(cursor, *, app, candidates: list[_Candidate], insertable: list[str], now: datetime):
    """One statement: look the deliveries up, insert the events (and the implied ones) of those of
    ``app`` whose status is ``insertable``, roll up what was inserted. Returns (found, inserted)."""
    rows: dict[tuple, dict] = {}
    for c in candidates:
        # One row per (delivery, type), the explicit event winning over an implied one.
        for kind, metadata in (
            (c.type, c.metadata),
            *((i, {"implied_by": c.type}) for i in IMPLIED.get(c.type, ())),
        ):
            rows.setdefault(
                (str(c.delivery_id), kind),
                {
                    "event_type": kind,
                    "delivery_id": str(c.delivery_id),
                    "occurred_at": c.occurred_at.isoformat(),
                    "metadata_json": metadata,
                },
            )
    cursor.execute(
        _INGEST_SQL,
        {
            "rows": json.dumps([rows[key] for key in sorted(rows)], default=str),
            "now": now,
            "app": app.pk,
            "oldest": now - timedelta(days=retention_days()),
            "insertable": pg_array(insertable),
        },
    )
    found: dict[uuid.UUID, _Found] = {}
    inserted: set[tuple[uuid.UUID, str]] = set()
    for is_found, delivery_id, value, app_id, subscriber_id, notification_id, recent in cursor.fetchall():
        if is_found:
            found[delivery_id] = _Found(value, app_id, subscriber_id, notification_id, recent)
        else:
            inserted.add((delivery_id, value))
    return found, inserted


def _ingest(*, app, candidates: list[_Candidate], results: list, now: datetime) -> None:
    # Most events are of deliveries already recorded as sent: one statement does everything.
    with transaction.atomic(), connection.cursor() as cursor:
        found, inserted = _insert(
            cursor, app=app, candidates=candidates, insertable=[COUNTABLE_STATUS], now=now
        )
    waiting = [
        c
        for c in candidates
        if c.delivery_id in found
        and found[c.delivery_id].status == WAITING_STATUS
        and found[c.delivery_id].app_id == app.pk
        and found[c.delivery_id].recent
    ]
    if waiting:
        # The outcome may be being written right now: take the runs' locks, then read again. In a
        # transaction of its own that holds nothing else while it waits (the pipeline's hook holds
        # the lock and may be about to write rollup rows the first statement locked: a deadlock).
        with transaction.atomic(), connection.cursor() as cursor:
            _lock_runs(cursor, {found[c.delivery_id].notification_id for c in waiting})
            more, fresh = _insert(
                cursor, app=app, candidates=waiting, insertable=[COUNTABLE_STATUS, WAITING_STATUS], now=now
            )
        found.update(more)
        inserted |= fresh

    unsubscribed = []
    for candidate in candidates:
        delivery = found.get(candidate.delivery_id)
        reason = None
        if delivery is None:
            reason = Reason.UNKNOWN_DELIVERY
        elif delivery.app_id != app.pk:
            reason = Reason.WRONG_APP
        elif not delivery.recent:
            reason = Reason.TOO_OLD
        elif delivery.status not in (COUNTABLE_STATUS, WAITING_STATUS):
            reason = Reason.NOT_SENT
        if reason:
            results[candidate.index] = EventResult(candidate.index, "rejected", candidate.type, reason)
            continue
        fresh = (candidate.delivery_id, candidate.type) in inserted
        results[candidate.index] = EventResult(
            candidate.index, "accepted" if fresh else "duplicate", candidate.type
        )
        if fresh and candidate.type == EventType.UNSUBSCRIBED and delivery.subscriber_id is not None:
            unsubscribed.append(delivery.subscriber_id)
    if unsubscribed:  # after the events committed: no row lock of ours is held while it waits
        _unsubscribe(app=app, subscriber_ids=unsubscribed)


def _unsubscribe(*, app, subscriber_ids: list) -> None:
    from integrations import services as integration_services

    for subscriber in Subscriber.objects.filter(app=app, pk__in=subscriber_ids).exclude(
        status=SubscriberStatus.UNSUBSCRIBED
    ):
        integration_services.subscriber_unsubscribe(
            subscriber=subscriber, reason="unsubscribed from a notification"
        )


# ---------------------------------------------------------------------------------------------
# The pipeline's outcomes (registered with campaigns.fanout in AnalyticsConfig.ready).


_OUTCOMES_SQL = """
WITH v AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(subscribers)s::uuid[], %(statuses)s::varchar[], %(variants)s::varchar[],
                         %(languages)s::varchar[], %(at)s::timestamptz[], %(codes)s::varchar[],
                         %(messages)s::varchar[])
        AS v(delivery_id, subscriber_id, status, variant, language, at, code, message)
),
e AS (
    SELECT v.*, COALESCE(s.platform, '') AS platform, COALESCE(s.external_user_id, '') AS external_user_id
    FROM v LEFT JOIN {subscribers} s ON s.id = v.subscriber_id
),
failed_events AS (
    INSERT INTO {events} (event_type, delivery_id, notification_id, campaign_id, subscriber_id, variant, language,
                          platform, external_user_id, occurred_at, received_at, metadata_json, counted)
    SELECT 'failed', delivery_id, %(run)s, %(campaign)s, subscriber_id, variant, language, platform,
           left(external_user_id, 255), at, %(now)s,
           jsonb_build_object('error_code', code, 'error_message', message), true
    FROM e WHERE status = 'failed' ORDER BY delivery_id
    ON CONFLICT (delivery_id, event_type) DO NOTHING
),
waited AS (
    -- SDK events that arrived before this outcome: counted now, with the variant just chosen.
    UPDATE {events} AS ev SET counted = true, variant = e.variant, language = e.language
    FROM e
    WHERE e.status = 'sent' AND ev.delivery_id = e.delivery_id AND NOT ev.counted
    RETURNING ev.occurred_at, ev.variant, ev.language, ev.platform, ev.event_type
),
tally AS (
    INSERT INTO {tally} (bucket, count)
    SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), count(*)
    FROM e WHERE status = 'sent' GROUP BY 1 ORDER BY 1
    ON CONFLICT (bucket) DO UPDATE SET count = {tally}.count + EXCLUDED.count
)
INSERT INTO {rollup} (hour, notification_id, campaign_id, variant, language, platform, metric, count)
SELECT date_trunc('hour', at, 'UTC'), %(run)s, %(campaign)s, variant, language, platform, metric, count(*)
FROM (
    SELECT at, variant, language, platform, status AS metric FROM e
    UNION ALL
    SELECT occurred_at, variant, language, platform, event_type FROM waited
) AS counted
GROUP BY 1, 4, 5, 6, 7 ORDER BY 1, 4, 5, 6, 7
ON CONFLICT (notification_id, hour, variant, language, platform, metric)
DO UPDATE SET count = {rollup}.count + EXCLUDED.count
""".format(**_TABLES)


def pipeline_outcomes_record(*, notification, rows, written, now: datetime) -> None:
    """Hook called by ``campaigns.fanout._record`` inside the transaction that writes a batch's
    outcomes: rolls up the rows that were written (``written``: what the guarded UPDATE returned,
    (status, subscriber id)), adds ``failed`` events and the workspace's sent tally."""
    landed = {(status, subscriber) for status, subscriber in written if status in FINAL_DELIVERY_STATUSES}
    final = [row for row in rows if (row.status, row.subscriber_id) in landed]
    if not final:
        return
    with connection.cursor() as cursor:
        _lock_runs(cursor, [notification.pk])
        cursor.execute(
            _OUTCOMES_SQL,
            {
                "ids": pg_array(r.id for r in final),
                "subscribers": pg_array(r.subscriber_id for r in final),
                "statuses": pg_array(r.status for r in final),
                "variants": pg_array(r.variant or "" for r in final),
                "languages": pg_array(r.language or "" for r in final),
                "at": pg_array((r.sent_at if r.status == "sent" and r.sent_at else now) for r in final),
                "codes": pg_array(r.code or "" for r in final),
                "messages": pg_array(r.message or "" for r in final),
                "run": notification.pk,
                "campaign": notification.campaign_id,
                "now": now,
            },
        )


# ---------------------------------------------------------------------------------------------
# Retention.


@dataclass
class PruneReport:
    events_deleted: int = 0


def events_prune(*, now: datetime | None = None, chunk: int = 10_000) -> PruneReport:
    """Delete raw events received more than ``PUSHPILOT_ANALYTICS_RETENTION_DAYS`` ago, in chunks
    (short transactions). Rollups and the sent tally are kept: every figure survives."""
    report = PruneReport()
    cutoff = (now or timezone.now()) - timedelta(days=retention_days())
    table = AnalyticsEvent._meta.db_table
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE received_at < %s LIMIT %s)",
                [cutoff, chunk],
            )
            deleted = cursor.rowcount
        report.events_deleted += deleted
        if deleted < chunk:
            return report
