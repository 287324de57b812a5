"""The product settings plus ``TENANT_LIMIT_SET_CALLS = True``: the benchmark's comparison run for the
proposed fix when the product issues more than one ``SET search_path`` per request."""

from pushpilot.settings import *  # noqa: F403

TENANT_LIMIT_SET_CALLS = True
