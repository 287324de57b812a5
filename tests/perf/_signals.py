"""Benchmarks clean up in ``finally`` blocks (databases, Redis keys, worker processes); a plain
SIGTERM would skip them. This turns it into SystemExit so they run."""

from __future__ import annotations

import signal


def cleanup_on_sigterm() -> None:
    def _exit(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
