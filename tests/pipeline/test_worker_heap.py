"""The worker's garbage-collector setup (``pushpilot.celery``), through the Celery signals a worker
sends when it starts: without it a full collection over the startup heap cost ~40 µs of CPU per
FCM message (see the send-pipeline benchmark)."""

from __future__ import annotations

import gc
import weakref

import pytest
from celery import signals

from pushpilot.celery import WORKER_GC_THRESHOLDS


class Node:
    other: Node


def cyclic_garbage() -> weakref.ref:
    """Two objects that only reference each other: freed by the cyclic collector, never by
    reference counting. Returns a weak reference that dies when they are collected."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def restored_gc():
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    if enabled:
        gc.enable()


@pytest.mark.parametrize("signal", [signals.worker_init, signals.worker_process_init])
def test_a_starting_worker_collects_then_freezes_its_startup_heap(restored_gc, signal):
    gc.disable()  # no automatic collection in between: only the worker's own can free this
    garbage = cyclic_garbage()
    assert gc.get_freeze_count() == 0

    signal.send(sender="worker@test")

    # Garbage present at start-up was collected before the freeze (frozen, it would never be).
    assert garbage() is None
    # Everything alive (Django, Celery, the send path's modules) is out of the collector's reach.
    assert gc.get_freeze_count() > 10_000
    assert gc.get_threshold() == WORKER_GC_THRESHOLDS


def test_garbage_made_after_the_freeze_is_still_collected_on_its_own(restored_gc):
    signals.worker_process_init.send(sender="worker@test")
    assert gc.isenabled()

    garbage = cyclic_garbage()
    keep = [[] for _ in range(2 * WORKER_GC_THRESHOLDS[0])]  # enough allocations for a young collection

    assert garbage() is None  # collected without anyone calling gc.collect()
    del keep
