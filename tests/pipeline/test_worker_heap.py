"""The worker's garbage-collector setup (``pushpilot.celery``), through the Celery signals a worker
sends when it starts: without it a full collection over the startup heap cost ~40 µs of CPU per
FCM message (see the send-pipeline benchmark)."""

from __future__ import annotations

import gc
import sys

import pytest
from celery import signals

from pushpilot.celery import WORKER_GC_THRESHOLDS


@pytest.fixture
def restored_gc():
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.parametrize("signal", [signals.worker_process_init, signals.worker_ready])
def test_a_starting_worker_freezes_its_startup_heap_and_collects_young_objects_less_often(
    restored_gc, signal
):
    assert gc.get_freeze_count() == 0
    signal.send(sender="worker@test")

    # Everything alive at start-up (Django, Celery, the send path's modules) is out of the
    # collector's reach; a full collection now traverses only what was created afterwards.
    assert gc.get_freeze_count() > 10_000
    assert sum(gc.get_count()) < 1_000
    assert gc.get_threshold() == WORKER_GC_THRESHOLDS
    assert "integrations.transports.fcm" in sys.modules


def test_garbage_made_after_the_freeze_is_still_collected(restored_gc):
    signals.worker_process_init.send(sender="worker@test")

    class Node:
        pass

    def cycle() -> None:
        a, b = Node(), Node()
        a.other, b.other = b, a

    for _ in range(100):
        cycle()
    assert gc.collect() >= 200
