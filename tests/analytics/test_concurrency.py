"""Concurrent ingestion: many requests posting overlapping and distinct events at once (each in its
own connection and transaction) leave every (delivery, type) once and the rollups equal to the raw
events they count."""

from __future__ import annotations

import itertools
import random
import threading
import time

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from analytics.models import AnalyticsEvent
from campaigns import fanout
from tests.analytics.support import Tokens, counted_events, post_events, rollup_totals
from tests.pipeline.support import send_now_run, web_subscribers

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_requests_with_the_same_and_different_events_keep_rollups_exact(
    ws_a, web_app, fake_webpush, pipeline, settings
):
    settings.PUSHPILOT_THROTTLE_SDK = "100000/min"
    browsers = web_subscribers(ws_a, web_app, fake_webpush, 40)
    send_now_run(ws_a, web_app, target={"all": True})
    pipeline.run()
    tokens = Tokens.from_webpush(fake_webpush)
    everything = [
        {"delivery": tokens.of(b), "type": kind}
        for b in browsers
        for kind in ("delivered", "opened", "clicked")
    ]
    threads_n, rounds = 6, 4
    statuses: list[dict] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            for _ in range(rounds):
                batch = rng.sample(everything, 60)  # overlaps with the other threads' batches
                response = post_events(web_app, batch)
                assert response.status_code == 202, response.content
                statuses.append(response.json())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sum(s["rejected"] for s in statuses) == 0

    raw = counted_events(ws_a)
    rolled = rollup_totals(ws_a)
    for kind in ("delivered", "opened", "clicked"):
        assert rolled.get(kind, 0) == raw.get(kind, 0), kind
    with schema_context(ws_a.schema_name):
        pairs = list(AnalyticsEvent.objects.values_list("delivery_id", "event_type"))
    assert len(pairs) == len(set(pairs))
    # Each explicit event is accepted by exactly one request (a click is never implied).
    accepted = [r for s in statuses for r in s["results"] if r["status"] == "accepted"]
    assert sum(1 for r in accepted if r["type"] == "clicked") == raw["clicked"]
    for kind in ("delivered", "opened"):
        assert sum(1 for r in accepted if r["type"] == kind) <= raw[kind]
    assert raw["delivered"] >= raw["opened"] >= raw["clicked"]


def test_events_racing_the_pipeline_are_each_counted_once_with_their_variant(
    ws_a, web_app, fake_webpush, pipeline, settings, monkeypatch
):
    """The service worker reports `delivered` as soon as the push arrives, often before the worker
    has recorded its batch as sent: a poster thread reports every message the fake push service
    accepts, while the batches are still being sent and recorded."""
    settings.PUSHPILOT_THROTTLE_SDK = "100000/min"
    settings.PUSHPILOT_SEND_BATCH_SIZE = 40
    web_subscribers(ws_a, web_app, fake_webpush, 240)
    run = send_now_run(ws_a, web_app, target={"all": True})
    done = threading.Event()
    posted: set[str] = set()
    errors: list[BaseException] = []

    def poster() -> None:
        try:
            while True:
                finished = done.is_set()
                fresh = [
                    r.payload["pp"]["delivery"]
                    for r in list(fake_webpush.received)
                    if r.payload["pp"]["delivery"] not in posted
                ]
                for start in range(0, len(fresh), 20):
                    chunk = fresh[start : start + 20]
                    response = post_events(web_app, [{"delivery": t, "type": "delivered"} for t in chunk])
                    assert response.status_code == 202, response.content
                    assert response.json()["accepted"] == len(chunk), response.json()
                    posted.update(chunk)
                if finished:
                    return
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    # Every other batch waits (at the pipeline's transport seam, after the push service accepted its
    # messages) until they have been reported: those events surely arrive before the outcome is
    # written; the other batches race the poster freely.
    real_send = fanout._transport_send
    calls = itertools.count()

    def send_then_maybe_wait(transport, messages):
        outcomes = real_send(transport, messages)
        if next(calls) % 2 == 0:
            deadline = time.monotonic() + 10
            while len(posted) < len(fake_webpush.received) and time.monotonic() < deadline:
                time.sleep(0.01)
        return outcomes

    monkeypatch.setattr(fanout, "_transport_send", send_then_maybe_wait)
    thread = threading.Thread(target=poster)
    thread.start()
    try:
        pipeline.run()
    finally:
        done.set()
        thread.join(60)
    assert not errors, errors
    assert len(posted) == 240
    with schema_context(ws_a.schema_name):
        assert not AnalyticsEvent.objects.filter(counted=False).exists()
        assert set(AnalyticsEvent.objects.values_list("variant", flat=True)) == {"A"}
    assert counted_events(ws_a) == {"delivered": 240}
    assert rollup_totals(ws_a, notification_id=run.pk) == {"sent": 240, "delivered": 240}
