"""Settings for the test suite: the product settings with test defaults for the environment.

`make test` sets the same values; they keep tests off `make run`'s database, Redis database number
and queue names, so the two never consume each other's data or tasks. `tests.tenantapp` is a
tenant app used only by tests of the tenancy machinery itself."""

import os
from pathlib import Path

# One suffix per test process: two suites running at once (xdist, two developers' shells) never
# share a database, queue or cache key.
_RUN = os.environ.setdefault("PUSHPILOT_TEST_RUN", str(os.getpid()))

_ROOT = Path(__file__).resolve().parent.parent
for _name, _value in {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/pushpilot_test",
    "TEST_DATABASE_NAME": f"pushpilot_test_{_RUN}",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "PUSHPILOT_QUEUE_PREFIX": f"test{_RUN}",
    "PUSHPILOT_STATE_DIR": str(_ROOT / ".pushpilot" / "test"),
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "PUSHPILOT_EXTRA_TENANT_APPS": "tests.tenantapp",
}.items():
    os.environ.setdefault(_name, _value)

from pushpilot.settings import *  # noqa: E402,F403
