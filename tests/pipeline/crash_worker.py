"""A real Celery worker process (prefork, one child) for the crash tests.

One seam is armed from the test: while the file named by ``PP_TEST_BLOCK_FILE`` exists, a pool
child's second call to the provider blocks forever — after its batch was claimed, before anything
is sent — and writes its pid to ``PP_TEST_BLOCKED_FILE``, so the test can SIGKILL it there. The
file is consumed on first use, so the replacement child runs normally.

    python -m tests.pipeline.crash_worker        (environment as the test process sets it)
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pushpilot.test_settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

from campaigns import fanout  # noqa: E402
from pushpilot.celery import app  # noqa: E402

_calls = 0
_send = fanout._transport_send


def _send_or_block(transport, messages):
    global _calls
    _calls += 1
    block = os.environ.get("PP_TEST_BLOCK_FILE")
    if block and _calls >= 2:
        try:
            os.replace(block, block + ".taken")
        except FileNotFoundError:
            pass
        else:
            with open(os.environ["PP_TEST_BLOCKED_FILE"], "w") as marker:
                marker.write(str(os.getpid()))
            while True:
                time.sleep(1)
    return _send(transport, messages)


fanout._transport_send = _send_or_block


if __name__ == "__main__":
    app.worker_main(
        [
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "--loglevel=WARNING",
            "-Q",
            f"{settings.PUSHPILOT_QUEUE_DEFAULT},{settings.PUSHPILOT_QUEUE_SENDS}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"crash-{os.getpid()}@localhost",
        ]
    )
